"""The episode file format: what an episode holds, and the checks every writer and loader runs.

dexndm_envs.data.episodes writes and reads episodes; this module says what a valid one is (the
arrays, their shapes and units, the metadata keys) and raises `EpisodeDataError` naming what is
wrong. The layout is described in dexndm_envs.data.episodes's docstring.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dexndm_envs.core.constants import JOINT_NAMES, NUM_JOINTS

FORMAT_VERSION = 1
"""Version of the on-disk layout; loaders refuse files from a newer one."""

JOINT_ARRAYS: tuple[str, ...] = ("joint_pos", "joint_targets", "joint_vel", "joint_current")
ARRAY_NAMES: tuple[str, ...] = (*JOINT_ARRAYS, "timestamps")
DEFAULT_REQUIRED: tuple[str, ...] = ("joint_pos", "joint_targets")

META_REQUIRED: tuple[str, ...] = ("wrist", "axis", "hardware", "action_source", "action_noise")
META_WRITER: tuple[str, ...] = ("format_version", "software_version")
"""Metadata keys the writer sets itself."""


class EpisodeDataError(ValueError):
    """An episode on disk (or about to be written) is missing, corrupt or inconsistent."""


def numpy_file_kind(path: Path) -> str | None:
    """ "npz" or "npy" by a file's first bytes, or None for anything else.

    np.load reads a file that starts as neither as a pickle, so with allow_pickle=False a file
    left empty or zero-filled by a crash is refused as "pickled data"; callers check this
    first and call such a file corrupt. OSError propagates.
    """
    with path.open("rb") as file:
        head = file.read(len(_NPY_MAGIC))
    if head.startswith(_NPZ_MAGIC):
        return "npz"
    return "npy" if head == _NPY_MAGIC else None


_NPZ_MAGIC = b"PK\x03\x04"  # an .npz is a zip archive: its first local file header
_NPY_MAGIC = b"\x93NUMPY"


def to_json(value: Any, what: str) -> str:
    """Strict JSON (no NaN), turning NumPy arrays and scalars into lists and numbers."""

    def plain(obj: Any) -> Any:
        if isinstance(obj, np.ndarray | np.generic):
            return obj.tolist()
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")

    try:
        return json.dumps(value, default=plain, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as err:
        raise EpisodeDataError(f"{what} cannot be stored as JSON: {err}") from None


def _check_numbers(value: Any, size: int) -> bool:
    return (
        isinstance(value, list)
        and len(value) == size
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def validate_meta(meta: Mapping[str, Any], where: str, *, stored: bool) -> None:
    """Check the metadata keys and their types.

    Args:
        meta: the metadata, as JSON values.
        where: what it belongs to, for the messages (a file or an episode).
        stored: whether it was read from disk (then the writer's keys must be there too).

    Raises:
        EpisodeDataError: naming the first problem found.
    """
    required = (*META_REQUIRED, *META_WRITER) if stored else META_REQUIRED
    missing = [key for key in required if key not in meta]
    if missing:
        raise EpisodeDataError(f"{where}: metadata lacks {', '.join(missing)}")
    unknown = sorted(set(meta) - {*required, "extra"})
    if unknown:
        hint = "" if stored else f"; the writer sets {', '.join(META_WRITER)} itself"
        raise EpisodeDataError(
            f"{where}: unknown metadata keys {', '.join(unknown)}; free-form information "
            f"goes under 'extra'{hint}"
        )
    wrist = meta["wrist"]
    if not (isinstance(wrist, str) or _check_numbers(wrist, 4)):
        raise EpisodeDataError(f"{where}: wrist must be a name or 4 numbers, got {wrist!r}")
    if not _check_numbers(meta["axis"], 3):
        raise EpisodeDataError(f"{where}: axis must be 3 numbers, got {meta['axis']!r}")
    hardware = meta["hardware"]
    if not (isinstance(hardware, dict) and isinstance(hardware.get("kind"), str)):
        raise EpisodeDataError(f"{where}: hardware must be an object with a 'kind' string")
    if not isinstance(meta["action_source"], str):
        raise EpisodeDataError(f"{where}: action_source must be a string")
    if not isinstance(meta.get("extra", {}), dict):
        raise EpisodeDataError(f"{where}: extra must be an object")


def _check_array(name: str, array: np.ndarray, steps: int | None, where: str) -> None:
    """dtype, shape and finiteness of one array (steps: the expected count, if known)."""
    if array.dtype.kind not in "iuf":
        raise EpisodeDataError(f"{where}: {name} must hold real numbers, not {array.dtype}")
    expected = "(steps,)" if name == "timestamps" else f"(steps, {NUM_JOINTS})"
    ok = (
        array.ndim == 1
        if name == "timestamps"
        else (array.ndim == 2 and array.shape[1] == NUM_JOINTS)
    )
    if not ok:
        raise EpisodeDataError(f"{where}: {name} has shape {array.shape}, expected {expected}")
    if steps is not None and len(array) != steps:
        raise EpisodeDataError(
            f"{where}: step counts differ: {name} has {len(array)} steps, the others {steps}"
        )
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        step = int(bad[0][0])
        joint = f", joint {JOINT_NAMES[int(bad[0][1])]}" if array.ndim == 2 else ""
        raise EpisodeDataError(
            f"{where}: {name} has {len(bad)} non-finite values (first at step {step}{joint})"
        )


def validate_arrays(
    arrays: Mapping[str, np.ndarray | None],
    where: str,
    require: Sequence[str] = DEFAULT_REQUIRED,
) -> int:
    """Check the arrays of one episode against the layout in the module docstring.

    Args:
        arrays: array name -> array; None stands for an absent optional array.
        where: what they belong to, for the messages (a file or an episode).
        require: names that must be present.

    Returns:
        The number of steps.

    Raises:
        EpisodeDataError: naming the first problem found.
        ValueError: for a name in require that is not an array of the layout.
    """
    unknown_required = sorted(set(require) - set(ARRAY_NAMES))
    if unknown_required:
        raise ValueError(f"unknown required arrays {unknown_required}; valid: {ARRAY_NAMES}")
    unknown = sorted(set(arrays) - set(ARRAY_NAMES))
    if unknown:
        raise EpisodeDataError(f"{where}: unknown arrays {unknown}; valid: {ARRAY_NAMES}")
    present = {}
    for name, array in arrays.items():
        try:
            if array is not None:
                present[name] = np.asarray(array)
        except ValueError as err:  # ragged nested lists
            raise EpisodeDataError(f"{where}: {name} is not an array ({err})") from None
    missing = [name for name in require if name not in present]
    if missing:
        raise EpisodeDataError(f"{where}: missing required arrays {missing}")
    if not present:
        raise EpisodeDataError(f"{where}: no arrays at all")
    steps = None
    for name in ARRAY_NAMES:
        if name in present:
            _check_array(name, present[name], steps, where)
            steps = len(present[name])
    if not steps:
        raise EpisodeDataError(f"{where}: the episode has no steps")
    stamps = present.get("timestamps")
    if stamps is not None and np.any(np.diff(stamps) < 0):
        step = int(np.flatnonzero(np.diff(stamps) < 0)[0]) + 1
        raise EpisodeDataError(f"{where}: timestamps go backwards at step {step}")
    return steps
