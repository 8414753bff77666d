"""Baseline policies: what a learned policy is measured against (hold still, act at random)."""

from __future__ import annotations

import numpy as np

from dexndm_envs.core.constants import NUM_JOINTS


class ZeroPolicy:
    """Baseline: hold the grasp (zero target changes)."""

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        return np.zeros(NUM_JOINTS, dtype=np.float32), state


class RandomPolicy:
    """Baseline: uniform random target changes in [-1, 1] from its own seeded generator."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Random whatever `deterministic` says: the baseline is the random policy itself."""
        return self.rng.uniform(-1.0, 1.0, NUM_JOINTS).astype(np.float32), state
