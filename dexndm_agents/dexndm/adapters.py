"""The residual adapter: a small correction to the base policy's joint targets.

DexNDM (arXiv 2510.08556, "Residual policy"): pi_res(o_t, a_t) -> a_res, executed as
a_t + a_res, trained supervised THROUGH the frozen hardware NDM f on the base policy's sim
trajectories so that the hardware's predicted next positions match the sim's:

    minimise  sum_t || q^sim_{t+1} - f({q^sim_j, a^sim_j + pi_res(o_j, a^sim_j)}_{j=t-W+1..t}) ||

Here a_t is the base policy's joint target (rad) at step t and o_j the last H readings and
targets before it. Every adapter is bounded and small by construction, |a_res| <= bound_rad
per joint through bound * tanh, and starts as the identity: an untrained adapter changes
nothing. The paper reports corrections of 0.004-0.012 rad per joint on average.

Two kinds (ADAPTER_KINDS), the same objective:
- "lead" (`LeadAdapter`, the default): joint-wise and feed-forward. Each joint's correction is
  a learned lead on its own target changes, a_res_i = sum_h w_ih (a_t - a_t-h)_i: zero while
  the targets hold still, blind to the hand's readings. 16 x (H - 1) numbers.
- "mlp" (`MLPAdapter`): an MLP on the last H readings and targets of all 16 joints, the
  paper's o_t. Through the same model it lowers the predicted tracking error further, but on
  the virtual hand it also learns constant offsets and feedback on the readings that the
  model's errors reward and the hand does not: it cost RotR where the lead gained
  (docs/results/2026-11_dexndm_0.1.0.md).

Usage:
    adapter = build_adapter({"kind": "lead", "history": 2, "bound_rad": 0.05})
    windows = make_windows(sim_episodes, window=ndm.window + adapter.history - 1)
    result = train_residual(ndm, adapter, sim_train, sim_eval)
    a_res = adapter(joint_pos_hist, base_target_hist)            # (B, H, 16) each -> (B, 16)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dexndm_agents.dexndm.data import Windows, split_windows
from dexndm_agents.dexndm.fitting import FitResult, train_epochs, window_tensors
from dexndm_agents.dexndm.models import NDM, history_features
from dexndm_envs.core import interface
from dexndm_envs.core.constants import NUM_JOINTS
from dexndm_envs.data.episodes import Episode

INPUT_SCALE_RAD = 0.1
"""Differences to the newest reading are a few hundredths of a radian; /0.1 rad puts them at
O(0.1-1) (the dynamics models' default too)."""


class MLPAdapter(nn.Module):
    """pi_res (kind "mlp"): the last H (reading, base target) pairs of all joints -> a target
    correction.

    Args:
        history: H, readings and targets it sees; the newest target is the base policy's a_t.
        hidden: width of its hidden layers.
        layers: number of hidden layers.
        bound_rad: the largest correction per joint (rad).
    """

    def __init__(
        self, history: int = 3, hidden: int = 256, layers: int = 2, bound_rad: float = 0.05
    ) -> None:
        super().__init__()
        if history < 1 or hidden < 1 or layers < 1 or not bound_rad > 0:
            raise ValueError(
                "MLPAdapter needs history, hidden, layers >= 1 and bound_rad > 0; got "
                f"history={history}, hidden={hidden}, layers={layers}, bound_rad={bound_rad}"
            )
        self.history, self.hidden, self.layers = history, hidden, layers
        self.bound_rad = float(bound_rad)
        sizes = [NUM_JOINTS * 2 * history, *[hidden] * layers]
        body: list[nn.Module] = []
        for size_in, size_out in itertools.pairwise(sizes):
            body += [nn.Linear(size_in, size_out), nn.ELU()]
        last = nn.Linear(hidden, NUM_JOINTS)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*body, last)

    def forward(self, joint_pos: torch.Tensor, base_targets: torch.Tensor) -> torch.Tensor:
        """(B, H, 16) readings and base targets (rad; the newest target is a_t) -> (B, 16) rad."""
        # (B, 2H, 16) -> (B, 16, 2H) -> flat: each joint's features side by side
        features = history_features(joint_pos, base_targets, INPUT_SCALE_RAD).transpose(1, 2)
        features = features.flatten(1)
        return self.bound_rad * torch.tanh(self.net(features))

    def config(self) -> dict[str, Any]:
        """The constructor's arguments and the kind, JSON-able (bundles store them)."""
        return {
            "kind": "mlp",
            "history": self.history,
            "hidden": self.hidden,
            "layers": self.layers,
            "bound_rad": self.bound_rad,
        }


class LeadAdapter(nn.Module):
    """pi_res (kind "lead"): per joint, a learned lead on its own base-target changes.

        a_res_i = bound * tanh(sum_h w_ih (a_t - a_t-h)_i / bound),  h = 1 .. H - 1

    Joint-wise like the dynamics model, and feed-forward: it never sees the readings, so it
    cannot learn feedback that only the model's errors reward, and it is zero while the
    targets hold still, so it cannot learn constant offsets either. With H = 2 it is one
    number per joint: how far ahead of the base policy's motion the targets are sent, which
    makes up for the hand's lag. `forward` takes the readings for the common interface.

    Args:
        history: H >= 2, the base targets it sees (the newest is a_t).
        bound_rad: the largest correction per joint (rad).
    """

    def __init__(self, history: int = 2, bound_rad: float = 0.05) -> None:
        super().__init__()
        if history < 2 or not bound_rad > 0:
            raise ValueError(
                "LeadAdapter needs history >= 2 (a target change) and bound_rad > 0; got "
                f"history={history}, bound_rad={bound_rad}"
            )
        self.history, self.bound_rad = history, float(bound_rad)
        # lead[h - 1, i]: joint i's weight on a_t - a_t-h
        self.lead = nn.Parameter(torch.zeros(history - 1, NUM_JOINTS))

    def forward(self, joint_pos: torch.Tensor, base_targets: torch.Tensor) -> torch.Tensor:
        """(B, H, 16) readings (unused) and base targets (rad) -> (B, 16) rad."""
        del joint_pos
        # (B, H - 1, 16), newest first: a_t - a_t-1, a_t - a_t-2, ...
        changes = (base_targets[:, -1:] - base_targets[:, :-1]).flip(1)
        raw = (changes * self.lead).sum(dim=1)
        return self.bound_rad * torch.tanh(raw / self.bound_rad)

    def config(self) -> dict[str, Any]:
        """The constructor's arguments and the kind, JSON-able (bundles store them)."""
        return {"kind": "lead", "history": self.history, "bound_rad": self.bound_rad}


Adapter = MLPAdapter | LeadAdapter
ADAPTER_KINDS: dict[str, type[Adapter]] = {"lead": LeadAdapter, "mlp": MLPAdapter}
DEFAULT_KIND = "lead"


def build_adapter(config: dict[str, Any]) -> Adapter:
    """An adapter from its config() ("kind" plus constructor arguments; no kind: "mlp", as
    bundles written before there were kinds).

    Raises:
        ValueError: an unknown kind (naming the known ones) or bad arguments.
    """
    settings = dict(config)
    kind = settings.pop("kind", "mlp")
    if kind not in ADAPTER_KINDS:
        raise ValueError(f"unknown adapter kind {kind!r}; known: {', '.join(ADAPTER_KINDS)}")
    try:
        return ADAPTER_KINDS[kind](**settings)
    except TypeError as err:
        raise ValueError(f"bad arguments for a {kind!r} adapter: {err}") from None


def corrected_targets(
    adapter: Adapter, joint_pos: torch.Tensor, base_targets: torch.Tensor, window: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The targets the hand executes over the last `window` steps of a segment, and the
    corrections.

    Args:
        joint_pos, base_targets: (B, window + H - 1, 16) readings and base-policy targets.
        window: W, the steps the dynamics model sees.

    Returns:
        (B, W, 16) executed targets a_j + pi_res(o_j, a_j) and (B, W, 16) corrections, for the
        last W steps j of the segment (each correction sees its own H-step history).
    """
    history = adapter.history
    if joint_pos.shape[1] != window + history - 1:
        raise ValueError(
            f"segments of {joint_pos.shape[1]} steps; the adapter (history {history}) under a "
            f"model of window {window} needs {window + history - 1}"
        )
    # (B, W, 16, H) sliding histories -> (B * W, H, 16): every step's own observation at once
    batch = joint_pos.shape[0]
    q_hist = joint_pos.unfold(1, history, 1).permute(0, 1, 3, 2).reshape(-1, history, NUM_JOINTS)
    a_hist = base_targets.unfold(1, history, 1).permute(0, 1, 3, 2).reshape(-1, history, NUM_JOINTS)
    corrections = adapter(q_hist, a_hist).reshape(batch, window, NUM_JOINTS)
    return base_targets[:, history - 1 :] + corrections, corrections


def residual_loss(
    ndm: nn.Module,
    adapter: Adapter,
    joint_pos: torch.Tensor,
    base_targets: torch.Tensor,
    next_joint_pos: torch.Tensor,
    reg: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's objective on a batch of sim segments: mean |q^sim_{t+1} - f(...)| (rad).

    Args:
        ndm: the frozen hardware dynamics model (forward(joint_pos, joint_targets), window W).
        joint_pos, base_targets: (B, W + H - 1, 16) sim readings and base-policy targets.
        next_joint_pos: (B, 16) the sim's next reading, q^sim_{t+1}.
        reg: weight of the mean squared correction (rad^2), keeping corrections small where
            the model cannot tell them apart.

    Returns:
        (loss to minimise, the tracking error alone: mean absolute, rad).
    """
    window = ndm.window
    executed, corrections = corrected_targets(adapter, joint_pos, base_targets, window)
    predicted = ndm(joint_pos[:, -window:], executed)
    error = (predicted - next_joint_pos).abs().mean()
    return error + reg * corrections.square().mean(), error


EPOCHS = 30
BATCH_SIZE = 512
LR = 3e-3
REG: dict[str, float] = {"lead": 1.0, "mlp": 10.0}
"""Weight of the mean squared correction (rad^2) against the mean absolute tracking error
(rad), per adapter kind. "mlp": a weight of 1 let its corrections cost RotR on the virtual hand
and 10 did not (docs/results/2026-11_dexndm_0.1.0.md has the measurements). "lead": 16 numbers
cannot single out the model's errors, so the weight only breaks ties."""
EVAL_BATCH_SIZE = 8192


def segment_length(ndm: NDM, adapter: Adapter) -> int:
    """Steps of sim segments the adapter trains on: the model's window plus the adapter's
    history less one (the first correction in the window needs H readings)."""
    return ndm.window + adapter.history - 1


def train_residual(
    ndm: NDM,
    adapter: Adapter,
    train: Windows,
    evaluation: Windows,
    *,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    lr: float = LR,
    reg: float | None = None,
    seed: int = 0,
    progress: bool = True,
    tb_dir: str | Path | None = None,
    max_seconds: float | None = None,
) -> FitResult:
    """Train the adapter through the frozen model on the base policy's sim segments.

    Args:
        ndm: the hardware dynamics model; frozen here (its weights never change).
        adapter: trained in place; it ends with its best-eval weights.
        train, evaluation: windows of `segment_length(ndm, adapter)` steps of sim rollouts of
            the base policy (dexndm.data.make_windows), of disjoint episodes.
        reg: weight of the mean squared correction (None: REG of the adapter's kind).

    Returns:
        The losses per epoch; eval_error_rad is the mean absolute predicted tracking error.

    Raises:
        ValueError: windows of another length, or empty ones.
    """
    steps = segment_length(ndm, adapter)
    for name, windows in (("train", train), ("eval", evaluation)):
        if len(windows) == 0 or windows.window != steps:
            raise ValueError(
                f"{name} windows: {len(windows)} of {windows.window} steps; the adapter needs "
                f"windows of W + H - 1 = {steps} steps (make_windows(..., window={steps}))"
            )
    if reg is None:
        reg = REG[adapter.config()["kind"]]
    ndm.eval().requires_grad_(False)
    eval_tensors = window_tensors(evaluation)

    def evaluate() -> tuple[float, float]:
        return _batched_loss(ndm, adapter, eval_tensors, reg)

    return train_epochs(
        adapter,
        window_tensors(train),
        lambda batch: residual_loss(ndm, adapter, *batch, reg=reg)[0],
        evaluate,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=0.0,
        seed=seed,
        progress=progress,
        tb_dir=tb_dir,
        max_seconds=max_seconds,
        description="train residual",
    )


def fit_adapter(
    ndm: NDM,
    sim_episodes: Sequence[Episode],
    *,
    kind: str = DEFAULT_KIND,
    history: int | None = None,
    bound_rad: float = 0.05,
    epochs: int = EPOCHS,
    reg: float | None = None,
    seed: int = 0,
    progress: bool = True,
    tb_dir: str | Path | None = None,
) -> tuple[Adapter, dict[str, Any]]:
    """A fresh adapter of `kind` (ADAPTER_KINDS) trained through `ndm` on the base policy's sim
    rollouts (split 9:1 by episode), and its figures: the predicted tracking error on the eval
    rollouts before (no correction) and after, in rad.

    history None takes the kind's default (lead: 2, mlp: 3); reg None takes REG[kind].
    """
    torch.manual_seed(seed)
    settings: dict[str, Any] = {"kind": kind, "bound_rad": bound_rad}
    if history is not None:
        settings["history"] = history
    adapter = build_adapter(settings)
    train, evaluation = split_windows(sim_episodes, segment_length(ndm, adapter), seed=seed)
    before = tracking_error(ndm, None, evaluation)
    result = train_residual(
        ndm,
        adapter,
        train,
        evaluation,
        epochs=epochs,
        reg=reg,
        seed=seed,
        progress=progress,
        tb_dir=tb_dir,
    )
    after = tracking_error(ndm, adapter, evaluation)
    figures: dict[str, Any] = {
        "predicted_tracking_error_rad": {"before": before, "after": after},
        "seconds": result.seconds,
    }
    if isinstance(adapter, LeadAdapter):  # [h - 1][joint]: the weight on a_t - a_t-h
        figures["leads"] = adapter.lead.detach().double().numpy().round(4).tolist()
    return adapter, figures


def tracking_error(ndm: NDM, adapter: Adapter | None, windows: Windows) -> float:
    """Mean |q^sim_{t+1} - f(...)| (rad) over windows, with the adapter's corrections or, for
    None, with the base targets alone (what direct transfer would do, per the model)."""
    if adapter is None:
        adapter = MLPAdapter(history=1)  # starts as the identity: no correction
    with torch.no_grad():
        tensors = window_tensors(windows)
        offset = windows.window - segment_length(ndm, adapter)
        if offset < 0:
            raise ValueError(f"windows of {windows.window} steps are too short for the adapter")
        tensors = (tensors[0][:, offset:], tensors[1][:, offset:], tensors[2])
        return _batched_loss(ndm, adapter, tensors, 0.0)[1]


def _batched_loss(
    ndm: NDM, adapter: Adapter, data: tuple[torch.Tensor, ...], reg: float
) -> tuple[float, float]:
    """(loss, mean absolute tracking error in rad) over all samples, in batches."""
    loss = error = 0.0
    for begin in range(0, len(data[0]), EVAL_BATCH_SIZE):
        batch = tuple(tensor[begin : begin + EVAL_BATCH_SIZE] for tensor in data)
        batch_loss, batch_error = residual_loss(ndm, adapter, *batch, reg=reg)
        loss += batch_loss.item() * len(batch[0])
        error += batch_error.item() * len(batch[0])
    return loss / len(data[0]), error / len(data[0])


class NumpyAdapter:
    """A frozen adapter of either kind evaluated with numpy: a step of a control loop costs
    tens of us, with none of torch's per-call overhead."""

    def __init__(self, adapter: Adapter) -> None:
        self.history, self.bound_rad = adapter.history, adapter.bound_rad
        self._lead: np.ndarray | None = None
        if isinstance(adapter, LeadAdapter):
            self._lead = adapter.lead.detach().double().numpy().copy()
            return
        linears = [m for m in adapter.net if isinstance(m, nn.Linear)]
        self._layers = [
            (m.weight.detach().double().numpy().T.copy(), m.bias.detach().double().numpy())
            for m in linears
        ]

    def __call__(self, joint_pos: np.ndarray, base_targets: np.ndarray) -> np.ndarray:
        """(H, 16) readings and base targets (rad) -> (16,) correction (rad)."""
        if self._lead is not None:
            changes = (base_targets[-1] - base_targets[:-1])[::-1]
            raw = (changes * self._lead).sum(axis=0)
            return self.bound_rad * np.tanh(raw / self.bound_rad)
        newest = joint_pos[-1]
        features = np.concatenate(
            [
                (joint_pos[:-1] - newest) / INPUT_SCALE_RAD,
                (base_targets - newest) / INPUT_SCALE_RAD,
                interface.normalize_joints(newest)[None],
            ]
        ).T.ravel()
        x = features
        for weight, bias in self._layers[:-1]:
            x = x @ weight + bias
            x = np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))  # ELU
        weight, bias = self._layers[-1]
        return self.bound_rad * np.tanh(x @ weight + bias)
