"""Fit a neural dynamics model of the hand: DexNDM's joint-wise NDM or the whole-hand baseline.

Optionally pretrains on sim rollouts (--sim), then fits or fine-tunes on the hand's episodes
(--data: chaos-box collections, real or virtual), each split 9:1 by episode; keeps the best
eval checkpoint (dexndm_agents.dexndm.fitting.fit). Prints the eval error against "the joint
stays where it is", writes the model (dexndm_agents.dexndm.bundle.save_ndm) and its TensorBoard
logs, and prints MODEL=<path> last.

Usage:
    python examples/train_ndm.py --data data/chaos_box/palm_up --sim runs/sim2real/sim_rollouts
    python examples/train_ndm.py --data DIR --kind whole_hand --out runs/ndm/whole_hand.pt
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from dexndm_agents.dexndm.bundle import save_ndm
from dexndm_agents.dexndm.data import split_windows
from dexndm_agents.dexndm.fitting import fit, hold_error, prediction_error
from dexndm_agents.dexndm.models import JointWiseNDM, WholeHandNDM
from dexndm_envs.core.cli import check_at_least, checking_input, run
from dexndm_envs.data.episodes import load_episodes


@dataclass
class Args:
    """Fit a dynamics model on episode files."""

    data: tuple[Path, ...]
    """Directories of the hand's episodes (e.g. chaos-box collections)."""
    sim: tuple[Path, ...] = ()
    """Directories of sim episodes to pretrain on first (e.g. a base policy's rollouts)."""
    kind: Literal["joint_wise", "whole_hand"] = "joint_wise"
    weights: Literal["per_joint", "shared"] = "per_joint"
    """Joint-wise only: one network per joint, or one shared with a joint embedding."""
    window: int = 10
    """W, the steps of history each prediction sees."""
    epochs: int = 20
    seed: int = 0
    out: Path = Path("runs/ndm/ndm.pt")
    threads: int = 1


def windows(directories: tuple[Path, ...], window: int, seed: int):
    episodes = [ep for directory in directories for ep in load_episodes(directory)]
    return split_windows(episodes, window, seed=seed)


def main(args: Args) -> None:
    check_at_least({
        "--window": (args.window, 1), "--epochs": (args.epochs, 1), "--threads": (args.threads, 1)
    })  # fmt: skip
    with checking_input("--data"):  # bad data fails before any fitting
        data = windows(args.data, args.window, args.seed)
    with checking_input("--sim"):
        sim = windows(args.sim, args.window, args.seed) if args.sim else None
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.kind == "joint_wise":
        model = JointWiseNDM(window=args.window, weights=args.weights)
    else:
        model = WholeHandNDM(window=args.window)
    tb_dir = args.out.parent / "tb"
    if sim is not None:
        fit(
            model,
            *sim,
            epochs=args.epochs,
            seed=args.seed,
            tb_dir=tb_dir / f"{args.out.stem}_sim",
        )
    result = fit(model, *data, epochs=args.epochs, seed=args.seed, tb_dir=tb_dir / args.out.stem)
    error, hold = prediction_error(model, data[1]), hold_error(data[1])
    print(
        f"eval next-step error {error * 1e3:.3f} mrad ('joint holds still': {hold * 1e3:.3f}); "
        f"best epoch {result.best_epoch + 1} of {len(result.eval_loss)}, {result.seconds:.0f} s"
    )
    config = {
        "kind": args.kind,
        "data": [str(d) for d in args.data],
        "sim": [str(d) for d in args.sim],
        "epochs": args.epochs,
        "seed": args.seed,
        "eval_error_rad": error,
        "hold_error_rad": hold,
    }
    print(f"MODEL={save_ndm(model, args.out, config)}")


if __name__ == "__main__":
    run(main, Args)
