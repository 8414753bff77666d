"""Options of DexNDM-Rotate-v0 and DexNDM-ChaosBox-v0: checked by type and value before anything
is built, reset options that are taken or refused, and no use after close()."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import dexndm_envs  # noqa: F401
from dexndm_envs.chaos import virtual_env as chaos_env
from dexndm_envs.chaos.virtual_env import VirtualChaosBoxEnv
from dexndm_envs.core.checks import EnvClosedError, SettingError, SettingTypeError
from dexndm_envs.core.constants import NUM_JOINTS
from dexndm_envs.sim import options as rotate_options
from dexndm_envs.sim.rotate import RotateEnv
from dexndm_envs.virtual.profiles import ProfileError

ROTATE_TYPES = [
    ({"object_set": 5}, "object_set must be a name or a non-empty list of names, got 5 (int)"),
    ({"object_set": ["cube", 5]}, "object_set must be a name or a non-empty list of names"),
    ({"wrist": 5}, "wrist must be a quaternion (w, x, y, z): 4 finite numbers"),
    ({"axis": True}, "axis must be a 3-vector: 3 finite numbers, not all zero; got True"),
    ({"axis": ["1", "0", "0"]}, "axis must be a 3-vector"),
    ({"obs_mode": 5}, "obs_mode must be one of: proprio, oracle, got 5 (int)"),
    ({"history_len": True}, "history_len must be an integer >= 1, got True (bool)"),
    ({"history_len": 2.5}, "history_len must be an integer >= 1, got 2.5 (float)"),
    ({"hardware": None}, "hardware must be one of: ideal, virtual, got None (NoneType)"),
    ({"hardware_seed": True}, "hardware_seed must be an integer >= 0, got True (bool)"),
    ({"hardware_seed": "0"}, "hardware_seed must be an integer >= 0, got '0' (str)"),
    ({"hand_config": 5}, "hand_config must be a HandConfig, the path of a YAML/JSON hand config"),
    ({"grasp_cache": 5}, "grasp_cache must be a GraspCache, the path of one, or None, got 5"),
    ({"domain_randomization": "false"}, "domain_randomization must be True, False or None, got"),
    ({"domain_randomization": "False"}, "got 'False' (str)"),
    ({"domain_randomization": 1}, "got 1 (int)"),
    ({"start_tilt_deg": (0, True)}, "start_tilt_deg must be a (low, high) pair"),
    ({"width": 480.0}, "width must be an integer in 1 .. 4096, got 480.0 (float)"),
    ({"height": True}, "height must be an integer in 1 .. 4096, got True (bool)"),
    ({"config": 5}, "config must be a RotateConfig or a dict of overrides, got 5 (int)"),
    ({"config": {"randomization": {"enabled": "no"}}}, "config.randomization.enabled must be"),
]


@pytest.mark.parametrize(("options", "message"), ROTATE_TYPES, ids=lambda v: str(v)[:50])
def test_rotate_options_of_the_wrong_type_are_type_errors_naming_the_option(options, message):
    with pytest.raises(SettingTypeError, match=re.escape(message)):
        gym.make("DexNDM-Rotate-v0", **options)


ROTATE_RESOLVED = {
    "wrist",
    "axis",
    "start_tilt_deg",
    "hardware_profile",
    "config",
    "domain_randomization",
}
"""Rotate options that their own resolver checks (sim.options says which)."""

ROTATE_VALUES = [
    ({"object_set": []}, "object_set must be a name or a non-empty list of names, got []"),
    ({"obs_mode": "vision"}, "obs_mode must be one of: proprio, oracle, got 'vision'"),
    ({"history_len": 0}, "history_len must be an integer >= 1, got 0"),
    ({"hardware_seed": -1}, "hardware_seed must be an integer >= 0, got -1"),
    ({"width": 0}, "width must be an integer in 1 .. 4096, got 0"),
    ({"height": 100_000}, "height must be an integer in 1 .. 4096, got 100000"),
    ({"config": {"sim_dt_s": -0.01}}, "config.sim_dt_s must be a number in (0, 0.02]"),
    (
        {"domain_randomization": True, "config": {"randomization": {"action_latency_s": (0, 1)}}},
        "config.randomization.action_latency_s must end within the control period",
    ),
]


@pytest.mark.parametrize(("options", "message"), ROTATE_VALUES, ids=lambda v: str(v)[:50])
def test_rotate_options_out_of_range_are_refused_naming_what_is_valid(options, message):
    with pytest.raises(SettingError, match=re.escape(message)):
        gym.make("DexNDM-Rotate-v0", **options)


@pytest.mark.parametrize(
    ("env_class", "rules", "resolved"),
    [
        (RotateEnv, rotate_options.OPTION_RULES, ROTATE_RESOLVED),
        (VirtualChaosBoxEnv, chaos_env.OPTION_RULES, {"wrist", "axis", "hardware_profile"}),
    ],
    ids=["rotate", "chaos_box"],
)
def test_every_option_is_checked_by_the_table_or_by_its_resolver(env_class, rules, resolved):
    options = set(inspect.signature(env_class.__init__).parameters) - {"self"}
    assert options == set(rules) | resolved


def test_a_render_mode_of_the_wrong_type_is_named():
    # through gym.make, gymnasium's own render-mode handling fails on it first
    with pytest.raises(SettingTypeError, match="render_mode must be one of: None, human"):
        RotateEnv(render_mode=5)


def test_rotate_options_take_numpy_integers_and_bools():
    env = gym.make(
        "DexNDM-Rotate-v0",
        object_set=("cube",),
        history_len=np.int64(3),
        hardware_seed=np.int32(2),
        domain_randomization=np.bool_(True),
        width=np.int64(64),
    )
    assert env.unwrapped.config.randomization.enabled
    assert env.unwrapped.history.history_len == 3
    env.close()


def test_a_profile_is_checked_before_the_env_is_built(tmp_path: Path):
    with pytest.raises(ProfileError, match="hardware_profile must be a preset name"):
        gym.make("DexNDM-Rotate-v0", hardware="virtual", hardware_profile=5)
    fast = tmp_path / "fast.yaml"
    fast.write_text("command_latency_s: 0.004\n")
    with pytest.raises(ProfileError, match=r"command_latency_s = 0\.004 s is not a whole"):
        gym.make("DexNDM-Rotate-v0", hardware="virtual", hardware_profile=fast)
    with pytest.raises(ProfileError, match=r"steps of 0\.005 s"):  # finer physics, same rule
        gym.make(
            "DexNDM-Rotate-v0",
            hardware="virtual",
            hardware_profile=fast,
            config={"sim_dt_s": 0.005, "frame_skip": 10},
        )
    gym.make("DexNDM-Rotate-v0", hardware="virtual", config={"sim_dt_s": 0.005, "frame_skip": 10})


# ------------------------------------------------------------------ chaos box
CHAOS_BAD = [
    ({"hardware_seed": -1}, SettingError, "hardware_seed must be an integer >= 0, got -1"),
    ({"hardware_seed": True}, SettingTypeError, "hardware_seed must be an integer >= 0, got True"),
    ({"history_len": True}, SettingTypeError, "history_len must be an integer >= 1, got True"),
    ({"num_balls": np.float64(3)}, SettingTypeError, "num_balls must be an integer in 0 .. 150"),
    ({"hand_config": 5}, SettingTypeError, "hand_config must be a HandConfig"),
    ({"hardware_profile": 5}, ProfileError, "hardware_profile must be a preset name"),
    ({"axis": {"x": 1}}, SettingTypeError, "axis must be a 3-vector"),
]


@pytest.mark.parametrize(("options", "error", "message"), CHAOS_BAD, ids=lambda v: str(v)[:40])
def test_chaos_box_options_are_checked_by_type_and_value(options, error, message):
    with pytest.raises(error, match=re.escape(message)):
        gym.make("DexNDM-ChaosBox-v0", **options)


def test_chaos_box_profiles_must_fit_its_physics_step(tmp_path: Path):
    slow = tmp_path / "slow.yaml"
    slow.write_text("read_latency_s: 0.015\n")
    with pytest.raises(ProfileError, match=r"read_latency_s = 0\.015 s .* use 0\.01 or 0\.02 s"):
        VirtualChaosBoxEnv(num_balls=0, hardware_profile=slow)


# ----------------------------------------------------------- reset and close
@pytest.fixture(params=["rotate", "chaos_box"])
def env(request):
    if request.param == "rotate":
        return gym.make("DexNDM-Rotate-v0", object_set="cube")
    return gym.make("DexNDM-ChaosBox-v0", num_balls=0)


def test_reset_options_it_does_not_take_are_refused_naming_those_it_takes(env):
    takes = "it takes none" if "Rotate" in env.spec.id else "it takes joint_targets"
    with pytest.raises(SettingError, match=f"unknown reset option 'joint_target' .*; {takes}"):
        env.reset(seed=0, options={"joint_target": np.zeros(NUM_JOINTS)})
    with pytest.raises(SettingTypeError, match=r"reset options of DexNDM-.* must be a dict"):
        env.reset(seed=0, options=["joint_targets"])
    env.reset(seed=0, options={})  # what vector envs pass


def test_step_and_reset_after_close_are_refused_and_close_twice_is_harmless(env):
    env.reset(seed=0)
    env.step(np.zeros(NUM_JOINTS))
    env.close()
    env.close()
    with pytest.raises(EnvClosedError, match=r"DexNDM-.* is closed: step\(\) after close\(\)"):
        env.step(np.zeros(NUM_JOINTS))
    with pytest.raises(RuntimeError, match=r"is closed: reset\(\) after close\(\)"):
        env.reset(seed=0)
