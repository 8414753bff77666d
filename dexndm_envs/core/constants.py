"""One source of truth for the LEAP hand's names, order, limits and motor IDs.

Numbers come from shared facts on the public LEAP hand model (dex-urdf, also used by the MuJoCo
Menagerie and MuJoCo Playground) and the public LEAP hand API. Every other module imports them
from here; nothing else spells a joint name or a limit.
"""

from __future__ import annotations

import numpy as np

FINGERS: tuple[str, ...] = ("if", "mf", "rf", "th")
"""Finger prefixes: index, middle, ring, thumb."""

JOINT_NAMES: tuple[str, ...] = (
    "if_mcp", "if_rot", "if_pip", "if_dip",
    "mf_mcp", "mf_rot", "mf_pip", "mf_dip",
    "rf_mcp", "rf_rot", "rf_pip", "rf_dip",
    "th_cmc", "th_axl", "th_mcp", "th_ipl",
)  # fmt: skip
"""Joint order of every action, observation and motor array (the ecosystem's MuJoCo order)."""

NUM_JOINTS: int = len(JOINT_NAMES)

MOTOR_IDS: tuple[int, ...] = (1, 0, 2, 3, 5, 4, 6, 7, 9, 8, 10, 11, 12, 13, 14, 15)
"""Dynamixel ID of each joint, in JOINT_NAMES order (abduction motor first in each finger's
motor chain, flexion first in its kinematic chain)."""

FINGERTIP_SITES: tuple[str, ...] = ("if_tip", "mf_tip", "rf_tip", "th_tip")

_FINGER_LOWER = (-0.314, -1.047, -0.506, -0.366)
_FINGER_UPPER = (2.23, 1.047, 1.885, 2.042)
JOINT_LOWER_RAD: np.ndarray = np.array(
    _FINGER_LOWER * 3 + (-0.349, -0.349, -0.47, -1.34), dtype=np.float64
)
JOINT_UPPER_RAD: np.ndarray = np.array(
    _FINGER_UPPER * 3 + (2.094, 2.094, 2.443, 1.88), dtype=np.float64
)
JOINT_LOWER_RAD.flags.writeable = False
JOINT_UPPER_RAD.flags.writeable = False

CTRL_DT_S: float = 0.05
"""Control period: 20 Hz, as on the hardware and in the paper."""

MAX_DELTA_RAD: float = 1.0 / 24.0
"""Largest per-step change of a joint target for an action of magnitude 1 (paper: da / 24)."""

HARDWARE_ANGLE_OFFSET_RAD: float = float(np.pi)
"""Hardware angle = model angle + pi (a flat hand reads pi, i.e. 2048 ticks)."""


def joint_index(name: str) -> int:
    """Index of a joint in JOINT_NAMES.

    Raises:
        ValueError: for an unknown joint name, listing the valid ones.
    """
    try:
        return JOINT_NAMES.index(name)
    except ValueError:
        raise ValueError(
            f"unknown joint {name!r}; valid joints: {', '.join(JOINT_NAMES)}"
        ) from None
