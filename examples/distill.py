"""Distil the specialists into one proprioceptive generalist (DexNDM's second stage).

Each specialist runs `--episodes` episodes in its own env (its training options, with its
category as the object set); the episodes that hold the object to the end (400 steps, or
`--episode-steps` when capped: then "success" is no drop within the cap) become a behaviour
cloning dataset of proprio observations (history `--history-len`, wrist, axis) and the
specialists' actions. The generalist (an MLP with skip connections) is fitted to it with a
9:1 split by episode. Written to --out-dir: bc_dataset.npz, generalist.pt, bc_loss.png; a
short evaluation table is printed and saved as evaluation.json, then MODEL=<generalist.pt>
last. The generalist acts on proprio observations only, so it runs on DexNDM-Real-v0 too
(history_len from generalist.env_kwargs).

Usage:
    python examples/distill.py --specialists runs/specialists/specialists.json
    python examples/distill.py --specialists runs/a/best_model.zip runs/b/best_model.zip \\
        --episodes 50 --epochs 30 --width 512 --blocks 3 --out-dir runs/generalist
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dexndm_agents.base_policy.distillation import (
    behaviour_clone,
    collect_rollouts,
    generalist_env_kwargs,
    split_by_episode,
)
from dexndm_agents.evaluation.harness import evaluate_grid
from dexndm_agents.evaluation.reports import format_table, save_table
from dexndm_agents.policies.files import Policy, load_policy, policy_env_kwargs
from dexndm_envs.core.cli import UsageError, check_at_least, checking_input, run
from dexndm_envs.core.interface import DEFAULT_HISTORY_LEN


@dataclass
class Args:
    """Collect the specialists' successful rollouts and behaviour-clone a generalist."""

    specialists: list[Path]
    """A specialists.json from train_specialists.py, or policy files (.zip, gait .json)."""
    out_dir: Path = Path("runs/generalist")
    episodes: int = 100
    """Episodes per specialist."""
    episode_steps: int | None = None
    """Cap on steps per episode (400 otherwise); "success" is then no drop within the cap."""
    success_only: bool = True
    """Keep only the episodes that hold the object (the paper); --no-success-only keeps all."""
    action_noise: float = 0.0
    """Std of Gaussian noise on the executed actions, labels staying the teacher's (DART)."""
    history_len: int = DEFAULT_HISTORY_LEN
    """T of the generalist's proprio observation (paper: 10)."""
    domain_randomization: bool | None = None
    """Collect with randomisation on/off (the specialists' own setting by default)."""
    width: int = 1024
    """Width of the residual MLP (paper: 1024)."""
    blocks: int = 5
    """Residual blocks (paper: 5)."""
    epochs: int = 50
    batch_size: int = 1024
    lr: float = 3e-4
    val_fraction: float = 0.1
    """Share of episodes held out for validation (the best validation weights are kept)."""
    seed: int = 0
    eval_episodes: int = 3
    """Evaluation episodes per category (0: no evaluation)."""
    device: str = "cpu"


def load_teachers(paths: list[Path], device: str) -> dict[str, tuple[Policy, dict[str, Any]]]:
    """name -> (policy, its training env options with object_set = its category)."""
    index = _read_json(paths[0]) if paths[0].suffix == ".json" else {}
    if len(paths) == 1 and index and "format" not in index:  # a gait's .json has a format
        sources = [(c, paths[0].parent / p) for c, p in index.items()]  # relative to the file
    else:
        sources = [(None, path) for path in paths]
    teachers: dict[str, tuple[Policy, dict[str, Any]]] = {}
    for category, path in sources:
        policy = load_policy(path, device=device)
        env_kwargs = policy_env_kwargs(policy)
        category = category or env_kwargs.get("object_set")
        if not isinstance(category, str):
            raise UsageError(
                f"{path}: no single object category in its options ({category!r}); "
                "name it in a specialists.json (category -> policy path)"
            )
        name = category if category not in teachers else f"{category}_{len(teachers)}"
        teachers[name] = (policy, {**env_kwargs, "object_set": category})
    return teachers


def check_args(args: Args) -> None:
    """The sizes and rates, before any teacher runs."""
    check_at_least({
        "--episodes": (args.episodes, 1), "--episode-steps": (args.episode_steps, 1),
        "--history-len": (args.history_len, 1), "--action-noise": (args.action_noise, 0),
        "--width": (args.width, 1), "--blocks": (args.blocks, 1), "--epochs": (args.epochs, 1),
        "--batch-size": (args.batch_size, 1), "--eval-episodes": (args.eval_episodes, 0),
    })  # fmt: skip
    if not 0.0 <= args.val_fraction < 1.0:
        raise UsageError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    if args.lr <= 0:
        raise UsageError(f"--lr must be positive, got {args.lr}")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UsageError(f"{path} is not valid JSON ({err})") from None


def main(args: Args) -> None:
    check_args(args)
    with checking_input("--specialists"):
        teachers = load_teachers(args.specialists, args.device)
    overrides = {}
    if args.domain_randomization is not None:
        overrides["domain_randomization"] = args.domain_randomization
    dataset = collect_rollouts(
        teachers, args.episodes, args.seed, args.history_len, overrides, args.success_only,
        episode_steps=args.episode_steps, action_noise_std=args.action_noise,
    )  # fmt: skip
    print(dataset.summary())
    print(f"dataset: {dataset.save(args.out_dir / 'bc_dataset.npz')} ({len(dataset.obs)} samples)")
    # the generalist acts under the options every teacher shares, on all their categories
    kwargs = [{**kw, **overrides} for _, kw in teachers.values()]
    # randomisation is how the data were collected, not the task: the generalist acts on the
    # nominal task (and on the hardware), so that is what its env options say
    shared = {**generalist_env_kwargs(kwargs), "domain_randomization": False}
    try:  # what was kept may not split: the dataset is saved, say it in the program's flags
        split_by_episode(dataset, args.val_fraction, args.seed)
    except ValueError as err:
        flags = str(err).replace("success_only=False", "--no-success-only")
        raise UsageError(flags.replace("val_fraction=0", "--val-fraction 0")) from None
    generalist, history = behaviour_clone(
        dataset, args.width, args.blocks, args.epochs, args.batch_size, args.lr,
        args.val_fraction, args.seed, device=args.device, env_kwargs=shared,
    )  # fmt: skip
    model_path = generalist.save(args.out_dir / "generalist.pt")
    losses = history["val_loss"] or history["train_loss"]
    print(f"kept epoch {history['best_epoch']}: loss {losses[history['best_epoch']]:.4g}")
    print(f"loss plot: {plot_losses(history, args.out_dir / 'bc_loss.png')}")
    if args.eval_episodes > 0:
        rows = evaluate_grid(
            generalist,
            shared["object_set"],
            sorted({str(kw.get("wrist", "palm_up")) for kw in kwargs}),
            sorted({str(kw.get("axis", "+z")) for kw in kwargs}),
            episodes=args.eval_episodes,
            seed=args.seed + 100_000,  # seeds the teachers' rollouts did not use
            max_steps=args.episode_steps,
        )
        print(format_table(rows))
        print(f"evaluation: {save_table(rows, args.out_dir)[1]}")
    print(f"MODEL={model_path}")


def plot_losses(history: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(history["train_loss"], label="train")
    if history["val_loss"]:
        ax.plot(history["val_loss"], label="validation")
        ax.axvline(history["best_epoch"], color="gray", linestyle=":", label="best (kept)")
    ax.set(xlabel="epoch", ylabel="action MSE", yscale="log", title="behaviour cloning")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    run(main, Args)
