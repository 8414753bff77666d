"""Train DexNDM's residual adapter through a frozen dynamics model; write a bundle.

The adapter learns target corrections that make the model's predicted next joint positions of
the hand follow the base policy's sim rollouts (--sim; dexndm_agents.dexndm.adapters). Prints the
model-predicted tracking error before and after, writes the bundle that NDMResidualWrapper
deploys, and prints BUNDLE=<path> last.

Usage:
    python examples/train_residual.py --ndm runs/ndm/ndm.pt --sim runs/sim2real/sim_rollouts
    env = NDMResidualWrapper(gym.make("DexNDM-Real-v0", ...), bundle="runs/ndm/bundle.pt")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from dexndm_agents.dexndm.adapters import DEFAULT_KIND, EPOCHS, build_adapter, fit_adapter
from dexndm_agents.dexndm.bundle import Bundle, load_ndm
from dexndm_envs.core.cli import check_at_least, checking_input, run
from dexndm_envs.data.episodes import load_episodes


@dataclass
class Args:
    """Train a residual adapter through a dynamics model file."""

    ndm: Path
    """A model written by train_ndm.py."""
    sim: tuple[Path, ...]
    """Directories of the base policy's sim rollouts (the transitions to match)."""
    kind: Literal["lead", "mlp"] = DEFAULT_KIND
    """The adapter: "lead" (per joint, a learned lead on its own target changes) or "mlp" (the
    paper's network on all joints' readings and targets)."""
    history: int | None = None
    """H, the readings and targets the adapter sees (None: the kind's default, lead 2, mlp 3)."""
    bound_rad: float = 0.05
    """The largest correction per joint."""
    epochs: int = EPOCHS
    reg: float | None = None
    """Weight of the mean squared correction (None: the kind's, adapters.REG)."""
    seed: int = 0
    out: Path = Path("runs/ndm/bundle.pt")
    threads: int = 1


def main(args: Args) -> None:
    check_at_least(
        {"--reg": (args.reg, 0), "--epochs": (args.epochs, 1), "--threads": (args.threads, 1)}
    )
    history = {} if args.history is None else {"history": args.history}
    with checking_input():  # --kind, --history and --bound-rad make a valid adapter
        build_adapter({"kind": args.kind, "bound_rad": args.bound_rad, **history})
    with checking_input("--ndm"):
        ndm, ndm_config = load_ndm(args.ndm)
    with checking_input("--sim"):
        episodes = [ep for directory in args.sim for ep in load_episodes(directory)]
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    adapter, figures = fit_adapter(
        ndm,
        episodes,
        kind=args.kind,
        history=args.history,
        bound_rad=args.bound_rad,
        epochs=args.epochs,
        reg=args.reg,
        seed=args.seed,
        tb_dir=args.out.parent / "tb" / args.out.stem,
    )
    tracking = figures["predicted_tracking_error_rad"]
    print(
        "predicted tracking error on eval rollouts: "
        f"{tracking['before'] * 1e3:.3f} -> {tracking['after'] * 1e3:.3f} mrad"
    )
    config = {
        "ndm": {"file": str(args.ndm), **ndm_config},
        "sim": [str(d) for d in args.sim],
        "residual": adapter.config(),
        "bound_rad": args.bound_rad,
        "epochs": args.epochs,
        "figures": figures,
    }
    print(f"BUNDLE={Bundle(ndm, adapter, config).save(args.out)}")


if __name__ == "__main__":
    run(main, Args)
