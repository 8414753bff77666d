"""Periodic finger gaits, and the cross-entropy search that finds one which rotates an object.

A gait is open loop: every joint's relative action is a sum of harmonics of one frequency,

    a_j(t) = clip(sum_h A_hj cos(2 pi h f t + phi_hj), -1, 1),

so the joint targets (the integral of the actions) cycle. It needs no observation at all, which
makes it a cheap teacher: `search_gait` tunes amplitudes, phases and frequency with the
cross-entropy method on the paper's RotR (dexndm_envs.metrics), and the distillation
(dexndm_agents.distillation) turns the gait's rollouts into a proprioceptive generalist that
acts on what the hand reports, as the paper does with its PPO specialists.

A gait acts through SB3's predict signature; its `state` is the step counter, restarted where
`episode_start` is true (as SB3 does for recurrent policies).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dexndm_envs.constants import NUM_JOINTS

GAIT_FORMAT = "periodic_gait/1"
MAX_AMPLITUDE = 3.0
"""Amplitudes above 1 saturate the action: the target then moves at full speed (1/24 rad per
step) for part of each cycle, a trapezoid rather than a sine."""


@dataclass
class PeriodicGait:
    """An open-loop gait (module docstring).

    Args:
        amplitudes: (H, 16) action amplitudes of harmonics 1..H (actions are in [-1, 1]).
        phases_rad: (H, 16) phases.
        frequency_hz: the fundamental frequency.
        dt_s: the control period the gait is stepped at (the env's dt, 0.05 s).
        env_kwargs: the env options it was found on.
    """

    amplitudes: np.ndarray
    phases_rad: np.ndarray
    frequency_hz: float
    dt_s: float = 0.05
    env_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.amplitudes = np.atleast_2d(np.asarray(self.amplitudes, dtype=np.float64))
        self.phases_rad = np.atleast_2d(np.asarray(self.phases_rad, dtype=np.float64))
        if self.amplitudes.shape != self.phases_rad.shape or self.amplitudes.shape[1] != NUM_JOINTS:
            raise ValueError(
                f"amplitudes and phases must both be (harmonics, {NUM_JOINTS}); got "
                f"{self.amplitudes.shape} and {self.phases_rad.shape}"
            )
        if not 0.0 < self.frequency_hz < 0.5 / self.dt_s:
            raise ValueError(
                f"frequency_hz must be in (0, {0.5 / self.dt_s:g}) Hz at dt {self.dt_s} s, "
                f"got {self.frequency_hz}"
            )
        self._harmonics = np.arange(1, len(self.amplitudes) + 1)[:, None]

    def action(self, step: int) -> np.ndarray:
        """The action at control step `step` of an episode, float32 (16,)."""
        angle = 2 * np.pi * self.frequency_hz * step * self.dt_s * self._harmonics
        raw = (self.amplitudes * np.cos(angle + self.phases_rad)).sum(axis=0)
        return np.clip(raw, -1.0, 1.0).astype(np.float32)

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """SB3's signature; state is the per-env step counter (the gait ignores observations)."""
        batched = np.ndim(observation) == 2
        n = len(observation) if batched else 1
        steps = np.zeros(n, dtype=np.int64) if state is None else np.array(state[0]).reshape(n)
        if episode_start is not None:
            steps = np.where(np.asarray(episode_start, dtype=bool).reshape(n), 0, steps)
        actions = np.stack([self.action(int(s)) for s in steps])
        return (actions if batched else actions[0]), (steps + 1,)

    # ------------------------------------------------------------ parameters
    @property
    def num_params(self) -> int:
        return 2 * self.amplitudes.size + 1

    def to_vector(self) -> np.ndarray:
        return np.concatenate(
            [self.amplitudes.ravel(), self.phases_rad.ravel(), [self.frequency_hz]]
        )

    @classmethod
    def from_vector(
        cls, vector: np.ndarray, harmonics: int, dt_s: float = 0.05, **kwargs: Any
    ) -> PeriodicGait:
        n = harmonics * NUM_JOINTS
        return cls(
            vector[:n].reshape(harmonics, NUM_JOINTS),
            vector[n : 2 * n].reshape(harmonics, NUM_JOINTS),
            float(vector[2 * n]),
            dt_s,
            **kwargs,
        )

    def save(self, path: str | Path) -> Path:
        """Write the gait as JSON (`load_policy` reads it back)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "format": GAIT_FORMAT,
            "amplitudes": self.amplitudes.tolist(),
            "phases_rad": self.phases_rad.tolist(),
            "frequency_hz": self.frequency_hz,
            "dt_s": self.dt_s,
            "env_kwargs": self.env_kwargs,
        }
        path.write_text(json.dumps(record, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path) -> PeriodicGait:
        record = json.loads(Path(path).read_text())
        if record.get("format") != GAIT_FORMAT:
            raise ValueError(f"{path} is not a gait file (format {record.get('format')!r})")
        return cls(
            np.array(record["amplitudes"]),
            np.array(record["phases_rad"]),
            record["frequency_hz"],
            record["dt_s"],
            record.get("env_kwargs", {}),
        )


@dataclass(frozen=True)
class SearchResult:
    """What search_gait found: the gait, and the best score of every generation."""

    gait: PeriodicGait
    history: list[dict[str, float]]


def cross_entropy_search(
    score: Callable[[np.ndarray, np.random.Generator], float],
    mean: np.ndarray,
    std: np.ndarray,
    generations: int,
    population: int,
    elite: int,
    rng: np.random.Generator,
    bounds: tuple[np.ndarray, np.ndarray],
    on_generation: Callable[[int, dict[str, float]], None] | None = None,
) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Maximise `score` with the cross-entropy method (diagonal Gaussian, smoothed std).

    Every generation scores `population` candidates on the same random draw (score's rng is
    re-seeded per generation, so candidates compete on equal episodes), moves the mean to the
    `elite` best, and blends the elite's spread into the std.

    Returns:
        The final mean and, per generation, best / elite-mean / population-mean scores.
    """
    if not 1 <= elite <= population:
        raise ValueError(
            f"need 1 <= elite <= population, got elite {elite}, population {population}"
        )
    lo, hi = bounds
    history = []
    for generation in range(generations):
        episode_seed = int(rng.integers(2**31))
        candidates = np.clip(mean + std * rng.standard_normal((population, len(mean))), lo, hi)
        scores = np.array(
            [score(c, np.random.default_rng(episode_seed)) for c in candidates], dtype=np.float64
        )
        order = np.argsort(scores)[::-1][:elite]
        mean = candidates[order].mean(axis=0)
        std = 0.8 * std + 0.2 * (candidates[order].std(axis=0) + 1e-3)
        record = {
            "best": float(scores[order[0]]),
            "elite_mean": float(scores[order].mean()),
            "population_mean": float(scores.mean()),
        }
        history.append(record)
        if on_generation is not None:
            on_generation(generation, record)
    return mean, history


def episode_rotr(env: Any, gait: PeriodicGait, seed: int) -> float:
    """RotR of one episode of `gait` on `env` (a DexNDM-Rotate-v0 with its TimeLimit)."""
    from dexndm_envs.metrics import MetricsTracker

    tracker = MetricsTracker(env.unwrapped.dt)
    env.reset(seed=seed)
    step, done = 0, False
    while not done:
        _, _, terminated, truncated, info = env.step(gait.action(step))
        tracker.add(info)
        step, done = step + 1, terminated or truncated
    return tracker.result().rotr


def search_gait(
    env_kwargs: dict[str, Any],
    harmonics: int = 1,
    generations: int = 60,
    population: int = 20,
    elite: int = 5,
    episodes: int = 2,
    seed: int = 0,
    progress: bool = True,
) -> SearchResult:
    """Find a gait that rotates objects about the env's axis: cross-entropy search on RotR.

    Args:
        env_kwargs: options of DexNDM-Rotate-v0 (object set, wrist, axis, ...).
        harmonics: harmonics per joint (1: a sine per joint).
        generations, population, elite: of the cross-entropy method.
        episodes: episodes per candidate (each on a fresh object and grasp of the set).
        seed: seeds the search and the episodes: the same seed gives the same gait.
        progress: a tqdm bar over generations showing the scores.
    """
    import gymnasium as gym
    from tqdm.auto import tqdm

    import dexndm_envs  # noqa: F401  (registers the env)

    if harmonics < 1 or generations < 1 or episodes < 1:
        raise ValueError("harmonics, generations and episodes must all be >= 1")
    env = gym.make("DexNDM-Rotate-v0", **env_kwargs)
    dt_s = env.unwrapped.dt
    rng = np.random.default_rng(seed)
    n = harmonics * NUM_JOINTS
    mean = np.concatenate([np.zeros(n), rng.uniform(0, 2 * np.pi, n), [0.5]])
    std = np.concatenate([np.full(n, 1.0), np.full(n, 1.5), [0.2]])
    max_hz = 0.5 / dt_s / harmonics * 0.5  # well below Nyquist for the highest harmonic
    bounds = (
        np.concatenate([np.full(n, -MAX_AMPLITUDE), np.full(n, -np.inf), [0.1]]),
        np.concatenate([np.full(n, MAX_AMPLITUDE), np.full(n, np.inf), [max_hz]]),
    )

    def score(vector: np.ndarray, episode_rng: np.random.Generator) -> float:
        gait = PeriodicGait.from_vector(vector, harmonics, dt_s)
        seeds = episode_rng.integers(2**31, size=episodes)
        return float(np.mean([episode_rotr(env, gait, int(s)) for s in seeds]))

    bar = tqdm(total=generations, desc="gait search", disable=not progress)

    def report(generation: int, record: dict[str, float]) -> None:
        bar.set_postfix(best=f"{record['best']:.0f}", elite=f"{record['elite_mean']:.0f}")
        bar.update()

    try:
        mean, history = cross_entropy_search(
            score, mean, std, generations, population, elite, rng, bounds, report
        )
    finally:
        bar.close()
        env.close()
    gait = PeriodicGait.from_vector(mean, harmonics, dt_s, env_kwargs=dict(env_kwargs))
    return SearchResult(gait, history)
