"""DexNDM bundles: a hardware dynamics model, the residual adapter trained through it, and the
settings both were trained with, in one versioned file.

A bundle is what `NDMResidualWrapper(env, bundle=...)` deploys. The file is a torch archive of
plain values only (tensors, numbers, strings; settings as JSON text), so it loads with
`torch.load(weights_only=True)`: opening a bundle never runs code from it.

Usage:
    bundle = Bundle(ndm, adapter, {"task": {...}, "hardware": {...}, "metrics": {...}})
    bundle.save("runs/dexndm/bundle.pt")
    bundle = Bundle.load("runs/dexndm/bundle.pt")      # or Bundle.load("default")
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dexndm_agents.dexndm.adapters import Adapter, build_adapter
from dexndm_agents.dexndm.models import build_model
from dexndm_envs.core.atomic import atomic_write
from dexndm_envs.core.provenance import build_info, check_build

FORMAT = "dexndm-bundle"
MODEL_FORMAT = "dexndm-ndm"
"""A dynamics model alone (examples/train_ndm.py writes one; train_residual.py reads it)."""
FORMAT_VERSION = 1
SHIPPED_DIR = Path(__file__).resolve().parent / "bundles"
SHIPPED: dict[str, str] = {"default": "default.pt"}
"""Bundles inside the package, by name. "default": the default task (palm up, +z) on the
default virtual hand (profile "default", hardware seed 0), fitted on the rollouts of the
shipped base policy (dexndm_agents.load_pretrained()) by the full preset of
examples/sim2real_gap.py."""

_KEYS = ("format", "format_version", "ndm_config", "ndm_state", "residual_config", "residual_state")
_MODEL_KEYS = ("format", "format_version", "ndm_config", "ndm_state")


class BundleError(ValueError):
    """A bundle file that is missing, corrupt, of another format or inconsistent."""


@dataclass
class Bundle:
    """A dynamics model, its residual adapter and how they were trained.

    Attributes:
        ndm: the hardware dynamics model (dexndm_agents.dexndm.models), frozen.
        residual: the residual adapter trained through it.
        config: JSON-able settings: the task and base policy, the hardware, the data, the
            training settings and measured figures (whatever the trainer recorded).
    """

    ndm: nn.Module
    residual: Adapter
    config: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        """Write the bundle (parent directories are created); returns the path."""
        payload = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "ndm_config": json.dumps(self.ndm.config()),
            "ndm_state": self.ndm.state_dict(),
            "residual_config": json.dumps(self.residual.config()),
            "residual_state": self.residual.state_dict(),
            "config": json.dumps(self.config),
            "build": json.dumps(build_info(torch=torch.__version__)),
        }
        return _atomic_save(payload, Path(path))

    @classmethod
    def load(cls, bundle: str | Path) -> Bundle:
        """Read a bundle by shipped name (SHIPPED) or path.

        Raises:
            BundleError: no such name or file; not a bundle; a newer format; weights that do
                not fit the recorded model settings.
        """
        path = resolve_bundle(bundle)
        payload = _read_payload(path, FORMAT, _KEYS)
        ndm = _restore(path, lambda: _model(payload, path))
        residual = _restore(path, lambda: _adapter(payload, path))
        config = _json(payload, "config", path) if "config" in payload else {}
        _check_build(payload, path, "bundle")
        return cls(ndm.eval().requires_grad_(False), residual.eval().requires_grad_(False), config)


def save_ndm(ndm: nn.Module, path: str | Path, config: dict[str, Any] | None = None) -> Path:
    """Write a dynamics model alone, with how it was trained (JSON-able `config`)."""
    payload = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "ndm_config": json.dumps(ndm.config()),
        "ndm_state": ndm.state_dict(),
        "config": json.dumps(config or {}),
        "build": json.dumps(build_info(torch=torch.__version__)),
    }
    return _atomic_save(payload, Path(path))


def load_ndm(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Read a model file of save_ndm: (the model, frozen; its training config).

    Raises:
        BundleError: not a model file, a newer format, or weights that do not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"no dynamics model file {path}")
    payload = _read_payload(path, MODEL_FORMAT, _MODEL_KEYS)
    ndm = _restore(path, lambda: _model(payload, path))
    _check_build(payload, path, "dynamics model")
    return ndm.eval().requires_grad_(False), _json(payload, "config", path)


def _check_build(payload: dict[str, Any], path: Path, what: str) -> None:
    check_build(_json(payload, "build", path) if "build" in payload else None, f"{what} {path}")


def _model(payload: dict[str, Any], path: Path) -> nn.Module:
    ndm = build_model(_json(payload, "ndm_config", path))
    ndm.load_state_dict(payload["ndm_state"])
    return ndm


def _restore(path: Path, make: Any) -> Any:
    try:
        return make()
    except BundleError:
        raise
    except (RuntimeError, TypeError, ValueError, KeyError) as err:
        raise BundleError(
            f"{path}: its weights do not fit the model settings recorded with them ({err})"
        ) from None


def _atomic_save(payload: dict[str, Any], path: Path) -> Path:
    with atomic_write(path) as file:
        torch.save(payload, file)
    return path


def resolve_bundle(bundle: str | Path) -> Path:
    """The file of a shipped bundle name, or the given path if it exists."""
    if isinstance(bundle, str) and bundle in SHIPPED:
        path = SHIPPED_DIR / SHIPPED[bundle]
        if not path.is_file():
            raise BundleError(f"the shipped bundle {bundle!r} is missing from {SHIPPED_DIR}")
        return path
    path = Path(bundle)
    if not path.is_file():
        raise BundleError(
            f"no bundle {str(bundle)!r}: not a file, and not a shipped name ({', '.join(SHIPPED)})"
        )
    return path


def _adapter(payload: dict[str, Any], path: Path) -> Adapter:
    try:
        adapter = build_adapter(_json(payload, "residual_config", path))
    except ValueError as err:
        raise BundleError(f"{path}: residual_config: {err}") from None
    adapter.load_state_dict(payload["residual_state"])
    return adapter


def _read_payload(path: Path, kind: str, keys: tuple[str, ...]) -> dict[str, Any]:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for foreign or truncated files
        raise BundleError(
            f"{path}: not a readable bundle file ({type(err).__name__}: {err})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != kind:
        what = "bundle" if kind == FORMAT else "dynamics model file"
        raise BundleError(f"{path}: not a DexNDM {what} (no {kind!r} format field)")
    version = payload.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise BundleError(f"{path}: unknown bundle format version {version!r}")
    if version > FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format {version} is newer than this dexndm reads "
            f"({FORMAT_VERSION}); upgrade dexndm"
        )
    missing = [key for key in keys if key not in payload]
    if missing:
        raise BundleError(f"{path}: bundle lacks {', '.join(missing)}")
    return payload


def _json(payload: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    try:
        value = json.loads(payload[key])
    except (TypeError, json.JSONDecodeError) as err:
        raise BundleError(f"{path}: {key} is not JSON text ({err})") from None
    if not isinstance(value, dict):
        raise BundleError(f"{path}: {key} must be a JSON object")
    return value
