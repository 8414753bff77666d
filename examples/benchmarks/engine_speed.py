"""Control steps per second of DexNDM-Rotate-v0 and DexNDM-ChaosBox-v0 on MuJoCo and PhysX.

Steps each env with the same actions on both engines, alternating rounds so that machine load
hits both alike, and prints the median control steps/s of each and PhysX / MuJoCo. PhysX pays
for its own step, for MuJoCo's forward pass on the state it starts from (what the task reads:
body poses, contacts, actuator forces) and for copying state between the two.

Usage:
    OMP_NUM_THREADS=1 python examples/benchmarks/engine_speed.py
    python examples/benchmarks/engine_speed.py --world-profile coarse --steps 200
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_envs.chaos.virtual_env import VirtualChaosBoxEnv
from dexndm_envs.core.cli import check_at_least, checking_input, run
from dexndm_envs.engines.world import load_world


@dataclass
class Args:
    """Time both engines on the task and on the chaos box."""

    steps: int = 300
    """Control steps per round (the task env resets at a drop)."""
    rounds: int = 3
    """Alternating MuJoCo/PhysX rounds; the median round counts."""
    world_profile: str = "default"
    """How PhysX runs: a preset (default, coarse, fine) or a YAML/JSON file."""


def steps_per_s(env: gym.Env, actions: np.ndarray) -> float:
    env.reset(seed=0)
    begin = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return len(actions) / (time.perf_counter() - begin)


def make(scene: str, engine: str, world: str) -> gym.Env:
    if scene == "task":
        return gym.make("DexNDM-Rotate-v0", engine=engine, world_profile=world)
    return VirtualChaosBoxEnv("palm_down", engine=engine, world_profile=world)


def main(args: Args) -> None:
    check_at_least({"--steps": (args.steps, 1), "--rounds": (args.rounds, 1)})
    with checking_input("--world-profile"):
        load_world(args.world_profile)
    actions = np.random.default_rng(0).uniform(-0.3, 0.3, (args.steps, 16))
    print(f"{'scene':<10} {'MuJoCo steps/s':>15} {'PhysX steps/s':>14} {'PhysX/MuJoCo':>13}")
    for scene in ("task", "chaos box"):
        envs = {engine: make(scene, engine, args.world_profile) for engine in ("mujoco", "physx")}
        rates: dict[str, list[float]] = {engine: [] for engine in envs}
        for _ in range(args.rounds):
            for engine, env in envs.items():
                rates[engine].append(steps_per_s(env, actions))
        mujoco_rate, physx_rate = (statistics.median(rates[e]) for e in ("mujoco", "physx"))
        ratio = physx_rate / mujoco_rate
        print(f"{scene:<10} {mujoco_rate:>15.0f} {physx_rate:>14.0f} {ratio:>13.2f}")
        for env in envs.values():
            env.close()


if __name__ == "__main__":
    run(main, Args)
