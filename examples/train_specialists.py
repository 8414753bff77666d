"""Train the specialists: one oracle policy per object category (DexNDM's first stage).

Each category gets its own run of dexndm_agents.base_policy.training.train under
`<out-dir>/<category>` (TensorBoard logs, checkpoints, best model by evaluation, videos), on
DexNDM-Rotate-v0 with obs_mode "oracle" (privileged object state). At the end it prints `SPECIALIST
<category> <path>` per category (the best model by evaluation, or the final one without evaluation)
and writes `<out-dir>/specialists.json` (category -> path relative to that file), which
examples/distill.py reads.

Usage:
    python examples/train_specialists.py --total-timesteps 3000000 --out-dir runs/specialists
    python examples/train_specialists.py --categories cylinder cuboid --wrist palm_down --axis -z
    python examples/distill.py --specialists runs/specialists/specialists.json
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")  # evaluation videos render headless

import gymnasium as gym

from dexndm_agents.base_policy.training import (
    ENV_ID,
    EnvOptions,
    TrainConfig,
    check_config,
    train,
)
from dexndm_envs.core.atomic import atomic_write_text
from dexndm_envs.core.cli import AxisName, UsageError, checking_input, run
from dexndm_envs.core.interface import DEFAULT_HISTORY_LEN
from dexndm_envs.sim.objects.catalog import CATEGORIES


@dataclass
class Args:
    """Train one oracle PPO (or other SB3) policy per object category."""

    categories: list[str] = field(default_factory=lambda: list(CATEGORIES))
    """Object categories, one specialist each."""
    total_timesteps: int = 3_000_000
    """Env steps per specialist."""
    n_envs: int = 16
    algo: str = "ppo"
    """An SB3 algorithm (ppo, sac, td3, a2c, ddpg)."""
    wrist: str = "palm_up"
    axis: AxisName = "+z"
    """The rotation axis (world frame)."""
    history_len: int = DEFAULT_HISTORY_LEN
    """T of the specialists' own observation (the env's default; the generalist chooses its
    own)."""
    domain_randomization: bool = False
    seed: int = 0
    out_dir: Path = Path("runs/specialists")
    eval_every: int = 250_000
    """Env steps between evaluations (0: none; then the final model is the specialist)."""
    eval_episodes: int = 5
    checkpoint_every: int = 500_000
    """Env steps between checkpoints (0: none)."""
    video: bool = True
    """Record one evaluation episode each time a policy is evaluated."""
    hyperparams: str = ""
    """JSON object of algorithm arguments over the defaults."""
    progress: bool = True


def train_config(args: Args, category: str) -> TrainConfig:
    """The training run of one category's specialist."""
    env = EnvOptions(
        object_set=category,
        wrist=args.wrist,
        axis=args.axis,
        obs_mode="oracle",
        history_len=args.history_len,
        domain_randomization=args.domain_randomization,
    )
    return TrainConfig(
        algo=args.algo,
        total_timesteps=args.total_timesteps,
        env=env,
        n_envs=args.n_envs,
        seed=args.seed,
        out_dir=args.out_dir / category,
        hyperparams=args.hyperparams,
        checkpoint_every=args.checkpoint_every,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        video=args.video,
        progress=args.progress,
    )


def check_args(args: Args) -> dict[str, TrainConfig]:
    """Every category's run, checked before the first one starts."""
    unknown = [c for c in args.categories if c not in CATEGORIES]
    if unknown or not args.categories:
        raise UsageError(
            f"--categories: unknown or none given ({', '.join(unknown)}); "
            f"valid: {', '.join(CATEGORIES)}"
        )
    configs = {category: train_config(args, category) for category in args.categories}
    with checking_input():
        for cfg in configs.values():
            check_config(cfg)
        # the runs differ only in their (valid) category: one env checks the other options
        gym.make(ENV_ID, **next(iter(configs.values())).env.as_kwargs()).close()
    return configs


def main(args: Args) -> None:
    configs = check_args(args)
    specialists = {}
    for category, cfg in configs.items():
        print(f"training the {category} specialist in {cfg.out_dir}", flush=True)
        final = train(cfg)
        best = final.with_name("best_model.zip")  # without evaluation, the final model
        specialists[category] = best if best.is_file() else final
    index = args.out_dir / "specialists.json"
    relative = {c: str(p.relative_to(args.out_dir)) for c, p in specialists.items()}
    atomic_write_text(index, json.dumps(relative, indent=2) + "\n")
    print(f"specialists: {index}")
    for category, path in specialists.items():
        print(f"SPECIALIST {category} {path}")


if __name__ == "__main__":
    run(main, Args)
