"""Evaluate a policy over object sets x wrists x axes: the paper's metrics, as a table.

Per cell of the grid it runs `--episodes` episodes with the fixed seeds seed, seed + 1, ...
(the same table on every run) and reports how many distinct starts (cached grasps) they came
from, RotR and TTF (mean ± standard error over those distinct starts), RotP, radians turned
about the axis and the drop rate. The table is printed and saved as CSV and JSON under
`--out-dir`; with `--video` the first episode of each cell is saved as an mp4 there too.

Every episode is kept as well (episodes.csv / episodes.json: seed, object, metrics, and the
start tilt, the angle between the rotation axis and the object's own z axis, which is a
cylinder's symmetry axis). A second table and a plot (episodes.png) show RotR by start tilt:
where a policy that does well on average still fails.

The policy is a file saved by dexndm_agents.save_sb3_policy (.zip), a distilled generalist
(.pt) or a gait (.json); "pretrained" (the shipped base policy) or another shipped policy's
name (dexndm_agents.policies.pretrained.PRETRAINED, e.g. rotate_palm_up_z); or a baseline: "zero"
(hold the grasp) or "random" (uniform random actions, seeded).

Usage:
    MUJOCO_GL=egl python examples/evaluate.py --policy pretrained
    MUJOCO_GL=egl python examples/evaluate.py --policy runs/ppo/policy.zip \\
        --object-sets cylinder cuboid --wrists palm_up palm_down --axes +z -z --video
    MUJOCO_GL=egl python examples/evaluate.py --policy zero --hardware virtual --episodes 3
    python examples/evaluate.py --policy pretrained --engine physx --episodes 400 --seed 5000
    python examples/evaluate.py --policy pretrained --engine physx --world-profile my_world.yaml
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering unless the user chose otherwise

from dexndm_agents.evaluation.harness import EpisodeRow, evaluate_grid
from dexndm_agents.evaluation.reports import (
    format_table,
    format_tilt_summary,
    plot_episodes,
    save_episodes,
    save_table,
)
from dexndm_agents.policies.baselines import RandomPolicy, ZeroPolicy
from dexndm_agents.policies.files import Policy
from dexndm_agents.policies.pretrained import resolve_policy
from dexndm_envs.core.cli import AxisName, UsageError, check_at_least, checking_input, run
from dexndm_envs.core.task import resolve_wrist
from dexndm_envs.engines.world import load_world
from dexndm_envs.sim.objects.catalog import resolve_object_set
from dexndm_envs.virtual.profiles import load_profile

BASELINES = ("zero", "random")


@dataclass
class Args:
    """Evaluate a policy on DexNDM-Rotate-v0 over a grid of object sets, wrists and axes."""

    policy: str
    """A policy file (.zip from save_sb3_policy, a generalist .pt or a gait .json), "pretrained"
    (the shipped base policy), a shipped policy's name, or a baseline: zero, random."""
    object_sets: list[str] = field(default_factory=lambda: ["cylinder"])
    """Categories, "all" or object names: one grid row each."""
    wrists: list[str] = field(default_factory=lambda: ["palm_up"])
    """Named wrist orientations (palm_up, palm_down, base_up, ...) or "random"."""
    axes: list[AxisName] = field(default_factory=lambda: ["+z"])
    """Rotation axes (world frame; random: one of the six per episode)."""
    episodes: int = 10
    """Episodes per cell."""
    seed: int = 0
    """Seed of each cell's first episode (the next ones take seed + 1, ...)."""
    hardware: Literal["ideal", "virtual"] = "ideal"
    """The simulated hand: ideal actuators, or the virtual LEAP hand (servos, gears)."""
    hardware_profile: str = "default"
    """The virtual hand's profile: a preset name or a YAML/JSON file."""
    engine: Literal["mujoco", "physx"] = "mujoco"
    """The physics: MuJoCo (the training world) or PhysX (a world nobody here wrote)."""
    world_profile: str = "default"
    """How PhysX runs the scene: a preset (default, coarse, fine) or a YAML/JSON file of
    WorldProfile fields (dexndm_envs.engines.world)."""
    domain_randomization: bool = False
    """Randomise physics as in training (overrides the setting the policy was trained with)."""
    out_dir: Path = Path("outputs/evaluation")
    """Where the table (evaluation.csv, evaluation.json) and the videos go."""
    video: bool = False
    """Record the first episode of each cell."""
    stochastic: bool = False
    """Sample actions instead of taking the policy's mean action."""
    max_steps: int | None = None
    """Steps per episode at most (the 400-step time limit otherwise); for smoke tests."""


def make_policy(name: str, seed: int) -> Policy:
    """The policy --policy names: a baseline, the pretrained checkpoint, or a file."""
    if name == "zero":
        return ZeroPolicy()
    if name == "random":
        return RandomPolicy(seed)
    try:
        return resolve_policy(name)
    except FileNotFoundError as error:
        raise UsageError(f"{error}; or a baseline: {', '.join(BASELINES)}") from None


def check_args(args: Args) -> None:
    """Every name and count of the grid, before any env is made."""
    grid = {"--object-sets": args.object_sets, "--wrists": args.wrists, "--axes": args.axes}
    for option, names in grid.items():
        if not names:
            raise UsageError(f"{option}: give at least one")
    check_at_least({"--episodes": (args.episodes, 1), "--max-steps": (args.max_steps, 1)})
    with checking_input("--object-sets"):
        for object_set in args.object_sets:
            resolve_object_set(object_set)
    with checking_input("--wrists"):
        for wrist in args.wrists:
            resolve_wrist(wrist)
    if args.hardware == "virtual":
        with checking_input("--hardware-profile"):
            load_profile(args.hardware_profile)
    with checking_input("--world-profile"):
        load_world(args.world_profile)


def main(args: Args) -> None:
    check_args(args)
    with checking_input():
        policy = make_policy(args.policy, args.seed)
    env_kwargs = {
        "hardware": args.hardware,
        "hardware_profile": args.hardware_profile,
        "engine": args.engine,
        "world_profile": args.world_profile,
        "domain_randomization": args.domain_randomization,
    }
    episodes: list[EpisodeRow] = []
    rows = evaluate_grid(
        policy,
        args.object_sets,
        args.wrists,
        args.axes,
        episodes=args.episodes,
        seed=args.seed,
        env_kwargs=env_kwargs,
        deterministic=not args.stochastic,
        video_dir=args.out_dir if args.video else None,
        max_steps=args.max_steps,
        episode_rows=episodes,
    )
    last_seed = args.seed + args.episodes - 1
    engine = args.engine if args.engine == "mujoco" else f"{args.engine} ({args.world_profile})"
    print(
        f"policy: {args.policy}  hardware: {args.hardware}  engine: {engine}  "
        f"seeds: {args.seed}-{last_seed}"
    )
    print(format_table(rows))
    csv_path, json_path = save_table(rows, args.out_dir)
    print()
    print(format_tilt_summary(episodes))
    print(f"csv: {csv_path}")
    print(f"json: {json_path}")
    episodes_csv, _ = save_episodes(episodes, args.out_dir)
    plot = plot_episodes(episodes, args.out_dir / "episodes.png", title=args.policy)
    print(f"episodes: {episodes_csv} (plot: {plot})")
    if args.video:
        print(f"videos: {args.out_dir}/*.mp4")


if __name__ == "__main__":
    run(main, Args)
