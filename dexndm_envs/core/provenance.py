"""Which versions an artifact was built with, and a warning when it runs under others.

Physics differs between MuJoCo releases: 4.0.1 fixed a sparse-Cholesky bug of 4.0.0 (a wrong
Newton Hessian factor: wrong accelerations) and cylinder-edge contacts, and a policy trained on
4.0.0 lost most of its skill on 4.0.1 (CHANGELOG, 0.2.0). So every artifact the package writes
(policies, gaits, the grasp cache, DexNDM bundles) records `build_info()`, and every loader
calls `check_build(recorded, what)`, which warns when the MuJoCo release differs from the one
running, naming both. The README's install pins the exact set the shipped artifacts were
built and measured with (constraints.txt).

Usage:
    meta["build"] = build_info()
    check_build(meta.get("build"), "policy runs/ppo/final_model.zip")
"""

from __future__ import annotations

import platform
import warnings
from typing import Any

import mujoco
import numpy as np

from dexndm_envs.core.version import __version__


class EngineVersionWarning(UserWarning):
    """An artifact built under another MuJoCo release than the one running."""


def build_info(**extra: str) -> dict[str, str]:
    """The versions of what shapes an artifact: the package, MuJoCo, NumPy, Python (and what
    the caller adds, e.g. torch=torch.__version__)."""
    info = {
        "dexndm": __version__,
        "mujoco": mujoco.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        **extra,
    }
    # plain str: torch.__version__ is a str subclass that weights-only loading refuses
    return {name: str(version) for name, version in info.items()}


def check_build(recorded: dict[str, Any] | None, what: str) -> None:
    """Warn (EngineVersionWarning) when `what` was built under another MuJoCo release, or
    records none (made before versions were recorded)."""
    running = mujoco.__version__
    built = (recorded or {}).get("mujoco")
    if built is None:
        message = (
            f"{what} records no MuJoCo version (made before dexndm 0.2.0); running MuJoCo "
            f"{running}: its behaviour may differ from what it was built on"
        )
    elif str(built) != running:
        message = (
            f"{what} was built with MuJoCo {built} and runs on MuJoCo {running}: physics "
            "differs between releases; install the pinned set (pip install -e . -c "
            "constraints.txt) to reproduce its figures"
        )
    else:
        return
    warnings.warn(message, EngineVersionWarning, stacklevel=3)
