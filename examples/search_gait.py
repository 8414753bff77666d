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
from typing import Literal

import gymnasium as gym
import numpy as np

from dexndm_agents.base_policy.gait_search import search_gait
from dexndm_agents.base_policy.training import ENV_ID, EnvOptions
from dexndm_agents.evaluation.harness import run_episode
from dexndm_agents.policies.gait import PeriodicGait
from dexndm_envs.core.cli import UsageError, check_at_least, checking_input, run


@dataclass
class Args:
    """Search a gait for one object set, wrist and axis."""

    env: EnvOptions = field(default_factory=EnvOptions)
    harmonics: int = 1
    space: Literal["target", "action"] = "target"
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


def check_args(args: Args) -> PeriodicGait | None:
    """The search's sizes, the env options and the --init gait, before the search starts."""
    check_at_least({
        "--harmonics": (args.harmonics, 1), "--generations": (args.generations, 1),
        "--population": (args.population, 1), "--elite": (args.elite, 1),
        "--episodes": (args.episodes, 1), "--eval-episodes": (args.eval_episodes, 0),
    })  # fmt: skip
    if args.elite > args.population:
        raise UsageError(f"--elite ({args.elite}) must not exceed --population ({args.population})")
    with checking_input():  # the env checks every --env option
        gym.make(ENV_ID, **args.env.as_kwargs()).close()
    if args.init is None:
        return None
    with checking_input("--init"):
        return PeriodicGait.load(args.init)


def main(args: Args) -> None:
    init = check_args(args)
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
        init=init,
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
    run(main, Args)
