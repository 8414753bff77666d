"""Shared test set-up: headless rendering and fixtures (helpers.py has the helper functions)."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")


import pathlib

import pytest
from helpers import REPO_ROOT


@pytest.fixture
def repo_root() -> pathlib.Path:
    """The repository's top level (real/, examples/ ...)."""
    return REPO_ROOT


@pytest.fixture
def one_torch_thread():
    """Tiny networks gain nothing from intra-op threads, which only contend with other work."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
