"""Hand configs: every field is checked for type and range, at construction and on loading."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dexndm_envs.core.constants import JOINT_LOWER_RAD, JOINT_UPPER_RAD, MOTOR_IDS, NUM_JOINTS
from dexndm_envs.dynamixel.control_table import RAD_PER_TICK
from dexndm_envs.hand.config import (
    HandConfig,
    HandConfigError,
    load_hand_config,
    offset_range_rad,
    save_hand_config,
)

BAD_FIELDS = {
    "scalar for a list": ({"motor_ids": 5}, r"motor_ids must be 16 integers in 0\.\.252"),
    "string for a list": ({"direction": "1" * 16}, r"direction must be 16 integers"),
    "too few": ({"position_p_gain": (800,) * 15}, r"position_p_gain .* got 15 values"),
    "float register": (
        {"position_d_gain": (200.0,) * 16},
        r"position_d_gain must be 16 integers in 0\.\.16383.*if_mcp \(200\.0\)",
    ),
    "bool register": ({"position_i_gain": (True,) * 16}, r"position_i_gain .*if_mcp \(True\)"),
    "float scalar register": ({"current_limit_ma": 550.5}, r"current_limit_ma .* 1\.\.1750"),
    "string scalar": ({"return_delay_time": "0"}, r"return_delay_time .* 0\.\.254, got '0'"),
    "goal above the limit": (
        {"goal_current_ma": (350,) * 15 + (600,)},
        r"goal_current_ma .* 1\.\.550 \(mA, up to current_limit_ma\).*th_ipl \(600\)",
    ),
    "string step": ({"max_target_step_rad": "0.2"}, r"max_target_step_rad .* \(0, 1\] rad"),
    "nan step": ({"max_target_step_rad": math.nan}, r"max_target_step_rad"),
    "nan offset": ({"angle_offset_rad": math.nan}, r"angle_offset_rad must be one number in 1\.34"),
    "infinite offset": ({"angle_offset_rad": math.inf}, r"angle_offset_rad"),
    "string offset": ({"angle_offset_rad": "pi"}, r"angle_offset_rad .* got 'pi'"),
    "list offset": ({"angle_offset_rad": [math.pi] * 16}, r"angle_offset_rad must be one number"),
    "offset in degrees": ({"angle_offset_rad": 180.0}, r"inside one motor turn"),
    "joint names as one string": ({"joint_names": "if_mcp"}, r"joint_names must be the LEAP order"),
}


@pytest.mark.parametrize("case", list(BAD_FIELDS))
def test_bad_fields_are_refused_at_construction_naming_field_and_range(case):
    values, message = BAD_FIELDS[case]
    with pytest.raises(HandConfigError, match=message):
        HandConfig(**values)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("current_limit_ma: 550.0\n", r"current_limit_ma must be one integer in 1\.\.1750"),
        ("angle_offset_rad: .nan\n", r"angle_offset_rad must be one number"),
        ("angle_offset_rad: pi\n", r"angle_offset_rad .* got 'pi'"),
        ("motor_ids: 3\n", r"motor_ids must be 16 integers"),
        ("goal_current_ma: [350.5]\n", r"goal_current_ma .* got 1 values"),
    ],
)
def test_bad_fields_in_a_file_are_refused_naming_the_file(tmp_path, text, message):
    path = tmp_path / "hand.yaml"
    path.write_text(text)
    with pytest.raises(HandConfigError, match=f"hand.yaml: {message}"):
        load_hand_config(path)


def test_a_hand_config_argument_of_another_type_is_refused():
    with pytest.raises(HandConfigError, match="hand_config must be a HandConfig, a YAML/JSON"):
        load_hand_config(3)


def test_lists_and_numpy_values_are_taken_as_plain_tuples(tmp_path):
    config = HandConfig(motor_ids=np.array(MOTOR_IDS), angle_offset_rad=np.float32(3.0))
    assert config.motor_ids == MOTOR_IDS and type(config.motor_ids[0]) is int
    assert type(config.angle_offset_rad) is float
    assert HandConfig(direction=[1] * NUM_JOINTS) == HandConfig()
    save_hand_config(config, tmp_path / "hand.yaml")  # plain values: YAML can write them
    assert load_hand_config(tmp_path / "hand.yaml") == config


def test_the_offset_range_keeps_every_joint_inside_one_motor_turn():
    for direction in ((1,) * NUM_JOINTS, (-1,) * NUM_JOINTS, (1, -1) * 8):
        low, high = offset_range_rad(direction)
        assert low < math.pi < high  # the LEAP convention fits either way round
        for offset in (low, high):
            ticks = HandConfig(direction=direction, angle_offset_rad=offset).model_to_ticks(
                np.stack([JOINT_LOWER_RAD, JOINT_UPPER_RAD])
            )
            assert ticks.min() >= 0 and ticks.max() <= 4096
        outside = HandConfig(direction=direction, angle_offset_rad=high).model_to_hardware_rad(
            np.stack([JOINT_LOWER_RAD, JOINT_UPPER_RAD])
        )
        assert outside.max() == pytest.approx(4096 * RAD_PER_TICK)  # the bound is tight
        with pytest.raises(HandConfigError, match="angle_offset_rad"):
            HandConfig(direction=direction, angle_offset_rad=high + 0.01)
