"""Policies as one thing: anything with SB3's `predict(obs, state, episode_start, deterministic)`.

Every program (evaluate, quickstart, distillation, the NDM residual) takes a `Policy`: an SB3
model, a distilled generalist (dexndm_agents.policies.generalist), a periodic gait
(dexndm_agents.policies.gait), an SB3 residual agent on a gait
(dexndm_agents.policies.gait_offsets), or an SB3 model together with the observation statistics of
the VecNormalize it was trained under (`NormalizedPolicy`).

On disk an SB3 policy is `<name>.zip` (SB3's own file) with two files beside it:
`<name>.json` (which algorithm and which env options it was trained on) and, when it was trained
under VecNormalize, `<name>.obs_norm.npz` (the observation mean and variance). `load_policy`
reads either that or a generalist's `.pt` file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from dexndm_agents.policies.algorithms import algorithm_class
from dexndm_agents.policies.gait import PeriodicGait
from dexndm_agents.policies.gait_offsets import GaitOffsetPolicy
from dexndm_agents.policies.generalist import Generalist
from dexndm_envs.core.atomic import atomic_write, atomic_write_text
from dexndm_envs.core.provenance import build_info, check_build


@runtime_checkable
class Policy(Protocol):
    """What every caller needs of a policy: SB3's predict signature."""

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]: ...


@dataclass(frozen=True)
class ObsNormalizer:
    """VecNormalize's observation transform, frozen: clip((obs - mean) / sqrt(var + eps))."""

    mean: np.ndarray
    var: np.ndarray
    clip: float = 10.0
    epsilon: float = 1e-8

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        scaled = (np.asarray(obs, dtype=np.float64) - self.mean) / np.sqrt(self.var + self.epsilon)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    @classmethod
    def from_vec_normalize(cls, vec_normalize: Any) -> ObsNormalizer:
        rms = vec_normalize.obs_rms
        return cls(rms.mean.copy(), rms.var.copy(), vec_normalize.clip_obs, vec_normalize.epsilon)

    def save(self, path: Path) -> None:
        with atomic_write(path) as file:
            np.savez(file, mean=self.mean, var=self.var, clip=self.clip, epsilon=self.epsilon)

    @classmethod
    def load(cls, path: Path) -> ObsNormalizer:
        with np.load(path) as f:
            return cls(f["mean"], f["var"], float(f["clip"]), float(f["epsilon"]))


class NormalizedPolicy:
    """An SB3 model that was trained on normalised observations, taking raw ones.

    Args:
        model: the SB3 model (its `predict` expects normalised observations).
        normalizer: the frozen VecNormalize statistics, or None for a model trained without.
        env_kwargs: the env options it was trained on (kept for the record and for evaluation).
    """

    def __init__(
        self,
        model: Any,
        normalizer: ObsNormalizer | None = None,
        env_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.normalizer = normalizer
        self.env_kwargs = dict(env_kwargs or {})

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        if self.normalizer is not None:
            observation = self.normalizer(observation)
        return self.model.predict(observation, state, episode_start, deterministic)


def save_sb3_policy(
    model: Any,
    path: str | Path,
    algo: str,
    env_kwargs: dict[str, Any],
    vec_normalize: Any | None = None,
    gait: dict[str, Any] | None = None,
) -> Path:
    """Save an SB3 model with what load_policy needs to run it on raw observations.

    `gait` ({"gait": PeriodicGait record, "residual_rad": float}) marks a residual agent trained
    on a gait (dexndm_agents.policies.gait_offsets): load_policy then returns the two as one policy.

    Returns:
        The path of the `.zip`.
    """
    zip_path = Path(path).with_suffix(".zip")
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(zip_path)
    meta = {
        "format": "sb3",
        "algo": algo,
        "env_kwargs": env_kwargs,
        "build": build_info(torch=torch.__version__),
    }
    if gait is not None:
        meta["gait_residual"] = gait
    norm_path = zip_path.with_suffix(".obs_norm.npz")
    if vec_normalize is not None and vec_normalize.norm_obs:
        ObsNormalizer.from_vec_normalize(vec_normalize).save(norm_path)
        meta["obs_norm"] = norm_path.name
    atomic_write_text(zip_path.with_suffix(".json"), json.dumps(meta, indent=2, default=_jsonable))
    return zip_path


def load_policy(path: str | Path, device: str = "cpu") -> Policy:
    """Load a policy: SB3 (`.zip`, from save_sb3_policy), generalist (`.pt`) or gait (`.json`).

    Raises:
        FileNotFoundError: the file, or the `.json` beside an SB3 zip, is missing.
        ValueError: the file is of a kind this package did not write.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no policy file at {path}")
    if path.suffix == ".pt":
        return Generalist.load(path, device=device)
    if path.suffix == ".json":
        kind = json.loads(path.read_text()).get("format", "")
        if kind == "sb3":  # the record beside an SB3 zip: load the zip
            return load_policy(path.with_suffix(".zip"), device)
        if kind.startswith("periodic_gait"):
            return PeriodicGait.load(path)
    if path.suffix != ".zip":
        raise ValueError(f"{path}: a policy is an SB3 .zip, a generalist .pt or a gait .json file")
    meta_path = path.with_suffix(".json")
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{meta_path} is missing: it says which algorithm {path.name} is "
            "(save policies with dexndm_agents.save_sb3_policy)"
        )
    meta = json.loads(meta_path.read_text())
    check_build(meta.get("build"), f"policy {path}")
    model = algorithm_class(meta["algo"]).load(path, device=device)
    normalizer = None
    if "obs_norm" in meta:
        normalizer = ObsNormalizer.load(path.parent / meta["obs_norm"])
    policy = NormalizedPolicy(model, normalizer, meta.get("env_kwargs"))
    if "gait_residual" in meta:
        record = meta["gait_residual"]
        gait = PeriodicGait.from_record(record["gait"], str(meta_path))
        return GaitOffsetPolicy(policy, gait, record["residual_rad"], meta.get("env_kwargs"))
    return policy


def policy_env_kwargs(policy: Policy) -> dict[str, Any]:
    """The env options a policy was trained on, where it knows them ({} otherwise)."""
    return dict(getattr(policy, "env_kwargs", None) or {})


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
