"""Where the virtual hand's reality gap comes from, factor by factor (dexndm_agents.dexndm.hands).

Runs the base policy with direct transfer on the ideal hand, on the virtual hand, and on the
virtual hand with one of its differences from the sim put back to the sim's value at a time
(torque limit, latency, backlash, friction, inertia, mounting offsets, per-motor spread), then
the ones a residual can reach together (the most it can regain), then all of them; the same
seeds everywhere. Prints what each factor costs in RotR, whether a
residual on the joint targets can reach it, writes the figures as JSON and a bar chart.

Usage:
    python examples/gap_breakdown.py --episodes 100                 # ~15 min on 2 cores
    python examples/gap_breakdown.py --hardware-profile worn --factors torque_limit latency
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import tyro

from dexndm_agents.dexndm.hands import FACTORS, breakdown, format_breakdown, plot_breakdown
from dexndm_agents.policies.pretrained import resolve_policy
from dexndm_envs.hand.config import load_hand_config
from dexndm_envs.virtual.profiles import load_profile


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


def main(args: Args) -> None:
    torch.set_num_threads(1)
    load_profile(args.hardware_profile)  # bad input fails here, before any episode runs
    load_hand_config(args.hand_config)
    unknown = [f for f in args.factors if f not in FACTORS]
    if unknown:
        raise SystemExit(f"error: unknown factors {unknown}; known: {', '.join(FACTORS)}")
    policy = resolve_policy(args.policy)
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
    (args.out_dir / "breakdown.json").write_text(json.dumps(result, indent=2))
    print(format_breakdown(result))
    title = f"virtual hand, profile {args.hardware_profile}: RotR regained per factor"
    print(f"plot: {plot_breakdown(result, args.out_dir / 'breakdown.png', title)}")
    print(f"took {(time.perf_counter() - started) / 60:.1f} min; {args.out_dir / 'breakdown.json'}")


if __name__ == "__main__":
    main(tyro.cli(Args))
