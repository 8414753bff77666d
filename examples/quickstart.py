"""Quick start: the shipped base policy rotating objects in DexNDM-Rotate-v0.

Loads `dexndm_agents.load_pretrained()` (palm up, about +z), runs a few seeded episodes on the
task it was trained for, and prints the paper's metrics per episode (RotR, TTF, RotP, radians
turned about the axis). It writes a video of the first episode (outputs/quickstart.mp4) and a
plot of rotation over time for every episode (outputs/quickstart_rotation.png).

Usage:
    MUJOCO_GL=egl python examples/quickstart.py
    MUJOCO_GL=egl python examples/quickstart.py --episodes 5 --policy runs/ppo/best_model.zip
    MUJOCO_GL=egl python examples/quickstart.py --policy zero --env.wrist palm_down
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering unless the user chose otherwise

import gymnasium as gym
import numpy as np
import tyro

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_agents.evaluation import ZeroPolicy, run_episode
from dexndm_agents.policies import Policy, policy_env_kwargs
from dexndm_agents.pretrained import resolve_policy


@dataclass
class EnvArgs:
    """Options of DexNDM-Rotate-v0 over the policy's own (unset: the policy's)."""

    object_set: str | None = None
    wrist: str | None = None
    axis: str | None = None
    domain_randomization: bool | None = None


@dataclass
class Args:
    """Run a policy on the rotation env; metrics, video, plot."""

    policy: str = "pretrained"
    """"pretrained" (the shipped base policy), "zero" (hold still) or a policy file."""
    episodes: int = 3
    seed: int = 0
    out_dir: Path = Path("outputs")
    video: bool = True
    """Record the first episode."""
    max_steps: int | None = None
    """Steps per episode at most (default: the env's 400-step limit)."""
    env: EnvArgs = field(default_factory=EnvArgs)


def get_policy(name: str) -> Policy:
    return ZeroPolicy() if name == "zero" else resolve_policy(name)


def main(args: Args) -> None:
    policy = get_policy(args.policy)
    env_kwargs = policy_env_kwargs(policy)
    env_kwargs.update({k: v for k, v in vars(args.env).items() if v is not None})
    env_kwargs.setdefault("object_set", "cylinder")
    env = gym.make(
        "DexNDM-Rotate-v0", render_mode="rgb_array" if args.video else None, **env_kwargs
    )
    dt_s = env.unwrapped.dt
    args.out_dir.mkdir(parents=True, exist_ok=True)
    print(f"policy {args.policy} on {env_kwargs.get('wrist')} {env_kwargs.get('axis')} "
          f"{env_kwargs['object_set']}")  # fmt: skip
    print(
        f"{'ep':>3} {'object':<22} {'steps':>5} {'RotR':>8} {'TTF':>5} {'RotP':>6} {'rot (rad)':>9}"
    )
    curves, frames = [], []
    for episode in range(args.episodes):
        result = run_episode(
            env,
            policy,
            args.seed + episode,
            max_steps=args.max_steps,
            record=args.video and not episode,
        )
        frames = frames or result.frames
        m = result.metrics
        curves.append((result.object, np.concatenate([[0.0], result.rotation_curve_rad])))
        print(
            f"{episode:>3} {result.object:<22} {m.steps:>5} {m.rotr:>8.2f} {m.ttf:>5.2f} "
            f"{m.rotp:>6.3f} {m.rotation_rad:>9.2f}"
        )
    env.close()
    if frames:
        import imageio.v2 as imageio

        video = args.out_dir / "quickstart.mp4"
        imageio.mimwrite(video, frames, fps=round(1 / dt_s), macro_block_size=8)
        print(f"video: {video} ({len(frames)} frames)")
    plot = args.out_dir / "quickstart_rotation.png"
    save_rotation_plot(curves, dt_s, plot)
    print(f"plot: {plot}")


def save_rotation_plot(curves: list[tuple[str, np.ndarray]], dt_s: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for episode, (name, turned) in enumerate(curves):
        ax.plot(np.arange(len(turned)) * dt_s, turned, label=f"episode {episode}: {name}")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("rotation about the axis (rad)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main(tyro.cli(Args))
