"""The proprioceptive generalist: one residual MLP distilled from the specialists.

DexNDM (Liu et al. 2025, arXiv 2510.08556), Sec. "Generalist": behaviour cloning of the
specialists' successful rollouts into a policy that sees only proprioception (a history of
T = 10 joint positions and targets, plus wrist orientation and rotation axis), through
Linear -> width, `blocks` residual blocks y = ReLU(NN1(x) + NN3(ReLU(NN2(x)))), Linear -> 16.

Usage:
    from dexndm_agents.policies.generalist import Generalist

    generalist = Generalist.load("runs/generalist/generalist.pt")
    env = gym.make("DexNDM-Rotate-v0", **generalist.env_kwargs)  # or DexNDM-Real-v0
    action, _ = generalist.predict(obs)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dexndm_envs.core import interface
from dexndm_envs.core.atomic import atomic_write
from dexndm_envs.core.provenance import build_info, check_build

FORMAT = "dexndm-generalist"
FORMAT_VERSION = 1
OBS_STD_FLOOR = 1e-2
"""Smallest per-dimension std of the normaliser: constant inputs (one axis) stay finite."""


class SkipBlock(nn.Module):
    """The paper's block: y = ReLU(NN1(x) + NN3(ReLU(NN2(x)))), all three Linear(width, width)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.nn1, self.nn2, self.nn3 = (nn.Linear(width, width) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.nn1(x) + self.nn3(torch.relu(self.nn2(x))))


class SkipMLP(nn.Module):
    """Linear(in, width) -> `blocks` ResidualBlocks -> Linear(width, out) (paper: 1024 x 5)."""

    def __init__(self, in_features: int, out_features: int, width: int = 1024, blocks: int = 5):
        super().__init__()
        if min(in_features, out_features, width) < 1 or blocks < 0:
            raise ValueError(
                f"SkipMLP needs positive sizes and blocks >= 0; got in={in_features}, "
                f"out={out_features}, width={width}, blocks={blocks}"
            )
        self.in_features, self.out_features = in_features, out_features
        self.width, self.num_blocks = width, blocks
        self.input = nn.Linear(in_features, width)
        self.blocks = nn.Sequential(*(SkipBlock(width) for _ in range(blocks)))
        self.output = nn.Linear(width, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.blocks(self.input(x)))


def observation_stats(
    obs: np.ndarray, std_floor: float = OBS_STD_FLOOR
) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std (floored at std_floor) of a (N, D) batch, as float32."""
    obs = np.asarray(obs, dtype=np.float64)
    std = np.maximum(obs.std(axis=0), std_floor)
    return obs.mean(axis=0).astype(np.float32), std.astype(np.float32)


class Generalist:
    """A distilled proprioceptive policy with SB3's predict signature.

    `net` is the plain torch module (a SkipMLP on normalised observations), so the
    generalist can be fine-tuned: `torch.optim.Adam(generalist.net.parameters())` with the loss
    on `generalist.forward(obs)`, which applies the frozen normaliser in torch.

    Args:
        net: the network (inputs: normalised observations; outputs: 16 actions).
        obs_mean, obs_std: the normaliser, (D,) each: obs -> (obs - mean) / std.
        env_kwargs: the env options it acts under; must hold obs_mode "proprio" and history_len.
        device: torch device of the network.
    """

    def __init__(
        self,
        net: SkipMLP,
        obs_mean: np.ndarray,
        obs_std: np.ndarray,
        env_kwargs: dict[str, Any],
        device: str | torch.device = "cpu",
    ) -> None:
        if env_kwargs.get("obs_mode") != "proprio" or "history_len" not in env_kwargs:
            raise ValueError(
                "a generalist acts on proprio observations: env_kwargs needs obs_mode='proprio' "
                f"and a history_len; got {env_kwargs}"
            )
        self.device = torch.device(device)
        self.net = net.to(self.device)
        self.obs_mean = torch.as_tensor(obs_mean, dtype=torch.float32, device=self.device)
        self.obs_std = torch.as_tensor(obs_std, dtype=torch.float32, device=self.device)
        if self.obs_mean.shape != (net.in_features,) or self.obs_std.shape != self.obs_mean.shape:
            raise ValueError(
                f"normaliser shapes {tuple(self.obs_mean.shape)} and {tuple(self.obs_std.shape)} "
                f"do not match the network's input size {net.in_features}"
            )
        self.env_kwargs = dict(env_kwargs)
        self.build: dict[str, str] = {}
        """The versions the file was made with (provenance.build_info); {} for a new one."""
        self.history_len = int(env_kwargs["history_len"])
        self.obs_size = interface.ObsLayout(interface.proprio_blocks(self.history_len)).size
        if net.in_features != self.obs_size:
            raise ValueError(
                f"history_len {self.history_len} makes {self.obs_size} proprio inputs; "
                f"the network takes {net.in_features}"
            )

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Unclipped actions of raw observations (N, D), differentiable: BC and fine-tuning."""
        return self.net((obs - self.obs_mean) / self.obs_std)

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, None]:
        """Actions for one observation (D,) or a batch (N, D): float32 in [-1, 1], (16,) or (N, 16).

        The generalist is a deterministic regressor: `deterministic=False` gives the same action.
        `state` and `episode_start` are ignored (it is not recurrent).

        Raises:
            ValueError: the observation does not have this generalist's size.
        """
        obs = np.asarray(observation, dtype=np.float32)
        if obs.ndim not in (1, 2) or obs.shape[-1] != self.obs_size:
            raise ValueError(
                f"observation of shape {obs.shape}; this generalist expects (D,) or (N, D) with "
                f"D = {self.obs_size}: obs_mode 'proprio', history_len {self.history_len} "
                "(make the env with generalist.env_kwargs)"
            )
        with torch.inference_mode():
            actions = self.forward(
                torch.as_tensor(obs, device=self.device).reshape(-1, obs.shape[-1])
            )
        actions = actions.clamp(-1.0, 1.0).cpu().numpy().astype(np.float32)
        return actions.reshape(*obs.shape[:-1], actions.shape[-1]), None

    def save(self, path: str | Path) -> Path:
        """Write a .pt file (torch.save of a plain dict) that load() and load_policy read."""
        path = Path(path).with_suffix(".pt")
        net = self.net
        payload = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
            "in_features": net.in_features,
            "out_features": net.out_features,
            "width": net.width,
            "blocks": net.num_blocks,
            "obs_mean": self.obs_mean.cpu(),
            "obs_std": self.obs_std.cpu(),
            "env_kwargs": self.env_kwargs,
            "build": build_info(torch=torch.__version__),
        }
        with atomic_write(path) as file:
            torch.save(payload, file)
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> Generalist:
        """Read a file written by save().

        Raises:
            FileNotFoundError: no file at path.
            ValueError: the file is not a generalist of a format this code reads.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no generalist file at {path}")
        try:
            payload = torch.load(path, map_location=device, weights_only=True)
        except Exception as err:  # torch raises several kinds for a file it cannot read
            raise ValueError(
                f"{path} is not a generalist saved by Generalist.save ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''})"
            ) from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ValueError(
                f"{path} is a torch file but not a generalist saved by Generalist.save"
            )
        if payload.get("version", 0) > FORMAT_VERSION:
            raise ValueError(
                f"{path} has generalist format version {payload['version']}; this code reads "
                f"up to {FORMAT_VERSION}: update dexndm"
            )
        try:
            net = SkipMLP(
                payload["in_features"], payload["out_features"], payload["width"], payload["blocks"]
            )
            net.load_state_dict(payload["state_dict"])
            generalist = cls(
                net, payload["obs_mean"], payload["obs_std"], payload["env_kwargs"], device
            )
        except (KeyError, RuntimeError) as err:
            raise ValueError(f"{path}: corrupt generalist file ({err})") from None
        generalist.build = dict(payload.get("build") or {})
        check_build(generalist.build, f"generalist {path}")
        return generalist
