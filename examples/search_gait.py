"""Find a periodic finger gait that rotates objects: cross-entropy search on the paper's RotR.

The gait (dexndm_agents.policies.gait) is an open-loop teacher: examples/distill.py turns its
rollouts into a proprioceptive generalist, as it does for PPO specialists. It is written as JSON,
which examples/evaluate.py and dexndm_agents.load_policy read; a plot of the search's scores goes
beside it. The last line printed is MODEL=<path>.

Usage:
    python examples/search_gait.py --out-dir runs/gait_cylinder
    python examples/search_gait.py --env.object-set cube --generations 10 --population 8
    python examples/evaluate.py --policy runs/gait_cylinder/gait.json --episodes 10
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tyro

from dexndm_agents.base_policy.gait_search import search_gait
from dexndm_agents.base_policy.training import EnvOptions
from dexndm_agents.evaluation.harness import run_episode
from dexndm_agents.policies.gait import PeriodicGait


@dataclass
class Args:
    """Search a gait for one object set, wrist and axis."""

    env: EnvOptions = field(default_factory=EnvOptions)
    harmonics: int = 1
    space: str = "target"
    """"target" (harmonics shape the joint targets around the grasp) or "action"."""
    generations: int = 60
    population: int = 20
    elite: int = 5
    episodes: int = 2
    """Episodes per candidate."""
    eval_episodes: int = 10
    """Episodes (fixed seeds 0, 1, ...) the found gait is scored on at the end."""
    seed: int = 0
    init: Path | None = None
    """A gait .json to refine instead of starting from scratch (its harmonics and space win)."""
    out_dir: Path = Path("runs/gait")


def save_plot(history: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for key in ("best", "elite_mean", "population_mean"):
        ax.plot([record[key] for record in history], label=key.replace("_", " "))
    ax.set_xlabel("generation")
    ax.set_ylabel("RotR per episode")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(args: Args) -> None:
    import gymnasium as gym

    env_kwargs = args.env.as_kwargs()
    result = search_gait(
        env_kwargs,
        harmonics=args.harmonics,
        space=args.space,
        generations=args.generations,
        population=args.population,
        elite=args.elite,
        episodes=args.episodes,
        seed=args.seed,
        init=PeriodicGait.load(args.init) if args.init else None,
    )
    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = result.gait.save(args.out_dir / "gait.json")
    save_plot(result.history, args.out_dir / "gait_search.png")
    print(f"plot: {args.out_dir / 'gait_search.png'}")
    if args.eval_episodes > 0:
        env = gym.make("DexNDM-Rotate-v0", **env_kwargs)
        rotr = [
            run_episode(env, result.gait, seed).metrics.rotr for seed in range(args.eval_episodes)
        ]
        env.close()
        print(f"RotR over {args.eval_episodes} episodes: {np.mean(rotr):.1f} +- {np.std(rotr):.1f}")
    print(f"MODEL={path}")


if __name__ == "__main__":
    main(tyro.cli(Args))
