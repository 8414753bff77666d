"""Chaos-box data collection: replay action trajectories on the hand, with noise, no resets.

DexNDM collects its real-world data in the chaos box (arXiv 2510.08556, "Chaos Box"): the
hand, loaded by a box of soft balls, replays action trajectories open loop at 20 Hz; with
probability 0.5 a trajectory gets Gaussian action noise with sigma = 0.01; nothing is reset.
Here an *episode* is a chunk of `steps` control steps of one trajectory; the hand is reset
once when the collection starts and goes straight on from one episode into the next.

The action sources, the noise and its units: dexndm_envs.chaos.actions.

Determinism and resume: everything random about episode `index` comes from
SeedSequence([seed, index]) (one child stream for the actions, one for the noise), so an
episode collected after a resume has the same trajectory and noise draw as in an uninterrupted
run. (The generator's first steps differ only by where the targets stood when it started.)

Usage:
    source = ActionFile.load("rollouts.npz", steps=400)  # or SmoothRandomActions(steps=400)
    settings = collection_settings(port=port, wrist="palm_down", hand_config_file=hand_file,
                                   hand=hand, source=source, seed=0, ...)  # CollectionSettings
    writer, todo = prepare_directory("data/chaos_box/palm_down", settings, episodes=4000)
    collector = ChaosBoxCollector(env, writer, source, settings)
    collector.start()
    for index in todo:
        stats = collector.collect(index)
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import gymnasium as gym
import numpy as np

from dexndm_envs.chaos.actions import (
    NOISE_PROBABILITY,
    NOISE_SIGMA,
    NOISE_UNITS,
    ActionSource,
    CollectionError,
    add_noise,
    check_step_limit,
    episode_rngs,
    largest_target_step_rad,
    target_offsets,
)
from dexndm_envs.core import interface, task
from dexndm_envs.core.atomic import atomic_write_text
from dexndm_envs.core.constants import (
    JOINT_LOWER_RAD,
    JOINT_UPPER_RAD,
    NUM_JOINTS,
)
from dexndm_envs.core.shutdown import SHUTDOWN_SIGNALS, ShutdownSignal
from dexndm_envs.data.episodes import (
    DirectoryLockedError,
    EpisodeWriter,
    episode_meta,
    software_version,
)
from dexndm_envs.hand.config import HandConfig

SETTINGS_FILE = "collection.json"

RECORDED_ONLY = ("port", "hand_config_file", "actions_file")
"""Settings written to collection.json but not compared on resume: a device path changes when
a USB hand is replugged or a virtual hand restarted, and a moved file is the same file when
its content (hand_config, actions_sha256) is."""


# ------------------------------------------------------------------ settings
@dataclass(frozen=True)
class CollectionSettings:
    """The settings of a run: what collection.json records (`as_record`) and what a resume
    must match (all but RECORDED_ONLY). Build one with `collection_settings`."""

    port: str | None
    wrist: str
    hand_config_file: str | None
    hand_config: dict[str, Any]
    actions_file: str | None
    actions_sha256: str | None
    action_generator: dict[str, Any] | None
    noise_probability: float
    noise_sigma: float
    noise_units: str
    target_noise_rad: float
    seed: int
    steps: int
    realtime: bool
    hardware_note: str
    hardware: dict[str, Any] | None
    software_version: str

    def as_record(self) -> dict[str, Any]:
        """Plain JSON values, as collection.json holds them."""
        return json.loads(json.dumps(asdict(self)))


def collection_settings(
    *,
    port: str | None,
    wrist: str,
    hand_config_file: str | Path | None,
    hand: HandConfig,
    source: ActionSource,
    seed: int,
    realtime: bool,
    hardware_note: str,
    hardware: Mapping[str, Any] | None = None,
    target_noise_rad: float = 0.0,
    max_target_step_rad: float | None = None,
) -> CollectionSettings:
    """The settings of a run, checked.

    Args:
        port: the bus of a real hand; None for a virtual one (then give `hardware`).
        hand_config_file: the hand config file the hand was set up from, if any.
        hardware: what is driven when it is not a real hand at `port` (None there), e.g.
            {"kind": "virtual", "profile": "default", "seed": 0}: the episodes' metadata
            records it instead of {"kind": "real", "port", "note"}, and a resume compares it.
        target_noise_rad: sigma of the target excitation (module docstring); 0: none.
        max_target_step_rad: the step limit of the env that will be driven (a real hand's
            hand config), which the target noise must fit (`check_step_limit`); None: none.

    Raises:
        CollectionError: for a wrist that is not one of task.WRISTS, a negative or
            non-finite target_noise_rad, or one the step limit would stop.
    """
    if wrist not in task.WRISTS:
        raise CollectionError(f"unknown wrist {wrist!r}; choose one of {', '.join(task.WRISTS)}")
    if not (np.isfinite(target_noise_rad) and target_noise_rad >= 0):
        raise CollectionError(f"target_noise_rad must be >= 0, got {target_noise_rad!r}")
    if max_target_step_rad is not None:
        check_step_limit(target_noise_rad, max_target_step_rad)
    described = {"actions_file": None, "actions_sha256": None, "action_generator": None}
    described |= source.description
    return CollectionSettings(
        port=port,
        wrist=wrist,
        hand_config_file=None if hand_config_file is None else str(hand_config_file),
        hand_config=json.loads(json.dumps(hand.as_dict())),
        **described,
        noise_probability=NOISE_PROBABILITY,
        noise_sigma=NOISE_SIGMA,
        noise_units=NOISE_UNITS,
        target_noise_rad=float(target_noise_rad),
        seed=seed,
        steps=source.steps,
        realtime=realtime,
        hardware_note=hardware_note,
        hardware=None if hardware is None else json.loads(json.dumps(dict(hardware))),
        software_version=software_version(),
    )


ADDED_SETTINGS: dict[str, Any] = {"target_noise_rad": 0.0}
"""Settings newer than some collection.json files, with the value those collections had."""


def settings_differences(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """One line per compared setting that differs (RECORDED_ONLY ones are not compared)."""
    lines = []
    for key in sorted(set(recorded) | set(current)):
        default = ADDED_SETTINGS.get(key)
        old, new = recorded.get(key, default), current.get(key, default)
        if key in RECORDED_ONLY or old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            parts = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            lines.append(f"{key}: differs in {', '.join(parts)}")
        else:
            lines.append(f"{key}: {old!r} on disk, {new!r} now")
    return lines


def prepare_directory(
    directory: str | Path, settings: CollectionSettings, episodes: int
) -> tuple[EpisodeWriter, list[int]]:
    """The writer, holding the directory's lock, and the episode indices still to collect,
    after checking a resume.

    The lock (EpisodeWriter.lock) keeps a second collection out of the directory for as long
    as this process lives or until `writer.unlock()`. An episode file that is not complete
    (EpisodeWriter.completed: it does not load, or has another number of steps) is moved
    aside with a warning and collected again.

    Raises:
        CollectionError: another collection holds the directory, it holds episodes of other
            settings, or episodes without a collection.json.
    """
    if Path(directory).exists() and not Path(directory).is_dir():
        raise CollectionError(f"--out {directory} is a file; give a directory")
    writer = EpisodeWriter(directory)
    try:
        writer.lock()
        _check_resume(writer, settings)
        done = set(writer.completed(steps=settings.steps))
    except DirectoryLockedError as err:
        raise CollectionError(str(err)) from None
    except BaseException:
        writer.unlock()
        raise
    return writer, [index for index in range(episodes) if index not in done]


def _check_resume(writer: EpisodeWriter, settings: CollectionSettings) -> None:
    """Refuse a directory whose episodes were collected with other settings (checked before
    any episode is judged complete, which depends on the settings' number of steps)."""
    settings_path = writer.directory / SETTINGS_FILE
    if not writer.on_disk():
        return
    if not settings_path.is_file():
        raise CollectionError(
            f"{writer.directory} holds episodes but no {SETTINGS_FILE}: it is not a chaos-box "
            "collection of this program; choose another --out"
        )
    differences = settings_differences(_read_settings(settings_path), settings.as_record())
    if differences:
        raise CollectionError(
            f"refusing to resume into {writer.directory}: its {SETTINGS_FILE} was written "
            "with other settings:\n  " + "\n  ".join(differences) + "\nrerun with the "
            "recorded settings, or choose another --out"
        )


def _read_settings(path: Path) -> dict[str, Any]:
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CollectionError(
            f"cannot read {path} ({err}); restore it or choose another --out"
        ) from None
    if not isinstance(recorded, dict):
        raise CollectionError(f"{path} must hold a JSON object of settings")
    return recorded


def write_settings(directory: Path, settings: CollectionSettings) -> None:
    """Write collection.json atomically, unless episodes already bind the directory to one."""
    path = directory / SETTINGS_FILE
    if path.is_file() and EpisodeWriter(directory).on_disk():
        return
    atomic_write_text(path, json.dumps(settings.as_record(), indent=2, sort_keys=True) + "\n")


# ------------------------------------------------------------------ the episode loop
class StopRequest:
    """Ctrl-C and the other shutdown signals (shutdown.SHUTDOWN_SIGNALS: SIGTERM, SIGHUP from a
    dropped SSH session, SIGQUIT), honoured between two control steps.

    A signal that lands inside a bus transaction cuts it short; so while this is active a
    first signal only sets `requested`, and the episode loop stops at the next step boundary
    (`raise_if_requested`), where closing the env switches the torque off. A second signal
    goes to the handler that was there before: the bus's, which switches the torque off at
    once and ends the program. A signal the program ignores (SIG_IGN, as `nohup` sets SIGHUP)
    stays ignored. Enter it after the bus is open (the bus installs its handlers then).
    """

    def __init__(self) -> None:
        self.requested: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested is None:
            self.requested = signum
            return
        previous = self._previous.get(signum)
        if callable(previous):
            previous(signum, frame)
        else:
            raise ShutdownSignal(signum)

    def raise_if_requested(self) -> None:
        """KeyboardInterrupt for Ctrl-C, ShutdownSignal for the others, if one arrived."""
        if self.requested == signal.SIGINT:
            raise KeyboardInterrupt("SIGINT")
        if self.requested is not None:
            raise ShutdownSignal(self.requested)

    def __enter__(self) -> StopRequest:
        for signum in SHUTDOWN_SIGNALS:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


@dataclass(frozen=True)
class EpisodeStats:
    """How one episode went."""

    index: int
    steps: int
    duration_s: float
    overruns: int
    noise: bool


class ChaosBoxCollector:
    """Replays episodes on an env back to back, writing each one as soon as it is complete.

    Row t of an episode is the state read before step t and the target sent at step t
    (dexndm_envs.data.episodes layout), so the last read of an episode is row 0 of the next one.

    Args:
        env: a DexNDM-Real-v0 env (or anything with its info keys).
        writer: where the episodes go.
        source: the actions.
        settings: from `collection_settings`.
        stop: checked after every step; a requested stop raises KeyboardInterrupt there
            (shutdown.ShutdownSignal, a SystemExit, for SIGTERM, SIGHUP and SIGQUIT).
    """

    def __init__(
        self,
        env: gym.Env,
        writer: EpisodeWriter,
        source: ActionSource,
        settings: CollectionSettings,
        stop: StopRequest | None = None,
    ) -> None:
        limit = getattr(env.unwrapped, "max_target_step_rad", None)
        if limit is not None:  # before the hand moves: the replay must not trip the env's limit
            check_step_limit(settings.target_noise_rad, limit, env.unwrapped.max_delta_rad)
        self.env, self.writer, self.source = env, writer, source
        self.settings = settings
        self.stop = stop
        self._info: dict[str, Any] = {}
        self._axis = np.zeros(3)
        self._read_s = 0.0  # time.monotonic() of the last read: timestamps never go back
        self._previous: int | None = None

    def start(self) -> None:
        """Reset the env once (torque on, hold the present pose) and record the settings."""
        _, self._info = self.env.reset(seed=self.settings.seed)
        self._axis = np.asarray(self._info["axis"], dtype=np.float64)
        self._read_s = time.monotonic()
        write_settings(self.writer.directory, self.settings)

    def collect(self, index: int) -> EpisodeStats:
        """Plan, replay and write episode `index`."""
        actions_rng, noise_rng = episode_rngs(self.settings.seed, index)
        start_targets = np.asarray(self._info["joint_targets"], dtype=np.float64)
        clean, source, extra = self.source.actions(index, actions_rng, start_targets)
        prob, sigma = self.settings.noise_probability, self.settings.noise_sigma
        actions, noisy = add_noise(clean, noise_rng, prob, sigma)
        offsets = target_offsets(len(actions), noise_rng, self.settings.target_noise_rad)
        overruns, started_s, started_unix_s = self.overruns, self._read_s, time.time()
        arrays = self._replay(actions, offsets)
        stats = EpisodeStats(
            index, len(actions), self._read_s - started_s, self.overruns - overruns, noisy
        )
        extra.update(started_unix_s=started_unix_s, overruns=stats.overruns)
        noise = {"kind": "gaussian", "sigma": sigma, "units": NOISE_UNITS} if noisy else None
        if offsets is not None:
            noise = {**(noise or {}), "target_sigma_rad": self.settings.target_noise_rad}
        self.writer.write(index, arrays, self._meta(index, source, noise, extra))
        self._previous = index
        return stats

    def _meta(
        self, index: int, source: str, noise: dict[str, Any] | None, extra: dict[str, Any]
    ) -> dict[str, Any]:
        settings = self.settings
        hardware = settings.hardware or {
            "kind": "real",
            "port": settings.port,
            "note": settings.hardware_note,
        }
        extra = {
            **extra,
            "episode": index,
            "follows_episode": self._previous,  # None: a reset or a resume came before
            "seed": settings.seed,
            "noise_probability": settings.noise_probability,
            "realtime": settings.realtime,
        }
        return episode_meta(settings.wrist, self._axis, hardware, source, noise, extra)

    @property
    def overruns(self) -> int:
        """Control periods the env missed so far (realtime mode)."""
        return int(self._info.get("overruns", 0))

    def _replay(
        self, actions: np.ndarray, offsets: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Step through the actions; row t pairs the read before step t with its target.

        With target offsets the actions move clean targets, and the hand is sent clean target
        + offset through a step limit raised by the most an offset can change (module doc).
        """
        steps = len(actions)
        rows = {name: np.empty((steps, NUM_JOINTS)) for name in (*_STATE_ARRAYS, "joint_targets")}
        timestamps = np.empty(steps)
        started_s = self._read_s
        env = self.env.unwrapped
        step_rad = float(env.max_delta_rad)
        clean = np.asarray(self._info["joint_targets"], dtype=np.float64)
        send_rad = step_rad
        if offsets is not None:  # the most an offset can change in a step, on both sides
            send_rad = largest_target_step_rad(self.settings.target_noise_rad, step_rad)
            env.max_delta_rad = send_rad
        try:
            for step, action in enumerate(actions):
                for name in _STATE_ARRAYS:
                    rows[name][step] = self._info[name]
                timestamps[step] = self._read_s - started_s
                if offsets is not None:
                    clean = interface.next_targets(clean, action, step_rad)
                    wanted = np.clip(clean + offsets[step], JOINT_LOWER_RAD, JOINT_UPPER_RAD)
                    sent = np.asarray(self._info["joint_targets"], dtype=np.float64)
                    action = np.clip((wanted - sent) / send_rad, -1.0, 1.0)
                # truncation is the TimeLimit's and means nothing here: the box never resets
                _, _, _, _, self._info = self.env.step(action)
                self._read_s = time.monotonic()
                rows["joint_targets"][step] = self._info["joint_targets"]
                if self.stop is not None:
                    self.stop.raise_if_requested()
        finally:
            env.max_delta_rad = step_rad
        return {**rows, "timestamps": timestamps}


_STATE_ARRAYS = ("joint_pos", "joint_vel", "joint_current")
"""Read from the hand at each step (the targets are what was sent)."""
