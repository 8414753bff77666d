"""Quick start: run DexNDM-Rotate-v0 with a simple policy, print metrics, save a video and a plot.

The policy is scripted (a finger wave), random or zero (holding still); trained policies come
with the training programs (not yet in this repository). Per episode it prints the paper's
metrics (RotR, TTF, RotP, radians turned about the axis), then writes outputs/quickstart.mp4
and outputs/quickstart_rotation.png.

Usage:
    MUJOCO_GL=egl python examples/quickstart.py
    MUJOCO_GL=egl python examples/quickstart.py --episodes 3 --policy zero --env.wrist palm_down
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering unless the user chose otherwise

import gymnasium as gym
import numpy as np
import tyro

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_envs.metrics import MetricsTracker


@dataclass
class EnvArgs:
    """Options of DexNDM-Rotate-v0."""

    object_set: str = "all"
    """A category, "all", or an object name."""
    wrist: str = "palm_up"
    axis: str = "+z"
    domain_randomization: bool = False


@dataclass
class Args:
    """Run the rotation env with a simple policy."""

    episodes: int = 2
    policy: Literal["wave", "random", "zero"] = "wave"
    seed: int = 0
    out_dir: Path = Path("outputs")
    """Where the video and the plot go."""
    video: bool = True
    """Record the first episode."""
    max_steps: int = 400
    """Steps per episode at most (episodes also end on a drop or the 400-step time limit)."""
    env: EnvArgs = field(default_factory=EnvArgs)


def wave_policy(step: int, dt_s: float) -> np.ndarray:
    """A travelling wave over the fingers: each joint's target swings at 1 Hz, finger by finger
    a quarter period apart (actions are target changes, so the targets follow a sine)."""
    phase = 2 * np.pi * 1.0 * step * dt_s - np.repeat(np.arange(4) * np.pi / 2, 4)
    return np.cos(phase).astype(np.float32)


def main(args: Args) -> None:
    render_mode = "rgb_array" if args.video else None
    env = gym.make("DexNDM-Rotate-v0", render_mode=render_mode, **vars(args.env))
    dt_s = env.unwrapped.dt
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    frames, curves = [], []
    print(
        f"{'ep':>3} {'object':<22} {'steps':>5} {'RotR':>8} {'TTF':>5} {'RotP':>6} {'rot (rad)':>9}"
    )
    for episode in range(args.episodes):
        _, info = env.reset(seed=args.seed + episode)
        tracker = MetricsTracker(dt_s)
        turned = [0.0]
        for step in range(args.max_steps):
            if args.policy == "wave":
                action = wave_policy(step, dt_s)
            elif args.policy == "random":
                action = rng.uniform(-1, 1, 16).astype(np.float32)
            else:
                action = np.zeros(16, dtype=np.float32)
            _, _, terminated, truncated, step_info = env.step(action)
            tracker.add(step_info)
            turned.append(turned[-1] + step_info["rot_vel"] * dt_s)
            if args.video and episode == 0:
                frames.append(env.render())
            if terminated or truncated:
                break
        m = tracker.result()
        curves.append((info["object"], np.array(turned)))
        print(
            f"{episode:>3} {info['object']:<22} {m.steps:>5} {m.rotr:>8.2f} {m.ttf:>5.2f} "
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
