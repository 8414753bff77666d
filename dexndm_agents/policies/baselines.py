"""Baseline policies: what a learned policy is measured against (hold still, act at random)."""

from __future__ import annotations

import numpy as np

from dexndm_envs.core.constants import NUM_JOINTS


class _Baseline:
    """SB3's predict signature for a policy that ignores the observation and keeps no state."""

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        return self.action().astype(np.float32), state

    def action(self) -> np.ndarray:
        raise NotImplementedError


class ZeroPolicy(_Baseline):
    """Baseline: hold the grasp (zero target changes)."""

    def action(self) -> np.ndarray:
        return np.zeros(NUM_JOINTS)


class RandomPolicy(_Baseline):
    """Baseline: uniform random target changes in [-1, 1] from its own seeded generator, whatever
    `deterministic` says (the baseline is the random policy itself)."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def action(self) -> np.ndarray:
        return self.rng.uniform(-1.0, 1.0, NUM_JOINTS)
