"""How a physical LEAP hand is wired and tuned: motor IDs, angle convention, servo settings.

One `HandConfig` describes one hand. The default is the public LEAP hand's (shared facts:
hardware conventions of the public LEAP hand API); `real/leap_hand.yaml` ships the same values
as a file to copy and edit, and `load_hand_config` reads such a file (YAML or JSON) and checks
it before anything is written to a motor: every field must have its type (16 integers where
a register takes one per joint) and lie in its register's range, or a `HandConfigError` names
the field, the value and what is valid. The virtual LEAP hand is set up from the same config,
so the in-process virtual hand and the one served over the wire run the same registers.

Usage:
    from dexndm_envs.hand.config import load_hand_config
    config = load_hand_config("real/leap_hand.yaml")
    config.motor_ids[config.joint_names.index("if_rot")]  # -> 0
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dexndm_envs.core.atomic import atomic_write_text
from dexndm_envs.core.constants import (
    HARDWARE_ANGLE_OFFSET_RAD,
    JOINT_LOWER_RAD,
    JOINT_NAMES,
    JOINT_UPPER_RAD,
    MOTOR_IDS,
    NUM_JOINTS,
)
from dexndm_envs.core.settings_file import read_fields
from dexndm_envs.dynamixel.control_table import (
    OPERATING_MODE_CURRENT_BASED_POSITION as OPERATING_MODE_CURRENT_BASED_POSITION,
)
from dexndm_envs.dynamixel.control_table import RAD_PER_TICK

_SIDE_JOINTS = ("if_rot", "mf_rot", "rf_rot")
_SIDE_GAIN_FACTOR = 0.75  # public LEAP API: side-to-side motors run at 0.75 x the gains


def _per_joint(value: int, side_value: int) -> list[int]:
    return [side_value if name in _SIDE_JOINTS else value for name in JOINT_NAMES]


class HandConfigError(ValueError):
    """A hand config file or value that cannot drive the hand safely."""


@dataclass(frozen=True)
class HandConfig:
    """Wiring and servo settings of one LEAP hand; every list is in JOINT_NAMES order.

    Gains are the Dynamixel registers' raw values (e-Manual: K_P = P/128, K_I = I/65536,
    K_D = D/16); currents are in mA (the XC330's current unit is 1 mA).
    """

    joint_names: tuple[str, ...] = JOINT_NAMES
    motor_ids: tuple[int, ...] = MOTOR_IDS
    angle_offset_rad: float = HARDWARE_ANGLE_OFFSET_RAD
    """Hardware angle = direction * model angle + offset (a flat hand reads pi, 2048 ticks); one
    number, within `offset_range_rad(direction)` (every joint's range inside one motor turn)."""
    direction: tuple[int, ...] = (1,) * NUM_JOINTS
    """+1 where the motor turns with the model joint, -1 where it is mounted reversed."""
    position_p_gain: tuple[int, ...] = field(default_factory=lambda: tuple(_per_joint(800, 600)))
    """Public LEAP API: P 600-800, side-to-side motors x 0.75."""
    position_i_gain: tuple[int, ...] = (0,) * NUM_JOINTS
    position_d_gain: tuple[int, ...] = field(default_factory=lambda: tuple(_per_joint(200, 150)))
    goal_current_ma: tuple[int, ...] = (350,) * NUM_JOINTS
    """The torque limit of current-based position control (public LEAP API: 300-550 mA; 350
    keeps the full-size hand out of overload)."""
    current_limit_ma: int = 550
    """Current Limit (addr 38, EEPROM): the ceiling Goal Current may not exceed."""
    return_delay_time: int = 0
    """Return Delay Time (addr 9) in 2 us units: 0, the fix for slow reads users report."""
    max_target_step_rad: float = 0.2
    """Largest change of any joint target between two control steps the env will write; a
    policy step is at most 1/24 rad, so anything larger is a bug or a glitch."""

    def __post_init__(self) -> None:
        for name, value in _validate(self).items():  # lists become tuples, numbers plain
            object.__setattr__(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (lists and numbers), as written to a file."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }

    def model_to_hardware_rad(self, q_rad: np.ndarray) -> np.ndarray:
        """Model joint angles -> motor angles (rad, before conversion to ticks)."""
        return np.asarray(self.direction) * q_rad + self.angle_offset_rad

    def hardware_to_model_rad(self, motor_rad: np.ndarray) -> np.ndarray:
        """Motor angles (rad) -> model joint angles."""
        return (motor_rad - self.angle_offset_rad) * np.asarray(self.direction)

    def model_to_ticks(self, q_rad: np.ndarray) -> np.ndarray:
        """Model joint angles -> Goal/Present Position ticks (int64), joint order."""
        return np.rint(self.model_to_hardware_rad(q_rad) / RAD_PER_TICK).astype(np.int64)

    def ticks_to_model(self, ticks: np.ndarray) -> np.ndarray:
        """Present Position ticks -> model joint angles (rad)."""
        return self.hardware_to_model_rad(np.asarray(ticks) * RAD_PER_TICK)

    def joint_of_motor(self, motor_id: int) -> str:
        """The joint a motor drives, for error messages."""
        return self.joint_names[self.motor_ids.index(motor_id)]


READING_TOLERANCE_RAD = 0.05
"""How far (rad, about 3 degrees) a joint reading may lie outside the joint's range and still
count as inside: sensor quantisation, backlash and a finger resting against its end stop. A
reading further out means the hand config's angle convention does not fit the hand (a wrong
`angle_offset_rad` or `direction`, a horn mounted one tooth off): DexNDM-Real-v0 refuses it and
real/calibrate.py reports it."""

MOTOR_TURN_RAD = 4096 * RAD_PER_TICK
"""One motor turn: Present Position reads 0..4095 ticks after power-on."""

_REGISTER_RANGES: dict[str, tuple[int, int]] = {
    "motor_ids": (0, 252),
    "position_p_gain": (0, 16383),  # e-Manual ranges of the registers
    "position_i_gain": (0, 16383),
    "position_d_gain": (0, 16383),
    "current_limit_ma": (1, 1750),
    "return_delay_time": (0, 254),  # units of 2 us
}
_PER_JOINT = (
    "motor_ids",
    "direction",
    "position_p_gain",
    "position_i_gain",
    "position_d_gain",
    "goal_current_ma",
)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _integers(name: str, values: Any, low: int, high: int, why: str = "") -> tuple[int, ...]:
    """NUM_JOINTS integers in low..high as a tuple, or a HandConfigError naming the field."""
    wanted = f"{name} must be {NUM_JOINTS} integers in {low}..{high}{why}, a list in joint order"
    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise HandConfigError(f"{wanted}, got {values!r}")
    if len(values) != NUM_JOINTS:
        raise HandConfigError(f"{wanted}, got {len(values)} values")
    bad = [
        f"{joint} ({value!r})"
        for joint, value in zip(JOINT_NAMES, values, strict=True)
        if not (_is_integer(value) and low <= value <= high)
    ]
    if bad:
        raise HandConfigError(f"{wanted}; out of range or not an integer: {', '.join(bad)}")
    return tuple(int(value) for value in values)


def _integer(name: str, value: Any, low: int, high: int) -> int:
    if not (_is_integer(value) and low <= value <= high):
        raise HandConfigError(f"{name} must be one integer in {low}..{high}, got {value!r}")
    return int(value)


def offset_range_rad(direction: Sequence[int]) -> tuple[float, float]:
    """The angle offsets (rad) that put every joint's range inside one motor turn.

    A motor reads 0..4095 ticks (0..2 pi) after power-on; a joint whose range crossed the end
    of the turn would read the far side of it, so no offset outside this interval can fit a
    LEAP hand with these directions.
    """
    ends = np.stack([JOINT_LOWER_RAD, JOINT_UPPER_RAD]) * np.asarray(direction)
    return float(-ends.min()), float(MOTOR_TURN_RAD - ends.max())


def _validate(config: HandConfig) -> dict[str, Any]:
    """The config's values checked and normalised (tuples of int, float scalars)."""
    names = config.joint_names
    if isinstance(names, str) or tuple(names) != JOINT_NAMES:
        raise HandConfigError(
            f"joint_names must be the LEAP order [{', '.join(JOINT_NAMES)}]; got {names!r}"
        )
    values: dict[str, Any] = {"joint_names": JOINT_NAMES}
    for name, (low, high) in _REGISTER_RANGES.items():
        check = _integers if name in _PER_JOINT else _integer
        values[name] = check(name, getattr(config, name), low, high)
    if len(set(values["motor_ids"])) != NUM_JOINTS:
        raise HandConfigError(
            f"motor_ids must be {NUM_JOINTS} distinct IDs, got {config.motor_ids}"
        )
    values["direction"] = _integers("direction", config.direction, -1, 1)
    if 0 in values["direction"]:
        raise HandConfigError(f"direction entries must be +1 or -1, got {config.direction}")
    values["goal_current_ma"] = _integers(
        "goal_current_ma",
        config.goal_current_ma,
        1,
        values["current_limit_ma"],
        " (mA, up to current_limit_ma)",
    )
    step = config.max_target_step_rad
    if not (_is_number(step) and 0 < step <= 1.0):
        raise HandConfigError(f"max_target_step_rad must be a number in (0, 1] rad, got {step!r}")
    values["max_target_step_rad"] = float(step)
    values["angle_offset_rad"] = _offset(config.angle_offset_rad, values["direction"])
    return values


def _offset(offset: Any, direction: tuple[int, ...]) -> float:
    low, high = offset_range_rad(direction)
    if not (_is_number(offset) and low <= offset <= high):
        raise HandConfigError(
            f"angle_offset_rad must be one number in {low:.3f}..{high:.3f} rad, which puts "
            f"every joint's range inside one motor turn (0..4095 ticks) with these directions; "
            f"got {offset!r} (the LEAP hand: pi, a flat hand reading 2048 ticks)"
        )
    return float(offset)


def default_hand_config() -> HandConfig:
    """The public LEAP hand's wiring and settings."""
    return HandConfig()


def load_hand_config(path: HandConfig | str | Path | None) -> HandConfig:
    """Read a hand config (YAML or JSON); keys left out keep the LEAP defaults. None gives the
    defaults, and a HandConfig is returned as is.

    Raises:
        HandConfigError: for an unreadable file, unknown keys or unsafe values, saying which.
    """
    if path is None:
        return default_hand_config()
    if isinstance(path, HandConfig):
        return path
    if not isinstance(path, str | os.PathLike):
        raise HandConfigError(
            f"hand_config must be a HandConfig, a YAML/JSON file path or None, got {path!r}"
        )
    path = Path(path)
    raw = read_fields(path, HandConfig, HandConfigError, "hand config", noun="keys")
    try:
        return HandConfig(**raw)
    except HandConfigError as err:
        raise HandConfigError(f"{path}: {err}") from None


def save_hand_config(config: HandConfig, path: str | Path) -> None:
    """Write a config as YAML (or JSON for a .json path)."""
    path = Path(path)
    data = config.as_dict()
    if path.suffix == ".json":
        atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    else:
        atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))
