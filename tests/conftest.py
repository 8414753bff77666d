"""Shared test set-up: headless rendering, and the package importable from a plain checkout."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
