"""A policy trained in MuJoCo, run in PhysX: the same seeds on both engines, paired.

Runs the policy on its own task on seeds seed .. seed + episodes - 1 in MuJoCo (the world it
was trained in) and in PhysX (a world profile), with or without domain randomisation, and
prints RotR and TTF on each engine, the paired difference PhysX - MuJoCo (each seed starts
from the same grasp on both; standard errors over distinct starts) overall and by start tilt
(the angle between the rotation axis and the object's own z axis: 0 a cylinder spun flat, 90
one turned on its side). With --out, writes the figures as JSON (with each seed's RotR, so that
runs in other worlds on the same seeds pair) and a plot (RotR by start tilt, both engines).

Usage:
    python examples/studies/engine_transfer.py --episodes 400 --seed 5000 --out physx.json
    python examples/studies/engine_transfer.py --world-profile my_world.yaml --episodes 100
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_agents.evaluation.harness import EpisodeResult, run_episode
from dexndm_agents.evaluation.reports import TILT_BINS_DEG
from dexndm_agents.evaluation.summary import mean_and_se, paired_difference
from dexndm_agents.policies.files import policy_env_kwargs
from dexndm_agents.policies.pretrained import resolve_policy
from dexndm_envs.core.atomic import atomic_write_text
from dexndm_envs.core.cli import check_at_least, checking_input, run
from dexndm_envs.engines.world import load_world

ENGINES = ("mujoco", "physx")


@dataclass
class Args:
    """Run a policy on the same seeds in MuJoCo and in PhysX."""

    policy: str = "pretrained"
    """"pretrained", a shipped policy's name or a policy file."""
    world_profile: str = "default"
    """How PhysX runs: a preset (default, coarse, fine) or a YAML/JSON file of its fields."""
    episodes: int = 400
    seed: int = 5000
    """Seeds seed .. seed + episodes - 1, the same on both engines."""
    domain_randomization: bool = False
    max_steps: int | None = None
    """Cut episodes short (smoke runs); the env's 400 steps when unset."""
    out: Path | None = None
    """Write the figures here as JSON, and the plot beside it (.png)."""


def run_engine(policy, engine: str, args: Args) -> list[EpisodeResult]:
    kwargs = {**policy_env_kwargs(policy), "domain_randomization": args.domain_randomization}
    env = gym.make("DexNDM-Rotate-v0", engine=engine, world_profile=args.world_profile, **kwargs)
    seeds = range(args.seed, args.seed + args.episodes)
    try:
        return [run_episode(env, policy, s, max_steps=args.max_steps) for s in tqdm(seeds, engine)]
    finally:
        env.close()


def compare(results: dict[str, list[EpisodeResult]], chosen: np.ndarray) -> dict[str, float]:
    """RotR and TTF per engine, and the paired RotR difference, over the chosen episodes."""
    starts = [r.start for r, keep in zip(results["mujoco"], chosen, strict=True) if keep]
    row: dict[str, float] = {"episodes": int(chosen.sum()), "distinct_starts": len(set(starts))}
    rotr = {}
    for engine in ENGINES:
        picked = [r for r, keep in zip(results[engine], chosen, strict=True) if keep]
        rotr[engine] = [r.metrics.rotr for r in picked]
        row[f"{engine}_rotr"], row[f"{engine}_rotr_se"] = mean_and_se(rotr[engine], starts)
        row[f"{engine}_ttf"] = float(np.mean([r.metrics.ttf for r in picked]))
    row["difference"], row["difference_se"] = paired_difference(
        rotr["physx"], rotr["mujoco"], starts
    )
    return row


def plot(rows: dict[str, dict[str, float]], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7, 4))
    for offset, engine in ((-0.2, "mujoco"), (0.2, "physx")):
        means = [rows[n][f"{engine}_rotr"] for n in names]
        errors = [rows[n][f"{engine}_rotr_se"] for n in names]
        ax.bar(x + offset, means, 0.4, yerr=errors, capsize=3, label=engine)
    ax.set_xticks(x, [f"{n}\n({rows[n]['episodes']} starts)" for n in names])
    ax.set_ylabel("RotR (mean ± s.e. over distinct starts)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(args: Args) -> None:
    check_at_least({"--episodes": (args.episodes, 2), "--max-steps": (args.max_steps, 1)})
    with checking_input("--world-profile"):
        world = load_world(args.world_profile)
    with checking_input("--policy"):
        policy = resolve_policy(args.policy)
    torch.set_num_threads(1)
    results = {engine: run_engine(policy, engine, args) for engine in ENGINES}
    assert [r.start for r in results["mujoco"]] == [r.start for r in results["physx"]]
    tilts = np.array([r.start_tilt_deg for r in results["mujoco"]])
    rows = {"all": compare(results, np.ones(len(tilts), bool))}
    for low, high in itertools.pairwise(TILT_BINS_DEG):
        inside = (tilts >= low) & ((tilts < high) | (high == TILT_BINS_DEG[-1]))
        if inside.sum() >= 2:
            rows[f"{low:.0f}-{high:.0f} deg"] = compare(results, inside)
    randomisation = "on" if args.domain_randomization else "off"
    last = args.seed + args.episodes - 1
    print(f"policy {args.policy}; PhysX world {world.name!r}; seeds {args.seed}-{last}; "
          f"randomisation {randomisation}; mean ± s.e. over distinct starts")  # fmt: skip
    print(f"{'starts':<12} {'n':>4} {'MuJoCo RotR':>14} {'PhysX RotR':>14} {'PhysX - MuJoCo':>16}"
          f" {'TTF MuJoCo/PhysX':>17}")  # fmt: skip
    for name, r in rows.items():
        mujoco_rotr = f"{r['mujoco_rotr']:.1f} ± {r['mujoco_rotr_se']:.1f}"
        physx_rotr = f"{r['physx_rotr']:.1f} ± {r['physx_rotr_se']:.1f}"
        difference = f"{r['difference']:+.1f} ± {r['difference_se']:.1f}"
        ttf = f"{r['mujoco_ttf']:.2f}/{r['physx_ttf']:.2f}"
        print(
            f"{name:<12} {r['distinct_starts']:>4} {mujoco_rotr:>14} {physx_rotr:>14} "
            f"{difference:>16} {ttf:>17}"
        )
    if args.out is not None:
        record = {"config": {**vars(args), "out": str(args.out)}, "world": world.as_dict()}
        episodes = {
            "starts": [r.start for r in results["mujoco"]],
            **{f"{e}_rotr": [r.metrics.rotr for r in results[e]] for e in ENGINES},
        }  # per seed, in seed order: pairs across runs of other worlds on the same seeds
        text = json.dumps({**record, "rows": rows, "episodes": episodes}, indent=2)
        atomic_write_text(args.out, text)
        title = f"{args.policy} in MuJoCo and PhysX ({world.name} world)"
        print(f"json: {args.out}; plot: {plot(rows, args.out.with_suffix('.png'), title)}")


if __name__ == "__main__":
    run(main, Args)
