"""Policies as one thing: anything with SB3's `predict(obs, state, episode_start, deterministic)`.

Every program (evaluate, quickstart, distillation, the NDM residual) takes a `Policy`: an SB3
model, a distilled generalist (dexndm_agents.policies.generalist), a periodic gait
(dexndm_agents.policies.gait), an SB3 residual agent on a gait
(dexndm_agents.policies.gait_offsets), or an SB3 model together with the observation statistics of
the VecNormalize it was trained under (`NormalizedPolicy`).

On disk an SB3 policy is `<name>.zip` (SB3's own file) with two files beside it:
`<name>.json` (which algorithm, which env options it was trained on, and its network: spaces,
architecture, activation) and, when it was trained under VecNormalize, `<name>.obs_norm.npz`
(the observation mean and variance, in the same directory). `load_policy` reads either that,
a generalist's `.pt` file or a gait's `.json`.

Loading a file never runs code from it. SB3's own loader unpickles entries of the zip's `data`
record (spaces, schedules, classes), and a pickle can run anything; `load_policy` instead
rebuilds the network from the `.json`'s record and reads only the weights from the zip, with
`torch.load(weights_only=True)` (dexndm_agents.policies.sb3_zip). A `.json` without that record
(written by an earlier dexndm) is refused with a note on re-saving it (docs/training.md).
Generalists load with weights_only too, and `.npz` files without pickle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from dexndm_agents.policies.gait import PeriodicGait
from dexndm_agents.policies.gait_offsets import GaitOffsetPolicy
from dexndm_agents.policies.generalist import Generalist
from dexndm_agents.policies.sb3_zip import (
    PolicyFileError,
    network_record,
    read_state_dicts,
    rebuild_policy,
)
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
        """Read a file `save` wrote (no pickle: an .npz holding objects is refused).

        Raises:
            PolicyFileError: an unreadable file, or one without the four arrays.
        """
        try:
            with np.load(path, allow_pickle=False) as f:
                return cls(f["mean"], f["var"], float(f["clip"]), float(f["epsilon"]))
        except (OSError, KeyError, ValueError) as err:
            raise PolicyFileError(f"{path} is not an observation-statistics file ({err})") from None


class NormalizedPolicy:
    """An SB3 model that was trained on normalised observations, taking raw ones.

    Args:
        model: anything with SB3's predict on normalised observations: an SB3 model, or (as
            load_policy gives) the SB3 policy network rebuilt from a file.
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
    evaluation: dict[str, Any] | None = None,
) -> Path:
    """Save an SB3 model with what load_policy needs to run it on raw observations.

    Args:
        model: the SB3 model.
        path: where to save (the suffix becomes .zip, .json and .obs_norm.npz).
        algo: its algorithm's name (dexndm_agents.policies.algorithms).
        env_kwargs: the env options it was trained on.
        vec_normalize: the VecNormalize it was trained under (or its frozen ObsNormalizer).
        gait: ({"gait": PeriodicGait record, "residual_rad": float}) marks a residual agent
            trained on a gait (dexndm_agents.policies.gait_offsets): load_policy then returns
            the two as one policy.
        evaluation: what an evaluation measured of it (e.g. {"mean_reward": ...}), recorded.

    Returns:
        The path of the `.zip`.

    Raises:
        PolicyFileError: the network cannot be recorded for loading without pickle (a space
            that is not a float Box, a class outside the allow-lists); nothing is written.
    """
    zip_path = Path(path).with_suffix(".zip")
    meta = {
        "format": "sb3",
        "algo": algo,
        "env_kwargs": env_kwargs,
        "network": network_record(model),
        "build": build_info(torch=torch.__version__),
    }
    if gait is not None:
        meta["gait_residual"] = gait
    if evaluation is not None:
        meta["evaluation"] = evaluation
    normalizer = vec_normalize
    if vec_normalize is not None and not isinstance(vec_normalize, ObsNormalizer):
        norm_obs = vec_normalize.norm_obs
        normalizer = ObsNormalizer.from_vec_normalize(vec_normalize) if norm_obs else None
    norm_path = zip_path.with_suffix(".obs_norm.npz")
    if normalizer is not None:
        meta["obs_norm"] = norm_path.name
    text = json.dumps(meta, indent=2, default=_jsonable)  # fails before anything is written
    with atomic_write(zip_path) as file:
        model.save(file)
    if normalizer is not None:
        normalizer.save(norm_path)
    atomic_write_text(zip_path.with_suffix(".json"), text)
    return zip_path


def load_policy(path: str | Path, device: str = "cpu") -> Policy:
    """Load a policy: SB3 (`.zip`, from save_sb3_policy), generalist (`.pt`) or gait (`.json`).

    No code from the files runs (module docstring).

    Raises:
        FileNotFoundError: the file, or the `.json` beside an SB3 zip, is missing.
        ValueError: the file is of a kind this package did not write, or (PolicyFileError)
            it cannot be loaded without trusting code in it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no policy file at {path}")
    if path.suffix == ".pt":
        return Generalist.load(path, device=device)
    if path.suffix == ".json":
        kind = _read_json(path).get("format", "")
        if kind == "sb3":  # the record beside an SB3 zip: load the zip
            return load_policy(path.with_suffix(".zip"), device)
        if isinstance(kind, str) and kind.startswith("periodic_gait"):
            return PeriodicGait.load(path)
    if path.suffix != ".zip":
        raise ValueError(f"{path}: a policy is an SB3 .zip, a generalist .pt or a gait .json file")
    meta_path = path.with_suffix(".json")
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{meta_path} is missing: it says which algorithm {path.name} is "
            "(save policies with dexndm_agents.save_sb3_policy)"
        )
    meta = _read_json(meta_path)
    check_build(meta.get("build"), f"policy {path}")
    if "network" not in meta:
        raise PolicyFileError(
            f"{meta_path} records no network (written by an earlier dexndm), and load_policy "
            "does not unpickle SB3's own record of it, which can run code; if you made "
            f'{path.name} yourself, re-save it as docs/training.md shows ("Policies saved '
            'before the network record"), or retrain'
        )
    weights = read_state_dicts(path, ["policy"], device)["policy"]
    model = rebuild_policy(str(meta.get("algo")), meta["network"], weights, device)
    normalizer = None
    if "obs_norm" in meta:
        normalizer = ObsNormalizer.load(obs_norm_path(path, meta["obs_norm"]))
        if normalizer.mean.shape != model.observation_space.shape:
            raise PolicyFileError(
                f"{meta['obs_norm']} normalises observations of shape {normalizer.mean.shape}, "
                f"but the network takes {model.observation_space.shape}"
            )
    policy = NormalizedPolicy(model, normalizer, meta.get("env_kwargs"))
    if "gait_residual" in meta:
        record = meta["gait_residual"]
        gait = PeriodicGait.from_record(record["gait"], str(meta_path))
        return GaitOffsetPolicy(policy, gait, record["residual_rad"], meta.get("env_kwargs"))
    return policy


def obs_norm_path(zip_path: Path, name: Any) -> Path:
    """The observation statistics a policy's .json names: a file in the zip's own directory.

    Raises:
        PolicyFileError: a name with directories in it (`../`, absolute) or one that leads
            out of that directory (a link).
    """
    directory = Path(zip_path).parent.resolve()
    if not isinstance(name, str) or name in ("", ".", "..") or Path(name).name != name:
        raise PolicyFileError(
            f"obs_norm {name!r} in {Path(zip_path).with_suffix('.json')} must be a file name "
            "in the policy's own directory"
        )
    resolved = (directory / name).resolve()
    if resolved.parent != directory:
        raise PolicyFileError(
            f"obs_norm {name!r} leads out of the policy's directory {directory} (to {resolved})"
        )
    return resolved


def _read_json(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"cannot read {path} as JSON: {err}") from None
    if not isinstance(record, dict):
        raise ValueError(f"{path} must hold a JSON object")
    return record


def policy_env_kwargs(policy: Policy) -> dict[str, Any]:
    """The env options a policy was trained on, where it knows them ({} otherwise)."""
    return dict(getattr(policy, "env_kwargs", None) or {})


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
