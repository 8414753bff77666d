"""What the chaos box replays: action trajectories, the paper's noise and target excitation.

Noise units: the paper gives sigma = 0.01 without a unit. Its policies act in the normalised
action space, so the noise is added there: to the action in [-1, 1] (1 = a target change of
MAX_DELTA_RAD = 1/24 rad in one step), i.i.d. per step and joint, before clipping to [-1, 1].
That is a target jitter of about 0.0004 rad per step.

Target excitation (`target_noise_rad`, off by default; the paper has none): i.i.d. Gaussian
offsets (clipped at 3 sigma) on the commanded targets around the replayed trajectory, which
goes on from its own clean targets. Replayed policy actions sit at the action bound most of
the time, so action noise is mostly clipped away and the newest target nearly always continues
the last ones; a dynamics model fitted on such data cannot tell the effect of the newest
target from that of the ones before it. The offsets do not pass through the action bound: for
the replay the env's step limit is raised by 6 sigma (restored afterwards), the most an offset
can change in a step. On a real hand that raised step must still fit the hand config's
`max_target_step_rad` (`check_step_limit`, checked before anything moves): 1/24 + 6 sigma
<= 0.2 rad, sigma <= 0.026 rad with the default config.

Action sources:
    ActionFile          trajectories from an .npz/.npy (e.g. a base policy's sim rollouts);
                        episode e replays trajectory e mod n_traj, its first `steps` steps.
    SmoothRandomActions the built-in generator: per joint, a sum of three sinusoids with
                        random frequencies (0.05-0.5 Hz), phases, weights and centre, spanning
                        the joint's range less a 5 % margin at each limit; the actions track
                        that path from wherever the commanded targets stand (at most one full
                        action per step), so the joints sweep their ranges and never push into
                        a limit. The actions depend on the commanded targets only, never on
                        what the hand reads: the replay stays open loop.

Every random draw of episode `index` comes from SeedSequence([seed, index]) (episode_rngs),
so an episode collected after a resume has the same trajectory and noise as in an
uninterrupted run. dexndm_envs.chaos.collection drives the hand with them.

Usage:
    source = ActionFile.load("rollouts.npz", steps=400)  # or SmoothRandomActions(steps=400)
    action_rng, noise_rng = episode_rngs(seed=0, index=7)
    actions, _ = source.actions(7, action_rng, start_targets)
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dexndm_envs.core import interface
from dexndm_envs.core.constants import CTRL_DT_S, JOINT_NAMES, MAX_DELTA_RAD, NUM_JOINTS
from dexndm_envs.data.format import numpy_file_kind


class CollectionError(ValueError):
    """Settings or inputs a collection cannot start or resume with; nothing was moved."""


NOISE_PROBABILITY = 0.5
"""Probability that a trajectory gets action noise (paper, "Chaos Box")."""

NOISE_SIGMA = 0.01
"""Standard deviation of the action noise, in normalised action units (module docstring)."""

NOISE_UNITS = "normalised action in [-1, 1], added before clipping"

TARGET_NOISE_CLIP = 3.0
"""Target offsets are clipped at this many sigma."""


class ActionSource(Protocol):
    """Where the (noise-free) actions of an episode come from."""

    steps: int
    description: dict[str, Any]
    """What identifies the source in collection.json."""

    def actions(
        self, index: int, rng: np.random.Generator, start_targets_rad: np.ndarray
    ) -> tuple[np.ndarray, str, dict[str, Any]]:
        """(steps, 16) actions in [-1, 1], the metadata's action_source and its extra."""
        ...


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_action_array(path: Path) -> np.ndarray:
    """The array in an .npy, or in an .npz its 'actions' member (or its only member)."""
    try:
        kind = numpy_file_kind(path)
    except OSError as err:
        raise CollectionError(f"cannot read actions from {path}: {err}") from None
    if kind is None:  # np.load would call it "pickled data"
        raise CollectionError(
            f"cannot read actions from {path}: corrupt or truncated, or not an .npy/.npz "
            "file (it does not start as one)"
        )
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            return np.asarray(loaded)
        with loaded:
            names = loaded.files
            name = "actions" if "actions" in names else names[0] if len(names) == 1 else None
            if name is not None:
                return loaded[name]
    except (OSError, ValueError, EOFError) as err:
        raise CollectionError(f"cannot read actions from {path}: {err}") from None
    raise CollectionError(
        f"{path} holds arrays {', '.join(names)}; name the action array 'actions'"
    )


@dataclass(frozen=True)
class ActionFile:
    """Trajectories (n_traj, >= steps, 16) in [-1, 1] from a file; see `load`."""

    path: Path
    trajectories: np.ndarray
    sha256: str
    steps: int

    @classmethod
    def load(cls, path: str | Path, steps: int) -> ActionFile:
        """Read and check an action file; a (T, 16) array counts as one trajectory.

        Raises:
            CollectionError: unreadable, wrong shape, non-finite, outside [-1, 1] or shorter
                than `steps`, saying which.
        """
        path = Path(path)
        if not path.is_file():
            raise CollectionError(f"--actions {path}: no such file")
        array = _read_action_array(path)
        if array.ndim == 2:
            array = array[None]
        if array.ndim != 3 or array.shape[2] != NUM_JOINTS or array.shape[0] == 0:
            raise CollectionError(
                f"{path}: actions have shape {array.shape}; expected (trajectories, steps, "
                f"{NUM_JOINTS}) in the joint order {', '.join(JOINT_NAMES)}"
            )
        if array.shape[1] < steps:
            raise CollectionError(
                f"{path}: trajectories have {array.shape[1]} steps, but --steps {steps} needs "
                f"at least {steps}; lower --steps or record longer rollouts"
            )
        array = np.asarray(array[:, :steps], dtype=np.float64)
        if not np.isfinite(array).all():
            raise CollectionError(f"{path}: actions hold NaN or inf values")
        if np.abs(array).max() > 1.0 + 1e-6:
            raise CollectionError(
                f"{path}: actions must lie in [-1, 1] (normalised), largest |a| is "
                f"{np.abs(array).max():.3g}"
            )
        return cls(path, np.clip(array, -1.0, 1.0), file_sha256(path), steps)

    @property
    def description(self) -> dict[str, Any]:
        return {"actions_file": str(self.path), "actions_sha256": self.sha256}

    def actions(
        self, index: int, rng: np.random.Generator, start_targets_rad: np.ndarray
    ) -> tuple[np.ndarray, str, dict[str, Any]]:
        trajectory = index % len(self.trajectories)
        source = f"{self.path} trajectory {trajectory} (sha256 {self.sha256[:12]})"
        return self.trajectories[trajectory].copy(), source, {"action_trajectory": trajectory}


@dataclass(frozen=True)
class SmoothRandomActions:
    """The built-in generator (module docstring)."""

    steps: int
    components: int = 3
    freq_range_hz: tuple[float, float] = (0.05, 0.5)
    margin: float = 0.1
    """Kept free at each limit, in normalised joint units (0.1 = 5 % of the range)."""

    name = "smooth_sinusoids_v1"

    @property
    def description(self) -> dict[str, Any]:
        parameters = {k: v for k, v in asdict(self).items() if k != "steps"}  # a setting
        return {"action_generator": {"name": self.name, **parameters}}

    def path_rad(self, rng: np.random.Generator) -> np.ndarray:
        """(steps, 16) joint targets to follow, inside the joint ranges less the margin."""
        shape = (self.components, NUM_JOINTS)
        low, high = np.log(self.freq_range_hz)
        freq_hz = np.exp(rng.uniform(low, high, shape))
        phase = rng.uniform(0.0, 2 * np.pi, shape)
        weight = rng.dirichlet(np.ones(self.components), NUM_JOINTS).T
        reach = 1.0 - self.margin
        centre = rng.uniform(-0.5, 0.5, NUM_JOINTS) * reach
        time_s = np.arange(1, self.steps + 1)[:, None, None] * CTRL_DT_S
        waves = (weight * np.sin(2 * np.pi * freq_hz * time_s + phase)).sum(axis=1)
        return interface.unnormalize_joints(centre + (reach - np.abs(centre)) * waves)

    def actions(
        self, index: int, rng: np.random.Generator, start_targets_rad: np.ndarray
    ) -> tuple[np.ndarray, str, dict[str, Any]]:
        path = self.path_rad(rng)
        actions = np.empty_like(path)
        targets = np.asarray(start_targets_rad, dtype=np.float64)
        for step, goal in enumerate(path):
            actions[step] = np.clip((goal - targets) / MAX_DELTA_RAD, -1.0, 1.0)
            targets = interface.next_targets(targets, actions[step], MAX_DELTA_RAD)
        return actions, f"{self.name} (built-in generator)", {}


def episode_rngs(seed: int, index: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The (actions, noise) random streams of one episode, fixed by (seed, index)."""
    actions_seq, noise_seq = np.random.SeedSequence([seed, index]).spawn(2)
    return np.random.default_rng(actions_seq), np.random.default_rng(noise_seq)


def add_noise(
    actions: np.ndarray, rng: np.random.Generator, probability: float, sigma: float
) -> tuple[np.ndarray, bool]:
    """With `probability`, Gaussian noise on every action, then clipping to [-1, 1]."""
    applied = bool(rng.random() < probability)
    if not applied:
        return actions, False
    return np.clip(actions + rng.normal(0.0, sigma, actions.shape), -1.0, 1.0), True


def target_offsets(steps: int, rng: np.random.Generator, sigma_rad: float) -> np.ndarray | None:
    """Target excitation for one episode: (steps, 16) offsets in rad, or None for sigma 0."""
    if sigma_rad <= 0:
        return None
    limit = TARGET_NOISE_CLIP * sigma_rad
    return np.clip(rng.normal(0.0, sigma_rad, (steps, NUM_JOINTS)), -limit, limit)


def largest_target_step_rad(target_noise_rad: float, step_rad: float = MAX_DELTA_RAD) -> float:
    """The largest change of a joint target between two control steps a collection sends: a
    full action step plus the widest swing of two clipped target offsets (2 x 3 sigma)."""
    return step_rad + 2.0 * TARGET_NOISE_CLIP * target_noise_rad


def check_step_limit(
    target_noise_rad: float, max_target_step_rad: float, step_rad: float = MAX_DELTA_RAD
) -> None:
    """Refuse target noise whose steps the hand's step limit would stop mid-collection.

    Args:
        target_noise_rad: sigma of the target excitation.
        max_target_step_rad: the hand config's limit, which DexNDM-Real-v0 enforces.
        step_rad: the env's action step (max_delta_rad).

    Raises:
        CollectionError: naming both values and the largest noise that fits.
    """
    largest = largest_target_step_rad(target_noise_rad, step_rad)
    if largest <= max_target_step_rad:
        return
    fits = max(0.0, (max_target_step_rad - step_rad) / (2.0 * TARGET_NOISE_CLIP))
    fits = float(np.floor(fits * 1e4) / 1e4)  # a value to type, rounded down
    raise CollectionError(
        f"target_noise_rad={target_noise_rad:g} sends target steps of up to {largest:.3f} rad "
        f"(an action step of {step_rad:.4f} rad + 2 x {TARGET_NOISE_CLIP:g} sigma), more than "
        f"the hand config's max_target_step_rad={max_target_step_rad:g}, so the hand would "
        f"stop mid-collection; use target_noise_rad <= {fits:g} "
        "or raise max_target_step_rad in the hand config"
    )
