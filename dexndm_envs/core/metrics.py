"""The paper's rotation metrics, computed one way for every caller from `info`.

RotR: episode sum of the object's angular velocity about the axis, omega . k (rad/s summed
over steps; DexNDM, Metrics). TTF: time to fall, as a fraction of the episode (sim) and in
seconds. RotP: per-step mean of ||omega x k|| (rad/s; lower is better). Rotation: total
radians turned about the axis, sum of omega . k * dt.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class EpisodeMetrics:
    """The metrics of one episode."""

    rotr: float
    ttf: float
    ttf_s: float
    rotp: float
    rotation_rad: float
    steps: int
    dropped: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class MetricsTracker:
    """Accumulates one episode from the `info` of each step.

    Args:
        dt_s: control period (env.unwrapped.dt).
        episode_steps: the full episode length TTF is relative to (400 in the paper).

    >>> tracker = MetricsTracker(dt_s=0.05, episode_steps=400)
    >>> for _ in range(400):
    ...     tracker.add({"rot_vel": 0.5, "rot_perp": 0.1, "dropped": False})
    >>> m = tracker.result()
    >>> round(m.rotr, 6), m.ttf, round(m.rotation_rad, 6)
    (200.0, 1.0, 10.0)
    """

    def __init__(self, dt_s: float, episode_steps: int = 400) -> None:
        self.dt_s = dt_s
        self.episode_steps = episode_steps
        self.reset()

    def reset(self) -> None:
        self._rot_sum = 0.0
        self._perp_sum = 0.0
        self._steps = 0
        self._dropped = False

    def add(self, info: dict[str, Any]) -> None:
        """Count one step (its info must hold rot_vel, rot_perp and dropped)."""
        self._rot_sum += float(info["rot_vel"])
        self._perp_sum += float(info["rot_perp"])
        self._steps += 1
        self._dropped = self._dropped or bool(info["dropped"])

    def result(self) -> EpisodeMetrics:
        steps = max(self._steps, 1)
        return EpisodeMetrics(
            rotr=self._rot_sum,
            ttf=min(self._steps / self.episode_steps, 1.0),
            ttf_s=self._steps * self.dt_s,
            rotp=self._perp_sum / steps,
            rotation_rad=self._rot_sum * self.dt_s,
            steps=self._steps,
            dropped=self._dropped,
        )
