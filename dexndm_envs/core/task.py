"""Task inputs of in-hand rotation: wrist orientations and rotation axes.

The palm frame (see assets/leap_hand.xml): fingers along +x, index finger at +y, palm face
looking along -z. A wrist orientation is the rotation world <- palm, as a unit quaternion
(w, x, y, z). Rotation axes are unit vectors in the world frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from dexndm_envs.core import geometry
from dexndm_envs.core.checks import (
    Pair,
    SettingError,
    SettingTypeError,
    check_value,
    is_number,
)


def _wrist_from_axes(fingers: Sequence[float], thumb_side: Sequence[float]) -> np.ndarray:
    """Quaternion world <- palm from the world directions of palm +x (fingers) and +y."""
    x = np.asarray(fingers, dtype=np.float64)
    y = np.asarray(thumb_side, dtype=np.float64)
    return geometry.mat_to_quat(np.column_stack([x, y, np.cross(x, y)]))


WRISTS: dict[str, np.ndarray] = {
    # palm face up, fingers along world +x (the paper's default rotation set-up).
    "palm_up": _wrist_from_axes((1, 0, 0), (0, -1, 0)),
    # palm face down, fingers along world +x: the object hangs in the grasp.
    "palm_down": _wrist_from_axes((1, 0, 0), (0, 1, 0)),
    # wrist (the hand's base) up: fingers point down, palm face towards world -y.
    "base_up": _wrist_from_axes((0, 0, -1), (-1, 0, 0)),
    # wrist down: fingers point up, palm face towards world -y.
    "base_down": _wrist_from_axes((0, 0, 1), (1, 0, 0)),
    # thumb side up, fingers along world +x (palm face towards world +y).
    "thumb_up": _wrist_from_axes((1, 0, 0), (0, 0, 1)),
    # thumb side down, fingers along world +x (palm face towards world -y).
    "thumb_down": _wrist_from_axes((1, 0, 0), (0, 0, -1)),
}
"""The six named wrist orientations used on hardware in the paper."""

WRIST_CHOICES: tuple[str, ...] = (*WRISTS, "random")

PRINCIPAL_AXES: dict[str, np.ndarray] = {
    "+x": np.array([1.0, 0.0, 0.0]),
    "-x": np.array([-1.0, 0.0, 0.0]),
    "+y": np.array([0.0, 1.0, 0.0]),
    "-y": np.array([0.0, -1.0, 0.0]),
    "+z": np.array([0.0, 0.0, 1.0]),
    "-z": np.array([0.0, 0.0, -1.0]),
}
AXIS_CHOICES: tuple[str, ...] = (*PRINCIPAL_AXES, "random", "general")

TILT_RANGE = Pair(0.0, 90.0, strict=True)
"""A start-tilt range (deg): an angle between an axis and a line is 0-90 degrees."""


@cache
def general_axes() -> np.ndarray:
    """The 26 "general" axes: 32 evenly spread directions minus the six principal ones.

    The paper (DexNDM, sim evaluation) names 32 evenly spread axes without saying how they are
    built. Ours: the six principal directions are pinned, 13 more directions and their
    antipodes are spread by minimising a Coulomb-like energy over the whole symmetric set of
    32, from a fixed start, so the set is deterministic and symmetric under v -> -v.

    Returns:
        (26, 3) unit vectors, read-only.
    """
    rng = np.random.default_rng(0)
    free = rng.normal(size=(13, 3))
    pinned = np.eye(3)
    for _ in range(600):
        free /= np.linalg.norm(free, axis=1, keepdims=True)
        points = np.concatenate([pinned, free, -pinned, -free])
        diff = free[:, None, :] - points[None, :, :]
        dist = np.linalg.norm(diff, axis=-1)
        dist[dist < 1e-9] = np.inf  # a point does not repel itself
        force = (diff / dist[..., None] ** 3).sum(axis=1)
        free += 0.01 * force
    free /= np.linalg.norm(free, axis=1, keepdims=True)
    axes = np.concatenate([free, -free])
    axes.flags.writeable = False
    return axes


def _resolve(
    option: str | Sequence[float], choices: tuple[str, ...], what: str, vector: str, size: int
) -> str | np.ndarray:
    """A name from choices, or a finite nonzero vector of `size` numbers, normalised."""
    if isinstance(option, str):
        if option not in choices:
            raise SettingError(
                f"unknown {what} {option!r}; valid: {', '.join(choices)}, or {vector}"
            )
        return option
    sequence = isinstance(option, list | tuple) or (
        isinstance(option, np.ndarray) and option.ndim == 1
    )
    numbers = sequence and all(map(is_number, option))
    vec = np.asarray(option, dtype=np.float64) if numbers else np.zeros(0)
    if vec.shape != (size,) or not np.all(np.isfinite(vec)) or np.linalg.norm(vec) < 1e-9:
        # a type error where the option is no sequence of numbers (a bool, a dict, strings)
        error = SettingError if numbers else SettingTypeError
        raise error(
            f"{what} must be {vector}: {size} finite numbers, not all zero; got "
            f"{option!r} (or one of: {', '.join(choices)})"
        )
    return vec / np.linalg.norm(vec)


def resolve_wrist(wrist: str | Sequence[float]) -> str | np.ndarray:
    """Validate a wrist option: a name from WRIST_CHOICES, or a quaternion (w, x, y, z).

    Returns:
        The name, or the normalised quaternion.

    Raises:
        SettingError (a ValueError): for an unknown name or a quaternion of the wrong shape or
            zero norm; SettingTypeError (also a TypeError) for anything but a name or numbers.
    """
    return _resolve(wrist, WRIST_CHOICES, "wrist", "a quaternion (w, x, y, z)", 4)


def resolve_axis(axis: str | Sequence[float]) -> str | np.ndarray:
    """Validate an axis option: a name from AXIS_CHOICES, or a 3-vector (normalised).

    Raises:
        SettingError (a ValueError): for an unknown name or a vector of the wrong shape or zero
            norm; SettingTypeError (also a TypeError) for anything but a name or numbers.
    """
    return _resolve(axis, AXIS_CHOICES, "axis", "a 3-vector", 3)


def sample_wrist(
    option: str | np.ndarray, rng: np.random.Generator
) -> tuple[str | None, np.ndarray]:
    """The wrist of one episode: (name or None for a free quaternion, quaternion)."""
    if isinstance(option, np.ndarray):
        return None, option
    if option == "random":
        return None, geometry.random_quat(rng)
    return option, WRISTS[option]


def sample_axis(option: str | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The rotation axis of one episode (world frame, unit)."""
    if isinstance(option, np.ndarray):
        return option
    if option == "random":
        return PRINCIPAL_AXES[tuple(PRINCIPAL_AXES)[rng.integers(6)]]
    if option == "general":
        axes = general_axes()
        return axes[rng.integers(len(axes))]
    return PRINCIPAL_AXES[option]


def nearest_named_wrist(quat: np.ndarray) -> str:
    """The named wrist whose gravity direction in the palm frame is closest to quat's.

    Grasp stability depends on where gravity points relative to the hand, so a free wrist
    orientation borrows the grasps of the named one closest in that sense.
    """
    gravity_palm = geometry.quat_to_mat(quat).T @ np.array([0.0, 0.0, -1.0])
    best, best_dot = "palm_up", -np.inf
    for name, wrist_quat in WRISTS.items():
        dot = float(
            gravity_palm @ (geometry.quat_to_mat(wrist_quat).T @ np.array([0.0, 0.0, -1.0]))
        )
        if dot > best_dot:
            best, best_dot = name, dot
    return best


def check_tilt_range(tilt: Sequence[float] | None) -> tuple[float, float] | None:
    """A start-tilt range (low, high) in degrees as two floats, or None for every grasp.

    Raises:
        SettingError (a ValueError): unless 0 <= low < high <= 90 (SettingTypeError, also a
            TypeError, for anything but two numbers).
    """
    if tilt is None:
        return None
    check_value("start_tilt_deg", tilt, TILT_RANGE)
    return float(tilt[0]), float(tilt[1])
