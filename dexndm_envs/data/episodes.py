"""Crash-safe storage of hand trajectories: one .npz file per episode, written atomically.

DexNDM's data come from long unattended runs (the chaos box: 4,000 episodes per wrist
overnight, arXiv 2510.08556), so a killed collection must leave only whole episodes behind and
resume where it stopped. An episode is one file `episode_<index:06d>.npz`, written to a hidden
temporary file in the same directory, synced, then renamed over the final name: it is either
complete on disk or absent. Loaders check everything they read and raise `EpisodeDataError`
naming the file and the problem.

Row t of an episode (20 Hz) holds what was read at control step t and the target then sent:
    joint_pos      (T, 16) rad, model convention (constants.JOINT_NAMES order)
    joint_targets  (T, 16) rad, the target commanded at step t (held until step t + 1)
    joint_vel      (T, 16) rad/s, present velocity           (optional)
    joint_current  (T, 16) mA, present current                (optional)
    timestamps     (T,)    s since the episode started, non-decreasing (optional)
so (joint_pos[t], joint_targets[t]) -> joint_pos[t + 1] is one transition of the dynamics.
Metadata is a JSON object stored in the same file (no pickle): see `episode_meta`.

Usage:
    writer = EpisodeWriter("data/chaos_box/palm_down")
    done = set(writer.completed())
    for index in range(4000):
        if index not in done:
            writer.write(index, collect(index), meta)
    episodes = load_episodes("data/chaos_box/palm_down")
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import json
import logging
import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from dexndm_envs.core.atomic import atomic_write
from dexndm_envs.core.constants import NUM_JOINTS
from dexndm_envs.core.version import __version__
from dexndm_envs.data.format import (
    ARRAY_NAMES,
    DEFAULT_REQUIRED,
    FORMAT_VERSION,
    EpisodeDataError,
    numpy_file_kind,
    to_json,
    validate_arrays,
    validate_meta,
)

logger = logging.getLogger(__name__)

_META_MEMBER = "meta_json"
_EPISODE_RE = re.compile(r"^episode_(\d{6,})\.npz$")
_TEMP_GLOB = ".episode_*.tmp"

_REDO = "resuming the collection moves it aside and collects that episode again"

LOCK_FILE = ".writer.lock"
"""The file in an episode directory whose flock `EpisodeWriter.lock` holds."""


def software_version() -> str:
    """The installed dexndm version, or the source tree's when it is not installed."""
    try:
        return importlib.metadata.version("dexndm")
    except importlib.metadata.PackageNotFoundError:
        return f"{__version__}+source"


def episode_meta(
    wrist: str | Sequence[float],
    axis: Sequence[float],
    hardware: Mapping[str, Any],
    action_source: str,
    action_noise: Any = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Metadata of one episode in the stored layout (NumPy values become plain JSON).

    Args:
        wrist: a wrist name (task.WRISTS) or a quaternion (w, x, y, z), world <- palm.
        axis: rotation axis of the replayed policy, 3 numbers (world frame).
        hardware: what was driven, with at least "kind", e.g. {"kind": "virtual",
            "profile": "default", "seed": 0} or {"kind": "real", "port": "/dev/ttyUSB0"}.
        action_source: where the targets came from, e.g. a rollout file and its episode.
        action_noise: the noise applied to them, e.g. {"kind": "gaussian", "sigma": 0.01}
            (the paper's chaos box: sigma 0.01 with probability 0.5), or None.
        extra: any further JSON-serialisable information.
    """
    meta = {
        "wrist": wrist if isinstance(wrist, str) else [float(v) for v in wrist],
        "axis": [float(v) for v in axis],
        "hardware": dict(hardware),
        "action_source": action_source,
        "action_noise": action_noise,
        "extra": dict(extra or {}),
    }
    return json.loads(to_json(meta, "metadata"))


def _episode_index(path: Path) -> int | None:
    match = _EPISODE_RE.match(path.name)
    return int(match.group(1)) if match else None


class DirectoryLockedError(RuntimeError):
    """Another writer holds the directory's lock (`EpisodeWriter.lock`)."""


class EpisodeWriter:
    """Writes episodes into one directory, each atomically; one writer per directory, which a
    long collection makes sure of with `lock()`.

    Args:
        directory: where the episodes go; created if missing.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_file: IO[str] | None = None

    def path(self, index: int) -> Path:
        """Final path of episode index."""
        return self.directory / f"episode_{index:06d}.npz"

    def lock(self) -> EpisodeWriter:
        """Hold the directory's lock until `unlock()` or the end of the process.

        The lock is an flock on `LOCK_FILE` in the directory, which the kernel releases when
        its holder ends in any way (SIGKILL included): a lock left by a dead
        process never blocks. The file stays, holding the last holder's process ID.

        Raises:
            DirectoryLockedError: another writer holds it, in this process or another.
        """
        if self._lock_file is not None:
            return self
        file = (self.directory / LOCK_FILE).open("a+")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "a process"
            file.close()
            raise DirectoryLockedError(
                f"{self.directory} is being written by another collection ({holder} holds "
                f"{LOCK_FILE}); wait for it to end or choose another directory"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(f"pid {os.getpid()}\n")
        file.flush()
        self._lock_file = file
        return self

    def unlock(self) -> None:
        """Release the lock taken by `lock()` (nothing if it holds none)."""
        if self._lock_file is not None:
            self._lock_file.close()  # closing the file releases the flock
            self._lock_file = None

    def on_disk(self) -> list[int]:
        """Indices of the files named as episodes, sorted, whatever they hold."""
        return [index for index, _ in self._named_episodes()]

    def _named_episodes(self) -> list[tuple[int, Path]]:
        found = ((_episode_index(path), path) for path in self.directory.iterdir())
        return sorted((index, path) for index, path in found if index is not None)

    def completed(self, steps: int | None = None) -> list[int]:
        """Indices of the complete episodes on disk, sorted; resume by writing the others.

        An episode counts only if its file loads and validates (`load_episode`) and, given
        `steps`, has that many. One that does not (cut short by a copy or a failing disk,
        damaged, another length) is moved aside to `<name>.invalid` with a warning that says
        why, and counts as not written: its episode is collected again, its bytes kept.
        Temporary files left by a writer that was killed mid-write are deleted (with a
        warning): their episode never reached its final name.
        """
        for stale in sorted(self.directory.glob(_TEMP_GLOB)):
            logger.warning("removing %s, left by an interrupted episode write", stale)
            stale.unlink(missing_ok=True)
        complete = []
        for index, path in self._named_episodes():
            problem = _incomplete(path, steps)
            if problem is None:
                complete.append(index)
                continue
            aside = _free_name(path.with_name(path.name + ".invalid"))
            os.replace(path, aside)
            logger.warning(
                "episode %d is not complete (%s); moved to %s, it will be written again",
                index,
                problem,
                aside.name,
            )
        return complete

    def write(
        self,
        index: int,
        arrays: Mapping[str, np.ndarray | None],
        meta: Mapping[str, Any],
        *,
        overwrite: bool = False,
    ) -> Path:
        """Validate, then write one episode as one file, atomically.

        Args:
            index: episode number (>= 0), which names the file.
            arrays: the per-step arrays (module docstring); None or absent for optional ones.
            meta: metadata as built by `episode_meta`; the writer adds the format and
                software versions.
            overwrite: replace an episode already on disk instead of raising.

        Returns:
            The episode's path.

        Raises:
            EpisodeDataError: for arrays or metadata that break the layout (nothing written).
            FileExistsError: if the episode is on disk and overwrite is False.
        """
        if isinstance(index, bool) or not isinstance(index, int | np.integer) or index < 0:
            raise ValueError(f"episode index must be an integer >= 0, got {index!r}")
        where = f"episode {index} (not written to {self.directory})"
        validate_arrays(arrays, where, require=DEFAULT_REQUIRED)
        plain_meta = json.loads(to_json(dict(meta), f"{where}: metadata"))
        validate_meta(plain_meta, where, stored=False)
        plain_meta.update(format_version=FORMAT_VERSION, software_version=software_version())
        final = self.path(int(index))
        if final.exists() and not overwrite:
            raise FileExistsError(f"{final} exists; pass overwrite=True to replace it")
        members = {
            name: np.asarray(array, dtype=np.float64)
            for name, array in arrays.items()
            if array is not None
        }
        members[_META_MEMBER] = np.array(to_json(plain_meta, "metadata"))  # unicode, not pickle
        with atomic_write(final) as file:
            np.savez(file, **members)
        return final


def _incomplete(path: Path, steps: int | None) -> str | None:
    """What makes an episode file incomplete, or None for a complete one."""
    try:
        episode = load_episode(path)
    except EpisodeDataError as err:
        return str(err)
    if steps is not None and episode.num_steps != steps:
        return f"{path}: {episode.num_steps} steps, not {steps}"
    return None


def _free_name(path: Path) -> Path:
    """path, or path-2, path-3 ... whichever does not exist yet."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}-{number}")
    return candidate


@dataclass(frozen=True)
class Episode:
    """One episode as read from disk; arrays are read-only, absent optional ones are None."""

    index: int
    joint_pos: np.ndarray | None
    joint_targets: np.ndarray | None
    joint_vel: np.ndarray | None
    joint_current: np.ndarray | None
    timestamps: np.ndarray | None
    meta: dict[str, Any]
    path: Path

    @property
    def num_steps(self) -> int:
        """Number of control steps (rows)."""
        return next(len(a) for a in (getattr(self, n) for n in ARRAY_NAMES) if a is not None)


def _read_members(path: Path) -> dict[str, np.ndarray]:
    """Every member of an .npz file, read in full (so zip CRCs are checked), without pickle.

    The file must start as a zip archive (an .npz): np.load reads anything else as a pickle,
    and would call a file zeroed or cut short by a crash "pickled data".
    """
    try:
        kind, size = numpy_file_kind(path), path.stat().st_size
    except OSError as err:
        raise EpisodeDataError(f"{path}: cannot read the episode file ({err})") from err
    if kind != "npz":
        what = "empty" if not size else "it does not start as an .npz archive"
        raise EpisodeDataError(f"{path}: corrupt or truncated episode file ({what}); {_REDO}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except ValueError as err:
        if "pickle" in str(err):
            raise EpisodeDataError(
                f"{path}: not an episode file (it holds pickled data; episodes never do)"
            ) from err
        raise EpisodeDataError(f"{path}: unreadable or corrupt episode file ({err})") from err
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise EpisodeDataError(
            f"{path}: unreadable or corrupt episode file ({type(err).__name__}: {err}); {_REDO}"
        ) from err


def _parse_meta(member: np.ndarray | None, where: str) -> dict[str, Any]:
    """The metadata member: a unicode scalar holding a JSON object of a known format."""
    if member is None or member.dtype.kind != "U" or member.shape != ():
        raise EpisodeDataError(f"{where}: no metadata ({_META_MEMBER!r} text member)")
    try:
        meta = json.loads(str(member[()]))
    except json.JSONDecodeError as err:
        raise EpisodeDataError(f"{where}: metadata is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise EpisodeDataError(f"{where}: metadata must be a JSON object")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise EpisodeDataError(f"{where}: unknown format version {version!r}")
    if version > FORMAT_VERSION:
        raise EpisodeDataError(
            f"{where}: written in format {version}, newer than this dexndm reads "
            f"({FORMAT_VERSION}); upgrade dexndm"
        )
    validate_meta(meta, where, stored=True)
    return meta


def load_episode(
    path: str | os.PathLike[str], *, require: Sequence[str] = DEFAULT_REQUIRED
) -> Episode:
    """Read and validate one episode file (see `load_episodes`)."""
    path = Path(path)
    index = _episode_index(path)
    if index is None:
        raise EpisodeDataError(f"{path}: not an episode file name (episode_<index>.npz)")
    members = _read_members(path)
    meta = _parse_meta(members.pop(_META_MEMBER, None), str(path))
    validate_arrays(members, str(path), require=require)
    for array in members.values():
        array.flags.writeable = False
    return Episode(
        index=index,
        **{name: members.get(name) for name in ARRAY_NAMES},
        meta=meta,
        path=path,
    )


def load_episodes(
    directory: str | os.PathLike[str],
    *,
    require: Sequence[str] = DEFAULT_REQUIRED,
    skip_invalid: bool = False,
) -> list[Episode]:
    """Read and validate every episode in a directory, sorted by index.

    Temporary files of interrupted writes are not episodes and are ignored.

    Args:
        directory: a directory written by `EpisodeWriter`.
        require: arrays every episode must have.
        skip_invalid: log and skip invalid episodes instead of raising (there must still be
            at least one valid episode).

    Raises:
        EpisodeDataError: the directory is missing or holds no (valid) episodes, or an
            episode file is corrupt or breaks the layout (unless skip_invalid).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise EpisodeDataError(f"{directory} is not a directory")
    paths = sorted(
        (index, path) for path in directory.iterdir() if (index := _episode_index(path)) is not None
    )
    episodes = []
    for _, path in paths:
        try:
            episodes.append(load_episode(path, require=require))
        except EpisodeDataError as err:
            if not skip_invalid:
                raise
            logger.warning("skipping invalid episode: %s", err)
    if not episodes:
        valid = " valid" if paths else ""
        raise EpisodeDataError(f"{directory} holds no{valid} episodes (episode_<index>.npz)")
    return episodes


class Transitions(NamedTuple):
    """One-step transitions of many episodes stacked: (joint_pos, joint_targets) -> next."""

    joint_pos: np.ndarray
    """(N, 16) rad at step t."""
    joint_targets: np.ndarray
    """(N, 16) rad commanded at step t."""
    next_joint_pos: np.ndarray
    """(N, 16) rad at step t + 1."""
    episode: np.ndarray
    """(N,) index of the episode each transition comes from."""


def stack_transitions(episodes: Sequence[Episode]) -> Transitions:
    """Every (t, t + 1) pair of every episode, stacked (an episode of T steps gives T - 1).

    Raises:
        EpisodeDataError: for an episode without joint_pos or joint_targets.
    """
    for ep in episodes:
        if ep.joint_pos is None or ep.joint_targets is None:
            raise EpisodeDataError(f"{ep.path}: transitions need joint_pos and joint_targets")

    def stack(parts: Iterable[np.ndarray]) -> np.ndarray:
        return np.concatenate([np.zeros((0, NUM_JOINTS)), *parts])  # also right for no episodes

    return Transitions(
        stack(ep.joint_pos[:-1] for ep in episodes),
        stack(ep.joint_targets[:-1] for ep in episodes),
        stack(ep.joint_pos[1:] for ep in episodes),
        np.concatenate(
            [np.zeros(0, np.int64)] + [np.full(ep.num_steps - 1, ep.index) for ep in episodes]
        ),
    )
