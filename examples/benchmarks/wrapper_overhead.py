"""What NDMResidualWrapper adds to a control step.

Steps DexNDM-Rotate-v0 (the ideal hand, the cheapest step, so the wrapper's share is largest;
and the virtual hand, what it wraps in the DexNDM loop) with the same actions, bare and
wrapped, alternating rounds so that machine load hits both alike, and prints the median ms
per step of each, the difference (target: at most 1 ms) and the ratio.

Usage:
    OMP_NUM_THREADS=1 python examples/benchmarks/wrapper_overhead.py
    python examples/benchmarks/wrapper_overhead.py --bundle runs/sim2real/bundles/dexndm.pt
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_agents import NDMResidualWrapper
from dexndm_agents.dexndm.bundle import Bundle
from dexndm_envs.core.cli import check_at_least, checking_input, run
from dexndm_envs.sim.objects.catalog import resolve_object_set


@dataclass
class Args:
    """Time env steps with and without the wrapper."""

    bundle: str = "default"
    """A shipped bundle's name or a bundle file."""
    steps: int = 300
    """Steps per round (the env resets at a drop)."""
    rounds: int = 5
    """Alternating bare/wrapped rounds; the median round counts."""
    object_set: str = "cylinder"


def ms_per_step(env: gym.Env, actions: np.ndarray) -> float:
    env.reset(seed=0)
    begin = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return (time.perf_counter() - begin) / len(actions) * 1e3


def main(args: Args) -> None:
    check_at_least({"--steps": (args.steps, 1), "--rounds": (args.rounds, 1)})
    with checking_input("--object-set"):
        resolve_object_set(args.object_set)
    with checking_input("--bundle"):
        bundle = Bundle.load(args.bundle)
    actions = np.random.default_rng(0).uniform(-0.3, 0.3, (args.steps, 16))
    print(f"{'hardware':<9} {'bare ms':>8} {'wrapped ms':>11} {'added ms':>9} {'ratio':>6}")
    for hardware in ("ideal", "virtual"):
        kwargs = {"hardware": hardware, "object_set": args.object_set}
        bare = gym.make("DexNDM-Rotate-v0", **kwargs)
        wrapped = NDMResidualWrapper(gym.make("DexNDM-Rotate-v0", **kwargs), bundle)
        times: dict[str, list[float]] = {"bare": [], "wrapped": []}
        for _ in range(args.rounds):
            times["bare"].append(ms_per_step(bare, actions))
            times["wrapped"].append(ms_per_step(wrapped, actions))
        plain, with_residual = (statistics.median(times[k]) for k in ("bare", "wrapped"))
        print(
            f"{hardware:<9} {plain:>8.3f} {with_residual:>11.3f} "
            f"{with_residual - plain:>9.3f} {with_residual / plain:>6.2f}",
            flush=True,
        )
        bare.close()
        wrapped.close()


if __name__ == "__main__":
    run(main, Args)
