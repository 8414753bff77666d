"""The virtual LEAP hand: profiles, hand configs, the servo model and hardware="virtual"."""

from __future__ import annotations

import json
import math
import re

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dexndm_envs  # noqa: F401
from dexndm_envs.core.checks import SettingError
from dexndm_envs.core.constants import JOINT_NAMES, MOTOR_IDS, joint_index
from dexndm_envs.hand.config import (
    HandConfigError,
    default_hand_config,
    load_hand_config,
)
from dexndm_envs.sim import scene
from dexndm_envs.sim.objects.catalog import resolve_object_set
from dexndm_envs.virtual.profiles import (
    PROFILES,
    HardwareProfile,
    ProfileError,
    load_profile,
    sample_motors,
)
from dexndm_envs.virtual.servos import TICKS_PER_RAD, VirtualMotors

# --------------------------------------------------------------------------- profiles


def test_presets_load_by_name():
    for name in PROFILES:
        assert load_profile(name).name == name


def test_unknown_profile_name_lists_presets():
    with pytest.raises(ProfileError, match="presets: default"):
        load_profile("defualt")


def test_profile_file_overrides_some_fields(tmp_path):
    path = tmp_path / "sticky.yaml"
    path.write_text("coulomb_friction_nm: 0.08\nbacklash_rad: 0.03\n")
    profile = load_profile(path)
    assert profile.name == "sticky"
    assert profile.coulomb_friction_nm == 0.08
    assert profile.rotor_inertia_kgm2 == HardwareProfile().rotor_inertia_kgm2
    json_path = tmp_path / "p.json"
    json_path.write_text(json.dumps({"read_latency_s": 0.02}))
    assert load_profile(json_path).read_latency_s == 0.02


@pytest.mark.parametrize(
    ("text", "message"),
    [("backlash: 0.01\n", "unknown fields.*backlash"), ("backlash_rad: -0.01\n", "backlash_rad")],
)
def test_bad_profile_files_are_named(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=message):
        load_profile(path)


PROFILE_BAD = [
    ("name", "", "field name must be a non-empty string, got ''"),
    ("torque_constant_nm_per_a", 0.0, "torque_constant_nm_per_a must be a number in (0, 5]"),
    ("stall_current_a", -1.8, "stall_current_a must be a number in (0, 10], got -1.8"),
    ("loop_gain_ma", float("nan"), "loop_gain_ma must be a number in (0, 100], got nan"),
    ("firmware_period_s", 0.0, "firmware_period_s must be a number in (0, 0.1], got 0.0"),
    ("derivative_time_s", 5.0, "derivative_time_s must be a number in (0, 1], got 5.0"),
    ("no_load_speed_rad_s", math.inf, "no_load_speed_rad_s must be a number in (0, 100]"),
    ("rotor_inertia_kgm2", -1e-3, "rotor_inertia_kgm2 must be a number in [0, 0.1]"),
    ("coulomb_friction_nm", 10.0, "coulomb_friction_nm must be a number in [0, 2], got 10.0"),
    ("viscous_friction_nm_s", -0.04, "viscous_friction_nm_s must be a number in [0, 1]"),
    ("backlash_rad", 1.0, "backlash_rad must be a number in [0, 0.5], got 1.0"),
    ("zero_offset_rad", -0.01, "zero_offset_rad must be a number in [0, 0.5], got -0.01"),
    ("command_latency_s", 2.0, "command_latency_s must be a number in [0, 1], got 2.0"),
    ("read_latency_s", -0.01, "read_latency_s must be a number in [0, 1], got -0.01"),
    ("gain_spread", 1.5, "gain_spread must be a number in [0, 1], got 1.5"),
    ("friction_spread", True, "friction_spread must be a number in [0, 1], got True (bool)"),
    ("inertia_spread", "0.1", "inertia_spread must be a number in [0, 1], got '0.1' (str)"),
]


@pytest.mark.parametrize(("field", "value", "message"), PROFILE_BAD, ids=lambda v: str(v)[:30])
def test_profile_fields_outside_their_range_are_refused_naming_them(field, value, message):
    with pytest.raises(ProfileError, match=re.escape(message)):
        HardwareProfile(**{field: value})


def test_a_profile_file_with_a_yaml_boolean_for_a_number_is_refused(tmp_path):
    path = tmp_path / "yes.yaml"
    path.write_text("gain_spread: yes\n")
    with pytest.raises(ProfileError, match=r"yes\.yaml: .*gain_spread must be a number"):
        load_profile(path)


def test_latencies_must_be_whole_physics_steps_never_rounded():
    assert HardwareProfile(command_latency_s=0.03, read_latency_s=0.0).latency_steps(0.01) == (3, 0)
    assert HardwareProfile().latency_steps(0.005) == (2, 2)
    below_a_step = HardwareProfile(name="fast", command_latency_s=0.004)
    with pytest.raises(
        ProfileError,
        match=re.escape(
            "hardware profile 'fast': command_latency_s = 0.004 s is not a whole number of "
            "physics steps of 0.01 s (the servo model acts once a step); use 0 or 0.01 s"
        ),
    ):
        below_a_step.latency_steps(0.01)
    with pytest.raises(ProfileError, match=r"read_latency_s = 0\.025 s .* use 0\.02 or 0\.03 s"):
        HardwareProfile(read_latency_s=0.025).latency_steps(0.01)


def test_servos_refuse_a_profile_their_model_cannot_run_and_a_negative_seed(free_hand):
    model, _ = free_hand
    motors = VirtualMotors(HardwareProfile(read_latency_s=0.015))
    with pytest.raises(ProfileError, match=r"read_latency_s = 0\.015 s is not a whole number"):
        motors.bind(model)
    with pytest.raises(SettingError, match="seed must be an integer >= 0, got -1"):
        VirtualMotors("default", -1)
    with pytest.raises(ProfileError, match=r"got 5 \(int\)"):
        load_profile(5)


def test_motor_spread_is_fixed_by_the_seed():
    a, b, c = (sample_motors(PROFILES["default"], seed) for seed in (3, 3, 4))
    np.testing.assert_array_equal(a.coulomb_friction_nm, b.coulomb_friction_nm)
    assert not np.allclose(a.coulomb_friction_nm, c.coulomb_friction_nm)
    assert np.all(a.torque_constant_nm_per_ma > 0)


# ----------------------------------------------------------------------- hand config


def test_default_hand_config_is_the_public_leap_hand():
    config = default_hand_config()
    assert config.motor_ids == MOTOR_IDS
    assert config.joint_of_motor(0) == "if_rot"
    side = [joint_index(name) for name in ("if_rot", "mf_rot", "rf_rot")]
    for i in range(len(JOINT_NAMES)):
        expected = 600 if i in side else 800
        assert config.position_p_gain[i] == expected
    q = np.linspace(-0.3, 0.3, 16)
    np.testing.assert_allclose(config.hardware_to_model_rad(config.model_to_hardware_rad(q)), q)
    # a flat hand reads pi
    np.testing.assert_allclose(config.model_to_hardware_rad(np.zeros(16)), np.pi)


def test_shipped_hand_config_file_matches_the_default(repo_root):
    assert load_hand_config(repo_root / "real" / "leap_hand.yaml") == default_hand_config()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("goal_currrent_ma: 300\n", "unknown keys"),
        (
            "goal_current_ma: [900, 350, 350, 350, 350, 350, 350, 350, 350, 350, 350, 350, "
            "350, 350, 350, 350]\n",
            "up to current_limit_ma.*if_mcp \\(900\\)",
        ),
        ("motor_ids: [1, 1, 2, 3, 5, 4, 6, 7, 9, 8, 10, 11, 12, 13, 14, 15]\n", "distinct"),
        ("direction: [1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n", "direction"),
        ("- not a mapping\n", "mapping"),
    ],
)
def test_bad_hand_configs_are_refused(tmp_path, text, message):
    path = tmp_path / "hand.yaml"
    path.write_text(text)
    with pytest.raises(HandConfigError, match=message):
        load_hand_config(path)


# -------------------------------------------------------------------- servo model


@pytest.fixture
def free_hand():
    """A scene whose object is parked far away, so the fingers move freely."""
    model = scene.compile_scene(resolve_object_set("cube")[0], 0.01)
    data = mujoco.MjData(model)
    data.qpos[model.joint("object_joint").qposadr[0] + 2] = -5.0
    model.opt.gravity[:] = 0.0
    return model, data


def _servos(model, data, profile="default", seed=0):
    motors = VirtualMotors(profile, seed)
    motors.bind(model)
    mujoco.mj_setConst(model, data)
    mujoco.mj_forward(model, data)
    motors.reset(data, np.zeros(16))
    return motors


def test_servos_track_a_goal_to_the_tick_with_the_mounting_error_in_the_finger(free_hand):
    model, data = free_hand
    motors = _servos(model, data, "gentle")
    goal = np.full(16, 0.3)
    motors.write_goal_rad(goal)
    motors.run(model, data, 200)
    ticks = motors.read_registers()[0]
    # the reading settles within a few ticks of the goal (friction holds it short)
    assert np.max(np.abs(ticks - motors.hand.model_to_ticks(goal))) <= 12
    reading = motors.read_joint_pos()
    np.testing.assert_allclose(reading * TICKS_PER_RAD, np.rint(reading * TICKS_PER_RAD))
    # the finger itself sits off by the motor's mounting error, which the reading does not show
    true_offset = data.qpos[:16] - reading
    np.testing.assert_allclose(true_offset, -motors.motors.zero_offset_rad, atol=0.01)


def test_goal_current_limits_the_current(free_hand):
    model, data = free_hand
    motors = _servos(model, data)
    motors.write_goal_rad(np.full(16, 1.0))
    motors.run(model, data, 3)
    current = np.abs(motors.read_registers()[2])
    assert np.all(current <= np.asarray(default_hand_config().goal_current_ma) + 1)
    assert np.any(current >= 340)  # a 1 rad step saturates


def _settled(model, data, profile="default", goal_rad=0.2):
    """Servos holding every joint at goal_rad after 1.5 s."""
    motors = _servos(model, data, profile)
    motors.write_goal_rad(np.full(16, goal_rad))
    motors.run(model, data, 150)
    return motors


def test_command_and_read_latency_delay_the_response(free_hand):
    model, data = free_hand
    profile = HardwareProfile(command_latency_s=0.02, read_latency_s=0.02, zero_offset_rad=0.0)
    motors = _settled(model, data, profile)
    before = motors.read_registers()[0].copy()
    motors.write_goal_rad(np.full(16, 0.5))
    motors.run(model, data, 3)  # the goal acts after 2 steps; readings are 2 steps old
    assert np.max(np.abs(motors.read_registers()[0] - before)) <= 2
    motors.run(model, data, 3)
    assert np.all(motors.read_registers()[0] - before > 5)


def test_torque_off_means_no_current(free_hand):
    model, data = free_hand
    motors = _settled(model, data)
    motors.torque_enabled[:] = False
    motors.write_goal_rad(np.full(16, 0.6))
    motors.run(model, data, 20)
    assert np.all(motors.read_registers()[2] == 0)
    assert np.max(data.qpos[:16]) < 0.35  # nothing drives the fingers to the new goal


# ------------------------------------------------------------------- the virtual env


def test_virtual_env_passes_check_env():
    env = gym.make("DexNDM-Rotate-v0", hardware="virtual", object_set="cylinder")
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_unknown_hardware_and_profile_are_refused():
    with pytest.raises(ValueError, match="one of: ideal, virtual"):
        gym.make("DexNDM-Rotate-v0", hardware="real")
    with pytest.raises(ProfileError, match="presets"):
        gym.make("DexNDM-Rotate-v0", hardware="virtual", hardware_profile="nope")


def test_virtual_env_takes_the_real_envs_hand_config(tmp_path):
    path = tmp_path / "hand.yaml"
    path.write_text(
        "goal_current_ma: [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, "
        "200, 200, 200, 200, 200]\n"
    )
    env = gym.make("DexNDM-Rotate-v0", hardware="virtual", hand_config=path)
    env.reset(seed=0)
    currents = []
    for _ in range(5):  # a full-speed close: every servo asks for its limit
        env.step(np.ones(16))
        currents.append(np.abs(env.unwrapped.motors.read_registers()[2]))
    env.close()
    assert np.max(currents) <= 201
    assert np.max(currents) >= 190
    bad = tmp_path / "bad.yaml"
    bad.write_text("goal_current_ma: [900]\n")
    for hardware in ("virtual", "ideal"):  # checked even where it is not used
        with pytest.raises(HandConfigError, match="goal_current_ma"):
            gym.make("DexNDM-Rotate-v0", hardware=hardware, hand_config=bad)


def _rollout(seed: int, steps: int = 30, **kwargs) -> tuple[np.ndarray, np.ndarray, dict]:
    env = gym.make("DexNDM-Rotate-v0", object_set="cylinder_0", **kwargs)
    obs, info = env.reset(seed=seed)
    actions = np.random.default_rng(seed).uniform(-1, 1, (steps, 16))
    observations, joint_pos = [obs], []
    for action in actions:
        obs, _, terminated, _, info = env.step(action)
        observations.append(obs)
        joint_pos.append(info["joint_pos"])
        if terminated:
            break
    env.close()
    return np.array(observations), np.array(joint_pos), info


def test_virtual_hand_is_reproducible_and_each_seed_is_another_hand():
    a, _, _ = _rollout(1, hardware="virtual", hardware_seed=5)
    b, _, _ = _rollout(1, hardware="virtual", hardware_seed=5)
    c, _, _ = _rollout(1, hardware="virtual", hardware_seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_virtual_hand_responds_differently_from_the_ideal_one():
    _, ideal, _ = _rollout(2, hardware="ideal")
    _, virtual, _ = _rollout(2, hardware="virtual")
    n = min(len(ideal), len(virtual))
    gap = np.abs(ideal[:n] - virtual[:n]).mean()
    # rad: the reality gap the method has to close. Both hands run the same registers (gains,
    # torque limit), so what is left is friction, backlash, latency, inertia and spread
    assert gap > 0.005
    assert np.abs(virtual).max() < 3.0  # and the hand stays controllable


def test_virtual_hand_holds_the_object_still():
    env = gym.make("DexNDM-Rotate-v0", hardware="virtual", wrist="palm_down")
    held = 0
    for seed in range(10):
        env.reset(seed=seed)
        for _ in range(20):
            _, _, terminated, _, _ = env.step(np.zeros(16))
            if terminated:
                break
        held += not terminated
    env.close()
    assert held >= 9
