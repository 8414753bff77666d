"""Speed of DexNDM-Rotate-v0, as ratios measured in one run.

Prints:
  1. control steps/s of the default env (single, in-process, random actions, resets included,
     after untimed warm-up resets that compile every object's scene);
  2. raw MuJoCo stepping of the same models over the same simulated time (the env's own
     episodes replayed open loop from their start states with the same controls), and the
     env / raw ratio: how little Python adds (target >= 0.8);
  3. the Python share of a step timed alone (mj_step stubbed out), against env - raw;
  4. batched stepping on this machine's cores vs one: MuJoCo's threaded rollout (2 threads vs
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
    repeats: int = 3
    """Measure env and raw stepping this many times each; the best counts."""
    warmup_resets: int = 300
    """Untimed resets first, so each object's scene is compiled before timing (a one-off
    cost per object and env of about 20 ms); resets during the timed steps are counted."""


def run_env(env: gym.Env, actions: np.ndarray, seed: int) -> tuple[float, list]:
    """Seconds for len(actions) env steps, and each episode's (model, start state, controls)."""
    u = env.unwrapped
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    episodes: list = []

    def start_episode(episode_seed: int) -> None:
        env.reset(seed=episode_seed)
        state = np.empty(mujoco.mj_stateSize(u.model, spec))
        mujoco.mj_getState(u.model, u.data, state, spec)
        episodes.append((u.model, state, []))

    start_episode(seed)
    begin = time.perf_counter()
    for step, action in enumerate(actions):
        _, _, terminated, truncated, info = env.step(action)
        episodes[-1][2].append(info["joint_targets"])  # = the ctrl MuJoCo stepped with
        if terminated or truncated:
            start_episode(seed + step + 1)
    elapsed = time.perf_counter() - begin
    return elapsed, [(m, s, np.array(c)) for m, s, c in episodes if c]


def run_raw(episodes: list, frame_skip: int) -> float:
    """Seconds of bare mj_step over the same episodes (models, start states, controls)."""
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    datas = {id(model): mujoco.MjData(model) for model, _, _ in episodes}
    elapsed = 0.0
    for model, state, controls in episodes:
        data = datas[id(model)]
        mujoco.mj_setState(model, data, state, spec)
        begin = time.perf_counter()
        for ctrl in controls:
            data.ctrl[:] = ctrl
            mujoco.mj_step(model, data, nstep=frame_skip)
        elapsed += time.perf_counter() - begin
    return elapsed


def python_share_us(env: gym.Env, actions: np.ndarray, repeats: int) -> float:
    """Microseconds per env.step with mj_step replaced by a no-op: the Python share alone."""
    from unittest import mock

    env.reset(seed=0)
    best = np.inf
    with mock.patch.object(mujoco, "mj_step", lambda *args, **kwargs: None):
        for _ in range(repeats):
            begin = time.perf_counter()
            for action in actions:
                env.step(action)
            best = min(best, time.perf_counter() - begin)
    return best / len(actions) * 1e6


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
    env = gym.make("DexNDM-Rotate-v0", object_set=args.object_set)
    frame_skip = env.unwrapped.frame_skip
    for seed in range(args.warmup_resets):  # compile each object's scene once, untimed
        env.reset(seed=seed)
    actions = np.random.default_rng(args.seed).uniform(-1, 1, (args.steps, 16)).astype(np.float32)
    # best of `repeats`: the same episodes each time (same seeds, same actions), so the fastest
    # repeat is the least disturbed by whatever else the machine was doing
    env_s, raw_s = np.inf, np.inf
    for _ in range(args.repeats):
        elapsed, episodes = run_env(env, actions, args.seed)
        env_s = min(env_s, elapsed)
        raw_s = min(raw_s, run_raw(episodes, frame_skip))
    env_sps, raw_sps = args.steps / env_s, args.steps / raw_s
    print(
        f"single env        {env_sps:9.0f} control steps/s  ({len(episodes)} episodes, "
        f"object_set={args.object_set!r}, best of {args.repeats})"
    )
    print(f"raw MuJoCo        {raw_sps:9.0f} control steps/s  (same models, states and controls)")
    print(f"env / raw         {env_sps / raw_sps:9.2f}   (target >= 0.8)")
    share = python_share_us(env, actions[:2000], args.repeats)
    print(
        f"Python share      {share:9.1f} us/step alone (mj_step stubbed out) vs "
        f"{1e6 / env_sps - 1e6 / raw_sps:.1f} us/step measured as env - raw"
    )
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
