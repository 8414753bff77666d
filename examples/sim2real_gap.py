"""The DexNDM loop on the virtual LEAP hand (or a hand in PhysX), and the paper's comparison.

Runs every stage (dexndm_agents.dexndm.loop): the base policy's sim rollouts, the chaos box on
the virtual hand replaying their actions, the joint-wise NDM and the whole-hand baseline
(sim-pretrained, fine-tuned on the chaos box), a residual adapter through each, then RotR, TTF
and RotP on the same seeds for: the ideal sim, the virtual hand with direct transfer, with the
whole-hand residual and with DexNDM, with each virtual-hand condition's replayed tracking
error; for reference, direct transfer on the "reachable" hand (every difference a target
residual can offset put back to the sim's value: about the most a residual can regain, and
each residual's share of it); and the model study (next-step error of both models as
the data grows, in and out of distribution). With --target physx the target is a hand in
PhysX instead (the paper's sim-to-sim test; by default the ideal hand, PhysX's joint drives
with the nominal gains): the policy and its sim rollouts stay in MuJoCo, the chaos box and
every condition but "ideal" run in PhysX, and there is no reachable hand. Prints the table,
writes results.json (or --out), comparison.png and model_study.png, and the two bundles under
--out-dir. A rerun reuses every finished stage (delete a stage's directory or file to redo it);
a run directory made for another target is refused.

Usage:
    python examples/sim2real_gap.py --preset quick                 # ~6 min on 2 cores
    python examples/sim2real_gap.py --hardware-profile worn --out-dir runs/sim2real_worn
    python examples/sim2real_gap.py --hand-config my_hand.yaml   # the servo settings of yours
    python examples/sim2real_gap.py --reference-latency-s 0 --out-dir runs/sim2real_no_latency
    python examples/sim2real_gap.py --preset quick --target physx --out-dir runs/physx_quick
    python examples/sim2real_gap.py --target physx --world-profile coarse --target-hardware virtual
    NDMResidualWrapper(env, bundle="runs/sim2real/bundles/dexndm.pt")   # deploy the result
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from dexndm_agents.dexndm.loop import PRESETS, LoopConfig, StaleRunError, run_loop
from dexndm_agents.dexndm.loop_report import format_table, plot_results, target_title
from dexndm_agents.dexndm.reference import REFERENCE_LATENCY_S, check_reference_latency
from dexndm_agents.policies.pretrained import resolve_policy
from dexndm_envs.chaos.collection import CollectionError
from dexndm_envs.core.atomic import atomic_write_text
from dexndm_envs.core.cli import UsageError, check_at_least, checking_input, run
from dexndm_envs.engines.world import load_world
from dexndm_envs.hand.config import load_hand_config
from dexndm_envs.virtual.profiles import load_profile


@dataclass
class Args:
    """Reproduce the paper's sim-to-real comparison with the virtual hand as the real one."""

    preset: Literal["quick", "full", "smoke"] = "full"
    """Data and evaluation sizes: quick (~6 min on 2 cores), full (the results pages' figures), or
    smoke (every stage in seconds; the figures mean nothing)."""
    policy: str = "pretrained"
    """The base policy: "pretrained" (the shipped one), a shipped policy's name
    (dexndm_agents.policies.pretrained.PRETRAINED) or a policy file (load_policy)."""
    hardware_profile: str = "default"
    """The virtual hand's profile: a preset name (default, gentle, worn) or a parameter file
    (unused by the ideal hand of --target physx)."""
    hardware_seed: int = 0
    """Which virtual hand of that profile (its per-motor spread)."""
    hand_config: Path | None = None
    """The virtual hand's servo settings: a hand config file as DexNDM-Real-v0 takes (a copy of
    real/leap_hand.yaml with, say, another Goal Current); the LEAP defaults when unset."""
    reference_latency_s: float = REFERENCE_LATENCY_S
    """The reference hand's action latency (s): the ideal sim hand that records the rollouts the
    adapters make the virtual hand follow, and runs the "ideal" row. The policy was trained
    with 0-20 ms drawn at random; whole 0.01 s physics steps up to 0.04 s, 0 for the ideal
    hand without latency (docs/dexndm.md says why 0.01)."""
    target: Literal["virtual", "physx"] = "virtual"
    """The hand the loop closes the gap to: "virtual" (the virtual hand in MuJoCo) or "physx"
    (a hand in PhysX, the paper's sim-to-sim test; dexndm_agents.dexndm.loop_target)."""
    world_profile: str | None = None
    """How PhysX runs the target (--target physx only): a preset (default, coarse, fine) or a world
    profile file; "default" when unset."""
    target_hardware: Literal["ideal", "virtual"] | None = None
    """The hand in PhysX (--target physx only): "ideal" (PhysX's joint drives with the hand
    config's nominal gains; the default) or "virtual" (the servo model of --hardware-profile,
    on PhysX)."""
    out_dir: Path = Path("runs/sim2real")
    """Run directory: every stage's data, the bundles, plots and results."""
    out: Path | None = None
    """Also write the results JSON here."""
    eval_episodes: int | None = None
    """Override the preset's evaluation episodes per condition."""
    adapter: Literal["lead", "mlp"] = "lead"
    """The residual adapter: "lead" (joint-wise, feed-forward) or "mlp" (the paper's network
    on all joints' readings and targets); dexndm_agents.dexndm.adapters."""
    seed: int = 0
    threads: int = 1
    """torch threads (1 is fastest on 2 cores: the simulators use the other)."""


def main(args: Args) -> None:
    check_at_least({"--eval-episodes": (args.eval_episodes, 1), "--threads": (args.threads, 1)})
    with checking_input("--reference-latency-s"):
        check_reference_latency(args.reference_latency_s)
    with checking_input("--hardware-profile"):  # bad input fails here, before any work
        load_profile(args.hardware_profile)
    with checking_input("--hand-config"):
        load_hand_config(args.hand_config)
    engine, world_profile, target_hardware = _target(args)
    with checking_input("--policy"):
        policy = resolve_policy(args.policy)
    torch.set_num_threads(args.threads)
    settings = dict(PRESETS[args.preset])
    if args.eval_episodes is not None:
        settings["eval_episodes"] = args.eval_episodes
    cfg = LoopConfig(
        out_dir=args.out_dir,
        hardware_profile=args.hardware_profile,
        hardware_seed=args.hardware_seed,
        hand_config=None if args.hand_config is None else str(args.hand_config),
        reference_latency_s=args.reference_latency_s,
        residual_kind=args.adapter,
        seed=args.seed,
        engine=engine,
        world_profile=world_profile,
        target_hardware=target_hardware,
        **settings,
    )
    started = time.perf_counter()
    try:
        results = run_loop(policy, cfg)
    except (StaleRunError, CollectionError) as err:  # --out-dir: a run with other settings
        raise UsageError(str(err)) from None
    results.seconds = time.perf_counter() - started
    results.config |= {"preset": args.preset, "policy": args.policy}
    text = json.dumps(results.to_json(), indent=2)
    atomic_write_text(cfg.out_dir / "results.json", text)
    if args.out is not None:
        atomic_write_text(args.out, text)
    print(f"target: {target_title(results.config)}")
    print(format_table(results))
    for condition, figures in results.bundles.items():
        tracking = figures["predicted_tracking_error_rad"]
        print(
            f"{condition}: model error {figures['chaos_eval_error_rad'] * 1e3:.2f} mrad on the "
            f"chaos box, {figures['task_error_rad'] * 1e3:.2f} on the task; predicted tracking "
            f"error {tracking['before'] * 1e3:.2f} -> {tracking['after'] * 1e3:.2f} mrad"
        )
    for path in plot_results(results, cfg.out_dir):
        print(f"plot: {path}")
    print(f"took {results.seconds / 60:.1f} min; results: {cfg.out_dir / 'results.json'}")


def _target(args: Args) -> tuple[str, str, str]:
    """LoopConfig's engine, world_profile and target_hardware for --target and its options."""
    if args.target == "virtual":
        if args.world_profile is not None:
            raise UsageError("--world-profile applies to --target physx only")
        if args.target_hardware == "ideal":
            raise UsageError(
                "--target-hardware ideal applies to --target physx only (the ideal hand in "
                "MuJoCo is the training world)"
            )
        return "mujoco", "default", "virtual"
    world_profile = args.world_profile or "default"
    with checking_input("--world-profile"):
        load_world(world_profile)
    return "physx", world_profile, args.target_hardware or "ideal"


if __name__ == "__main__":
    run(main, Args)
