"""Shapes, materials, masses and collision filtering of a PhysX scene built from MuJoCo.

The pieces of engines.physx_build that concern one geom or one body: MuJoCo's geoms as PhysX
shapes (capsules, cylinders and planes turned from MuJoCo's z axis to PhysX's x axis;
ellipsoids and meshes as convex hulls), per-geom friction as PhysX materials (the world
profile's mapping), a body's mass and inertia, and MuJoCo's collision filter as SAPIEN's four
group words.
"""

from __future__ import annotations

import math
import warnings

import mujoco
import numpy as np

from dexndm_envs.engines.world import WorldProfile

try:  # an optional dependency: the MuJoCo engine needs none of it
    with warnings.catch_warnings():  # physics needs no Vulkan; SAPIEN warns that it has none
        warnings.simplefilter("ignore", UserWarning)
        import sapien
        import sapien.physx as physx
except ImportError:  # pragma: no cover - exercised where sapien is not installed
    sapien = physx = None

X_TO_Z = (math.cos(-math.pi / 4), 0.0, math.sin(-math.pi / 4), 0.0)
"""Rotation taking PhysX's shape and joint axis (x) to MuJoCo's (z): -90 deg about y."""

_MAX_IGNORE_BITS = 32

ELLIPSOID_POINTS = 256
"""Points on an ellipsoid's surface whose convex hull stands in for it in PhysX."""


class ConversionError(ValueError):
    """The model holds something the PhysX scene cannot represent (named in the message)."""


def require_sapien() -> None:
    """Raise ImportError with the install line when SAPIEN is missing."""
    if sapien is None:
        raise ImportError(
            'engine="physx" needs SAPIEN (PhysX): pip install -e ".[physx]" -c constraints.txt'
        )


def pose(pos: np.ndarray, quat: np.ndarray) -> sapien.Pose:
    """A SAPIEN pose from a MuJoCo position and quaternion (both w, x, y, z)."""
    return sapien.Pose(np.asarray(pos, np.float64), np.asarray(quat, np.float64))


def axis_pose(pos: np.ndarray, quat: np.ndarray) -> sapien.Pose:
    """The pose of a shape or joint frame whose x axis is the z axis of (pos, quat)."""
    return pose(pos, quat) * sapien.Pose([0.0, 0.0, 0.0], X_TO_Z)


# ---------------------------------------------------------------- collision filtering
def collision_geoms(model: mujoco.MjModel) -> np.ndarray:
    return np.flatnonzero((model.geom_contype != 0) | (model.geom_conaffinity != 0))


def mujoco_excludes(model: mujoco.MjModel, body1: int, body2: int) -> bool:
    """Whether MuJoCo leaves out every contact between two bodies, whatever their geoms' bits.

    Same body, both fixed to the world, parent and child (unless the parent is the world, and
    with the parent filter on), or named in an <exclude>.
    """
    if body1 == body2:
        return True
    weld1, weld2 = model.body_weldid[body1], model.body_weldid[body2]
    if weld1 == weld2:
        return True  # both static, or welded together
    filterparent = not (model.opt.disableflags & int(mujoco.mjtDisableBit.mjDSBL_FILTERPARENT))
    parent1 = model.body_weldid[model.body_parentid[weld1]]
    parent2 = model.body_weldid[model.body_parentid[weld2]]
    if filterparent and ((parent1 == weld2 and weld2 != 0) or (parent2 == weld1 and weld1 != 0)):
        return True
    low, high = sorted((body1, body2))
    return bool(np.any(model.exclude_signature == (low << 16) + high))


def _bits_meet(model: mujoco.MjModel, g1: int, g2: int) -> bool:
    ct, ca = model.geom_contype, model.geom_conaffinity
    return bool((ct[g1] & ca[g2]) or (ct[g2] & ca[g1]))


def ignore_bits(model: mujoco.MjModel) -> tuple[dict[int, int], list[tuple[int, int]]]:
    """Per body, the ignore word; and the body pairs that needed a bit.

    A pair needs one where MuJoCo excludes it (mujoco_excludes) but some pair of their geoms
    has matching bits, so that the type/affinity words alone would let PhysX collide them.

    Raises:
        ConversionError: for more such pairs than the 32 bits of the word.
    """
    geoms = collision_geoms(model)
    body_of = model.geom_bodyid
    pairs: set[tuple[int, int]] = set()
    for i, g1 in enumerate(geoms):
        for g2 in geoms[i + 1 :]:
            b1, b2 = sorted((int(body_of[g1]), int(body_of[g2])))
            if b1 != b2 and _bits_meet(model, g1, g2) and mujoco_excludes(model, b1, b2):
                pairs.add((b1, b2))
    ordered = sorted(pairs)
    if len(ordered) > _MAX_IGNORE_BITS:
        raise ConversionError(
            f"{len(ordered)} excluded body pairs need an ignore bit each; PhysX has "
            f"{_MAX_IGNORE_BITS}"
        )
    words: dict[int, int] = {}
    for bit, (b1, b2) in enumerate(ordered):
        for body in (b1, b2):
            words[body] = words.get(body, 0) | (1 << bit)
    return words, ordered


def physx_collides(groups1: list[int], groups2: list[int]) -> bool:
    """SAPIEN's collision rule for two shapes' group words (sapien.physx docs)."""
    meet = (groups1[0] & groups2[1]) or (groups1[1] & groups2[0])
    ignored = (groups1[2] & groups2[2]) and (groups1[3] & 0xFFFF) == (groups2[3] & 0xFFFF)
    return bool(meet and not ignored)


# ---------------------------------------------------------------- shapes and materials
def geom_frictions(model: mujoco.MjModel, world: WorldProfile) -> np.ndarray:
    """The PhysX (dynamic) friction of every geom, per world.friction_mapping."""
    mu = model.geom_friction[:, 0].copy()
    if world.friction_mapping == "raw":
        return mu
    base = world.base_friction
    return np.where(model.geom_priority > 0, np.maximum(2.0 * mu - base, 0.0), base)


def _shape(model: mujoco.MjModel, geom: int, material: physx.PhysxMaterial):
    kind, size = int(model.geom_type[geom]), model.geom_size[geom]
    pos, quat = model.geom_pos[geom], model.geom_quat[geom]
    if kind == int(mujoco.mjtGeom.mjGEOM_BOX):
        shape = physx.PhysxCollisionShapeBox(half_size=size.tolist(), material=material)
        shape.local_pose = pose(pos, quat)
    elif kind == int(mujoco.mjtGeom.mjGEOM_SPHERE):
        shape = physx.PhysxCollisionShapeSphere(radius=float(size[0]), material=material)
        shape.local_pose = pose(pos, quat)
    elif kind in (int(mujoco.mjtGeom.mjGEOM_CAPSULE), int(mujoco.mjtGeom.mjGEOM_CYLINDER)):
        cls = (
            physx.PhysxCollisionShapeCapsule
            if kind == int(mujoco.mjtGeom.mjGEOM_CAPSULE)
            else physx.PhysxCollisionShapeCylinder
        )
        shape = cls(radius=float(size[0]), half_length=float(size[1]), material=material)
        shape.local_pose = axis_pose(pos, quat)
    elif kind in (int(mujoco.mjtGeom.mjGEOM_ELLIPSOID), int(mujoco.mjtGeom.mjGEOM_MESH)):
        shape = physx.PhysxCollisionShapeConvexMesh(
            vertices=hull_points(model, geom), scale=[1.0, 1.0, 1.0], material=material
        )
        shape.local_pose = pose(pos, quat)
    elif kind == int(mujoco.mjtGeom.mjGEOM_PLANE):
        shape = physx.PhysxCollisionShapePlane(material=material)
        shape.local_pose = axis_pose(pos, quat)
    else:
        name = model.geom(geom).name or f"#{geom}"
        raise ConversionError(
            f"geom {name} of body {model.body(model.geom_bodyid[geom]).name} is a "
            f"{mujoco.mjtGeom(kind).name}; the PhysX scene takes boxes, spheres, capsules, "
            "cylinders, ellipsoids, meshes and planes"
        )
    return shape


def hull_points(model: mujoco.MjModel, geom: int) -> np.ndarray:
    """Vertices (n, 3; geom frame) of the convex shape standing in for an ellipsoid or mesh."""
    if int(model.geom_type[geom]) == int(mujoco.mjtGeom.mjGEOM_MESH):
        mesh = int(model.geom_dataid[geom])
        start, count = int(model.mesh_vertadr[mesh]), int(model.mesh_vertnum[mesh])
        return model.mesh_vert[start : start + count].astype(np.float32)
    index = np.arange(ELLIPSOID_POINTS) + 0.5  # a Fibonacci lattice: evenly spread points
    polar = np.arccos(1.0 - 2.0 * index / ELLIPSOID_POINTS)
    azimuth = np.pi * (1.0 + 5.0**0.5) * index
    unit = np.stack(
        [np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)], -1
    )
    return (unit * model.geom_size[geom]).astype(np.float32)


def attach_shapes(component, model, body, world, frictions, words) -> None:
    for geom in collision_geoms(model):
        if model.geom_bodyid[geom] != body:
            continue
        mu = float(frictions[geom])
        material = physx.PhysxMaterial(mu * world.static_friction_ratio, mu, world.restitution)
        shape = _shape(model, geom, material)
        shape.set_collision_groups(
            [
                int(model.geom_contype[geom]),
                int(model.geom_conaffinity[geom]),
                words.get(body, 0),
                0,
            ]
        )
        shape.set_contact_offset(world.contact_offset_m)
        shape.set_rest_offset(world.rest_offset_m)
        component.attach(shape)


def set_mass(component, model: mujoco.MjModel, body: int) -> None:
    mass = float(model.body_mass[body])
    if mass <= 0.0:
        raise ConversionError(f"body {model.body(body).name} has no mass; PhysX needs one")
    component.mass = mass
    component.cmass_local_pose = pose(model.body_ipos[body], model.body_iquat[body])
    component.inertia = np.maximum(model.body_inertia[body], 1e-12).astype(np.float32)
