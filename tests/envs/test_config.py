"""RotateConfig: every field declares what it may be, and merge_config refuses the rest."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest

from dexndm_envs.core.checks import (
    RULE,
    Number,
    SettingError,
    SettingTypeError,
    check_fields,
    setting,
)
from dexndm_envs.sim.config import (
    RandomizationConfig,
    RewardConfig,
    RotateConfig,
    default_config,
    merge_config,
)
from dexndm_envs.virtual.profiles import PROFILES, HardwareProfile

NAN = float("nan")

BAD_VALUES = [
    # physics
    ({"sim_dt_s": -0.01}, "config.sim_dt_s must be a number in (0, 0.02], got -0.01"),
    ({"sim_dt_s": 0.0}, "config.sim_dt_s must be a number in (0, 0.02], got 0.0"),
    ({"sim_dt_s": 0.5}, "config.sim_dt_s must be a number in (0, 0.02], got 0.5"),
    ({"sim_dt_s": NAN}, "config.sim_dt_s must be a number in (0, 0.02], got nan"),
    ({"frame_skip": 0}, "config.frame_skip must be an integer in 1 .. 100, got 0"),
    ({"max_delta_rad": -0.1}, "config.max_delta_rad must be a number in (0, 1], got -0.1"),
    ({"max_delta_rad": 0.0}, "config.max_delta_rad must be a number in (0, 1], got 0.0"),
    ({"drop_distance_m": -0.08}, "config.drop_distance_m must be a number in [0, 1], got -0.08"),
    # reward: penalties are subtracted, so a negative weight would pay for what it penalises
    ({"reward": {"rot": NAN}}, "config.reward.rot must be a finite number >= 0, got nan"),
    ({"reward": {"pose": -0.3}}, "config.reward.pose must be a finite number >= 0, got -0.3"),
    ({"reward": {"work": math.inf}}, "config.reward.work must be a finite number >= 0, got inf"),
    ({"reward": {"drop": -1.0}}, "config.reward.drop must be a finite number >= 0"),
    ({"reward": {"axis_dev_max": -0.1}}, "config.reward.axis_dev_max must be a finite number"),
    (
        {"reward": {"rot_clip_rad_s": 0.0}},
        "config.reward.rot_clip_rad_s must be a finite number > 0",
    ),
    (
        {"reward": {"goal_step_rad": 4.0}},
        "config.reward.goal_step_rad must be a number in (0, 3.14159]",
    ),
    (
        {"reward": {"axis_dev_ramp_resets": (100, 10)}},
        "config.reward.axis_dev_ramp_resets must be a (start, end) pair of integers with "
        "0 <= start <= end, got (100, 10)",
    ),
    # randomisation
    (
        {"randomization": {"object_mass_kg": (-0.01, 0.05)}},
        "config.randomization.object_mass_kg must be a (low, high) pair of finite numbers with "
        "0 < low <= high, got (-0.01, 0.05)",
    ),
    (
        {"randomization": {"object_mass_kg": [0.05, 0.01]}},
        "config.randomization.object_mass_kg must be a (low, high) pair of finite numbers with "
        "0 < low <= high, got (0.05, 0.01)",
    ),
    ({"randomization": {"object_scale": (0.0, 1.0)}}, "config.randomization.object_scale"),
    ({"randomization": {"object_friction": (-1.0, 1.0)}}, "config.randomization.object_friction"),
    ({"randomization": {"actuator_kp_scale": (0.5, NAN)}}, "config.randomization.actuator_kp"),
    ({"randomization": {"joint_damping_scale": (2.0, 1.0)}}, "config.randomization.joint_damp"),
    ({"randomization": {"action_latency_s": (-0.01, 0.0)}}, "config.randomization.action_lat"),
    (
        {"randomization": {"nominal_action_latency_s": -0.01}},
        "config.randomization.nominal_action_latency_s must be a finite number >= 0, got -0.01",
    ),
    ({"randomization": {"obs_noise_rad": -0.005}}, "config.randomization.obs_noise_rad"),
    ({"randomization": {"object_com_offset_m": NAN}}, "config.randomization.object_com_offset_m"),
    (
        {"randomization": {"disturbance_prob": 1.5}},
        "config.randomization.disturbance_prob must be a number in [0, 1], got 1.5",
    ),
    ({"randomization": {"disturbance_decay": 1.1}}, "config.randomization.disturbance_decay"),
    ({"randomization": {"disturbance_n_per_kg": -2.0}}, "config.randomization.disturbance_n"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_VALUES, ids=lambda v: str(v)[:60])
def test_values_outside_a_fields_range_are_refused_naming_it(overrides, message):
    with pytest.raises(SettingError, match=re.escape(message)):
        merge_config(default_config(), overrides)


BAD_TYPES = [
    ({"randomization": {"enabled": "false"}}, "config.randomization.enabled must be True or False"),
    ({"randomization": {"enabled": "no"}}, "got 'no' (str)"),
    ({"randomization": {"enabled": 0}}, "got 0 (int)"),
    ({"frame_skip": True}, "config.frame_skip must be an integer in 1 .. 100, got True (bool)"),
    ({"frame_skip": 5.0}, "config.frame_skip must be an integer"),
    ({"reward": {"rot": "1.0"}}, "config.reward.rot must be a finite number >= 0, got '1.0'"),
    ({"reward": {"torque": True}}, "config.reward.torque must be a finite number >= 0, got True"),
    ({"reward": {"axis_dev_ramp_resets": (10.0, 100)}}, "pair of integers"),
    ({"randomization": {"object_mass_kg": 0.05}}, "object_mass_kg must be a (low, high) pair"),
    ({"randomization": {"object_mass_kg": "0.01,0.05"}}, "got '0.01,0.05' (str)"),
    ({"randomization": {"object_scale": (0.9, 1.0, 1.1)}}, "object_scale must be a (low, high)"),
    ({"reward": 5}, "config.reward must be a RewardConfig (or a dict of overrides of its fields)"),
    ({"randomization": [1, 2]}, "config.randomization must be a RandomizationConfig"),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_TYPES, ids=lambda v: str(v)[:60])
def test_values_of_the_wrong_type_are_refused_as_type_errors(overrides, message):
    with pytest.raises(SettingTypeError, match=re.escape(message)) as caught:
        merge_config(default_config(), overrides)
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, ValueError)


def test_a_whole_config_is_checked_too_and_the_config_argument_must_be_a_config():
    config = default_config()
    config.randomization.disturbance_prob = -0.25
    with pytest.raises(SettingError, match=r"config\.randomization\.disturbance_prob"):
        merge_config(default_config(), config)
    with pytest.raises(SettingTypeError, match="config must be a RotateConfig or a dict"):
        merge_config(default_config(), 5)  # type: ignore[arg-type]


def test_numpy_numbers_and_bools_and_lists_from_json_are_taken():
    config = merge_config(
        default_config(),
        {
            "frame_skip": np.int64(4),
            "randomization": {"enabled": np.bool_(True), "object_mass_kg": [0.02, 0.03]},
            "reward": {"rot": np.float32(2.0), "axis_dev_ramp_resets": [0, 0]},
        },
    )
    assert config.frame_skip == 4 and config.randomization.enabled
    assert config.randomization.object_mass_kg == (0.02, 0.03)


def test_action_latency_must_end_within_the_control_period_when_randomising():
    late = {"action_latency_s": (0.0, 0.045)}
    merge_config(default_config(), {"randomization": late})  # randomisation off: unused
    with pytest.raises(
        SettingError,
        match=re.escape(
            "config.randomization.action_latency_s must end within the control period, at "
            "(frame_skip - 1) x sim_dt_s = 0.04 s, got (0.0, 0.045)"
        ),
    ):
        merge_config(default_config(), {"randomization": {**late, "enabled": True}})
    with pytest.raises(SettingError, match="= 0 s, got"):
        merge_config(default_config(), {"frame_skip": 1, "randomization": {"enabled": True}})
    merge_config(default_config(), {"randomization": {"action_latency_s": (0, 0.04)}})


@pytest.mark.parametrize("latency_s", [0.005, 0.045, 0.1])
def test_a_nominal_latency_must_be_whole_steps_within_the_control_period(latency_s):
    # 0.005 s would round to no latency at all at 0.01 s steps: refused, not rounded
    with pytest.raises(
        SettingError,
        match=re.escape(
            "config.randomization.nominal_action_latency_s must be a whole number of physics "
            "steps of sim_dt_s = 0.01 s, at most (frame_skip - 1) x sim_dt_s = 0.04 s, got "
            f"{latency_s:g}"
        ),
    ):
        merge_config(default_config(), {"randomization": {"nominal_action_latency_s": latency_s}})
    for fits in (0.0, 0.01, 0.04):
        merge_config(default_config(), {"randomization": {"nominal_action_latency_s": fits}})


@pytest.mark.parametrize(
    "cls",
    [RotateConfig, RewardConfig, RandomizationConfig, HardwareProfile],
    ids=lambda c: c.__name__,
)
def test_every_field_declares_its_rule(cls):
    assert all(RULE in f.metadata for f in dataclasses.fields(cls))


def test_the_defaults_and_the_presets_keep_their_rules():
    merge_config(default_config(), None)
    for profile in PROFILES.values():
        check_fields(profile)


def test_a_field_without_a_rule_is_a_programming_error():
    @dataclasses.dataclass
    class Partly:
        checked: float = setting(1.0, Number(0.0))
        unchecked: float = 2.0

    with pytest.raises(TypeError, match=r"Partly\.unchecked declares no rule"):
        check_fields(Partly())
