"""Fitting a neural dynamics model: one trainer for the joint-wise and the whole-hand NDM.

DexNDM (arXiv 2510.08556, Sec. 4): pretrain on sim rollouts, fine-tune all weights on the
hand's data, 9:1 train/eval split by episode, keep the best eval checkpoint. `fit` is that
recipe; calling it twice on one model (sim windows, then real ones) is the fine-tuning.

Loss: MSE of the predicted step q_{t+1} - q_t in units of the model's output_scale_rad
(the paper only says "a norm"). Squared error because the residual adapter is trained by
back-propagating through this model and wants the conditional mean next position, and its
gradient is smooth near zero where nearly all steps lie; scaling by output_scale_rad makes the
loss O(1) whatever the data, so one learning rate serves sim and real. Errors are reported as
the mean absolute next-position error in rad, a unit a person can judge.

Usage:
    model = JointWiseNDM(window=10)
    result = fit(model, train, evaluation, tb_dir="runs/ndm/tb")
    print(result.best_eval_loss, prediction_error(model, evaluation))
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from dexndm_agents.dexndm.data import Windows
from dexndm_agents.dexndm.models import NDM

EPOCHS = 20
BATCH_SIZE = 512
LR = 3e-3
WEIGHT_DECAY = 1e-4
EVAL_BATCH_SIZE = 8192


@dataclass
class FitResult:
    """What one call of fit did.

    Attributes:
        train_loss, eval_loss: per epoch, MSE of the step in units of output_scale_rad.
        eval_error_rad: per epoch, mean absolute next-position error on eval, rad.
        best_epoch: 0-based epoch of the lowest eval loss; the model ends with its weights.
        best_eval_loss: that loss.
        seconds: wall time of the fit; samples_per_s: training samples processed per second.
        stopped_early: max_seconds ran out before the last epoch.
    """

    train_loss: list[float] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    eval_error_rad: list[float] = field(default_factory=list)
    best_epoch: int = -1
    best_eval_loss: float = float("inf")
    seconds: float = 0.0
    samples_per_s: float = 0.0
    stopped_early: bool = False


def window_tensors(windows: Windows) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(joint_pos, joint_targets, next_joint_pos) as float32 tensors."""
    return tuple(
        torch.as_tensor(np.asarray(a, dtype=np.float32))
        for a in (windows.joint_pos, windows.joint_targets, windows.next_joint_pos)
    )


def _check_fit(model: NDM, train: Windows, evaluation: Windows, epochs: int, batch: int) -> None:
    if epochs < 1 or batch < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch}")
    if len(train) == 0 or len(evaluation) == 0:
        raise ValueError(
            f"fit needs training and evaluation windows; got {len(train)} and "
            f"{len(evaluation)} (split_episodes holds whole episodes out)"
        )
    for name, windows in (("train", train), ("eval", evaluation)):
        if windows.window != model.window:
            raise ValueError(
                f"{name} windows have W = {windows.window}, the model W = {model.window}; "
                f"make them with make_windows(..., window={model.window})"
            )


def fit(
    model: NDM,
    train: Windows,
    evaluation: Windows,
    *,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    lr: float = LR,
    weight_decay: float = WEIGHT_DECAY,
    seed: int = 0,
    progress: bool = True,
    tb_dir: str | Path | None = None,
    max_seconds: float | None = None,
) -> FitResult:
    """Fit `model` in place; it ends with the weights of its best eval epoch.

    AdamW with a cosine decay of the learning rate to 1 % over all epochs' steps; the eval loss
    is measured after every epoch. Defaults fit 100k windows in well under 2 minutes on 2 CPU
    cores (examples/benchmarks/ndm_speed.py). Set torch's threads outside (1-2 here).

    Args:
        model: a JointWiseNDM or WholeHandNDM, fresh or already fitted (then this fine-tunes).
        train, evaluation: windows of disjoint episodes (dexndm.data.split_episodes).
        epochs, batch_size, lr, weight_decay: the optimiser's schedule.
        seed: seeds the minibatch order.
        progress: a tqdm bar over epochs with the losses.
        tb_dir: write TensorBoard scalars (loss/train, loss/eval, eval/error_rad, train/lr)
            per epoch there.
        max_seconds: stop after the epoch during which this much time has passed (the
            learning rate then has not decayed all the way: the schedule spans `epochs`).

    Returns:
        Losses per epoch, the best epoch, seconds and throughput.

    Raises:
        ValueError: empty windows, a W other than the model's, or bad sizes.
        FloatingPointError: the eval loss never was finite (a diverged fit).
    """
    _check_fit(model, train, evaluation, epochs, batch_size)
    eval_t = window_tensors(evaluation)
    device = next(model.parameters()).device
    return train_epochs(
        model,
        window_tensors(train),
        lambda batch: _loss(model, *(tensor.to(device) for tensor in batch)),
        lambda: _evaluate(model, eval_t),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        seed=seed,
        progress=progress,
        tb_dir=tb_dir,
        max_seconds=max_seconds,
        description="fit NDM",
    )


def train_epochs(
    module: torch.nn.Module,
    train: tuple[torch.Tensor, ...],
    batch_loss: Callable[[tuple[torch.Tensor, ...]], torch.Tensor],
    evaluate: Callable[[], tuple[float, float]],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
    progress: bool,
    tb_dir: str | Path | None,
    max_seconds: float | None,
    description: str,
) -> FitResult:
    """The loop `fit` and the residual trainer share: epochs of shuffled minibatches of the
    `train` tensors (first dimension = samples), AdamW with a cosine decay to 1 %, an eval after
    every epoch, and `module` left with its best-eval weights.

    Args:
        module: whose parameters are trained (and restored to their best).
        train: tensors indexed together, one row per sample.
        batch_loss: a minibatch (the rows of every `train` tensor) -> loss to minimise.
        evaluate: () -> (eval loss, eval error in rad), measured without grad.
        description: the progress bar's label.
    """
    optimizer = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
    total_steps = epochs * -(-len(train[0]) // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total_steps, lr * 0.01)
    generator = torch.Generator().manual_seed(seed)
    result, best_state = FitResult(), None
    writer = _summary_writer(tb_dir)
    start = time.perf_counter()
    with writer or nullcontext(), tqdm(range(epochs), description, disable=not progress) as bar:
        for epoch in bar:
            module.train()
            result.train_loss.append(
                _train_epoch(train, batch_loss, optimizer, schedule, batch_size, generator)
            )
            module.eval()
            with torch.no_grad():
                eval_loss, eval_error = evaluate()
            result.eval_loss.append(eval_loss)
            result.eval_error_rad.append(eval_error)
            if eval_loss < result.best_eval_loss:
                result.best_eval_loss, result.best_epoch = eval_loss, epoch
                best_state = copy.deepcopy(module.state_dict())
            bar.set_postfix(train=f"{result.train_loss[-1]:.4g}", eval=f"{eval_loss:.4g}")
            if writer is not None:
                _log_epoch(writer, result, schedule.get_last_lr()[0])
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                result.stopped_early = epoch < epochs - 1
                break
    if best_state is None:
        raise FloatingPointError(
            f"the eval loss was never finite ({result.eval_loss[-1]}); lower lr ({lr})"
        )
    module.load_state_dict(best_state)
    module.eval()
    result.seconds = time.perf_counter() - start
    result.samples_per_s = len(result.train_loss) * len(train[0]) / result.seconds
    return result


def _summary_writer(tb_dir: str | Path | None):
    if tb_dir is None:
        return None
    from torch.utils.tensorboard import SummaryWriter  # imports tensorboard: only when asked

    return SummaryWriter(str(tb_dir))


def _log_epoch(writer, result: FitResult, lr: float) -> None:
    """The newest epoch's figures as TensorBoard scalars, stepped by epoch."""
    epoch = len(result.train_loss) - 1
    writer.add_scalar("loss/train", result.train_loss[-1], epoch)
    writer.add_scalar("loss/eval", result.eval_loss[-1], epoch)
    writer.add_scalar("eval/error_rad", result.eval_error_rad[-1], epoch)
    writer.add_scalar("train/lr", lr, epoch)


def _train_epoch(
    data: tuple[torch.Tensor, ...],
    batch_loss: Callable[[tuple[torch.Tensor, ...]], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    """One pass over the training samples in a random order; the mean training loss."""
    order = torch.randperm(len(data[0]), generator=generator)
    total = 0.0
    for begin in range(0, len(order), batch_size):
        batch = order[begin : begin + batch_size]
        loss = batch_loss(tuple(tensor[batch] for tensor in data))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        total += loss.item() * len(batch)
    return total / len(order)


def _loss(
    model: NDM, joint_pos: torch.Tensor, joint_targets: torch.Tensor, next_joint_pos: torch.Tensor
) -> torch.Tensor:
    """MSE of the predicted step in units of output_scale_rad (the module docstring: why)."""
    error = (model(joint_pos, joint_targets) - next_joint_pos) / model.output_scale_rad
    return error.square().mean()


@torch.no_grad()
def _abs_errors(model: NDM, data: tuple[torch.Tensor, ...]) -> tuple[float, torch.Tensor]:
    """(the loss, the per-joint sums of |q_hat - q_{t+1}| in rad), batched without grad."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    squared, absolute = 0.0, torch.zeros(data[2].shape[1], dtype=torch.float64)
    for begin in range(0, len(data[0]), EVAL_BATCH_SIZE):
        joint_pos, joint_targets, next_joint_pos = (
            t[begin : begin + EVAL_BATCH_SIZE].to(device) for t in data
        )
        error = model(joint_pos, joint_targets) - next_joint_pos
        squared += (error / model.output_scale_rad).square().sum().item()
        absolute += error.abs().sum(0).double().cpu()
    model.train(was_training)
    return squared / data[2].numel(), absolute


def _evaluate(model: NDM, data: tuple[torch.Tensor, ...]) -> tuple[float, float]:
    """(eval loss, mean absolute error in rad)."""
    loss, absolute = _abs_errors(model, data)
    return loss, float(absolute.sum()) / data[2].numel()


def joint_errors(model: NDM, windows: Windows) -> np.ndarray:
    """Mean absolute next-position error of each joint, (16,) rad, in JOINT_NAMES order."""
    _, absolute = _abs_errors(model, window_tensors(windows))
    return (absolute / max(len(windows), 1)).numpy()


def prediction_error(model: NDM, windows: Windows) -> float:
    """Mean absolute next-position error over all windows and joints, rad."""
    return float(joint_errors(model, windows).mean())


def hold_error(windows: Windows) -> float:
    """The same error for "the joint stays where it is" (q_{t+1} = q_t): the floor to beat."""
    return float(np.abs(windows.next_joint_pos - windows.joint_pos[:, -1]).mean())
