"""Speed of DexNDM-Rotate-v0, as ratios measured in one run.

Prints:
  1. control steps/s of the default env (single, in-process, random actions, resets included);
  2. raw MuJoCo stepping of the same models over the same simulated time (the env's own
     episodes replayed open loop from their start states with the same controls), and the
     env / raw ratio: how little Python adds (target >= 0.8);
  3. batched stepping on this machine's cores vs one: MuJoCo's threaded rollout (2 threads vs
     1) and Stable-Baselines3 vector envs (SubprocVecEnv with 2 workers vs one in-process env).

Usage:
    python examples/benchmarks/env_speed.py
    python examples/benchmarks/env_speed.py --steps 20000 --object-set cube
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import gymnasium as gym
import mujoco
import numpy as np
import tyro
from mujoco import rollout

import dexndm_envs  # noqa: F401


@dataclass
class Args:
    """Measure env throughput against raw MuJoCo and batched alternatives."""

    steps: int = 10_000
    """Control steps per measurement."""
    object_set: str = "all"
    seed: int = 0
    vec_steps: int = 4_000
    """Control steps per vector-env measurement (0 skips it)."""


def measure_env(args: Args) -> tuple[float, list]:
    """Steps/s of one env, and each episode's (model, start state, controls) for the replay."""
    env = gym.make("DexNDM-Rotate-v0", object_set=args.object_set)
    u = env.unwrapped
    rng = np.random.default_rng(args.seed)
    actions = rng.uniform(-1, 1, (args.steps, 16)).astype(np.float32)
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    episodes, controls = [], []

    def start_episode(seed: int) -> None:
        env.reset(seed=seed)
        state = np.empty(mujoco.mj_stateSize(u.model, spec))
        mujoco.mj_getState(u.model, u.data, state, spec)
        controls.clear()
        episodes.append((u.model, state, controls))

    start_episode(args.seed)
    begin = time.perf_counter()
    for step in range(args.steps):
        _, _, terminated, truncated, _ = env.step(actions[step])
        controls.append(u.data.ctrl.copy())
        if terminated or truncated:
            episodes[-1] = (*episodes[-1][:2], np.array(controls))
            start_episode(args.seed + step + 1)
    elapsed = time.perf_counter() - begin
    episodes[-1] = (*episodes[-1][:2], np.array(controls))
    return args.steps / elapsed, [e for e in episodes if len(e[2])]


def measure_raw(episodes: list, frame_skip: int) -> float:
    """Control steps/s of bare mj_step over the same episodes (states, controls, models)."""
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    datas = {id(model): mujoco.MjData(model) for model, _, _ in episodes}
    total, elapsed = 0, 0.0
    for model, state, controls in episodes:
        data = datas[id(model)]
        mujoco.mj_setState(model, data, state, spec)
        begin = time.perf_counter()
        for ctrl in controls:
            data.ctrl[:] = ctrl
            mujoco.mj_step(model, data, nstep=frame_skip)
        elapsed += time.perf_counter() - begin
        total += len(controls)
    return total / elapsed


def measure_rollout(episodes: list, frame_skip: int, threads: int) -> float:
    """Control steps/s of MuJoCo's threaded rollout of the longest episode, copied per thread."""
    model, state, controls = max(episodes, key=lambda e: len(e[2]))
    nbatch = 8
    ctrl = np.repeat(controls, frame_skip, axis=0)[None].repeat(nbatch, axis=0)
    datas = [mujoco.MjData(model) for _ in range(threads)]
    initial = np.tile(state, (nbatch, 1))
    rollout.rollout(model, datas, initial, ctrl[:, :10])  # warm-up
    begin = time.perf_counter()
    rollout.rollout(model, datas, initial, ctrl)
    return nbatch * len(controls) / (time.perf_counter() - begin)


def measure_vec(args: Args, workers: int) -> float:
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    vec_cls = DummyVecEnv if workers == 1 else SubprocVecEnv
    venv = make_vec_env(
        "DexNDM-Rotate-v0",
        n_envs=workers,
        seed=args.seed,
        vec_env_cls=vec_cls,
        env_kwargs={"object_set": args.object_set},
    )
    venv.reset()
    rng = np.random.default_rng(args.seed)
    steps = args.vec_steps // workers
    begin = time.perf_counter()
    for _ in range(steps):
        venv.step(rng.uniform(-1, 1, (workers, 16)).astype(np.float32))
    elapsed = time.perf_counter() - begin
    venv.close()
    return steps * workers / elapsed


def main(args: Args) -> None:
    env_sps, episodes = measure_env(args)
    frame_skip = gym.make("DexNDM-Rotate-v0").unwrapped.frame_skip
    raw_sps = measure_raw(episodes, frame_skip)
    print(
        f"single env        {env_sps:9.0f} control steps/s  ({len(episodes)} episodes, "
        f"object_set={args.object_set!r})"
    )
    print(f"raw MuJoCo        {raw_sps:9.0f} control steps/s  (same models, states and controls)")
    print(f"env / raw         {env_sps / raw_sps:9.2f}   (target >= 0.8)")
    one = measure_rollout(episodes, frame_skip, threads=1)
    two = measure_rollout(episodes, frame_skip, threads=2)
    print(f"rollout 1 thread  {one:9.0f} control steps/s")
    print(f"rollout 2 threads {two:9.0f} control steps/s  (x{two / one:.2f} vs 1 thread)")
    if args.vec_steps:
        single = measure_vec(args, 1)
        double = measure_vec(args, 2)
        print(f"SB3 DummyVecEnv 1 {single:9.0f} env steps/s")
        print(f"SB3 SubprocVec 2  {double:9.0f} env steps/s  (x{double / single:.2f} vs 1 env)")


if __name__ == "__main__":
    main(tyro.cli(Args))
