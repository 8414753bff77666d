"""The one interface every LEAP-hand environment speaks, sim or hardware.

Action: Box(-1, 1, (16,)) in JOINT_NAMES order, relative joint targets
    target_t = clip(target_{t-1} + a_t * max_delta, joint limits).
Proprioceptive observation: the last T joint positions and joint targets, each normalised to
[-1, 1] over the joint's range, oldest first, then the task (wrist quaternion, axis).

Both the simulated and the real environment use this module, so history and target arithmetic
exist once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from dexndm_envs.core.constants import JOINT_LOWER_RAD, JOINT_NAMES, JOINT_UPPER_RAD, NUM_JOINTS

DEFAULT_HISTORY_LEN = 10
"""T, the (joint position, joint target) pairs observed by default: the paper's generalist
input (T = 10) and the shipped policy's, so that the default env and load_pretrained() agree."""

_JOINT_MID = (JOINT_LOWER_RAD + JOINT_UPPER_RAD) / 2.0
_JOINT_HALF_RANGE = (JOINT_UPPER_RAD - JOINT_LOWER_RAD) / 2.0
_INV_HALF_RANGE = 1.0 / _JOINT_HALF_RANGE


def action_space() -> gym.spaces.Box:
    """Box(-1, 1, (16,), float32): one relative target change per joint."""
    return gym.spaces.Box(-1.0, 1.0, shape=(NUM_JOINTS,), dtype=np.float32)


def check_joint_targets(joint_targets: Any) -> np.ndarray:
    """reset's options["joint_targets"] (DexNDM-Real-v0, DexNDM-ChaosBox-v0) as float64 (16,)
    within the joint limits (rad).

    Raises:
        ValueError: another shape, a non-finite value, or a joint outside its range (named);
            nothing is clipped.
    """
    try:
        targets = np.asarray(joint_targets, dtype=np.float64)
    except (TypeError, ValueError):
        targets = np.full(1, np.nan)
    if targets.shape != (NUM_JOINTS,) or not np.isfinite(targets).all():
        raise ValueError(
            f"options['joint_targets'] must be {NUM_JOINTS} finite joint angles (rad) in the "
            f"order {', '.join(JOINT_NAMES)}; got {joint_targets!r}"
        )
    outside = (targets < JOINT_LOWER_RAD) | (targets > JOINT_UPPER_RAD)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"options['joint_targets'][{i}] ({JOINT_NAMES[i]}) = {targets[i]:.3f} rad is outside "
            f"the joint's range [{JOINT_LOWER_RAD[i]:.3f}, {JOINT_UPPER_RAD[i]:.3f}]"
        )
    return targets


def check_action(action: np.ndarray) -> np.ndarray:
    """An action as float64 (16,) within [-1, 1], or a ValueError saying what is wrong with it.

    Finite values outside [-1, 1] are clipped to the action space's bounds (as SB3 does).
    """
    arr = np.asarray(action, dtype=np.float64)
    if arr.shape != (NUM_JOINTS,):
        raise ValueError(
            f"action must have shape ({NUM_JOINTS},) in the order "
            f"{', '.join(JOINT_NAMES)}; got shape {arr.shape}"
        )
    # on 16 numbers Python's sum/min/max beat numpy's reductions; a NaN or inf anywhere makes
    # the sum non-finite, and finite values outside the bounds show in min or max
    values = arr.tolist()
    if math.isfinite(sum(values)) and min(values) >= -1.0 and max(values) <= 1.0:
        return arr
    if not np.isfinite(arr).all():
        bad = [JOINT_NAMES[i] for i in np.flatnonzero(~np.isfinite(arr))]
        raise ValueError(f"action has non-finite values for joints: {', '.join(bad)}")
    return np.minimum(np.maximum(arr, -1.0), 1.0)


def next_targets(prev_targets: np.ndarray, action: np.ndarray, max_delta_rad: float) -> np.ndarray:
    """Targets after a relative action: clip(prev + a * max_delta, joint limits).

    `action` comes from check_action (within [-1, 1]).
    """
    # in place on one new array; np.clip's dispatch costs several times the arithmetic here
    targets = np.multiply(action, max_delta_rad)
    np.add(targets, prev_targets, out=targets)
    np.maximum(targets, JOINT_LOWER_RAD, out=targets)
    return np.minimum(targets, JOINT_UPPER_RAD, out=targets)


def normalize_joints(q_rad: np.ndarray) -> np.ndarray:
    """Joint angles mapped linearly from [lower, upper] to [-1, 1]."""
    return (q_rad - _JOINT_MID) / _JOINT_HALF_RANGE


def unnormalize_joints(q_norm: np.ndarray) -> np.ndarray:
    """Inverse of normalize_joints."""
    return q_norm * _JOINT_HALF_RANGE + _JOINT_MID


class ObsLayout:
    """Names and slices of a flat observation vector, in order.

    >>> layout = ObsLayout([("joint_pos", 48), ("axis", 3)])
    >>> layout["axis"]
    slice(48, 51, None)
    >>> layout.size
    51
    """

    def __init__(self, blocks: Sequence[tuple[str, int]]) -> None:
        self.slices: dict[str, slice] = {}
        start = 0
        for name, size in blocks:
            if name in self.slices:
                raise ValueError(f"duplicate observation block {name!r}")
            self.slices[name] = slice(start, start + size)
            start += size
        self.size = start

    def __getitem__(self, name: str) -> slice:
        try:
            return self.slices[name]
        except KeyError:
            raise KeyError(
                f"no observation block {name!r}; blocks: {', '.join(self.slices)}"
            ) from None

    def __contains__(self, name: str) -> bool:
        return name in self.slices

    def split(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """The named parts of one observation (or a batch, along the last axis)."""
        return {name: obs[..., sl] for name, sl in self.slices.items()}

    def to_dict(self) -> dict[str, tuple[int, int]]:
        """The layout as plain data: name -> (start, stop)."""
        return {name: (sl.start, sl.stop) for name, sl in self.slices.items()}


def proprio_blocks(history_len: int) -> list[tuple[str, int]]:
    """Blocks of the proprioceptive observation shared by sim and hardware."""
    return [
        ("joint_pos", history_len * NUM_JOINTS),
        ("joint_targets", history_len * NUM_JOINTS),
        ("wrist_quat", 4),
        ("axis", 3),
    ]


class ProprioHistory:
    """The last T (joint position, joint target) pairs, kept normalised inside a flat buffer.

    The buffer (float64, so pushes need no casts) is laid out as proprio_blocks(T) followed by
    `extra_blocks` (the oracle's privileged state, written by the env through `layout`);
    `observation()` returns it as a new float32 array.
    """

    def __init__(self, history_len: int, extra_blocks: Sequence[tuple[str, int]] = ()) -> None:
        if history_len < 1:
            raise ValueError(f"history_len must be >= 1, got {history_len}")
        self.history_len = history_len
        self.layout = ObsLayout([*proprio_blocks(history_len), *extra_blocks])
        self.buffer = np.zeros(self.layout.size, dtype=np.float64)
        hist = history_len * NUM_JOINTS
        # views made once (push is on the step's hot path): both histories as one (2, T, 16)
        # block, so one copy shifts them, and the newest row of each
        self._pairs = self.buffer[: 2 * hist].reshape(2, history_len, NUM_JOINTS)
        self._q, self._targets = self._pairs
        self._q_newest, self._targets_newest = self._q[-1], self._targets[-1]

    def reset(
        self,
        joint_pos_rad: np.ndarray,
        joint_targets_rad: np.ndarray,
        wrist_quat: np.ndarray,
        axis: np.ndarray,
    ) -> None:
        """Fill the whole history with one reading, and set the task."""
        self._q[:] = normalize_joints(joint_pos_rad)
        self._targets[:] = normalize_joints(joint_targets_rad)
        self.buffer[self.layout["wrist_quat"]] = wrist_quat
        self.buffer[self.layout["axis"]] = axis

    def push(self, joint_pos_rad: np.ndarray, joint_targets_rad: np.ndarray) -> None:
        """Append the newest reading, dropping the oldest."""
        if self.history_len > 1:
            self._pairs[:, :-1] = self._pairs[:, 1:]
        q, t = self._q_newest, self._targets_newest
        np.multiply(np.subtract(joint_pos_rad, _JOINT_MID, out=q), _INV_HALF_RANGE, out=q)
        np.multiply(np.subtract(joint_targets_rad, _JOINT_MID, out=t), _INV_HALF_RANGE, out=t)

    def observation(self) -> np.ndarray:
        """The current observation vector, as a new float32 array."""
        return self.buffer.astype(np.float32)
