"""How often holding still keeps the object, per wrist orientation, from the cached grasps.

For each named wrist: reset DexNDM-Rotate-v0 (object_set "all") with fixed seeds, send zero
actions for --seconds, and count the resets where the object is still in hand. Prints the
nominal physics next to domain randomisation (mass, friction, scale, gains, latency, noise,
disturbance forces). The issue's bar: >= 95 % for 1 s, nominal, for every named wrist.

Usage:
    python examples/benchmarks/grasp_hold.py
    python examples/benchmarks/grasp_hold.py --resets 200 --seconds 2
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

import dexndm_envs  # noqa: F401
from dexndm_envs.core.cli import UsageError, check_at_least, checking_input, run
from dexndm_envs.core.task import WRISTS
from dexndm_envs.sim.objects.catalog import resolve_object_set


@dataclass
class Args:
    """Measure hold rates of the grasp cache."""

    resets: int = 100
    """Resets per wrist orientation and setting."""
    seconds: float = 1.0
    """How long to hold still."""
    object_set: str = "all"
    seed: int = 1000


def hold_rate(wrist: str, randomize: bool, args: Args) -> float:
    with warnings.catch_warnings():  # objects without grasps for a wrist are left out, said once
        warnings.simplefilter("ignore")
        env = gym.make(
            "DexNDM-Rotate-v0",
            object_set=args.object_set,
            wrist=wrist,
            domain_randomization=randomize,
        )
    steps = round(args.seconds / env.unwrapped.dt)
    held = 0
    for k in range(args.resets):
        env.reset(seed=args.seed + k)
        for _ in range(steps):
            _, _, terminated, _, _ = env.step(np.zeros(16, dtype=np.float32))
            if terminated:
                break
        held += not terminated
    env.close()
    return held / args.resets


def main(args: Args) -> None:
    check_at_least({"--resets": (args.resets, 1)})
    if not args.seconds > 0:
        raise UsageError(f"--seconds must be positive, got {args.seconds}")
    with checking_input("--object-set"):
        resolve_object_set(args.object_set)
    print(
        f"held {args.seconds:g} s with zero action, {args.resets} resets per cell, "
        f"object_set={args.object_set!r}"
    )
    print(f"{'wrist':<12} {'nominal':>8} {'randomised':>11}")
    for wrist in WRISTS:
        nominal, randomised = hold_rate(wrist, False, args), hold_rate(wrist, True, args)
        print(f"{wrist:<12} {nominal:>8.0%} {randomised:>11.0%}")


if __name__ == "__main__":
    run(main, Args)
