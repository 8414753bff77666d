"""Periodic finger gaits, and the cross-entropy search that finds one which rotates an object.

A gait is open loop with respect to the object. In the "action" space every joint's relative
action is a sum of harmonics of one frequency,

    a_j(t) = clip(sum_h A_hj cos(2 pi h f t + phi_hj), -1, 1),

so the joint targets (the integral of the actions) cycle. In the "target" space the harmonics
shape the targets themselves around the grasp the episode started from,

    q*_j(t) = q0_j + sum_h A_hj (cos(2 pi h f t + phi_hj) - cos(phi_hj))   (A in rad),

and the action steers the current target (read from the observation) toward q*(t + 1) as fast
as the action limit allows, so the cycle cannot drift when a joint limit clips a target. It needs
nothing of the object, which makes it a cheap teacher:
`dexndm_agents.base_policy.gait_search` tunes amplitudes, phases and frequency with the
cross-entropy method on the paper's RotR, and the distillation
(dexndm_agents.base_policy.distillation) turns the gait's rollouts into a proprioceptive
generalist that acts on what the hand reports, as the paper does with its PPO specialists.

A gait acts through SB3's predict signature; its `state` is the step counter (and, in the
target space, the starting targets), restarted where `episode_start` is true (as SB3 does for
recurrent policies).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dexndm_envs.core import interface
from dexndm_envs.core.atomic import atomic_write_text
from dexndm_envs.core.constants import MAX_DELTA_RAD, NUM_JOINTS
from dexndm_envs.core.provenance import build_info, check_build

GAIT_FORMAT = "periodic_gait/1"
SPACES = ("action", "target")
MAX_AMPLITUDE = 3.0
"""Amplitudes above 1 saturate the action: the target then moves at full speed (1/24 rad per
step) for part of each cycle, a trapezoid rather than a sine."""
MAX_TARGET_AMPLITUDE_RAD = 0.6
"""Largest target-space amplitude searched (rad, per harmonic)."""


def relative_action(
    goal_rad: np.ndarray, targets_rad: np.ndarray, max_delta_rad: float = MAX_DELTA_RAD
) -> np.ndarray:
    """The env's relative action that moves its targets toward goal_rad, as fast as its rate
    limit (max_delta_rad per step) allows (float32)."""
    return np.clip((goal_rad - targets_rad) / max_delta_rad, -1.0, 1.0).astype(np.float32)


def episode_state(
    targets: np.ndarray,
    state: tuple[np.ndarray, ...] | None,
    episode_start: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """A gait's SB3-style state per env: (step counter, starting targets), where targets
    (n, 16) are the current ones; started afresh where there is none or episode_start is true.
    """
    n = len(targets)
    if state is None:
        steps, start = np.zeros(n, dtype=np.int64), targets.copy()
    else:
        steps = np.array(state[0]).reshape(n)
        start = np.array(state[1]).reshape(n, NUM_JOINTS)
    if episode_start is not None:
        restart = np.asarray(episode_start, dtype=bool).reshape(n)
        steps = np.where(restart, 0, steps)
        start = np.where(restart[:, None], targets, start)
    return steps, start


@dataclass
class PeriodicGait:
    """An open-loop gait (module docstring).

    Args:
        amplitudes: (H, 16) amplitudes of harmonics 1..H: of the action (in the action space,
            where actions are in [-1, 1]) or of the target in rad (in the target space).
        phases_rad: (H, 16) phases.
        frequency_hz: the fundamental frequency.
        dt_s: the control period the gait is stepped at (the env's dt, 0.05 s).
        env_kwargs: the env options it was found on.
        space: "action" or "target" (module docstring).
        history_len: T of the proprio observation (target space: where the targets are).
    """

    amplitudes: np.ndarray
    phases_rad: np.ndarray
    frequency_hz: float
    dt_s: float = 0.05
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    space: str = "action"
    history_len: int = 3

    def __post_init__(self) -> None:
        self.amplitudes = np.atleast_2d(np.asarray(self.amplitudes, dtype=np.float64))
        self.phases_rad = np.atleast_2d(np.asarray(self.phases_rad, dtype=np.float64))
        if self.amplitudes.shape != self.phases_rad.shape or self.amplitudes.shape[1] != NUM_JOINTS:
            raise ValueError(
                f"amplitudes and phases must both be (harmonics, {NUM_JOINTS}); got "
                f"{self.amplitudes.shape} and {self.phases_rad.shape}"
            )
        if not 0.0 < self.frequency_hz < 0.5 / self.dt_s:
            raise ValueError(
                f"frequency_hz must be in (0, {0.5 / self.dt_s:g}) Hz at dt {self.dt_s} s, "
                f"got {self.frequency_hz}"
            )
        if self.space not in SPACES:
            raise ValueError(f"unknown gait space {self.space!r}; valid: {', '.join(SPACES)}")
        self._harmonics = np.arange(1, len(self.amplitudes) + 1)[:, None]
        # where the newest joint targets sit in a proprio observation of history T
        start = (2 * self.history_len - 1) * NUM_JOINTS
        self._newest_targets = slice(start, start + NUM_JOINTS)

    def _wave(self, step: int) -> np.ndarray:
        angle = 2 * np.pi * self.frequency_hz * step * self.dt_s * self._harmonics
        return (self.amplitudes * np.cos(angle + self.phases_rad)).sum(axis=0)

    def action(
        self,
        step: int,
        targets_rad: np.ndarray | None = None,
        start_rad: np.ndarray | None = None,
    ) -> np.ndarray:
        """The action at control step `step` of an episode, float32 (16,).

        The target space needs the current targets and those the episode started from.
        """
        if self.space == "action":
            return np.clip(self._wave(step), -1.0, 1.0).astype(np.float32)
        if targets_rad is None or start_rad is None:
            raise ValueError("a target-space gait needs the current and starting targets")
        return relative_action(self.target_goal(step + 1, start_rad), targets_rad)

    def target_goal(self, step: int, start_rad: np.ndarray) -> np.ndarray:
        """Target space: the targets (rad) at control step `step` of an episode that started
        at start_rad."""
        return start_rad + self._wave(step) - self._wave(0)

    def phase_features(self, step: int) -> np.ndarray:
        """sin and cos of the fundamental's phase at control step `step`, float32 (2,)."""
        angle = 2.0 * np.pi * self.frequency_hz * step * self.dt_s
        return np.array([np.sin(angle), np.cos(angle)], dtype=np.float32)

    def targets_of(self, observation: np.ndarray) -> np.ndarray:
        """The newest joint targets (rad) in proprio observations (..., D)."""
        return interface.unnormalize_joints(
            np.asarray(observation, dtype=np.float64)[..., self._newest_targets]
        )

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """SB3's signature; state is (step counter, starting targets) per env."""
        batched = np.ndim(observation) == 2
        n = len(observation) if batched else 1
        obs = np.asarray(observation).reshape(n, -1)
        targets = self.targets_of(obs) if self.space == "target" else np.zeros((n, NUM_JOINTS))
        steps, start = episode_state(targets, state, episode_start)
        actions = np.stack(
            [self.action(int(s), q, q0) for s, q, q0 in zip(steps, targets, start, strict=True)]
        )
        return (actions if batched else actions[0]), (steps + 1, start)

    # ------------------------------------------------------------ parameters
    @property
    def num_params(self) -> int:
        return 2 * self.amplitudes.size + 1

    def to_vector(self) -> np.ndarray:
        return np.concatenate(
            [self.amplitudes.ravel(), self.phases_rad.ravel(), [self.frequency_hz]]
        )

    @classmethod
    def from_vector(
        cls, vector: np.ndarray, harmonics: int, dt_s: float = 0.05, **kwargs: Any
    ) -> PeriodicGait:
        n = harmonics * NUM_JOINTS
        return cls(
            vector[:n].reshape(harmonics, NUM_JOINTS),
            vector[n : 2 * n].reshape(harmonics, NUM_JOINTS),
            float(vector[2 * n]),
            dt_s,
            **kwargs,
        )

    def save(self, path: str | Path) -> Path:
        """Write the gait as JSON (`load_policy` reads it back)."""
        return atomic_write_text(
            path, json.dumps({**self.to_record(), "build": build_info()}, indent=1)
        )

    def to_record(self) -> dict[str, Any]:
        """The gait as a JSON-ready dict (what save writes)."""
        return {
            "format": GAIT_FORMAT,
            "amplitudes": self.amplitudes.tolist(),
            "phases_rad": self.phases_rad.tolist(),
            "frequency_hz": self.frequency_hz,
            "dt_s": self.dt_s,
            "env_kwargs": self.env_kwargs,
            "space": self.space,
            "history_len": self.history_len,
        }

    @classmethod
    def load(cls, path: str | Path) -> PeriodicGait:
        """Read a gait written by save(); warns when it was found under another MuJoCo."""
        record = json.loads(Path(path).read_text())
        gait = cls.from_record(record, str(path))
        check_build(record.get("build"), f"gait {path}")
        return gait

    @classmethod
    def from_record(cls, record: dict[str, Any], source: str = "the record") -> PeriodicGait:
        """The gait a to_record() dict describes.

        Raises:
            ValueError: the record is not a gait's.
        """
        if record.get("format") != GAIT_FORMAT:
            raise ValueError(f"{source} is not a gait (format {record.get('format')!r})")
        return cls(
            np.array(record["amplitudes"]),
            np.array(record["phases_rad"]),
            record["frequency_hz"],
            record["dt_s"],
            record.get("env_kwargs", {}),
            record.get("space", "action"),
            record.get("history_len", 3),
        )
