"""Shared test set-up: headless rendering, and the package importable from a plain checkout."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")


import pathlib

import pytest


@pytest.fixture
def repo_root() -> pathlib.Path:
    """The repository's top level (real/, examples/ ...)."""
    return pathlib.Path(__file__).resolve().parent.parent
