"""Train any Stable-Baselines3 algorithm on DexNDM-Rotate-v0.

Logs to TensorBoard (<out-dir>/tb), shows a progress bar, saves checkpoints, keeps the best
model by periodic evaluation, records evaluation videos, and prints MODEL=<path> last.
Evaluate the result with examples/evaluate.py --policy <path>.

Usage:
    python examples/train.py --algo ppo --total-timesteps 3000000 --out-dir runs/ppo_cylinder
    python examples/train.py --algo sac --env.wrist palm_down --env.axis -z --n-envs 4
    python examples/train.py --env.obs-mode oracle --hyperparams '{"learning_rate": 3e-4}'
    python examples/train.py --gait runs/gait/gait.json --env.obs-mode oracle   # offsets on a gait
    python examples/train.py --resume runs/ppo/checkpoints/ppo_500000_steps.zip \
        --total-timesteps 6000000 --out-dir runs/ppo
    tensorboard --logdir runs
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # evaluation videos render headless

import gymnasium as gym

from dexndm_agents.base_policy.training import ENV_ID, TrainConfig, check_config, train
from dexndm_envs.core.cli import checking_input, run


def main(cfg: TrainConfig) -> None:
    with checking_input():  # a bad option fails here, before the run directory is written
        check_config(cfg)
        gym.make(ENV_ID, **cfg.env.as_kwargs()).close()  # the env checks every --env option
    final = train(cfg)
    best = final.with_name("best_model.zip")
    if best.is_file():
        print(f"best model by evaluation: {best}")
    print(f"MODEL={final}")


if __name__ == "__main__":
    run(main, TrainConfig)
