"""The LEAP hand MJCF against shared/facts/leap_hand.md: names, order, kinematics, actuation."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from dexndm_envs.core import constants
from dexndm_envs.sim import scene
from dexndm_envs.sim.nominal_hand import NominalActuators

FACTS_BODIES = {  # body: (parent, pos, quat), from the facts table
    "if_bs": ("palm", (-0.007, 0.023, -0.0187), (0.500003, 0.5, 0.5, -0.499997)),
    "if_px": ("if_bs", (-0.0122, 0.0381, 0.0145), (0.500003, -0.5, -0.499997, 0.5)),
    "if_md": ("if_px", (0.015, 0.0143, -0.013), (0.500003, 0.5, -0.5, 0.499997)),
    "if_ds": ("if_md", (0, -0.0361, 0.0002), (1, 0, 0, 0)),
    "mf_bs": ("palm", (-0.0071, -0.0224, -0.0187), (0.500003, 0.5, 0.5, -0.499997)),
    "rf_bs": ("palm", (-0.00709, -0.0678, -0.0187), (0.500003, 0.5, 0.5, -0.499997)),
    "rf_ds": ("rf_md", (0, -0.03609, 0.0002), (1, 0, 0, 0)),
    "th_mp": ("palm", (-0.0693, -0.0012, -0.0216), (0.707109, 0, 0.707105, 0)),
    "th_bs": ("th_mp", (0, 0.0143, -0.013), (0.500003, 0.5, -0.5, 0.499997)),
    "th_px": ("th_bs", (0, 0.0145, -0.017), (0.707109, -0.707105, 0, 0)),
    "th_ds": ("th_px", (0, 0.0466, 0.0002), (1.32679e-06, 0, 0, 1)),
}
FACTS_MASSES = {
    "if_bs": 0.044,
    "if_px": 0.032,
    "if_md": 0.037,
    "if_ds": 0.016,
    "th_mp": 0.032,
    "th_bs": 0.003,
    "th_px": 0.038,
    "th_ds": 0.049,
}


@pytest.fixture(scope="module")
def hand():
    model = mujoco.MjModel.from_xml_path(str(scene.HAND_XML))
    return model, mujoco.MjData(model)


def test_joint_and_actuator_order_matches_constants(hand):
    model, _ = hand
    assert tuple(model.joint(i).name for i in range(model.njnt)) == constants.JOINT_NAMES
    assert tuple(model.actuator(i).name for i in range(model.nu)) == constants.JOINT_NAMES
    assert all(model.actuator_trnid[i, 0] == i for i in range(model.nu))
    np.testing.assert_allclose(model.jnt_range[:, 0], constants.JOINT_LOWER_RAD)
    np.testing.assert_allclose(model.jnt_range[:, 1], constants.JOINT_UPPER_RAD)
    np.testing.assert_allclose(model.actuator_ctrlrange[:, 0], constants.JOINT_LOWER_RAD)
    np.testing.assert_allclose(model.actuator_ctrlrange[:, 1], constants.JOINT_UPPER_RAD)


def test_every_joint_is_a_hinge_about_local_minus_z(hand):
    model, _ = hand
    for j in range(model.njnt):
        assert int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_HINGE)
        np.testing.assert_allclose(model.jnt_axis[j], [0, 0, -1])
        np.testing.assert_allclose(model.jnt_pos[j], [0, 0, 0])


@pytest.mark.parametrize("body", sorted(FACTS_BODIES))
def test_body_placement_matches_facts(hand, body):
    model, _ = hand
    parent, pos, quat = FACTS_BODIES[body]
    b = model.body(body)
    assert model.body(int(b.parentid[0])).name == parent
    np.testing.assert_allclose(b.pos, pos, atol=1e-9)
    expected = np.array(quat) / np.linalg.norm(quat)
    assert abs(abs(float(np.dot(b.quat, expected))) - 1.0) < 1e-9


def test_link_masses_match_facts(hand):
    model, _ = hand
    for body, mass in FACTS_MASSES.items():
        assert model.body(body).mass[0] == pytest.approx(mass, rel=1e-6)


def test_fingertips_at_zero_pose(hand):
    model, data = hand
    data.qpos[:] = 0
    mujoco.mj_kinematics(model, data)
    tips = {name: data.site(name).xpos.copy() for name in constants.FINGERTIP_SITES}
    span = np.linalg.norm(tips["if_tip"] - tips["rf_tip"])
    assert span == pytest.approx(0.091, abs=0.001)  # facts: about 9.1 cm
    # fingers point along palm +x, the thumb sticks out towards +y (the index side)
    assert all(tips[f][0] > 0.12 for f in ("if_tip", "mf_tip", "rf_tip"))
    assert tips["th_tip"][1] > 0.12


def test_flexion_curls_fingers_towards_the_palm_face(hand):
    model, data = hand
    data.qpos[:] = 0
    data.qpos[constants.joint_index("if_mcp")] = 1.2
    data.qpos[constants.joint_index("th_cmc")] = 1.2
    mujoco.mj_kinematics(model, data)
    assert data.site("if_tip").xpos[2] < -0.08  # the palm face looks along -z
    assert data.site("th_tip").xpos[2] < -0.08


def test_servo_tracks_a_target_within_the_torque_limit(hand):
    model, data = hand
    mujoco.mj_resetData(model, data)
    data.ctrl[:] = 0.3
    mujoco.mj_step(model, data, nstep=100)  # 1 s at the model's default timestep
    assert np.all(np.abs(data.qpos - 0.3) < 0.05)
    limit = model.actuator_forcerange[:, 1]
    assert np.all(np.abs(data.actuator_force) <= limit + 1e-9)


def test_the_files_actuators_are_the_default_hand_configs():
    """The MJCF's kp, kv and forcerange (for opening the file alone) are what every compiled
    scene writes for the default hand config."""
    model = mujoco.MjModel.from_xml_path(str(scene.HAND_XML))
    nominal = NominalActuators.from_hand_config()
    front = [constants.joint_index(n) for n in constants.JOINT_NAMES if not n.endswith("_rot")]
    np.testing.assert_allclose(model.actuator_gainprm[front, 0], nominal.kp_nm_per_rad[front], 5e-3)
    np.testing.assert_allclose(
        -model.actuator_biasprm[front, 2], nominal.kv_nm_s_per_rad[front], 5e-3
    )
    np.testing.assert_allclose(model.actuator_forcerange[:, 1], nominal.torque_limit_nm, 1e-3)


def test_self_collision_rules(hand):
    """Palm-knuckle contacts are excluded; index/middle/ring do not collide; thumb does."""
    model, data = hand
    mujoco.mj_resetData(model, data)
    mujoco.mj_forward(model, data)
    assert data.ncon == 0  # the knuckle boxes overlap the palm by construction
    geom = {name: model.geom(name).id for name in ("if_ds_col", "mf_ds_col", "th_tip_col")}

    def collides(a: str, b: str) -> bool:
        ga, gb = geom[a], geom[b]
        return bool(
            model.geom_contype[ga] & model.geom_conaffinity[gb]
            or model.geom_contype[gb] & model.geom_conaffinity[ga]
        )

    assert not collides("if_ds_col", "mf_ds_col")
    assert collides("if_ds_col", "th_tip_col")
