"""The PhysX scene built from a compiled MuJoCo model (dexndm_envs.engines.physx_build and
physx_shapes): the same kinematics, masses and collision filtering, and a saturated drive that
moves as MuJoCo's."""

from __future__ import annotations

import itertools

import mujoco
import numpy as np
import pytest

from dexndm_envs.core import task
from dexndm_envs.engines import physx_build, physx_shapes
from dexndm_envs.engines.engine import make_engine
from dexndm_envs.engines.world import WORLDS
from dexndm_envs.sim import scene
from dexndm_envs.sim.objects.catalog import object_library

WORLD = WORLDS["default"]


def _scene(wrist: str = "palm_up", obj: str = "cylinder_0") -> tuple:
    model = scene.compile_scene(object_library()[obj], 0.01)
    camera = model.camera("closeup").id
    scene.place_hand(model, model.body("palm").id, camera, task.WRISTS[wrist])
    return model, mujoco.MjData(model)


def _random_pose(model, data, seed: int) -> None:
    rng = np.random.default_rng(seed)
    hinges = model.jnt_type == int(mujoco.mjtJoint.mjJNT_HINGE)
    low, high = model.jnt_range[hinges].T
    data.qpos[model.jnt_qposadr[hinges]] = rng.uniform(low, high)
    mujoco.mj_forward(model, data)


def _same_rotation(q1: np.ndarray, q2: np.ndarray) -> float:
    return min(np.abs(q1 - q2).max(), np.abs(q1 + q2).max())


@pytest.mark.parametrize("wrist", ["palm_up", "base_down"])
@pytest.mark.parametrize("seed", [0, 1])
def test_links_follow_mujoco_forward_kinematics(wrist, seed):
    model, data = _scene(wrist)
    _random_pose(model, data, seed)
    built = physx_build.build_scene(model, data, WORLD)
    built.articulation.set_qpos(data.qpos[built.joint_qpos].astype(np.float32))
    assert len(built.links) == 17  # the palm and 16 hinge links
    for body, link in built.links.items():
        pose = link.entity.pose
        np.testing.assert_allclose(pose.p, data.xpos[body], atol=1e-5)
        assert _same_rotation(np.asarray(pose.q), data.xquat[body]) < 1e-5


def test_dof_maps_name_each_hinge_once():
    model, data = _scene()
    mujoco.mj_forward(model, data)
    built = physx_build.build_scene(model, data, WORLD)
    assert sorted(built.joint_qpos.tolist()) == list(range(16))
    for joint, qpos in zip(built.articulation.get_active_joints(), built.joint_qpos, strict=True):
        hinge = model.body_jntadr[model.body(joint.child_link.name).id]
        assert model.jnt_qposadr[hinge] == qpos


def test_masses_centres_and_inertias_carry_over():
    model, data = _scene(obj="cuboid_0")
    model.body_ipos[model.body("object").id] += [0.004, -0.002, 0.001]  # an offset centre of mass
    mujoco.mj_forward(model, data)
    built = physx_build.build_scene(model, data, WORLD)
    bodies = {**built.links, **dict(built.free_bodies)}
    assert model.body("object").id in bodies
    for body, component in bodies.items():
        assert component.mass == pytest.approx(model.body_mass[body], rel=1e-6)
        np.testing.assert_allclose(component.inertia, model.body_inertia[body], rtol=1e-5)
        centre = component.cmass_local_pose
        np.testing.assert_allclose(centre.p, model.body_ipos[body], atol=1e-7)
        assert _same_rotation(np.asarray(centre.q), model.body_iquat[body]) < 1e-6


def _mujoco_collides(model, g1: int, g2: int) -> bool:
    """MuJoCo's rule, written out: bits either way, and not excluded by body."""
    ct, ca = model.geom_contype, model.geom_conaffinity
    b1, b2 = model.geom_bodyid[g1], model.geom_bodyid[g2]
    if not ((ct[g1] & ca[g2]) or (ct[g2] & ca[g1])):
        return False
    w1, w2 = model.body_weldid[b1], model.body_weldid[b2]
    if w1 == w2:
        return False
    p1, p2 = model.body_weldid[model.body_parentid[w1]], model.body_weldid[model.body_parentid[w2]]
    if (p1 == w2 and w2 != 0) or (p2 == w1 and w1 != 0):
        return False
    low, high = sorted((int(b1), int(b2)))
    return (low << 16) + high not in set(model.exclude_signature.tolist())


def test_collision_filtering_is_mujocos():
    model, data = _scene()
    mujoco.mj_forward(model, data)
    built = physx_build.build_scene(model, data, WORLD)
    groups = {}  # geom -> the group words of its shape
    for body, component in {**built.links, **dict(built.free_bodies)}.items():
        geoms = [
            g
            for g in np.flatnonzero(model.geom_bodyid == body)
            if model.geom_contype[g] or model.geom_conaffinity[g]
        ]
        shapes = component.get_collision_shapes()
        assert len(shapes) == len(geoms)
        for geom, shape in zip(geoms, shapes, strict=True):
            groups[geom] = shape.get_collision_groups()
    checked = excluded = 0
    for g1, g2 in itertools.combinations(sorted(groups), 2):
        if model.geom_bodyid[g1] == model.geom_bodyid[g2]:
            continue
        expected = _mujoco_collides(model, g1, g2)
        assert physx_shapes.physx_collides(groups[g1], groups[g2]) == expected, (
            model.geom(g1).name,
            model.geom(g2).name,
        )
        checked += 1
        excluded += not expected
    assert checked > 100 and excluded > 10
    assert len(built.ignore_pairs) == 8  # the palm's <exclude> pairs


def test_excluded_pairs_make_no_contacts_where_they_overlap():
    """Palm and knuckle boxes overlap by construction: PhysX must not push them apart."""
    model, data = _scene()
    mujoco.mj_forward(model, data)
    engine = make_engine("physx")
    engine.reset(model, data)
    engine.step(model, data, 2)
    names = set()
    for contact in engine.built.system.get_contacts():
        bodies = sorted(body.entity.name or body.name for body in contact.bodies)
        names.add(tuple(bodies))
    assert not any("palm" in pair for pair in names), names


def test_unsupported_geoms_are_named():
    model = mujoco.MjModel.from_xml_string(
        """<mujoco><asset><hfield name="ground" nrow="2" ncol="2" size="1 1 0.1 0.1"/></asset>
        <worldbody><body name="terrain"><geom name="hills" type="hfield" hfield="ground"/>
        </body></worldbody></mujoco>"""
    )
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    with pytest.raises(physx_shapes.ConversionError, match=r"hills.*terrain.*HFIELD"):
        physx_build.build_scene(model, data, WORLD)


def test_ellipsoids_become_hulls_just_inside_them():
    model, _ = _scene(obj="complex_17_dog")
    ellipsoids = np.flatnonzero(model.geom_type == int(mujoco.mjtGeom.mjGEOM_ELLIPSOID))
    assert len(ellipsoids)
    for geom in ellipsoids:
        points = physx_shapes.hull_points(model, geom)
        radii = model.geom_size[geom]
        reach = np.sqrt(((points / radii) ** 2).sum(axis=1))
        np.testing.assert_allclose(reach, 1.0, atol=1e-6)  # on the surface
        np.testing.assert_allclose(np.abs(points).max(axis=0), radii, rtol=0.02)  # spans it


@pytest.mark.parametrize("category", ["cylinder", "cuboid", "long_cuboid", "small_cylinder"])
def test_every_category_builds(category):
    obj = next(n for n in object_library() if n.startswith(category))
    model, data = _scene(obj=obj)
    mujoco.mj_forward(model, data)
    built = physx_build.build_scene(model, data, WORLD)
    assert [body for body, _ in built.free_bodies] == [model.body("object").id]


def _step_response(engine_name: str, targets: np.ndarray, steps: int = 30) -> np.ndarray:
    model, data = _scene()
    data.qpos[16:19] = [1.0, 1.0, 1.0]  # the object out of the hand's reach
    mujoco.mj_forward(model, data)
    engine = make_engine(engine_name)
    engine.reset(model, data)
    data.ctrl[:] = targets
    trajectory = []
    for _ in range(steps):
        engine.step(model, data)
        trajectory.append(data.qpos[:16].copy())
    return np.array(trajectory)


def test_a_saturated_drive_moves_as_in_mujoco():
    """0.8 rad asks for 2.4 N m of a 0.18 N m servo: the torque limit, armature and the
    explicit passive forces decide the motion. Measured: within 0.035 rad over 0.3 s."""
    targets = np.zeros(16)
    targets[[1, 5, 9]] = 0.8  # the three fingers' MCP flexion, clear of one another
    mujoco_q = _step_response("mujoco", targets)
    physx_q = _step_response("physx", targets)
    assert mujoco_q[-1, 1] > 0.7  # it got there
    np.testing.assert_allclose(physx_q[:, [1, 5, 9]], mujoco_q[:, [1, 5, 9]], atol=0.05)
    np.testing.assert_allclose(physx_q[-1], mujoco_q[-1], atol=0.02)
