"""Neural dynamics models of the LEAP hand: W steps of (q, target) -> next q, in rad.

DexNDM (arXiv 2510.08556, Sec. 4) fits, for every joint i,
    q^i_{t+1} = f_i({q^i_j, a^i_j}, j = t-W+1 .. t)
from that joint's own history only: its effective inertia, the coupling, gravity and the
object's load are a low-dimensional "net effect" that the joint's history reveals, so a
joint-wise model generalises from little data where a whole-hand one (the paper's baseline,
all 16 joints' histories in one network) overfits to cross-joint correlations.

Every model here has one interface, `forward(joint_pos (B, W, 16), joint_targets (B, W, 16))
-> next joint_pos (B, 16)`, in rad: callers pass raw readings and targets, the model builds its
features. Per joint these are the 2W numbers
    (q_j - q_t) for the W - 1 older positions, (a_j - q_t) for the W targets,  / input_scale_rad
    q_t mapped from its joint limits to [-1, 1]    (gravity and limits make absolute q matter)
and the network outputs (q_{t+1} - q_t) / output_scale_rad, added back to q_t. The last layer
starts at zero, so an untrained model predicts "the joint stays where it is".

Usage:
    model = JointWiseNDM(window=10)
    next_q = model(joint_pos, joint_targets)
    same = build_model(model.config())      # what a bundle saves next to the state_dict
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
from torch import nn

from dexndm_envs.core.constants import JOINT_LOWER_RAD, JOINT_UPPER_RAD, NUM_JOINTS

INPUT_SCALE_RAD = 0.1
"""Relative positions and targets are divided by this: typical windows span 0.01-0.3 rad."""
OUTPUT_SCALE_RAD = 0.02
"""The predicted step q_{t+1} - q_t is this times the network's output (steps: 0.01-0.05 rad
at 20 Hz with targets moving at most 1/24 rad per step)."""
WEIGHT_MODES = ("per_joint", "shared")


_JOINT_MID = (JOINT_LOWER_RAD + JOINT_UPPER_RAD) / 2.0
_JOINT_INV_HALF_RANGE = 2.0 / (JOINT_UPPER_RAD - JOINT_LOWER_RAD)


def history_features(
    joint_pos: torch.Tensor, joint_targets: torch.Tensor, input_scale_rad: float
) -> torch.Tensor:
    """(B, T, 16) readings and targets -> (B, 2T, 16) per-joint features; column j uses only
    joint j's history: the older readings and every target relative to the newest reading
    (divided by input_scale_rad), and the newest reading in normalised joint units (gravity
    and the limits depend on it). The dynamics models and the residual adapter both see this.
    """
    newest = joint_pos[:, -1:, :]
    like = {"dtype": newest.dtype, "device": newest.device}
    return torch.cat(
        (
            (joint_pos[:, :-1] - newest) / input_scale_rad,
            (joint_targets - newest) / input_scale_rad,
            (newest - torch.as_tensor(_JOINT_MID, **like))
            * torch.as_tensor(_JOINT_INV_HALF_RANGE, **like),
        ),
        dim=1,
    )


class NDM(nn.Module):
    """Shared machinery: input checks, features, the step added back to q_t, config()."""

    kind: str

    def __init__(self, window: int, input_scale_rad: float, output_scale_rad: float) -> None:
        super().__init__()
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if input_scale_rad <= 0 or output_scale_rad <= 0:
            raise ValueError("input_scale_rad and output_scale_rad must be > 0")
        self.window = window
        self.input_scale_rad = float(input_scale_rad)
        self.output_scale_rad = float(output_scale_rad)

    @property
    def features_per_joint(self) -> int:
        """2W: W - 1 relative positions, W relative targets and the absolute position."""
        return 2 * self.window

    def features(self, joint_pos: torch.Tensor, joint_targets: torch.Tensor) -> torch.Tensor:
        """Per-joint features, (B, 2W, 16): each column uses only its own joint's history."""
        expected = (joint_pos.shape[0], self.window, NUM_JOINTS)
        if joint_pos.shape != expected or joint_targets.shape != expected:
            raise ValueError(
                f"joint_pos {tuple(joint_pos.shape)} and joint_targets "
                f"{tuple(joint_targets.shape)} must both be (B, {self.window}, {NUM_JOINTS})"
            )
        return history_features(joint_pos, joint_targets, self.input_scale_rad)

    def forward(self, joint_pos: torch.Tensor, joint_targets: torch.Tensor) -> torch.Tensor:
        """Predicted joint positions at t + 1, (B, 16) rad, from (B, W, 16) histories in rad."""
        steps = self.scaled_steps(self.features(joint_pos, joint_targets))
        return joint_pos[:, -1] + steps * self.output_scale_rad

    def scaled_steps(self, features: torch.Tensor) -> torch.Tensor:
        """(q_{t+1} - q_t) / output_scale_rad, (B, 16), from features (B, 2W, 16)."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """JSON-able constructor arguments, with "kind": build_model(config) rebuilds it."""
        return {
            "kind": self.kind,
            "window": self.window,
            "input_scale_rad": self.input_scale_rad,
            "output_scale_rad": self.output_scale_rad,
        }


class JointLinear(nn.Module):
    """16 independent linear layers applied at once: (16, B, in) -> (16, B, out).

    One batched matmul (baddbmm) instead of a Python loop over joints, which is what makes a
    network per joint cheap (the paper calls its training slow for iterating over joints).
    """

    def __init__(self, joints: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(joints, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(joints, 1, out_features))
        bound = 1.0 / math.sqrt(in_features)  # nn.Linear's default initialisation
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


def _zero_last(layer: nn.Module) -> None:
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)


def _check_sizes(hidden: int, layers: int) -> None:
    if hidden < 1 or layers < 1:
        raise ValueError(f"hidden and layers must be >= 1, got {hidden}, {layers}")


class JointWiseNDM(NDM):
    """DexNDM's model: joint i's next position from joint i's own history only.

    Args:
        window: W, steps of history.
        hidden: width of each hidden layer.
        layers: number of hidden layers.
        weights: "per_joint", a separate MLP per joint (what the paper implies), computed as
            one batched matmul per layer; or "shared", one MLP for every joint, told which
            joint it is by a learnt embedding (fewer parameters, data pooled across joints).
        embed_dim: size of the joint embedding (shared weights only).
        input_scale_rad, output_scale_rad: see the module docstring.
    """

    kind = "joint_wise"

    def __init__(
        self,
        window: int = 10,
        hidden: int = 64,
        layers: int = 2,
        weights: str = "per_joint",
        embed_dim: int = 8,
        input_scale_rad: float = INPUT_SCALE_RAD,
        output_scale_rad: float = OUTPUT_SCALE_RAD,
    ) -> None:
        super().__init__(window, input_scale_rad, output_scale_rad)
        _check_sizes(hidden, layers)
        if weights not in WEIGHT_MODES:
            raise ValueError(f"weights must be one of {WEIGHT_MODES}, got {weights!r}")
        self.hidden, self.layers, self.weights, self.embed_dim = hidden, layers, weights, embed_dim
        if weights == "per_joint":
            sizes = [self.features_per_joint] + [hidden] * layers + [1]
            self.net = nn.ModuleList(
                JointLinear(NUM_JOINTS, a, b) for a, b in itertools.pairwise(sizes)
            )
        else:
            if embed_dim < 0:
                raise ValueError(f"embed_dim must be >= 0, got {embed_dim}")
            self.embedding = nn.Parameter(torch.randn(NUM_JOINTS, embed_dim))
            sizes = [self.features_per_joint + embed_dim] + [hidden] * layers + [1]
            self.net = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
        _zero_last(self.net[-1])

    def scaled_steps(self, features: torch.Tensor) -> torch.Tensor:
        batch = features.shape[0]
        if self.weights == "per_joint":
            x = features.permute(2, 0, 1)  # (16, B, 2W): joints are the matmul batch
        else:
            x = features.transpose(1, 2)  # (B, 16, 2W): joints are more samples
            embedding = self.embedding.expand(batch, NUM_JOINTS, self.embed_dim)
            x = torch.cat((x, embedding), dim=2).reshape(batch * NUM_JOINTS, -1)
        for layer in self.net[:-1]:
            x = torch.relu(layer(x))
        x = self.net[-1](x)
        if self.weights == "per_joint":
            return x.squeeze(2).T  # (16, B, 1) -> (B, 16)
        return x.reshape(batch, NUM_JOINTS)

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "hidden": self.hidden,
            "layers": self.layers,
            "weights": self.weights,
            "embed_dim": self.embed_dim,
        }


class WholeHandNDM(NDM):
    """The paper's baseline: every joint's next position from all 16 joints' histories.

    The same per-joint features as JointWiseNDM, concatenated (32W numbers) into one MLP
    with 16 outputs.

    Args:
        window: W, steps of history.
        hidden: width of each hidden layer.
        layers: number of hidden layers.
        input_scale_rad, output_scale_rad: see the module docstring.
    """

    kind = "whole_hand"

    def __init__(
        self,
        window: int = 10,
        hidden: int = 256,
        layers: int = 2,
        input_scale_rad: float = INPUT_SCALE_RAD,
        output_scale_rad: float = OUTPUT_SCALE_RAD,
    ) -> None:
        super().__init__(window, input_scale_rad, output_scale_rad)
        _check_sizes(hidden, layers)
        self.hidden, self.layers = hidden, layers
        sizes = [self.features_per_joint * NUM_JOINTS] + [hidden] * layers + [NUM_JOINTS]
        modules: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            modules += [nn.Linear(a, b), nn.ReLU()]
        self.net = nn.Sequential(*modules[:-1])
        _zero_last(self.net[-1])

    def scaled_steps(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features.flatten(1))

    def config(self) -> dict[str, Any]:
        return {**super().config(), "hidden": self.hidden, "layers": self.layers}


MODEL_KINDS: dict[str, type[NDM]] = {
    JointWiseNDM.kind: JointWiseNDM,
    WholeHandNDM.kind: WholeHandNDM,
}


def build_model(config: dict[str, Any]) -> NDM:
    """A new (untrained) model from `config()`'s output: {"kind": ..., constructor args}.

    Raises:
        ValueError: an unknown kind or argument, or a bad size.
    """
    config = dict(config)
    kind = config.pop("kind", None)
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown NDM kind {kind!r}; known kinds: {', '.join(MODEL_KINDS)}")
    try:
        return MODEL_KINDS[kind](**config)
    except TypeError as err:
        raise ValueError(f"bad arguments for a {kind} NDM: {err}") from None
