"""The cross-entropy search that finds a periodic gait which rotates an object.

`search_gait` tunes a `PeriodicGait`'s amplitudes, phases and frequency with the cross-entropy
method on the paper's RotR, scoring each candidate on seeded episodes of DexNDM-Rotate-v0
through the one evaluation harness (dexndm_agents.evaluation.harness.run_episode).

Usage:
    from dexndm_agents.base_policy.gait_search import search_gait
    result = search_gait({"object_set": "cylinder"}, space="target")
    result.gait.save("runs/gait/gait.json")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

import dexndm_envs  # noqa: F401  (registers the env)
from dexndm_agents.evaluation.harness import run_episode
from dexndm_agents.policies.gait import MAX_AMPLITUDE, MAX_TARGET_AMPLITUDE_RAD, PeriodicGait
from dexndm_envs.core.constants import NUM_JOINTS
from dexndm_envs.core.interface import DEFAULT_HISTORY_LEN


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


def search_gait(
    env_kwargs: dict[str, Any],
    harmonics: int = 1,
    space: str = "action",
    generations: int = 60,
    population: int = 20,
    elite: int = 5,
    episodes: int = 2,
    seed: int = 0,
    progress: bool = True,
    init: PeriodicGait | None = None,
    init_std_scale: float = 0.3,
) -> SearchResult:
    """Find a gait that rotates objects about the env's axis: cross-entropy search on RotR.

    Args:
        env_kwargs: options of DexNDM-Rotate-v0 (object set, wrist, axis, ...); history_len
            is the env's default (DEFAULT_HISTORY_LEN) unless given.
        harmonics: harmonics per joint (1: a sine per joint).
        space: "action" or "target" (module docstring).
        generations, population, elite: of the cross-entropy method.
        episodes: episodes per candidate (each on a fresh object and grasp of the set).
        seed: seeds the search and the episodes: the same seed gives the same gait.
        progress: a tqdm bar over generations showing the scores.
        init: a gait to refine (its harmonics and space win over the arguments); the search
            starts at its parameters with the default spread times init_std_scale.
    """
    if init is not None:
        harmonics, space = len(init.amplitudes), init.space
    if harmonics < 1 or generations < 1 or episodes < 1:
        raise ValueError("harmonics, generations and episodes must all be >= 1")
    env = gym.make("DexNDM-Rotate-v0", **env_kwargs)
    dt_s = env.unwrapped.dt
    rng = np.random.default_rng(seed)
    n = harmonics * NUM_JOINTS
    # amplitudes: of the action (saturating above 1), or of the target in rad
    amp_max, amp_std = (
        (MAX_AMPLITUDE, 1.0) if space == "action" else (MAX_TARGET_AMPLITUDE_RAD, 0.2)
    )
    # the env's T, which the gait records: train.py --gait and its saved models need the same
    history_len = int(env_kwargs.get("history_len", DEFAULT_HISTORY_LEN))
    mean = np.concatenate([np.zeros(n), rng.uniform(0, 2 * np.pi, n), [0.5]])
    std = np.concatenate([np.full(n, amp_std), np.full(n, 1.5), [0.2]])
    if init is not None:
        mean, std = init.to_vector(), std * init_std_scale
    max_hz = 0.5 / dt_s / harmonics * 0.5  # well below Nyquist for the highest harmonic
    bounds = (
        np.concatenate([np.full(n, -amp_max), np.full(n, -np.inf), [0.1]]),
        np.concatenate([np.full(n, amp_max), np.full(n, np.inf), [max_hz]]),
    )

    def score(vector: np.ndarray, episode_rng: np.random.Generator) -> float:
        gait = PeriodicGait.from_vector(
            vector, harmonics, dt_s, space=space, history_len=history_len
        )
        seeds = episode_rng.integers(2**31, size=episodes)
        return float(np.mean([run_episode(env, gait, int(s)).metrics.rotr for s in seeds]))

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
    gait = PeriodicGait.from_vector(
        mean, harmonics, dt_s, env_kwargs=dict(env_kwargs), space=space, history_len=history_len
    )
    return SearchResult(gait, history)
