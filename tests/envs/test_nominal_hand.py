"""The ideal hand's actuators come from the hand config that the real and virtual hands run."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import dexndm_envs  # noqa: F401
from dexndm_envs.core.constants import NUM_JOINTS, joint_index
from dexndm_envs.dynamixel.control_table import RAD_PER_TICK
from dexndm_envs.hand.config import default_hand_config
from dexndm_envs.sim.nominal_hand import NominalActuators
from dexndm_envs.virtual.profiles import PROFILES, sample_motors


def test_leap_defaults_give_the_documented_gains_and_torque_limit():
    nominal = NominalActuators.from_hand_config()
    mcp, rot = joint_index("if_mcp"), joint_index("if_rot")
    assert nominal.kp_nm_per_rad[mcp] == pytest.approx(3.0, abs=0.01)  # P 800
    assert nominal.kp_nm_per_rad[rot] == pytest.approx(0.75 * 3.0, abs=0.01)  # P 600
    assert nominal.kv_nm_s_per_rad[mcp] == pytest.approx(0.060, abs=0.001)  # D 200
    # Goal Current 350 mA through the XC330's 0.517 N m/A
    np.testing.assert_allclose(nominal.torque_limit_nm, 0.350 * 0.517)


def test_the_virtual_hands_servo_without_spread_has_the_ideal_hands_stiffness():
    """Same registers, same constants: a motor drawn with no spread is the ideal spring."""
    servo = dataclasses.replace(PROFILES["default"], gain_spread=0.0)
    motors = sample_motors(servo, seed=0)
    hand = default_hand_config()
    p_gain = np.asarray(hand.position_p_gain)
    stiffness = motors.torque_constant_nm_per_ma * motors.loop_gain_ma * p_gain / 128 / RAD_PER_TICK
    np.testing.assert_allclose(stiffness, NominalActuators.from_hand_config(hand).kp_nm_per_rad)


def _actuators(env: gym.Env) -> mujoco.MjModel:
    return env.unwrapped.model


def test_the_ideal_hand_follows_the_hand_config():
    hand = dataclasses.replace(
        default_hand_config(),
        position_p_gain=(400,) * NUM_JOINTS,
        goal_current_ma=(500,) * NUM_JOINTS,
    )
    default_env = gym.make("DexNDM-Rotate-v0")
    custom_env = gym.make("DexNDM-Rotate-v0", hand_config=hand)
    default_model, custom_model = _actuators(default_env), _actuators(custom_env)
    mcp = joint_index("if_mcp")
    assert custom_model.actuator_gainprm[mcp, 0] == pytest.approx(
        default_model.actuator_gainprm[mcp, 0] / 2
    )
    assert custom_model.actuator_biasprm[mcp, 1] == -custom_model.actuator_gainprm[mcp, 0]
    np.testing.assert_allclose(custom_model.actuator_forcerange[:, 1], 0.5 * 0.517)
    np.testing.assert_allclose(default_model.actuator_forcerange[:, 1], 0.35 * 0.517)
    default_env.close()
    custom_env.close()


def test_a_finger_pushing_past_its_reach_gets_no_more_than_the_torque_limit():
    env = gym.make("DexNDM-Rotate-v0")
    env.reset(seed=0)
    model, data = env.unwrapped.model, env.unwrapped.data
    for _ in range(20):  # close every joint as fast as the action allows: fingers meet the object
        env.step(np.ones(NUM_JOINTS, dtype=np.float32))
    limit = model.actuator_forcerange[:NUM_JOINTS, 1]
    assert np.all(np.abs(data.actuator_force[:NUM_JOINTS]) <= limit + 1e-9)
    assert np.any(np.abs(data.actuator_force[:NUM_JOINTS]) > 0.99 * limit)  # some at the limit
    env.close()
