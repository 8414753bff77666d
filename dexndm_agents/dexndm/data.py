"""History windows for the neural dynamics model: (W steps of q and targets) -> next q.

DexNDM (arXiv 2510.08556, Sec. 4) predicts each joint's next position from its last W
(position, target) pairs. Episodes store row t as the reading before step t and the target
sent at step t (dexndm_envs.data.episodes), so one sample is
    joint_pos[t-W+1 .. t], joint_targets[t-W+1 .. t]  ->  joint_pos[t + 1]
and an episode of T steps gives T - W samples; no window crosses an episode boundary. The
data are split 9:1 by episode (split_episodes), never by window: neighbouring windows share
W - 1 rows.

Usage:
    episodes = load_episodes("data/chaos_box/palm_down")
    train_eps, eval_eps = split_episodes(episodes, eval_fraction=0.1, seed=0)
    train, evaluation = make_windows(train_eps, window=10), make_windows(eval_eps, window=10)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from dexndm_agents.evaluation.splits import split_episode_ids
from dexndm_envs.core.constants import (
    JOINT_LOWER_RAD,
    JOINT_NAMES,
    JOINT_UPPER_RAD,
    MAX_DELTA_RAD,
    NUM_JOINTS,
)
from dexndm_envs.data.episodes import Episode

logger = logging.getLogger(__name__)

EpisodeLike = Episode | tuple[np.ndarray, np.ndarray]
"""An episode file's contents, or a (joint_pos (T, 16), joint_targets (T, 16)) pair in rad."""

_E = TypeVar("_E", Episode, tuple[np.ndarray, np.ndarray])


@dataclass(frozen=True, eq=False)
class Windows:
    """N history windows and the position that followed each, float32 rad.

    Attributes:
        joint_pos: (N, W, 16) positions at steps t-W+1 .. t (the last row is q_t).
        joint_targets: (N, W, 16) targets sent at steps t-W+1 .. t.
        next_joint_pos: (N, 16) positions at step t + 1.
        episode: (N,) int64, the episode of each window: Episode.index for episode files,
            the position in the sequence given to make_windows for array pairs.
    """

    joint_pos: np.ndarray
    joint_targets: np.ndarray
    next_joint_pos: np.ndarray
    episode: np.ndarray

    def __post_init__(self) -> None:
        n, window = self.joint_pos.shape[:2] if self.joint_pos.ndim == 3 else ("N", "W")
        expected = {
            "joint_pos": (n, window, NUM_JOINTS),
            "joint_targets": (n, window, NUM_JOINTS),
            "next_joint_pos": (n, NUM_JOINTS),
            "episode": (n,),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape or window == 0:
                raise ValueError(
                    f"Windows.{name} has shape {getattr(self, name).shape}, expected {shape} "
                    "(N windows of W >= 1 steps)"
                )

    def __len__(self) -> int:
        return len(self.next_joint_pos)

    @property
    def window(self) -> int:
        """W, the steps of history per sample."""
        return self.joint_pos.shape[1]

    def select(self, indices: np.ndarray) -> Windows:
        """The windows at `indices` (an index array or a boolean mask), as a new Windows."""
        return Windows(
            self.joint_pos[indices],
            self.joint_targets[indices],
            self.next_joint_pos[indices],
            self.episode[indices],
        )


def _as_arrays(item: EpisodeLike, position: int) -> tuple[np.ndarray, np.ndarray, int, str]:
    """(joint_pos, joint_targets, episode id, a name for messages) of one episode."""
    if isinstance(item, Episode):
        if item.joint_pos is None or item.joint_targets is None:
            raise ValueError(f"{item.path}: windows need joint_pos and joint_targets")
        return item.joint_pos, item.joint_targets, item.index, str(item.path)
    try:
        joint_pos, joint_targets = item
    except (TypeError, ValueError):
        raise TypeError(
            f"episode {position} is a {type(item).__name__}; expected an Episode or a "
            "(joint_pos, joint_targets) pair of arrays"
        ) from None
    return np.asarray(joint_pos), np.asarray(joint_targets), position, f"episode {position}"


def _check_episode(
    joint_pos: np.ndarray, joint_targets: np.ndarray, window: int, name: str
) -> None:
    for label, array in (("joint_pos", joint_pos), ("joint_targets", joint_targets)):
        if array.ndim != 2 or array.shape[1] != NUM_JOINTS:
            raise ValueError(f"{name}: {label} has shape {array.shape}, expected (T, 16)")
        bad = np.argwhere(~np.isfinite(array))
        if len(bad):
            step, joint = bad[0]
            raise ValueError(
                f"{name}: {label} has {len(bad)} non-finite values (first at step {step}, "
                f"joint {JOINT_NAMES[joint]})"
            )
    if len(joint_pos) != len(joint_targets):
        raise ValueError(
            f"{name}: joint_pos has {len(joint_pos)} steps, joint_targets {len(joint_targets)}"
        )
    if len(joint_pos) < window + 1:
        raise ValueError(
            f"{name} has {len(joint_pos)} steps; a window of {window} needs at least "
            f"{window + 1} (W steps of history and the next position)"
        )


def make_windows(episodes: Sequence[EpisodeLike], window: int) -> Windows:
    """Every history window of every episode, with the position that followed it.

    Args:
        episodes: Episode objects (dexndm_envs.data.episodes.load_episodes) and/or
            (joint_pos (T, 16), joint_targets (T, 16)) array pairs in rad.
        window: W, steps of history per sample.

    Returns:
        sum(T - W) windows, episode by episode in the given order, time order within one.

    Raises:
        ValueError: window < 1, no episodes, a bad shape, a non-finite value, or an episode
            shorter than window + 1 steps (each names the episode).
        TypeError: an item is neither an Episode nor an array pair.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if len(episodes) == 0:
        raise ValueError("no episodes to make windows of")
    joint_pos, joint_targets, ids = [], [], []
    for position, item in enumerate(episodes):
        q, targets, episode_id, name = _as_arrays(item, position)
        _check_episode(q, targets, window, name)
        joint_pos.append(q.astype(np.float32, copy=False))
        joint_targets.append(targets.astype(np.float32, copy=False))
        ids.append(episode_id)
    lengths = np.array([len(q) for q in joint_pos])
    counts = lengths - window  # windows per episode
    # the first row of every window: episode offset in the stacked rows + 0 .. count - 1
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    local = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    starts = np.repeat(offsets, counts) + local
    rows = starts[:, None] + np.arange(window)  # (N, W) gathered in one indexing op each
    q_all, targets_all = np.concatenate(joint_pos), np.concatenate(joint_targets)
    return Windows(
        joint_pos=q_all[rows],
        joint_targets=targets_all[rows],
        next_joint_pos=q_all[starts + window],
        episode=np.repeat(np.asarray(ids, dtype=np.int64), counts),
    )


def split_episodes(
    episodes: Sequence[_E], eval_fraction: float = 0.1, seed: int = 0
) -> tuple[list[_E], list[_E]]:
    """Split episodes into training and evaluation episodes (the paper's 9:1, by episode).

    At least one episode is held out; the draw is splits.split_episode_ids's, over positions
    in `episodes`, so it depends only on their number, eval_fraction and seed.

    Raises:
        ValueError: fewer than 2 episodes, or eval_fraction outside (0, 1).
    """
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in (0, 1), got {eval_fraction}")
    if len(episodes) < 2:
        raise ValueError(
            f"{len(episodes)} episode(s) cannot be split into training and evaluation "
            "episodes; at least 2 are needed (collect more)"
        )
    train_ids, eval_ids = split_episode_ids(np.arange(len(episodes)), eval_fraction, seed)
    return [episodes[i] for i in train_ids], [episodes[i] for i in eval_ids]


def usable_episodes(episodes: Sequence[Episode], window: int) -> list[Episode]:
    """The episodes that hold at least one window: a rollout that dropped the object within
    `window` steps holds none. How many were left out goes to the log."""
    usable = [ep for ep in episodes if ep.num_steps > window]
    if len(usable) < len(episodes):
        logger.info(
            "%d of %d episodes are shorter than %d steps and hold no window; left out",
            len(episodes) - len(usable),
            len(episodes),
            window + 1,
        )
    return usable


def split_windows(
    episodes: Sequence[Episode], window: int, eval_fraction: float = 0.1, seed: int = 0
) -> tuple[Windows, Windows]:
    """Train and eval windows of the usable episodes, split by episode (split_episodes)."""
    train, evaluation = split_episodes(usable_episodes(episodes, window), eval_fraction, seed)
    return make_windows(train, window), make_windows(evaluation, window)


def take_transitions(windows: Windows, n: int, seed: int = 0) -> Windows:
    """n windows drawn without replacement (kept in their order), for data-size studies.

    Raises:
        ValueError: n < 1 or more than the windows there are.
    """
    if not 1 <= n <= len(windows):
        raise ValueError(f"cannot take {n} transitions from {len(windows)} windows")
    chosen = np.random.default_rng(seed).choice(len(windows), size=n, replace=False)
    return windows.select(np.sort(chosen))


def synthetic_episodes(
    episodes: int, steps: int, seed: int = 0, noise_rad: float = 0.0, gain_scale: float = 1.0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Episodes of made-up joint-wise dynamics, for tests and benchmarks of the NDM.

    Each joint i follows its own delayed, damped second-order response toward its target, with
    a gravity-like pull that depends on the absolute position (so q_t matters, not only
    differences), and nothing else; parameters differ per joint and are fixed by `seed`:
        v_{t+1} = clip((1 - c_i) v_t + k_i (a_{t-d_i} - q_t) - g_i sin(q_t), +-s_i)
        q_{t+1} = q_t + v_{t+1}
    with gain k_i in [0.2, 0.6], damping c_i in [0.3, 0.7], g_i in [0, 0.01] rad, a step limit
    s_i in [0.03, 0.06] rad (a current limit) and a delay d_i of 0-2 steps. Targets
    random-walk at up to MAX_DELTA_RAD per step within the limits, like a policy's relative
    targets. `gain_scale` multiplies every k_i: the same hand with weaker (< 1) or stronger
    motors, a reality gap a residual can close.

    Returns:
        (joint_pos, joint_targets) float32 (steps, 16) pairs in rad, make_windows' input.
    """
    rng = np.random.default_rng(seed)
    gain, damping = rng.uniform(0.2, 0.6, NUM_JOINTS), rng.uniform(0.3, 0.7, NUM_JOINTS)
    gain = gain * gain_scale
    gravity, delay = rng.uniform(0.0, 0.01, NUM_JOINTS), rng.integers(0, 3, NUM_JOINTS)
    max_step = rng.uniform(0.03, 0.06, NUM_JOINTS)
    lower, upper = JOINT_LOWER_RAD, JOINT_UPPER_RAD
    start = rng.uniform(lower + 0.2 * (upper - lower), upper - 0.2 * (upper - lower))
    steps_rad = rng.uniform(-1, 1, (steps, episodes, NUM_JOINTS)) * MAX_DELTA_RAD
    targets = np.empty((steps, episodes, NUM_JOINTS))
    targets[0] = start + rng.normal(0, 0.1, (episodes, NUM_JOINTS))
    for t in range(1, steps):  # a random walk clipped at the limits: one loop over time
        targets[t] = np.clip(targets[t - 1] + steps_rad[t], lower, upper)
    q, v = targets[0].copy(), np.zeros((episodes, NUM_JOINTS))
    joint_pos = np.empty_like(targets)
    joints = np.arange(NUM_JOINTS)
    for t in range(steps):
        joint_pos[t] = q
        delayed = targets[np.maximum(t - delay, 0), :, joints].T  # (episodes, 16)
        v = (1 - damping) * v + gain * (delayed - q) - gravity * np.sin(q)
        v = np.clip(v, -max_step, max_step)  # a current limit: saturation, not linear
        q = q + v + rng.normal(0, noise_rad, q.shape) if noise_rad else q + v
    return [
        (joint_pos[:, e].astype(np.float32), targets[:, e].astype(np.float32))
        for e in range(episodes)
    ]
