"""Quick start: the shipped base policy rotating objects in DexNDM-Rotate-v0.

Loads `dexndm_agents.load_pretrained()` (palm up, about +z), runs ten seeded episodes (seeds
0-9) on the task it was trained for,
and prints the paper's metrics per episode (RotR, TTF, RotP, radians turned about the axis)
and their means. It writes a video of the median episode by RotR, so the video shows what is
typical rather than the best (outputs/quickstart.mp4; the episode is run again with its seed,
which repeats it exactly), a plot of rotation over time for every episode
(outputs/quickstart_rotation.png), and the figures as JSON (outputs/quickstart.json: each
episode's metrics and the summary, dexndm_agents.evaluation.summary).

Usage:
    MUJOCO_GL=egl python examples/quickstart.py
    MUJOCO_GL=egl python examples/quickstart.py --episodes 5 --policy runs/ppo/best_model.zip
    MUJOCO_GL=egl python examples/quickstart.py --policy zero --env.wrist palm_down
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering unless the user chose otherwise

import gymnasium as gym
import numpy as np

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_agents.evaluation.harness import run_episode, summarize
from dexndm_agents.policies.baselines import ZeroPolicy
from dexndm_agents.policies.files import Policy, policy_env_kwargs
from dexndm_agents.policies.pretrained import resolve_policy
from dexndm_envs.core.atomic import atomic_write_text
from dexndm_envs.core.cli import AxisName, check_at_least, checking_input, run


@dataclass
class EnvArgs:
    """Options of DexNDM-Rotate-v0 over the policy's own (unset: the policy's)."""

    object_set: str | None = None
    wrist: str | None = None
    axis: AxisName | None = None
    domain_randomization: bool | None = None


@dataclass
class Args:
    """Run a policy on the rotation env; metrics, video, plot."""

    policy: str = "pretrained"
    """"pretrained" (the shipped base policy), "zero" (hold still) or a policy file."""
    episodes: int = 10
    seed: int = 0
    out_dir: Path = Path("outputs")
    video: bool = True
    """Record the median episode by RotR."""
    max_steps: int | None = None
    """Steps per episode at most (default: the env's 400-step limit)."""
    env: EnvArgs = field(default_factory=EnvArgs)


def get_policy(name: str) -> Policy:
    return ZeroPolicy() if name == "zero" else resolve_policy(name)


def main(args: Args) -> None:
    check_at_least({"--episodes": (args.episodes, 1), "--max-steps": (args.max_steps, 1)})
    with checking_input("--policy"):
        policy = get_policy(args.policy)
    env_kwargs = policy_env_kwargs(policy)
    env_kwargs.update({k: v for k, v in vars(args.env).items() if v is not None})
    env_kwargs.setdefault("object_set", "cylinder")
    with checking_input():  # the env checks every --env option
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
    curves, results, records = [], [], []
    for episode in range(args.episodes):
        result = run_episode(env, policy, args.seed + episode, max_steps=args.max_steps)
        m = result.metrics
        results.append(result)
        records.append({"seed": args.seed + episode, "start": result.start, **m.as_dict()})
        curves.append((result.object, np.concatenate([[0.0], result.rotation_curve_rad])))
        print(
            f"{episode:>3} {result.object:<22} {m.steps:>5} {m.rotr:>8.2f} {m.ttf:>5.2f} "
            f"{m.rotp:>6.3f} {m.rotation_rad:>9.2f}"
        )
    summary = summarize(results, args.seed)
    print(f"{'mean':<32} {summary.rotr:>8.2f} {summary.ttf:>5.2f} {summary.rotp:>6.3f}")
    print(
        f"RotR {summary.rotr:.2f} ± {summary.rotr_se:.2f} (standard error over "
        f"{summary.distinct_starts} distinct starts; the bar, on 200 fresh seeds: RotR >= 250, "
        "TTF >= 0.9)"
    )
    if args.video:
        import imageio.v2 as imageio

        median = int(np.argsort([r.metrics.rotr for r in results])[len(results) // 2])
        frames = run_episode(
            env, policy, args.seed + median, max_steps=args.max_steps, record=True
        ).frames
        video = args.out_dir / "quickstart.mp4"
        imageio.mimwrite(video, frames, fps=round(1 / dt_s), macro_block_size=8)
        print(f"video: {video} (episode {median}, the median by RotR; {len(frames)} frames)")
    env.close()
    plot = args.out_dir / "quickstart_rotation.png"
    save_rotation_plot(curves, dt_s, plot)
    print(f"plot: {plot}")
    results = {
        "policy": args.policy,
        "env_kwargs": {k: v for k, v in env_kwargs.items() if k != "config"},
        "summary": summary.to_json(),
        "episodes": records,
    }
    path = atomic_write_text(
        args.out_dir / "quickstart.json", json.dumps(results, indent=2, default=str)
    )
    print(f"results: {path}")


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
    run(main, Args)
