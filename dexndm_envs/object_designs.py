"""The composite "complex" objects: block shapes and animal-like figures made of primitives.

Each design is a list of GeomSpec in arbitrary units; dexndm_envs.objects centres and scales
them to the complex category's nominal size. They stand in for the paper's 120 complex meshes,
which are not public.
"""

from __future__ import annotations

from dexndm_envs.objects import GeomSpec, _box, _cap, _cyl, _ell, _sph


def _legs(x: float, y: float, z: float, r: float, half_len: float) -> list[GeomSpec]:
    """Four vertical capsule legs at (+-x, +-y, z)."""
    return [_cap(r, half_len, (sx * x, sy * y, z)) for sx in (1, -1) for sy in (1, -1)]


def block_designs() -> dict[str, list[GeomSpec]]:
    """Non-convex composites of blocks and round primitives, in arbitrary units."""
    return {
        "l_block": [_box(1.5, 0.9, 0.5, (0, 0, -1)), _box(0.5, 0.9, 1.0, (-1, 0, 0.5))],
        "t_block": [_box(1.5, 0.8, 0.5, (0, 0, 1)), _box(0.5, 0.8, 1.0, (0, 0, -0.5))],
        "cross": [_box(1.5, 0.5, 0.8), _box(0.5, 1.5, 0.8)],
        "u_block": [
            _box(1.5, 0.9, 0.4, (0, 0, -0.8)),
            *[_box(0.4, 0.9, 0.8, (s * 1.1, 0, 0)) for s in (1, -1)],
        ],
        "dumbbell": [
            _cyl(0.3, 0.7, axis="x"),
            *[_cyl(0.9, 0.3, (s * 0.9, 0, 0), axis="x") for s in (1, -1)],
        ],
        "offset_stack": [
            _box(1.0, 0.8, 0.4, (-0.4, 0, -0.4)),
            _box(1.0, 0.8, 0.4, (0.4, 0.2, 0.4)),
        ],
        "stairs": [_box(0.4, 0.8, 0.4 * (k + 1), (0.8 * k - 0.8, 0, 0.4 * k)) for k in range(3)],
        "h_block": [
            _box(0.4, 0.75, 1.4, (-1, 0, 0)),
            _box(0.4, 0.75, 1.4, (1, 0, 0)),
            _box(0.7, 0.5, 0.4),
        ],
        "z_block": [_box(0.8, 0.7, 0.4, (-0.4, 0, 0.4)), _box(0.8, 0.7, 0.4, (0.4, 0, -0.4))],
        "corner": [
            _box(1.0, 0.35, 0.35, (0.35, -0.65, -0.65)),
            _box(0.35, 0.8, 0.35, (-0.65, 0.15, -0.65)),
            _box(0.35, 0.35, 0.6, (-0.65, -0.65, -0.05)),
        ],
        "table": [_box(1.2, 0.9, 0.2, (0, 0, 0.6)), *_legs(0.95, 0.65, 0, 0.18, 0.45)],
        "mushroom": [_cyl(0.35, 0.6, (0, 0, -0.4)), _ell(1.0, 1.0, 0.5, (0, 0, 0.4))],
        "snowman": [_sph(0.8, (0, 0, -0.6)), _sph(0.6, (0, 0, 0.5)), _sph(0.4, (0, 0, 1.25))],
        "jack": [_cap(0.3, 1.0, axis="x"), _cap(0.3, 1.0, axis="y"), _cap(0.3, 0.6, axis="z")],
        "frame": [
            *[_box(1.2, 0.25, 0.7, (0, s * 0.95, 0)) for s in (1, -1)],
            *[_box(0.25, 0.7, 0.7, (s * 0.95, 0, 0)) for s in (1, -1)],
        ],
        "hammer": [_cap(0.25, 0.6, (0, 0, -0.2)), _box(1.0, 0.6, 0.35, (0, 0, 0.7))],
        "spool": [_cyl(0.45, 0.6), _cyl(0.9, 0.15, (0, 0, 0.6)), _cyl(0.9, 0.15, (0, 0, -0.6))],
    }


def animal_designs() -> dict[str, list[GeomSpec]]:
    """Animal-like figures: a round body with legs, head and tail, in arbitrary units (x ahead)."""
    return {
        "dog": [
            _ell(1.0, 0.7, 0.5),
            *_legs(0.6, 0.4, -0.7, 0.17, 0.3),
            _sph(0.45, (1.0, 0, 0.55)),
            _cap(0.1, 0.3, (-0.9, 0, 0.5)),
        ],
        "duck": [
            _ell(1.0, 0.8, 0.55),
            _sph(0.45, (0.75, 0, 0.8)),
            _ell(0.3, 0.2, 0.08, (1.25, 0, 0.75)),
            _ell(0.3, 0.3, 0.2, (-1.0, 0, 0.25)),
        ],
        "turtle": [
            _ell(1.0, 0.8, 0.6),
            _ell(1.05, 0.85, 0.12, (0, 0, -0.1)),
            *_legs(0.65, 0.65, -0.4, 0.2, 0.12),
            _sph(0.3, (1.15, 0, 0.05)),
        ],
        "bunny": [
            _ell(0.8, 0.6, 0.6),
            _sph(0.45, (0.7, 0, 0.55)),
            *[_cap(0.1, 0.3, (0.7, s * 0.18, 1.2)) for s in (1, -1)],
            _sph(0.2, (-0.8, 0, 0.1)),
        ],
        "fish": [
            _ell(0.9, 0.6, 0.6),
            _box(0.25, 0.08, 0.5, (-1.0, 0, 0)),
            _box(0.3, 0.06, 0.2, (0, 0, 0.65)),
        ],
        "pig": [
            _ell(0.9, 0.65, 0.6),
            *_legs(0.5, 0.35, -0.7, 0.18, 0.2),
            _cyl(0.25, 0.15, (0.95, 0, 0.05), axis="x"),
            _ell(0.12, 0.15, 0.15, (0.5, 0.35, 0.55)),
            _sph(0.1, (-0.95, 0, 0.2)),
        ],
        "elephant": [
            _ell(1.0, 0.8, 0.7),
            *_legs(0.55, 0.45, -0.8, 0.28, 0.25),
            _sph(0.5, (1.0, 0, 0.35)),
            _cap(0.12, 0.35, (1.35, 0, -0.1)),
        ],
    }
