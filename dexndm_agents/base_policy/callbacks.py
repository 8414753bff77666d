"""SB3 callbacks for rotation training: the paper's metrics in TensorBoard, checkpoints, the best
policy (carried on when a run continues), videos."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, EvalCallback

from dexndm_agents.base_policy.checkpoints import save_checkpoint
from dexndm_agents.evaluation.harness import run_episode
from dexndm_agents.policies.files import NormalizedPolicy, ObsNormalizer, Policy, save_sb3_policy
from dexndm_envs import EPISODE_STEPS
from dexndm_envs.core.metrics import MetricsTracker


class RotationMetricsCallback(BaseCallback):
    """Logs RotR, TTF and RotP of finished training episodes, and the mean of each reward term.

    The metrics come from dexndm_envs.core.metrics.MetricsTracker, as everywhere else; they appear
    in TensorBoard as `rotation/rotr`, `rotation/ttf`, `rotation/rotp`, and `reward/<term>`.
    """

    def _on_training_start(self) -> None:
        n = self.training_env.num_envs
        dt_s = float(self.training_env.get_attr("dt")[0])
        self._trackers = [MetricsTracker(dt_s, EPISODE_STEPS) for _ in range(n)]
        self._terms: dict[str, list[float]] = {}

    def _on_step(self) -> bool:
        infos, dones = self.locals["infos"], self.locals["dones"]
        for i, (info, done) in enumerate(zip(infos, dones, strict=True)):
            if "rot_vel" not in info:
                continue
            self._trackers[i].add(info)
            for key, value in info.items():
                if key.startswith("reward/"):
                    self._terms.setdefault(key, []).append(float(value))
            if done:
                m = self._trackers[i].result()
                self.logger.record_mean("rotation/rotr", m.rotr)
                self.logger.record_mean("rotation/ttf", m.ttf)
                self.logger.record_mean("rotation/rotp", m.rotp)
                self._trackers[i].reset()
        return True

    def _on_rollout_end(self) -> None:
        for key, values in self._terms.items():
            self.logger.record(key, float(np.mean(values)))
        self._terms.clear()


class PeriodicCheckpoints(BaseCallback):
    """A checkpoint (dexndm_agents.base_policy.checkpoints) each time the env steps pass a
    multiple of `every_steps`, so a continued run keeps the same checkpoint steps."""

    def __init__(self, every_steps: int, directory: Path, algo: str) -> None:
        super().__init__()
        if every_steps < 1:
            raise ValueError(f"every_steps must be >= 1, got {every_steps}")
        self.every_steps, self.directory, self.algo = every_steps, Path(directory), algo

    def _on_training_start(self) -> None:
        self._saved = self.num_timesteps // self.every_steps

    def _on_step(self) -> bool:
        if self.num_timesteps // self.every_steps > self._saved:
            self._saved = self.num_timesteps // self.every_steps
            save_checkpoint(self.model, self.directory, self.algo)
        return True


class SaveBestPolicy(BaseCallback):
    """EvalCallback's callback_on_new_best: save the model with its observation statistics,
    recording the mean reward it was chosen by (resume_evaluations reads it back)."""

    def __init__(
        self,
        path: Path,
        algo: str,
        env_kwargs: dict[str, Any],
        gait: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.path, self.algo, self.env_kwargs, self.gait = Path(path), algo, env_kwargs, gait

    def _on_step(self) -> bool:
        evaluation = {"num_timesteps": int(self.num_timesteps)}
        if isinstance(self.parent, EvalCallback):
            evaluation["mean_reward"] = float(self.parent.best_mean_reward)
        save_sb3_policy(
            self.model,
            self.path,
            self.algo,
            self.env_kwargs,
            self.model.get_vec_normalize_env(),
            gait=self.gait,
            evaluation=evaluation,
        )
        return True


def resume_evaluations(evaluation: EvalCallback, best_path: Path, start_steps: int) -> None:
    """Carry a continued run's evaluations into a new EvalCallback: the best mean reward so far
    (from the best model's .json), so that a worse model does not replace the best one, and
    the evaluations of eval/evaluations.npz up to start_steps, so that the file keeps them."""
    meta_path = Path(best_path).with_suffix(".json")
    if meta_path.is_file():
        recorded = json.loads(meta_path.read_text()).get("evaluation", {}).get("mean_reward")
        if isinstance(recorded, int | float) and math.isfinite(recorded):
            evaluation.best_mean_reward = float(recorded)
    history = Path(f"{evaluation.log_path}.npz") if evaluation.log_path else None
    if history is None or not history.is_file():
        return
    with np.load(history, allow_pickle=False) as f:
        keep = f["timesteps"] <= start_steps
        evaluation.evaluations_timesteps = f["timesteps"][keep].tolist()
        evaluation.evaluations_results = f["results"][keep].tolist()
        evaluation.evaluations_length = f["ep_lengths"][keep].tolist()


class EvalVideoCallback(BaseCallback):
    """Records one deterministic episode to videos/eval_<steps>.mp4 after each evaluation."""

    def __init__(
        self,
        env_kwargs: dict[str, Any],
        video_dir: Path,
        seed: int = 0,
        size_px: int = 320,
        as_policy: Callable[[Policy], Policy] | None = None,
    ) -> None:
        """as_policy turns the agent (on normalised observations) into the policy that acts on
        the plain env (e.g. a GaitOffsetPolicy); by default the agent acts as it is."""
        super().__init__()
        self.env_kwargs, self.video_dir, self.seed = env_kwargs, Path(video_dir), seed
        self.size_px = size_px
        self.as_policy = as_policy

    def _on_step(self) -> bool:
        import gymnasium as gym
        import imageio.v2 as imageio

        vec_normalize = self.model.get_vec_normalize_env()
        normalizer = (
            ObsNormalizer.from_vec_normalize(vec_normalize) if vec_normalize is not None else None
        )
        policy: Policy = NormalizedPolicy(self.model, normalizer)
        if self.as_policy is not None:
            policy = self.as_policy(policy)
        env = gym.make(
            "DexNDM-Rotate-v0",
            render_mode="rgb_array",
            width=self.size_px,
            height=self.size_px,
            **self.env_kwargs,
        )
        try:
            frames = run_episode(env, policy, self.seed, record=True).frames
        finally:
            env.close()
        self.video_dir.mkdir(parents=True, exist_ok=True)
        path = self.video_dir / f"eval_{self.num_timesteps}.mp4"
        imageio.mimwrite(path, frames, fps=round(1 / env.unwrapped.dt), macro_block_size=8)
        return True
