"""The composite "complex" objects: block shapes and animal-like figures made of primitives.

Each design is a list of GeomSpec in arbitrary units; dexndm_envs.sim.objects.catalog centres and
scales them to the complex category's nominal size. They stand in for the paper's 120 complex
meshes, which are not public.
"""

from __future__ import annotations

from dexndm_envs.sim.objects.shapes import (
    GeomSpec,
    box_geom,
    capsule_geom,
    cylinder_geom,
    ellipsoid_geom,
    sphere_geom,
)


def _legs(x: float, y: float, z: float, r: float, half_len: float) -> list[GeomSpec]:
    """Four vertical capsule legs at (+-x, +-y, z)."""
    return [capsule_geom(r, half_len, (sx * x, sy * y, z)) for sx in (1, -1) for sy in (1, -1)]


def block_designs() -> dict[str, list[GeomSpec]]:
    """Non-convex composites of blocks and round primitives, in arbitrary units."""
    return {
        "l_block": [box_geom(1.5, 0.9, 0.5, (0, 0, -1)), box_geom(0.5, 0.9, 1.0, (-1, 0, 0.5))],
        "t_block": [box_geom(1.5, 0.8, 0.5, (0, 0, 1)), box_geom(0.5, 0.8, 1.0, (0, 0, -0.5))],
        "cross": [box_geom(1.5, 0.5, 0.8), box_geom(0.5, 1.5, 0.8)],
        "u_block": [
            box_geom(1.5, 0.9, 0.4, (0, 0, -0.8)),
            *[box_geom(0.4, 0.9, 0.8, (s * 1.1, 0, 0)) for s in (1, -1)],
        ],
        "dumbbell": [
            cylinder_geom(0.3, 0.7, axis="x"),
            *[cylinder_geom(0.9, 0.3, (s * 0.9, 0, 0), axis="x") for s in (1, -1)],
        ],
        "offset_stack": [
            box_geom(1.0, 0.8, 0.4, (-0.4, 0, -0.4)),
            box_geom(1.0, 0.8, 0.4, (0.4, 0.2, 0.4)),
        ],
        "stairs": [
            box_geom(0.4, 0.8, 0.4 * (k + 1), (0.8 * k - 0.8, 0, 0.4 * k)) for k in range(3)
        ],
        "h_block": [
            box_geom(0.4, 0.75, 1.4, (-1, 0, 0)),
            box_geom(0.4, 0.75, 1.4, (1, 0, 0)),
            box_geom(0.7, 0.5, 0.4),
        ],
        "z_block": [
            box_geom(0.8, 0.7, 0.4, (-0.4, 0, 0.4)),
            box_geom(0.8, 0.7, 0.4, (0.4, 0, -0.4)),
        ],
        "corner": [
            box_geom(1.0, 0.35, 0.35, (0.35, -0.65, -0.65)),
            box_geom(0.35, 0.8, 0.35, (-0.65, 0.15, -0.65)),
            box_geom(0.35, 0.35, 0.6, (-0.65, -0.65, -0.05)),
        ],
        "table": [box_geom(1.2, 0.9, 0.2, (0, 0, 0.6)), *_legs(0.95, 0.65, 0, 0.18, 0.45)],
        "mushroom": [
            cylinder_geom(0.35, 0.6, (0, 0, -0.4)),
            ellipsoid_geom(1.0, 1.0, 0.5, (0, 0, 0.4)),
        ],
        "snowman": [
            sphere_geom(0.8, (0, 0, -0.6)),
            sphere_geom(0.6, (0, 0, 0.5)),
            sphere_geom(0.4, (0, 0, 1.25)),
        ],
        "jack": [
            capsule_geom(0.3, 1.0, axis="x"),
            capsule_geom(0.3, 1.0, axis="y"),
            capsule_geom(0.3, 0.6, axis="z"),
        ],
        "frame": [
            *[box_geom(1.2, 0.25, 0.7, (0, s * 0.95, 0)) for s in (1, -1)],
            *[box_geom(0.25, 0.7, 0.7, (s * 0.95, 0, 0)) for s in (1, -1)],
        ],
        "hammer": [capsule_geom(0.25, 0.6, (0, 0, -0.2)), box_geom(1.0, 0.6, 0.35, (0, 0, 0.7))],
        "spool": [
            cylinder_geom(0.45, 0.6),
            cylinder_geom(0.9, 0.15, (0, 0, 0.6)),
            cylinder_geom(0.9, 0.15, (0, 0, -0.6)),
        ],
    }


def animal_designs() -> dict[str, list[GeomSpec]]:
    """Animal-like figures: a round body with legs, head and tail, in arbitrary units (x ahead)."""
    return {
        "dog": [
            ellipsoid_geom(1.0, 0.7, 0.5),
            *_legs(0.6, 0.4, -0.7, 0.17, 0.3),
            sphere_geom(0.45, (1.0, 0, 0.55)),
            capsule_geom(0.1, 0.3, (-0.9, 0, 0.5)),
        ],
        "duck": [
            ellipsoid_geom(1.0, 0.8, 0.55),
            sphere_geom(0.45, (0.75, 0, 0.8)),
            ellipsoid_geom(0.3, 0.2, 0.08, (1.25, 0, 0.75)),
            ellipsoid_geom(0.3, 0.3, 0.2, (-1.0, 0, 0.25)),
        ],
        "turtle": [
            ellipsoid_geom(1.0, 0.8, 0.6),
            ellipsoid_geom(1.05, 0.85, 0.12, (0, 0, -0.1)),
            *_legs(0.65, 0.65, -0.4, 0.2, 0.12),
            sphere_geom(0.3, (1.15, 0, 0.05)),
        ],
        "bunny": [
            ellipsoid_geom(0.8, 0.6, 0.6),
            sphere_geom(0.45, (0.7, 0, 0.55)),
            *[capsule_geom(0.1, 0.3, (0.7, s * 0.18, 1.2)) for s in (1, -1)],
            sphere_geom(0.2, (-0.8, 0, 0.1)),
        ],
        "fish": [
            ellipsoid_geom(0.9, 0.6, 0.6),
            box_geom(0.25, 0.08, 0.5, (-1.0, 0, 0)),
            box_geom(0.3, 0.06, 0.2, (0, 0, 0.65)),
        ],
        "pig": [
            ellipsoid_geom(0.9, 0.65, 0.6),
            *_legs(0.5, 0.35, -0.7, 0.18, 0.2),
            cylinder_geom(0.25, 0.15, (0.95, 0, 0.05), axis="x"),
            ellipsoid_geom(0.12, 0.15, 0.15, (0.5, 0.35, 0.55)),
            sphere_geom(0.1, (-0.95, 0, 0.2)),
        ],
        "elephant": [
            ellipsoid_geom(1.0, 0.8, 0.7),
            *_legs(0.55, 0.45, -0.8, 0.28, 0.25),
            sphere_geom(0.5, (1.0, 0, 0.35)),
            capsule_geom(0.12, 0.35, (1.35, 0, -0.1)),
        ],
    }
