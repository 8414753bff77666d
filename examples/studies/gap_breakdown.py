"""Where the virtual hand's reality gap comes from, factor by factor: a study.

Runs the base policy with direct transfer on the ideal hand, on the virtual hand, and on the
virtual hand with one of its differences from the sim put back to the sim's value at a time
(torque limit, latency, backlash, friction, inertia, mounting offsets, per-motor spread), then
the ones a residual can reach together (the most it can regain), then all of them; the same
seeds everywhere. Prints what each factor costs in RotR, whether a
residual on the joint targets can reach it, writes the figures as JSON and a bar chart.
The hands come from dexndm_agents.dexndm.hands; docs/studies/gap_breakdown.md says what the
study is for and what it found.

Usage:
    python examples/studies/gap_breakdown.py --episodes 100                 # ~15 min on 2 cores
    python examples/studies/gap_breakdown.py --hardware-profile worn --factors torque_limit latency
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from tqdm.auto import tqdm

from dexndm_agents.dexndm.hands import FACTORS, REACHABLE, SimNominal, hands
from dexndm_agents.evaluation.harness import make_eval_env, run_episode, summarize
from dexndm_agents.evaluation.summary import ConditionSummary
from dexndm_agents.policies.files import Policy
from dexndm_agents.policies.pretrained import resolve_policy
from dexndm_envs.core.atomic import atomic_write_text
from dexndm_envs.core.cli import UsageError, check_at_least, checking_input, run
from dexndm_envs.hand.config import HandConfig, load_hand_config
from dexndm_envs.virtual.profiles import HardwareProfile, load_profile


@dataclass
class Args:
    """Break the virtual hand's reality gap down into its factors."""

    policy: str = "pretrained"
    """The base policy: "pretrained" (the shipped one), a shipped policy's name
    (dexndm_agents.policies.pretrained.PRETRAINED) or a policy file (load_policy)."""
    hardware_profile: str = "default"
    """The virtual hand's profile: a preset name (default, gentle, worn) or a parameter file."""
    hardware_seed: int = 0
    """Which virtual hand of that profile (its per-motor spread)."""
    hand_config: Path | None = None
    """The virtual hand's servo settings (a hand config file); the LEAP defaults when unset."""
    factors: tuple[str, ...] = tuple(FACTORS)
    """Which factors to put back one at a time ("reachable" and "all" always run)."""
    episodes: int = 100
    """Episodes per hand (seeds seed .. seed + episodes - 1)."""
    seed: int = 1000
    out_dir: Path = Path("runs/gap")
    """Where breakdown.json and breakdown.png go."""
    max_steps: int | None = None
    """Cut episodes short (smoke runs); the env's 400 steps when unset."""


def _summary(
    policy: Policy,
    env: gym.Env,
    seeds: range,
    max_steps: int | None,
    progress: bool,
    label: str,
) -> ConditionSummary:
    try:
        results = [
            run_episode(env, policy, seed, max_steps=max_steps)
            for seed in tqdm(seeds, label, disable=not progress)
        ]
    finally:
        env.close()
    return summarize(results, seeds.start)


def breakdown(
    policy: Policy,
    profile: str | Path | HardwareProfile = "default",
    hand_config: HandConfig | str | Path | None = None,
    *,
    hardware_seed: int = 0,
    episodes: int = 100,
    seed: int = 1000,
    factors: tuple[str, ...] | None = None,
    max_steps: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Direct-transfer RotR on the ideal hand, the virtual hand, and the virtual hand with each
    factor, the reachable ones, or all of them at the sim's value; the same seeds everywhere.

    Args:
        policy: the base policy (its own task options are used).
        profile, hand_config, hardware_seed: the virtual hand.
        episodes, seed: seeds seed .. seed + episodes - 1 for every hand.
        factors: which FACTORS to run one at a time (None: all); "reachable" (the REACHABLE
            ones together) and "all" always run.
        max_steps: cut episodes short (tests); None: the env's 400 steps.

    Returns:
        {"conditions": {name: {"RotR", "paired_gain", "paired_gain_se", "share_of_loss"}},
        "rotr": {name: per-episode RotR}, "sim": SimNominal fields, "first_seed", "episodes",
        "starts": each seed's start, "distinct_starts"}. paired_gain is the mean RotR over
        "virtual" on the same seeds (its standard error over distinct starts); share_of_loss is
        that gain over the loss from ideal to virtual.

    Raises:
        ValueError: an unknown factor name or fewer than 2 episodes.
    """
    names = tuple(FACTORS) if factors is None else tuple(factors)
    unknown = [n for n in names if n not in FACTORS]
    if unknown:
        raise ValueError(f"unknown factors {unknown}; known: {', '.join(FACTORS)}")
    if episodes < 2:
        raise ValueError(f"episodes must be at least 2 (for a standard error), got {episodes}")
    ideal_env = make_eval_env(policy)
    sim = SimNominal.of_env(ideal_env)
    seeds = range(seed, seed + episodes)
    summaries = {"ideal": _summary(policy, ideal_env, seeds, max_steps, progress, "ideal")}
    for name, (hw_profile, hand) in hands(profile, hand_config, sim).items():
        if name not in ("virtual", "reachable", "all", *names):
            continue
        env = make_eval_env(policy, hw_profile, hardware_seed=hardware_seed, hand_config=hand)
        summaries[name] = _summary(policy, env, seeds, max_steps, progress, name)
    base = summaries["virtual"]
    loss = summaries["ideal"].rotr - base.rotr
    conditions = {}
    for name, summary in summaries.items():
        gain, gain_se = summary.paired_difference(base)
        conditions[name] = {
            "RotR": summary.rotr,
            "paired_gain": gain,
            "paired_gain_se": gain_se,
            "share_of_loss": gain / loss if loss > 0 else float("nan"),
        }
    return {
        "conditions": conditions,
        "rotr": {name: summary.rotr_per_episode for name, summary in summaries.items()},
        "sim": dataclasses.asdict(sim),
        "first_seed": seed,
        "episodes": episodes,
        "starts": base.starts,
        "distinct_starts": base.distinct_starts,
    }


def format_breakdown(result: dict[str, Any]) -> str:
    """The breakdown as a plain-text table."""
    lines = [
        f"{'hand':<22}{'RotR':>8}{'gain over virtual':>22}{'share of the loss':>20}",
    ]
    for name, row in result["conditions"].items():
        label = name if name in ("ideal", "virtual", "reachable", "all") else f"sim {name}"
        reach = "  (residual can reach)" if name in REACHABLE else ""
        share = "-" if math.isnan(row["share_of_loss"]) else f"{row['share_of_loss']:.0%}"
        lines.append(
            f"{label:<22}{row['RotR']:>8.1f}"
            f"{row['paired_gain']:>+14.1f} ± {row['paired_gain_se']:<5.1f}"
            f"{share:>19}{reach}"
        )
    return "\n".join(lines)


def plot_breakdown(result: dict[str, Any], path: Path, title: str = "") -> Path:
    """A bar per factor: the RotR it costs (its paired gain when put back to the sim's value),
    coloured by whether a target residual can reach it; "reachable", "all" and the whole loss
    for scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["conditions"]
    names = [n for n in rows if n not in ("ideal", "virtual")]
    gains = [rows[n]["paired_gain"] for n in names]
    errors = [rows[n]["paired_gain_se"] for n in names]
    together = ("reachable", "all")
    colors = [
        "grey" if n in together else "tab:blue" if n in REACHABLE else "tab:red" for n in names
    ]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2))
    ax.barh(names, gains, xerr=errors, color=colors)
    ax.axvline(rows["ideal"]["paired_gain"], color="black", linestyle="--", label="ideal - virtual")
    ax.invert_yaxis()
    ax.set_xlabel("RotR regained with the factor at the sim's value (mean +- s.e.)")
    ax.set_title(title or "the reality gap, factor by factor (blue: a residual can reach it)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(args: Args) -> None:
    unknown = [f for f in args.factors if f not in FACTORS]
    if unknown:
        raise UsageError(f"--factors: unknown {', '.join(unknown)}; known: {', '.join(FACTORS)}")
    # two episodes at least, for a standard error
    check_at_least({"--episodes": (args.episodes, 2), "--max-steps": (args.max_steps, 1)})
    with checking_input("--hardware-profile"):  # bad input fails here, before any episode
        load_profile(args.hardware_profile)
    with checking_input("--hand-config"):
        load_hand_config(args.hand_config)
    with checking_input("--policy"):
        policy = resolve_policy(args.policy)
    torch.set_num_threads(1)
    started = time.perf_counter()
    result = breakdown(
        policy,
        args.hardware_profile,
        args.hand_config,
        hardware_seed=args.hardware_seed,
        episodes=args.episodes,
        seed=args.seed,
        factors=args.factors,
        max_steps=args.max_steps,
    )
    result["config"] = {
        "policy": args.policy,
        "hardware_profile": args.hardware_profile,
        "hardware_seed": args.hardware_seed,
        "hand_config": None if args.hand_config is None else str(args.hand_config),
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out_dir / "breakdown.json", json.dumps(result, indent=2))
    print(format_breakdown(result))
    title = f"virtual hand, profile {args.hardware_profile}: RotR regained per factor"
    print(f"plot: {plot_breakdown(result, args.out_dir / 'breakdown.png', title)}")
    print(f"took {(time.perf_counter() - started) / 60:.1f} min; {args.out_dir / 'breakdown.json'}")


if __name__ == "__main__":
    run(main, Args)
