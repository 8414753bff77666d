"""Speed of DexNDM-Rotate-v0, as ratios measured in one run.

Prints:
  1. control steps/s of the default env (single, in-process, random actions, resets included,
     after untimed warm-up resets that compile every object's scene);
  2. raw MuJoCo stepping of the same models over the same simulated time (the env's own
     trajectory replayed open loop, segment by segment, from the same states with the same
     controls, alternating with the env so both see the same machine), and the env / raw
     ratio: how little Python adds (target >= 0.8);
  3. the same ratio for a bare step (targets, ctrl, mj_step: no reward, history or info), and
     the Python share of a step timed alone (mj_step stubbed out), against env - raw;
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
from mujoco import rollout

import dexndm_envs  # noqa: F401
from dexndm_envs.core import interface
from dexndm_envs.core.cli import check_at_least, checking_input, run


@dataclass
class Args:
    """Measure env throughput against raw MuJoCo and batched alternatives."""

    steps: int = 10_000
    """Control steps per measurement."""
    object_set: str = "all"
    seed: int = 0
    vec_steps: int = 4_000
    """Control steps per vector-env measurement (0 skips it)."""
    action_scale: float = 1.0
    """Random actions are uniform in [-action_scale, action_scale]."""
    segment: int = 200
    """Env and raw stepping alternate every this many steps (machine speed drifts here)."""
    repeats: int = 3
    """Repeats of the stubbed-MuJoCo timing (the best counts)."""
    warmup_resets: int = 300
    """Untimed resets first, so each object's scene is compiled before timing (a one-off
    cost per object and env of about 20 ms); resets during the timed steps are counted."""


STATE = mujoco.mjtState.mjSTATE_INTEGRATION
"""Everything mj_step reads, the solver's warm start included: a replay from it repeats the
env's steps bit for bit (the physics state alone leaves the warm start behind, and the replay
then drifts onto another trajectory, with other contacts and another cost)."""


def get_state(
    model: mujoco.MjModel, data: mujoco.MjData, spec: mujoco.mjtState = STATE
) -> np.ndarray:
    """data's state as one array (the parts `spec` names)."""
    state = np.empty(mujoco.mj_stateSize(model, spec))
    mujoco.mj_getState(model, data, state, spec)
    return state


def replay_raw(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    state: np.ndarray,
    controls: list[np.ndarray],
    frame_skip: int,
) -> float:
    """Seconds of bare mj_step over one segment: the same model, start state and controls."""
    mujoco.mj_setState(model, data, state, STATE)
    begin = time.perf_counter()
    for ctrl in controls:
        data.ctrl[:] = ctrl
        mujoco.mj_step(model, data, nstep=frame_skip)
    return time.perf_counter() - begin


def measure_env_and_raw(
    env: gym.Env, actions: np.ndarray, seed: int, segment: int
) -> tuple[float, float, int, int, int]:
    """Seconds of env stepping and of raw stepping of the same trajectory, the episodes, and
    how many of how many segments the replay repeated exactly.

    The two alternate every `segment` steps (and at every episode end): each env segment is
    replayed with bare mj_step right after it, from its start state with the controls the env
    sent, so both see the same machine, whatever its speed drifts to over the run.
    """
    u = env.unwrapped
    raw_datas: dict[int, mujoco.MjData] = {}
    env_s = raw_s = 0.0
    episodes, step, exact, segments = 1, 0, 0, 0
    begin = time.perf_counter()
    env.reset(seed=seed)
    env_s += time.perf_counter() - begin
    while step < len(actions):
        model = u.model
        state = get_state(model, u.data)
        controls, done = [], False
        begin = time.perf_counter()
        for action in actions[step : step + segment]:
            _, _, terminated, truncated, info = env.step(action)
            controls.append(info["joint_targets"])  # = the ctrl MuJoCo stepped with
            if terminated or truncated:
                done = True
                break
        env_s += time.perf_counter() - begin
        # replayed before the reset: a reset rescales and re-places the scene in the model
        data = raw_datas.setdefault(id(model), mujoco.MjData(model))
        raw_s += replay_raw(model, data, state, controls, u.frame_skip)
        exact += np.array_equal(get_state(model, data), get_state(model, u.data))
        segments += 1
        step += len(controls)
        if done:
            begin = time.perf_counter()
            env.reset(seed=seed + step)
            env_s += time.perf_counter() - begin
            episodes += 1
    return env_s, raw_s, episodes, exact, segments


def bare_step_ratio(env: gym.Env, actions: np.ndarray, seed: int, segment: int) -> float:
    """env / raw for a bare step: target arithmetic, ctrl and mj_step only (no reward, history
    or info), measured the same way: how far from 1 the ratio is before the env's own work."""
    u = env.unwrapped
    raw_data = mujoco.MjData(u.model)
    env_s = raw_s = 0.0
    for start in range(0, len(actions), segment):
        env.reset(seed=seed)
        state = get_state(u.model, u.data)
        targets, controls = u.data.ctrl.copy(), []
        begin = time.perf_counter()
        for action in actions[start : start + segment]:
            action = interface.check_action(action)
            targets = interface.next_targets(targets, action, u.config.max_delta_rad)
            u.data.ctrl[:] = targets
            mujoco.mj_step(u.model, u.data, nstep=u.frame_skip)
            controls.append(targets)
        env_s += time.perf_counter() - begin
        raw_s += replay_raw(u.model, raw_data, state, controls, u.frame_skip)
    return raw_s / env_s


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


def record_episode(env: gym.Env, actions: np.ndarray, seed: int) -> tuple:
    """(model, start state, controls) of one episode of the env (until its end or actions')."""
    u = env.unwrapped
    env.reset(seed=seed)
    # MuJoCo's rollout starts from the physics state
    state = get_state(u.model, u.data, mujoco.mjtState.mjSTATE_FULLPHYSICS)
    controls = []
    for action in actions:
        _, _, terminated, truncated, info = env.step(action)
        controls.append(info["joint_targets"])
        if terminated or truncated:
            break
    return u.model, state, np.array(controls)


def measure_rollout(episode: tuple, frame_skip: int, threads: int) -> float:
    """Control steps/s of MuJoCo's threaded rollout of one episode, 8 copies over threads."""
    model, state, controls = episode
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
    check_at_least({
        "--steps": (args.steps, 1), "--vec-steps": (args.vec_steps, 0),
        "--segment": (args.segment, 1), "--repeats": (args.repeats, 1),
        "--warmup-resets": (args.warmup_resets, 0),
    })  # fmt: skip
    with checking_input("--object-set"):
        env = gym.make("DexNDM-Rotate-v0", object_set=args.object_set)
    frame_skip = env.unwrapped.frame_skip
    for seed in range(args.warmup_resets):  # compile each object's scene once, untimed
        env.reset(seed=seed)
    rng = np.random.default_rng(args.seed)
    actions = rng.uniform(-1, 1, (args.steps, 16)).astype(np.float32) * args.action_scale
    env_s, raw_s, episodes, exact, segments = measure_env_and_raw(
        env, actions, args.seed, args.segment
    )
    env_sps, raw_sps = args.steps / env_s, args.steps / raw_s
    print(
        f"single env        {env_sps:9.0f} control steps/s  ({episodes} episodes, "
        f"object_set={args.object_set!r})"
    )
    print(
        f"raw MuJoCo        {raw_sps:9.0f} control steps/s  (same models, states and controls; "
        f"replay exact in {exact}/{segments} segments)"
    )
    print(f"env / raw         {env_sps / raw_sps:9.2f}   (target >= 0.8)")
    bare = bare_step_ratio(env, actions[:2000] * 0.2, args.seed, args.segment)
    print(f"bare step / raw   {bare:9.2f}   (targets, ctrl and mj_step alone, for comparison)")
    share = python_share_us(env, actions[:2000], args.repeats)
    print(
        f"Python share      {share:9.1f} us/step alone (mj_step stubbed out) vs "
        f"{1e6 / env_sps - 1e6 / raw_sps:.1f} us/step measured as env - raw"
    )
    episode = record_episode(env, actions[:400] * 0.2, args.seed)  # gentle: a long episode
    one = measure_rollout(episode, frame_skip, threads=1)
    two = measure_rollout(episode, frame_skip, threads=2)
    print(f"rollout 1 thread  {one:9.0f} control steps/s")
    print(f"rollout 2 threads {two:9.0f} control steps/s  (x{two / one:.2f} vs 1 thread)")
    if args.vec_steps:
        single = measure_vec(args, 1)
        double = measure_vec(args, 2)
        print(f"SB3 DummyVecEnv 1 {single:9.0f} env steps/s")
        print(f"SB3 SubprocVec 2  {double:9.0f} env steps/s  (x{double / single:.2f} vs 1 env)")


if __name__ == "__main__":
    run(main, Args)
