"""Record a policy's rollouts in DexNDM-Rotate-v0: the DexNDM loop's step 2.

DexNDM (arXiv 2510.08556) replays the base policy's sim action sequences in the chaos box and
trains its residual policy toward the base policy's sim transitions. `record_rollouts` runs a
policy for seeded episodes and writes both:

- one crash-safe episode file per episode (dexndm_envs.data.episodes: row t is the joint reading
  before step t and the target sent at step t; joint_vel too where the env reports it), with
  the episode's wrist, axis, hardware, object, the policy's name, the seed and its RotR, TTF
  and drop flag in the metadata;
- `actions.npz`: the actions the env executed, `actions` (episodes, steps, 16) in [-1, 1],
  ready for chaos_actions.ActionFile.load. An episode that ends early because the object
  fell is padded with zero actions (the hand holds its last targets) up to `steps`; the
  members `steps` (the real length of each episode), `dropped` and `seeds` say which rows are
  padding, so a consumer can trim or skip them.

Usage:
    from dexndm_agents import load_pretrained
    from dexndm_agents.dexndm.rollouts import record_rollouts

    rollouts = record_rollouts(load_pretrained(), {"hardware": "ideal"}, 100, 0, "data/rollouts")
    print(rollouts.summary.rotr, rollouts.actions_path)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

import dexndm_envs  # registers the environments
from dexndm_agents.evaluation.harness import run_episode, summarize
from dexndm_agents.evaluation.summary import ConditionSummary
from dexndm_agents.policies.files import Policy, policy_env_kwargs
from dexndm_envs.core.atomic import atomic_write
from dexndm_envs.core.constants import NUM_JOINTS
from dexndm_envs.core.metrics import EpisodeMetrics
from dexndm_envs.data.episodes import EpisodeWriter, episode_meta

ACTIONS_FILE = "actions.npz"


@dataclass(frozen=True)
class RecordedRollouts:
    """What record_rollouts wrote, and how the policy did on those seeds."""

    episode_paths: list[Path]
    actions_path: Path
    summary: ConditionSummary


class _EpisodeRecorder:
    """A run_episode step hook that keeps the rows of one episode (data.py layout)."""

    def __init__(self) -> None:
        self.reset_info: dict[str, Any] = {}
        self.rows: dict[str, list[np.ndarray]] = {"joint_pos": [], "joint_targets": []}
        self.velocities: list[np.ndarray] | None = []
        self.actions: list[np.ndarray] = []

    def __call__(self, before: dict[str, Any], action: np.ndarray, after: dict[str, Any]) -> None:
        if not self.actions:
            self.reset_info = before
        self.rows["joint_pos"].append(np.array(before["joint_pos"], dtype=np.float64))
        self.rows["joint_targets"].append(np.array(after["joint_targets"], dtype=np.float64))
        if self.velocities is not None and "joint_vel" in before:
            self.velocities.append(np.array(before["joint_vel"], dtype=np.float64))
        else:
            self.velocities = None  # not reported on every step: left out
        # what the env executed: it clips finite actions to [-1, 1] (interface.check_action)
        self.actions.append(np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0))

    def arrays(self, dt_s: float) -> dict[str, np.ndarray]:
        arrays = {name: np.array(rows) for name, rows in self.rows.items()}
        if self.velocities:
            arrays["joint_vel"] = np.array(self.velocities)
        arrays["timestamps"] = np.arange(len(self.actions)) * dt_s
        return arrays


def record_rollouts(
    policy: Policy,
    env_kwargs: dict[str, Any] | None,
    episodes: int,
    seed: int,
    out_dir: str | Path,
    *,
    deterministic: bool = True,
    progress: bool = True,
    max_steps: int | None = None,
    policy_name: str | None = None,
) -> RecordedRollouts:
    """Run a policy for episodes with seeds seed .. seed+episodes-1 and write them to out_dir.

    The env is DexNDM-Rotate-v0 with the policy's own options (policies.policy_env_kwargs)
    updated by env_kwargs, e.g. {"hardware": "virtual", "hardware_seed": 3}. Episode i (seed
    seed + i) goes to out_dir/episode_<i>.npz; actions.npz holds every episode's actions, with
    dropped episodes padded by zero actions (module docstring).

    Args:
        policy: anything with SB3's predict.
        env_kwargs: env options over the policy's (None: the policy's alone).
        episodes: how many episodes.
        seed: the first episode's reset seed.
        out_dir: a directory without episodes (created if missing).
        deterministic: passed to predict.
        progress: show a progress bar.
        max_steps: steps per episode at most (the env's 400-step time limit otherwise).
        policy_name: recorded in the metadata; the policy's class name by default.

    Returns:
        The paths written and the episodes' metrics.

    Raises:
        ValueError: episodes < 1 or max_steps < 1.
        FileExistsError: out_dir already holds episodes or an actions.npz.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be at least 1 (or None), got {max_steps}")
    writer = EpisodeWriter(out_dir)
    if writer.completed() or (writer.directory / ACTIONS_FILE).exists():
        raise FileExistsError(
            f"{writer.directory} already holds rollouts; choose an empty directory"
        )
    kwargs = {**policy_env_kwargs(policy), **(env_kwargs or {})}
    name = policy_name or type(policy).__name__
    env = gym.make("DexNDM-Rotate-v0", **kwargs)
    try:
        steps = _episode_steps(env, max_steps)
        actions = np.zeros((episodes, steps, NUM_JOINTS))  # zero padding after a drop
        paths, results = [], []
        for index in tqdm(range(episodes), desc="rollouts", disable=not progress):
            recorder = _EpisodeRecorder()
            result = run_episode(
                env, policy, seed + index, deterministic, max_steps, on_step=recorder
            )
            wrist = _wrist(env, recorder.reset_info)
            meta = _meta(recorder.reset_info, wrist, result.metrics, name, seed + index)
            meta["extra"]["deterministic"] = deterministic
            meta["extra"]["env_kwargs"] = _plain(kwargs)
            paths.append(writer.write(index, recorder.arrays(env.unwrapped.dt), meta))
            actions[index, : len(recorder.actions)] = recorder.actions
            results.append(result)
    finally:
        env.close()
    metrics = [result.metrics for result in results]
    actions_path = _save_actions(writer.directory, actions, metrics, seed)
    return RecordedRollouts(paths, actions_path, summarize(results, seed))


def _episode_steps(env: gym.Env, max_steps: int | None) -> int:
    """Steps an episode can last: the time limit, or max_steps if fewer."""
    spec = env.spec
    limit = spec.max_episode_steps if spec and spec.max_episode_steps else dexndm_envs.EPISODE_STEPS
    return limit if max_steps is None else min(max_steps, limit)


def _wrist(env: gym.Env, reset_info: dict[str, Any]) -> str | list[float]:
    """The episode's wrist name, or its quaternion (from the observation) for a free one."""
    if reset_info["wrist"] != "free":
        return reset_info["wrist"]
    unwrapped = env.unwrapped
    return unwrapped.history.buffer[unwrapped.obs_layout["wrist_quat"]].tolist()


def _meta(
    reset_info: dict[str, Any],
    wrist: str | list[float],
    metrics: EpisodeMetrics,
    policy_name: str,
    seed: int,
) -> dict[str, Any]:
    source = f"policy {policy_name} in DexNDM-Rotate-v0, reset seed {seed}"
    extra = {
        "policy": policy_name,
        "seed": seed,
        "object": reset_info["object"],
        "randomization": reset_info.get("randomization"),
        "rotr": metrics.rotr,
        "ttf": metrics.ttf,
        "dropped": metrics.dropped,
        "steps": metrics.steps,
    }
    hardware = reset_info.get("hardware", {"kind": "ideal"})
    return episode_meta(wrist, reset_info["axis"], hardware, source, None, extra)


def _plain(value: Any) -> Any:
    """Env options as JSON values (paths and other objects by their text)."""
    return json.loads(json.dumps(value, default=lambda v: getattr(v, "tolist", lambda: str(v))()))


def _save_actions(
    directory: Path, actions: np.ndarray, metrics: list[EpisodeMetrics], seed: int
) -> Path:
    """actions.npz, complete or absent (atomic_write)."""
    path = directory / ACTIONS_FILE
    with atomic_write(path) as file:
        np.savez(
            file,
            actions=actions,
            steps=np.array([m.steps for m in metrics]),
            dropped=np.array([m.dropped for m in metrics]),
            seeds=seed + np.arange(len(metrics)),
        )
    return path
