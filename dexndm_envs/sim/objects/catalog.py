"""Procedurally generated rigid objects for in-hand rotation, built from MuJoCo primitives.

The categories, counts, aspect ratios and scales follow DexNDM (arXiv 2510.08556, "Object
sets"): cylinders, cuboids, long cuboids, small cylinders and complex shapes. The paper's 120
complex meshes are not public, so 24 deterministic composites of primitives stand in for them:
non-convex block shapes (L, T, cross, U, dumbbell, ...) and animal-like figures (dog, duck,
turtle, ...). Everything is closed-form; no files or meshes are read or written.

Size convention: a category's scale multiplies ``BASE_SIZE_M``, and library objects are built
at their category's nominal scale (middle of the paper's range), so they are ready to use. The
scaled base size is the largest bounding-box extent, except for long cuboids, where it is the
edge of the cube of equal bounding-box volume: a 0.04 m *longest* side would make an aspect 6.67
cuboid a 6 mm stick, far thinner than a LEAP fingertip, while the paper's point is long objects.
Aspect ratio is the largest bounding-box extent over the smallest. Cylinders are squat, as in
HORA and RotateIt: diameter / height = aspect ratio, axis along the object frame's z.

Usage:
    from dexndm_envs.sim.objects.catalog import object_library, resolve_object_set

    specs = resolve_object_set(["cube", "long_cuboid"])
    xml = specs[0].scaled(1.05).to_mjcf(body_name="object")
    print(list(object_library()))  # every object name
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from dexndm_envs.sim.objects.designs import animal_designs, block_designs
from dexndm_envs.sim.objects.shapes import (
    ASPECT_RANGES,
    BASE_SIZE_M,
    CATEGORIES,
    NOMINAL_SCALES,
    SCALE_RANGES,
    GeomSpec,
    ObjectSpec,
    box_geom,
    cylinder_geom,
)

__all__ = [
    "ASPECT_RANGES",
    "BASE_SIZE_M",
    "CATEGORIES",
    "NOMINAL_SCALES",
    "SCALE_RANGES",
    "GeomSpec",
    "ObjectSpec",
    "object_library",
    "resolve_object_set",
]


def _normalised(name: str, category: str, geoms: Sequence[GeomSpec], size_m: float) -> ObjectSpec:
    """Centre ``geoms`` on their bounding-box centre and scale the largest extent to ``size_m``."""
    raw = ObjectSpec(name, category, tuple(geoms))
    low, high = raw._bounds()
    centred = [g.shifted(-0.5 * (low + high)) for g in raw.geoms]
    return replace(raw, geoms=tuple(centred)).scaled(size_m / float(np.max(high - low)))


def _cylinders(category: str) -> list[ObjectSpec]:
    """Nine squat cylinders, axis along z, diameter = nominal size, diameter / height = aspect."""
    diameter = NOMINAL_SCALES[category] * BASE_SIZE_M
    aspects = np.linspace(*ASPECT_RANGES[category], 9)
    return [
        ObjectSpec(
            f"{category}_{i}", category, (cylinder_geom(diameter / 2, diameter / (2 * aspect)),)
        )
        for i, aspect in enumerate(aspects)
    ]


def _cuboids() -> list[ObjectSpec]:
    """The cube plus eight cuboids whose longest edge is the nominal size."""
    edge = NOMINAL_SCALES["cuboid"] * BASE_SIZE_M
    specs = [ObjectSpec("cube", "cuboid", (box_geom(edge / 2, edge / 2, edge / 2),))]
    for i, aspect in enumerate(np.linspace(*ASPECT_RANGES["cuboid"], 8)):
        # Middle edge cycles through: equal to the shortest, their geometric mean, the longest.
        middle = (edge / aspect) * aspect ** ((i % 3) / 2)
        cuboid = box_geom(edge / 2, middle / 2, edge / aspect / 2)
        specs.append(ObjectSpec(f"cuboid_{i}", "cuboid", (cuboid,)))
    return specs


def _long_cuboids() -> list[ObjectSpec]:
    """Four square-section bars whose bounding-box volume equals the nominal size cubed."""
    mean_edge = NOMINAL_SCALES["long_cuboid"] * BASE_SIZE_M
    specs = []
    for i, aspect in enumerate((2.5, 4.0, 5.33, 6.67)):
        side = mean_edge / aspect ** (1 / 3)
        cuboid = box_geom(aspect * side / 2, side / 2, side / 2)
        specs.append(ObjectSpec(f"long_cuboid_{i}", "long_cuboid", (cuboid,)))
    return specs


@functools.cache
def _library() -> tuple[ObjectSpec, ...]:
    specs = _cylinders("cylinder") + _cuboids() + _long_cuboids() + _cylinders("small_cylinder")
    size_m = NOMINAL_SCALES["complex"] * BASE_SIZE_M
    for i, (label, geoms) in enumerate({**block_designs(), **animal_designs()}.items()):
        specs.append(_normalised(f"complex_{i:02d}_{label}", "complex", geoms, size_m))
    return tuple(specs)


def object_library() -> dict[str, ObjectSpec]:
    """Every named object at its nominal size, ordered by category as in ``CATEGORIES``.

    The objects are built once and cached; each call returns a new dict of the same objects.
    """
    return {spec.name: spec for spec in _library()}


def resolve_object_set(object_set: str | Sequence[str]) -> list[ObjectSpec]:
    """Objects named by a category, ``"all"``, an object name, or a sequence of those.

    Duplicates are dropped; the first occurrence keeps its place.

    Raises:
        ValueError: for an empty set or an unknown name, saying what is valid.
    """
    items = [object_set] if isinstance(object_set, str) else list(object_set)
    library = object_library()
    chosen: dict[str, ObjectSpec] = {}
    for item in items:
        if item == "all":
            matches = list(library.values())
        elif item in CATEGORIES:
            matches = [s for s in library.values() if s.category == item]
        elif item in library:
            matches = [library[item]]
        else:
            raise ValueError(
                f"unknown object set {item!r}; use 'all', a category ({', '.join(CATEGORIES)}) "
                "or an object name (list them with "
                "dexndm_envs.sim.objects.catalog.object_library().keys(), "
                "e.g. 'cube', 'cylinder_0', 'complex_00_l_block')"
            )
        chosen.update((s.name, s) for s in matches if s.name not in chosen)
    if not chosen:
        raise ValueError("empty object set; name at least one category or object")
    return list(chosen.values())
