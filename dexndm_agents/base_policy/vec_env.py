"""Vectorised envs for training: the setup that is fastest on the machine at hand.

MuJoCo releases the GIL while it steps, so N envs in one process can step their physics on
several cores from a few threads, while the Python part of each step (reward, observation) runs
one at a time. On a machine with few cores this beats SB3's SubprocVecEnv, whose workers pay
for pickling and a process switch every step (examples/benchmarks/learning_speed.py measures
both). `make_vec_env(..., vec="auto")` picks threads up to AUTO_THREADS_MAX_CORES cores and one
subprocess per core above.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

VEC_KINDS = ("auto", "threads", "dummy", "subproc")
AUTO_THREADS_MAX_CORES = 4
"""Up to this many cores "auto" picks threads in one process (measured on 2 cores with
examples/benchmarks/learning_speed.py)."""


class ThreadedVecEnv(DummyVecEnv):
    """DummyVecEnv whose envs step in a pool of threads, one contiguous slice of envs each.

    Same results as DummyVecEnv, env for env: each env is stepped by one thread, in order.
    Infos are not deep-copied (the envs return a new dict every step).

    Args:
        env_fns: functions that make the envs.
        num_threads: worker threads (default: the machine's cores, at most one per env).
    """

    def __init__(self, env_fns: list[Callable[[], gym.Env]], num_threads: int | None = None):
        super().__init__(env_fns)
        threads = num_threads or os.cpu_count() or 1
        self.num_threads = max(1, min(threads, self.num_envs))
        bounds = np.linspace(0, self.num_envs, self.num_threads + 1).round().astype(int)
        self._slices = [range(lo, hi) for lo, hi in itertools.pairwise(bounds.tolist())]
        self._pool = ThreadPoolExecutor(self.num_threads, thread_name_prefix="vec-env")

    def step_wait(self):
        # list() re-raises the first exception of any thread here, in the caller
        list(self._pool.map(self._step_slice, self._slices))
        return (
            self._obs_from_buf(),
            np.copy(self.buf_rews),
            np.copy(self.buf_dones),
            [dict(info) for info in self.buf_infos],
        )

    def _step_slice(self, indices: range) -> None:
        for i in indices:
            obs, reward, terminated, truncated, info = self.envs[i].step(self.actions[i])
            self.buf_rews[i] = reward
            self.buf_dones[i] = terminated or truncated
            info["TimeLimit.truncated"] = truncated and not terminated
            if self.buf_dones[i]:
                info["terminal_observation"] = obs
                obs, self.reset_infos[i] = self.envs[i].reset()
            self.buf_infos[i] = info
            self._save_obs(i, obs)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        super().close()


def resolve_vec_kind(vec: str, cores: int | None = None) -> str:
    """The concrete vectorisation "auto" stands for on a machine with `cores` cores."""
    if vec not in VEC_KINDS:
        raise ValueError(f"unknown vec {vec!r}; valid: {', '.join(VEC_KINDS)}")
    if vec != "auto":
        return vec
    cores = cores or os.cpu_count() or 1
    return "threads" if cores <= AUTO_THREADS_MAX_CORES else "subproc"


def make_vec_env(
    env_id: str,
    n_envs: int,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    vec: str = "auto",
    monitor_dir: str | None = None,
    wrapper_class: Callable[..., gym.Env] | None = None,
    wrapper_kwargs: dict[str, Any] | None = None,
) -> VecEnv:
    """n_envs copies of env_id (each in a Monitor, then in wrapper_class(env, **wrapper_kwargs)
    where given), vectorised as `vec` says (VEC_KINDS).

    Env i is seeded with seed + i, as SB3's make_vec_env does.
    """
    if n_envs < 1:
        raise ValueError(f"n_envs must be >= 1, got {n_envs}")
    kind = resolve_vec_kind(vec)
    if ":" not in env_id and env_id.startswith("DexNDM-"):
        env_id = f"dexndm_envs:{env_id}"  # subprocess workers import the package that registers it
    vec_cls: type[VecEnv] = {
        "threads": ThreadedVecEnv,
        "dummy": DummyVecEnv,
        "subproc": SubprocVecEnv,
    }[kind]
    return sb3_make_vec_env(
        env_id,
        n_envs=n_envs,
        seed=seed,
        env_kwargs=env_kwargs or {},
        vec_env_cls=vec_cls,
        monitor_dir=monitor_dir,
        wrapper_class=wrapper_class,
        wrapper_kwargs=wrapper_kwargs,
    )
