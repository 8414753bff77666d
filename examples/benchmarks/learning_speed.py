"""How fast SB3 learns on DexNDM-Rotate-v0: env steps per second of training, setups compared.

For PPO and SAC it times `model.learn` (rollouts and updates together) for:
  - sb3 defaults: `ALGO("MlpPolicy", env)` on one env, SB3's own hyperparameters;
  - ours: dexndm_agents.base_policy.training's hyperparameters with each vectorisation
    (threads, dummy, subproc) of the same number of envs.
Setups run in turn, repeated `--rounds` times, and each reports its best round, so that drift
of the machine's speed hits all of them alike; the ratios against SB3's defaults come from one
run. SAC's setups do not do the same work per step: with N envs and train_freq 1, one gradient
step serves N env steps, so its ratio is a throughput figure, not a like-for-like one.

Measured with OMP_NUM_THREADS=1 (one torch thread: on 2 cores a second one only contends with
the env threads). Usage:
    OMP_NUM_THREADS=1 python examples/benchmarks/learning_speed.py
    python examples/benchmarks/learning_speed.py --algos ppo --steps 8192 --rounds 1
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from dexndm_agents.base_policy.training import EnvOptions, TrainConfig, algo_kwargs
from dexndm_agents.base_policy.vec_env import make_vec_env
from dexndm_agents.policies.algorithms import algorithm_class
from dexndm_envs.core.cli import check_at_least, checking_input, run
from dexndm_envs.sim.objects.catalog import resolve_object_set


@dataclass
class Args:
    algos: list[str] = field(default_factory=lambda: ["ppo", "sac"])
    steps: int = 16_384
    """Env steps timed per setup and round (PPO: a multiple of the rollout size is fairest)."""
    rounds: int = 2
    warmup_steps: int = 2_048
    """Steps learnt before timing (the first rollout; SAC's learning_starts is 1,000)."""
    n_envs: int = 16
    """Envs of our PPO setups."""
    sac_n_envs: int = 4
    """Envs of our SAC setups."""
    vecs: list[Literal["threads", "dummy", "subproc"]] = field(
        default_factory=lambda: ["threads", "dummy", "subproc"]
    )
    object_set: str = "cylinder"


def build(algo: str, setup: str, args: Args):
    cls = algorithm_class(algo)
    env = EnvOptions(object_set=args.object_set)
    if setup == "sb3 defaults":
        venv = make_vec_env("DexNDM-Rotate-v0", 1, 0, env.as_kwargs(), vec="dummy")
        return cls("MlpPolicy", venv, seed=0, device="cpu")
    n_envs = args.n_envs if algo == "ppo" else args.sac_n_envs
    cfg = TrainConfig(algo=algo, n_envs=n_envs, total_timesteps=10**9, env=env)
    venv = make_vec_env("DexNDM-Rotate-v0", n_envs, 0, env.as_kwargs(), vec=setup)
    return cls("MlpPolicy", venv, seed=0, device="cpu", **algo_kwargs(cfg))


def time_learn(model, steps: int) -> float:
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def main(args: Args) -> None:
    check_at_least({
        "--steps": (args.steps, 1), "--rounds": (args.rounds, 1),
        "--warmup-steps": (args.warmup_steps, 0), "--n-envs": (args.n_envs, 1),
        "--sac-n-envs": (args.sac_n_envs, 1),
    })  # fmt: skip
    with checking_input("--algos"):
        for algo in args.algos:
            algorithm_class(algo)
    with checking_input("--object-set"):
        resolve_object_set(args.object_set)
    for algo in args.algos:
        setups = ["sb3 defaults", *args.vecs]
        models = {setup: build(algo, setup, args) for setup in setups}
        for model in models.values():  # warm up: first rollout, SAC's learning_starts
            model.learn(args.warmup_steps, reset_num_timesteps=False)
        best = dict.fromkeys(setups, 0.0)
        for _ in range(args.rounds):
            for setup, model in models.items():
                best[setup] = max(best[setup], time_learn(model, args.steps))
        base = best["sb3 defaults"]
        print(
            f"\n{algo.upper()}: env steps/s while learning ({args.steps} steps, best of "
            f"{args.rounds})",
            flush=True,
        )
        for setup in setups:
            n = 1 if setup == "sb3 defaults" else getattr(models[setup], "n_envs", 1)
            print(
                f"  {setup:<14} {n:>3} envs {best[setup]:>8.0f} steps/s   "
                f"x{best[setup] / base:.2f} vs sb3 defaults",
                flush=True,
            )
        for model in models.values():
            model.get_env().close()


if __name__ == "__main__":
    run(main, Args)
