"""How fast and how well the neural dynamics models fit, with their default settings.

Fits the joint-wise NDM with per-joint and with shared weights, and the whole-hand baseline,
on the same windows (9:1 split by episode) and prints for each: fit seconds (wall, and the
process's CPU time, which stays put when other programs share the cores), training samples
per second, eval error against "the joint stays where it is", and the latency of a single
(1, W, 16) prediction, what using a model online would cost (NDMResidualWrapper itself runs
only the residual adapter: examples/benchmarks/wrapper_overhead.py). The default data are
100k transitions of made-up per-joint dynamics (dexndm.data.synthetic_episodes: delayed, damped,
current-limited second-order joints); --data reads episode files instead (a chaos-box or
rollout directory).

Usage:
    OMP_NUM_THREADS=1 python examples/benchmarks/ndm_speed.py
    python examples/benchmarks/ndm_speed.py --data data/chaos_box/palm_down --threads 2
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from dexndm_agents.dexndm import fitting
from dexndm_agents.dexndm.data import make_windows, split_episodes, synthetic_episodes
from dexndm_agents.dexndm.fitting import fit, hold_error, prediction_error
from dexndm_agents.dexndm.models import NDM, JointWiseNDM, WholeHandNDM
from dexndm_envs.core.cli import check_at_least, checking_input, run
from dexndm_envs.data.episodes import load_episodes


@dataclass
class Args:
    """Fit each NDM kind with its defaults; report speed and accuracy."""

    data: Path | None = None
    """A directory of episode files; synthetic per-joint dynamics when not given."""
    transitions: int = 100_000
    """Synthetic transitions to generate (400-step episodes)."""
    noise_rad: float = 0.0
    """Std of Gaussian process noise added to every synthetic joint step, rad."""
    window: int = 10
    epochs: int = fitting.EPOCHS
    batch_size: int = fitting.BATCH_SIZE
    threads: int = 1
    """torch threads: 1 is fastest for these small networks on a 2-core machine."""
    seed: int = 0
    latency_repeats: int = 2_000
    progress: bool = False


MODELS = {
    "per_joint": lambda window: JointWiseNDM(window, weights="per_joint"),
    "shared": lambda window: JointWiseNDM(window, weights="shared"),
    "whole_hand": lambda window: WholeHandNDM(window),
}


def single_step_latency_ms(model: NDM, repeats: int) -> float:
    """Median ms of one (1, W, 16) prediction."""
    joint_pos = torch.zeros(1, model.window, 16)
    joint_targets = torch.zeros(1, model.window, 16)
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            begin = time.perf_counter()
            model(joint_pos, joint_targets)
            times.append(time.perf_counter() - begin)
    return statistics.median(times) * 1e3


def main(args: Args) -> None:
    check_at_least({
        "--transitions": (args.transitions, 1), "--noise-rad": (args.noise_rad, 0),
        "--window": (args.window, 1), "--epochs": (args.epochs, 1),
        "--batch-size": (args.batch_size, 1), "--threads": (args.threads, 1),
        "--latency-repeats": (args.latency_repeats, 1),
    })  # fmt: skip
    torch.set_num_threads(args.threads)
    if args.data is not None:
        with checking_input("--data"):
            episodes = load_episodes(args.data)
    else:
        steps = 400
        count = math.ceil(args.transitions / (steps - args.window))
        episodes = synthetic_episodes(count, steps, seed=args.seed, noise_rad=args.noise_rad)
    train_eps, eval_eps = split_episodes(episodes, eval_fraction=0.1, seed=args.seed)
    train, evaluation = make_windows(train_eps, args.window), make_windows(eval_eps, args.window)
    print(
        f"{len(train)} training / {len(evaluation)} eval windows (W = {args.window}), "
        f"{args.epochs} epochs of {args.batch_size}, {args.threads} torch thread(s)"
    )
    print(f"hold baseline (q_t+1 = q_t) eval error {hold_error(evaluation) * 1e3:.3f} mrad\n")
    print(
        f"{'model':<11} {'params':>7} {'fit s':>7} {'cpu s':>7} {'samples/s':>10} "
        f"{'eval mrad':>10} {'vs hold':>8} {'best ep':>8} {'1-step ms':>10}"
    )
    hold = hold_error(evaluation)
    for name, make_model in MODELS.items():
        torch.manual_seed(args.seed)
        model = make_model(args.window)
        cpu = time.process_time()
        result = fit(
            model,
            train,
            evaluation,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            progress=args.progress,
        )
        cpu = time.process_time() - cpu
        error = prediction_error(model, evaluation)
        params = sum(p.numel() for p in model.parameters())
        latency = single_step_latency_ms(model, args.latency_repeats)
        print(
            f"{name:<11} {params:>7} {result.seconds:>7.1f} {cpu:>7.1f} "
            f"{result.samples_per_s:>10.0f} {error * 1e3:>10.4f} {hold / error:>7.0f}x "
            f"{result.best_epoch:>8} {latency:>10.3f}",
            flush=True,
        )


if __name__ == "__main__":
    run(main, Args)
