"""Tests for the procedural object library (dexndm_envs.sim.objects.catalog)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import mujoco
import numpy as np
import pytest

from dexndm_envs.sim.objects.catalog import (
    ASPECT_RANGES,
    BASE_SIZE_M,
    CATEGORIES,
    NOMINAL_SCALES,
    GeomSpec,
    ObjectSpec,
    _library,
    object_library,
    resolve_object_set,
)

LIBRARY = object_library()
NAMES = list(LIBRARY)


def _compile(spec: ObjectSpec) -> tuple[mujoco.MjModel, mujoco.MjData]:
    """A minimal scene holding only ``spec``, forwarded at its initial pose."""
    xml = (
        '<mujoco><default><default class="object"><geom density="500"/></default></default>'
        f"<worldbody>{spec.to_mjcf()}</worldbody></mujoco>"
    )
    model = mujoco.MjModel.from_xml_string(xml)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return model, data


def _by_category(category: str) -> list[ObjectSpec]:
    return [spec for spec in LIBRARY.values() if spec.category == category]


def test_counts_per_category_and_unique_names() -> None:
    counts = {c: len(_by_category(c)) for c in CATEGORIES}
    assert counts == {
        "cylinder": 9,
        "cuboid": 9,
        "long_cuboid": 4,
        "small_cylinder": 9,
        "complex": 24,
    }
    assert len(set(NAMES)) == len(NAMES) == sum(counts.values())
    assert "cube" in LIBRARY
    # Insertion order follows CATEGORIES.
    order = [CATEGORIES.index(spec.category) for spec in LIBRARY.values()]
    assert order == sorted(order)


@pytest.mark.parametrize("category", CATEGORIES)
def test_aspect_ratios_within_paper_range(category: str) -> None:
    low, high = ASPECT_RANGES[category]
    for spec in _by_category(category):
        aspect = spec.aspect_ratio()
        if spec.name == "cube":
            assert aspect == pytest.approx(1.0)
            continue
        assert low - 1e-9 <= aspect <= high + 1e-9, f"{spec.name}: aspect {aspect:.3f}"


def test_aspect_ratio_spreads() -> None:
    long_aspects = [spec.aspect_ratio() for spec in _by_category("long_cuboid")]
    assert max(long_aspects) >= 5.33
    assert min(long_aspects) == pytest.approx(2.5)
    cylinder_aspects = [spec.aspect_ratio() for spec in _by_category("cylinder")]
    assert min(cylinder_aspects) == pytest.approx(1.6)
    assert max(cylinder_aspects) == pytest.approx(2.4)


def test_sizes_follow_nominal_scale() -> None:
    # Cylinders are squat: the diameter (x, y) is the largest extent and the scaled base size.
    for category in ("cylinder", "small_cylinder"):
        for spec in _by_category(category):
            extents = 2 * spec.bounding_half_extents()
            diameter = NOMINAL_SCALES[category] * BASE_SIZE_M
            np.testing.assert_allclose(extents[:2], diameter)
            assert extents[2] < diameter
    scale_08 = LIBRARY["cylinder_0"].scaled(0.8 / NOMINAL_SCALES["cylinder"])
    assert 2 * scale_08.bounding_half_extents().max() == pytest.approx(0.064)
    # Everything except long cuboids fits the ~9 cm finger span.
    for spec in LIBRARY.values():
        if spec.category != "long_cuboid":
            assert 2 * spec.bounding_half_extents().max() <= 0.07, spec.name
    for spec in _by_category("long_cuboid"):
        volume = np.prod(2 * spec.bounding_half_extents())
        assert volume ** (1 / 3) == pytest.approx(NOMINAL_SCALES["long_cuboid"] * BASE_SIZE_M)


@pytest.mark.parametrize("name", NAMES)
def test_compiles_in_mujoco_with_mass(name: str) -> None:
    spec = LIBRARY[name]
    model, _ = _compile(spec)
    body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "object")
    assert model.body_mass[body] > 0
    assert model.ngeom == len(spec.geoms)
    assert model.njnt == 1 and model.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE


@pytest.mark.parametrize("name", NAMES)
def test_bounds_match_mujoco(name: str) -> None:
    spec = LIBRARY[name]
    model, data = _compile(spec)
    lows, highs = [], []
    for g in range(model.ngeom):
        # geom_aabb is (centre, half size) in the geom frame; its object-frame box is exact for
        # the axis-aligned orientations the library uses.
        rot = data.geom_xmat[g].reshape(3, 3)
        centre = data.geom_xpos[g] + rot @ model.geom_aabb[g, :3]
        half = np.abs(rot) @ model.geom_aabb[g, 3:]
        lows.append(centre - half)
        highs.append(centre + half)
    low, high = np.min(lows, axis=0), np.max(highs, axis=0)
    np.testing.assert_allclose(low + high, 0.0, atol=1e-9)  # centred on the box centre
    np.testing.assert_allclose(spec.bounding_half_extents(), high, rtol=1e-6, atol=1e-9)
    # MuJoCo's per-geom bounding spheres give an upper bound on the enclosing radius.
    mujoco_radius = max(
        np.linalg.norm(data.geom_xpos[g]) + model.geom_rbound[g] for g in range(model.ngeom)
    )
    assert np.max(high) - 1e-9 <= spec.bounding_radius() <= mujoco_radius + 1e-9


def test_bounding_radius_closed_form() -> None:
    cube = LIBRARY["cube"]
    assert cube.bounding_radius() == pytest.approx(math.sqrt(3) * cube.geoms[0].size[0])
    radius, half_height = LIBRARY["cylinder_4"].geoms[0].size
    assert LIBRARY["cylinder_4"].bounding_radius() == pytest.approx(math.hypot(radius, half_height))
    # Ellipsoid off-centre along its shortest axis: max of a^2 (1 - t^2) + (c + s_z t)^2 over t.
    ellipsoid = GeomSpec("ellipsoid", (0.03, 0.02, 0.01), (0.0, 0.0, 0.05))
    assert ellipsoid.max_distance() == pytest.approx(math.sqrt(0.0037125))
    assert GeomSpec("ellipsoid", (0.03, 0.02, 0.01)).max_distance() == pytest.approx(0.03)


@pytest.mark.parametrize("spec", _by_category("complex"), ids=lambda s: s.name)
def test_complex_shapes_are_connected_composites(spec: ObjectSpec) -> None:
    assert len(spec.geoms) >= 2
    whole = spec.bounding_half_extents()
    for geom in spec.geoms:
        # No single primitive spans the whole bounding box, so none makes the others redundant.
        geom_low = np.asarray(geom.pos) - geom.half_extents()
        geom_high = np.asarray(geom.pos) + geom.half_extents()
        assert np.any(geom_low > -whole + 1e-6) or np.any(geom_high < whole - 1e-6)
    # The primitives touch or overlap (MuJoCo signed distance), so the object is one piece.
    model, data = _compile(spec)
    linked, frontier = {0}, [0]
    while frontier:
        a = frontier.pop()
        for b in sorted(set(range(model.ngeom)) - linked):
            if mujoco.mj_geomDistance(model, data, a, b, 0.01, None) <= 1e-6:
                linked.add(b)
                frontier.append(b)
    assert linked == set(range(model.ngeom)), f"{spec.name}: loose geoms"


def test_scaled_scales_extents_and_radius() -> None:
    for name in ("cube", "long_cuboid_3", "complex_17_dog"):
        spec = LIBRARY[name]
        bigger = spec.scaled(1.5)
        np.testing.assert_allclose(
            bigger.bounding_half_extents(), 1.5 * spec.bounding_half_extents()
        )
        assert bigger.bounding_radius() == pytest.approx(1.5 * spec.bounding_radius())
        assert bigger.aspect_ratio() == pytest.approx(spec.aspect_ratio())
        assert bigger.name == spec.name and bigger.category == spec.category
    for factor in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="positive"):
            LIBRARY["cube"].scaled(factor)


def test_to_mjcf_names_and_class() -> None:
    spec = LIBRARY["complex_17_dog"]
    body = ET.fromstring(spec.to_mjcf(body_name="target", rgba="0 1 0 0.3"))
    assert body.tag == "body" and body.get("name") == "target"
    assert body.find("freejoint").get("name") == "target_joint"
    geoms = body.findall("geom")
    assert [g.get("name") for g in geoms] == [f"target_geom{i}" for i in range(len(spec.geoms))]
    for geom in geoms:
        assert geom.get("class") == "object"
        assert geom.get("rgba") == "0 1 0 0.3"
        assert not {"mass", "density", "friction"} & set(geom.attrib)


def test_geom_spec_rejects_bad_primitives() -> None:
    with pytest.raises(ValueError, match="mesh"):
        GeomSpec("mesh", (0.01,))
    with pytest.raises(ValueError, match="cylinder needs 2"):
        GeomSpec("cylinder", (0.01,))
    with pytest.raises(ValueError, match="category"):
        ObjectSpec("x", "sphere", (GeomSpec("sphere", (0.01,)),))


def test_resolve_object_set() -> None:
    assert [s.name for s in resolve_object_set("cylinder")] == [f"cylinder_{i}" for i in range(9)]
    assert resolve_object_set("all") == list(LIBRARY.values())
    assert resolve_object_set("complex_17_dog") == [LIBRARY["complex_17_dog"]]
    mixed = resolve_object_set(["long_cuboid_2", "cuboid", "cube", "long_cuboid_2", "long_cuboid"])
    assert [s.name for s in mixed] == [
        "long_cuboid_2",
        *[s.name for s in _by_category("cuboid")],
        "long_cuboid_0",
        "long_cuboid_1",
        "long_cuboid_3",
    ]
    assert resolve_object_set(("cube",)) == [LIBRARY["cube"]]


def test_resolve_object_set_rejects_unknown() -> None:
    with pytest.raises(ValueError) as info:
        resolve_object_set(["cube", "banana"])
    message = str(info.value)
    assert "'banana'" in message and "object_library()" in message
    assert all(category in message for category in CATEGORIES)
    with pytest.raises(ValueError, match="empty"):
        resolve_object_set([])


def test_generation_is_deterministic() -> None:
    assert object_library() == object_library()
    object_library()["cube"] = None  # a caller's dict is its own; the library is unaffected
    assert object_library()["cube"] == LIBRARY["cube"]
    rebuilt = _library.__wrapped__()  # bypass the cache: build everything again
    assert rebuilt == tuple(LIBRARY.values())
    assert [s.to_mjcf() for s in rebuilt] == [s.to_mjcf() for s in LIBRARY.values()]


def _surface_samples(geom: GeomSpec, count: int = 20000) -> np.ndarray:
    """Points (n, 3) on or in ``geom``, in the object frame, that reach its extremes densely."""
    rng = np.random.default_rng(0)
    unit = rng.normal(size=(count, 3))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    if geom.type == "box":
        local = np.sign(unit) * geom.size
    elif geom.type in ("sphere", "ellipsoid"):
        local = unit * geom.size
    else:
        radius, half_len = geom.size
        end = np.where(unit[:, 2:] >= 0, half_len, -half_len) * np.array([0, 0, 1])
        rim = unit.copy() if geom.type == "capsule" else unit * np.array([1, 1, 0])
        rim /= np.linalg.norm(rim, axis=1, keepdims=True)
        local = end + radius * rim
    return np.asarray(geom.pos) + local @ geom.rotation().T


@pytest.mark.parametrize("kind", ["box", "cylinder", "capsule", "sphere", "ellipsoid"])
def test_geom_bounds_of_tilted_primitives(kind: str) -> None:
    sizes = {"box": (0.03, 0.02, 0.01), "sphere": (0.02,), "ellipsoid": (0.03, 0.02, 0.01)}
    quat = tuple(np.array([0.9, 0.3, -0.2, 0.25]) / np.linalg.norm([0.9, 0.3, -0.2, 0.25]))
    geom = GeomSpec(kind, sizes.get(kind, (0.02, 0.015)), (0.01, -0.02, 0.005), quat)
    points = _surface_samples(geom) - geom.pos
    np.testing.assert_allclose(geom.half_extents(), np.abs(points).max(axis=0), rtol=2e-3)
    sampled_radius = np.linalg.norm(points + geom.pos, axis=1).max()
    assert sampled_radius - 1e-12 <= geom.max_distance() <= sampled_radius * 1.001
