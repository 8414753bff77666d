"""How a physical LEAP hand is wired and tuned: motor IDs, angle convention, servo settings.

One `HandConfig` describes one hand. The default is the public LEAP hand's (shared facts:
hardware conventions of the public LEAP hand API); `real/leap_hand.yaml` ships the same values
as a file to copy and edit, and `load_hand_config` reads such a file (YAML or JSON) and checks
it before anything is written to a motor. The virtual LEAP hand is set up from the same config,
so the in-process virtual hand and the one served over the wire run the same registers.

Usage:
    from dexndm_envs.hand.config import load_hand_config
    config = load_hand_config("real/leap_hand.yaml")
    config.motor_ids[config.joint_names.index("if_rot")]  # -> 0
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dexndm_envs.core.atomic import atomic_write_text
from dexndm_envs.core.constants import HARDWARE_ANGLE_OFFSET_RAD, JOINT_NAMES, MOTOR_IDS, NUM_JOINTS
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
    """Hardware angle = direction * model angle + offset (a flat hand reads pi, 2048 ticks)."""
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
        _validate(self)

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


def _validate(config: HandConfig) -> None:
    if tuple(config.joint_names) != JOINT_NAMES:
        raise HandConfigError(
            f"joint_names must be the LEAP order {', '.join(JOINT_NAMES)}; "
            f"got {', '.join(config.joint_names)}"
        )
    per_joint = ("motor_ids", "direction", "position_p_gain", "position_i_gain")
    for name in (*per_joint, "position_d_gain", "goal_current_ma"):
        values = getattr(config, name)
        if len(values) != NUM_JOINTS or not all(isinstance(v, int) for v in values):
            raise HandConfigError(f"{name} must be {NUM_JOINTS} integers, got {values!r}")
    ids = config.motor_ids
    if len(set(ids)) != NUM_JOINTS or not all(0 <= i <= 252 for i in ids):
        raise HandConfigError(f"motor_ids must be {NUM_JOINTS} distinct IDs in 0..252, got {ids}")
    if any(d not in (1, -1) for d in config.direction):
        raise HandConfigError(f"direction entries must be +1 or -1, got {config.direction}")
    for name in ("position_p_gain", "position_i_gain", "position_d_gain"):
        if any(not 0 <= g <= 16383 for g in getattr(config, name)):  # e-Manual range
            raise HandConfigError(f"{name} entries must be in 0..16383")
    if not 0 < config.current_limit_ma <= 1750:
        raise HandConfigError(f"current_limit_ma must be in 1..1750, got {config.current_limit_ma}")
    too_high = [
        f"{joint} ({current} mA)"
        for joint, current in zip(JOINT_NAMES, config.goal_current_ma, strict=True)
        if not 0 < current <= config.current_limit_ma
    ]
    if too_high:
        raise HandConfigError(
            f"goal_current_ma must be in 1..current_limit_ma ({config.current_limit_ma}); "
            f"out of range: {', '.join(too_high)}"
        )
    if not 0 <= config.return_delay_time <= 254:
        raise HandConfigError("return_delay_time must be in 0..254 (units of 2 us)")
    if not 0 < config.max_target_step_rad <= 1.0:
        raise HandConfigError("max_target_step_rad must be in (0, 1] rad")


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
    path = Path(path)
    raw = read_fields(path, HandConfig, HandConfigError, "hand config", noun="keys")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    try:
        return HandConfig(**values)
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
