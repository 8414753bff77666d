"""A push towards the new target on top of a DexNDM bundle, swept on the virtual hand.

On the default virtual hand a hand-set correction regains much of the RotR that direct
transfer loses, at some sizes more than at others, and the paper's objective does not find it
(docs/results/2026-11_dexndm_0.1.0.md, "What does not work, yet"; docs/studies/push_sweep.md):
every joint's target is pushed by

    c * tanh((a_t - q_t) / scale)

towards where the base policy wants it, a_t the policy's new target and q_t the joint's last
reading. It is what compensating the gears' dry friction does: the default hand has 0.03 N m
of it, the sim 0.01, about 7 mrad of target at the servo's 3 N m/rad. This program measures it
for any bundle, hand and set of pushes: RotR per push on the same seeds, each paired with push
0 (the bundle alone), and writes the figures as JSON. It is a measurement, not a method: the
push is set by hand, not learned through the dynamics model.

Usage:
    python examples/studies/push_sweep.py --pushes 0 0.007 0.014 --episodes 200  # ~8 min, 2 cores
    python examples/studies/push_sweep.py --hardware-profile gentle --pushes 0 0.007
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_agents import NDMResidualWrapper
from dexndm_agents.dexndm.adapters import NumpyAdapter
from dexndm_agents.dexndm.bundle import Bundle
from dexndm_agents.evaluation.harness import make_eval_env, run_episode, summarize
from dexndm_agents.evaluation.summary import ConditionSummary
from dexndm_agents.policies.files import Policy
from dexndm_agents.policies.pretrained import resolve_policy
from dexndm_envs.core.atomic import atomic_write_text
from dexndm_envs.core.cli import UsageError, check_at_least, checking_input, run
from dexndm_envs.virtual.profiles import load_profile


@dataclass
class Args:
    """Sweep a push towards the target on top of a bundle, on the virtual hand."""

    bundle: str = "default"
    """A shipped bundle's name or a bundle file (its adapter runs under every push)."""
    policy: str = "pretrained"
    """The base policy: "pretrained", a shipped policy's name or a policy file."""
    hardware_profile: str = "default"
    """The virtual hand's profile: a preset name (default, gentle, worn) or a parameter file."""
    hardware_seed: int = 0
    pushes: tuple[float, ...] = (0.0, 0.007, 0.014)
    """Pushes c (rad), each at most the adapter's bound; 0 (the bundle alone) is always run."""
    scale_rad: float = 0.003
    """Distance to the new target over which the push grows to its full size."""
    episodes: int = 100
    seed: int = 1000
    """Seeds seed .. seed + episodes - 1, the same for every push."""
    max_steps: int | None = None
    """Cut episodes short (smoke runs); the env's 400 steps when unset."""
    out: Path | None = None
    """Also write the figures here as JSON."""


class PushedAdapter:
    """A wrapper's numpy adapter with the push added, within the adapter's bound."""

    def __init__(self, adapter: NumpyAdapter, push_rad: float, scale_rad: float) -> None:
        self.adapter, self.push_rad, self.scale_rad = adapter, push_rad, scale_rad
        self.history, self.bound_rad = adapter.history, adapter.bound_rad

    def __call__(self, joint_pos: np.ndarray, base_targets: np.ndarray) -> np.ndarray:
        ahead = (base_targets[-1] - joint_pos[-1]) / self.scale_rad
        correction = self.adapter(joint_pos, base_targets) + self.push_rad * np.tanh(ahead)
        return np.clip(correction, -self.bound_rad, self.bound_rad)


def evaluate_push(policy: Policy, bundle: Bundle, push: float, args: Args) -> ConditionSummary:
    env = NDMResidualWrapper(
        make_eval_env(policy, args.hardware_profile, hardware_seed=args.hardware_seed), bundle
    )
    env.adapter = PushedAdapter(env.adapter, push, args.scale_rad)
    seeds = range(args.seed, args.seed + args.episodes)
    try:
        results = [
            run_episode(env, policy, seed, max_steps=args.max_steps)
            for seed in tqdm(seeds, f"push {push * 1e3:g} mrad")
        ]
    finally:
        env.close()
    return summarize(results, args.seed)


def main(args: Args) -> None:
    # two episodes at least, for a standard error
    check_at_least({"--episodes": (args.episodes, 2), "--max-steps": (args.max_steps, 1)})
    if not args.scale_rad > 0:
        raise UsageError(f"--scale-rad must be positive, got {args.scale_rad}")
    with checking_input("--hardware-profile"):  # bad input fails here, before any episode
        load_profile(args.hardware_profile)
    with checking_input("--bundle"):
        bundle = Bundle.load(args.bundle)
    bad = [p for p in args.pushes if not abs(p) <= bundle.residual.bound_rad]
    if bad:
        raise UsageError(
            f"--pushes must be within the adapter's bound ({bundle.residual.bound_rad} rad); "
            f"got {', '.join(f'{p:g}' for p in bad)}"
        )
    with checking_input("--policy"):
        policy = resolve_policy(args.policy)
    torch.set_num_threads(1)
    pushes = sorted({0.0, *args.pushes})
    started = time.perf_counter()
    summaries = {push: evaluate_push(policy, bundle, push, args) for push in pushes}
    base = summaries[0.0]
    rows = []
    print(f"{'push (mrad)':>12} {'RotR':>8} {'paired gain over push 0':>26}")
    for push, summary in summaries.items():
        gain, error = summary.paired_difference(base)
        rows.append(
            {
                "push_rad": push,
                "RotR": summary.rotr,
                "paired_gain": gain,
                "paired_gain_se": error,
                "RotR_per_episode": summary.rotr_per_episode,
                "distinct_starts": summary.distinct_starts,
            }
        )
        print(f"{push * 1e3:>12g} {summary.rotr:>8.1f} {gain:>+17.1f} ± {error:.1f}")
    print(f"took {(time.perf_counter() - started) / 60:.1f} min")
    if args.out is not None:
        result = {
            "config": {**vars(args), "out": str(args.out), "pushes": pushes},
            "rows": rows,
        }
        atomic_write_text(args.out, json.dumps(result, indent=2))


if __name__ == "__main__":
    run(main, Args)
