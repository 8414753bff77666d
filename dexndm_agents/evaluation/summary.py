"""One condition's evaluation as one record: what every comparison program writes per condition.

A condition is a policy on a hand (the ideal sim, the virtual hand with direct transfer, with
a residual, with a factor put back ...), run on a range of seeds. `ConditionSummary` holds the
paper's metrics over those episodes and each episode's RotR, so that two conditions on the same
seeds compare seed by seed (`paired_difference`). On disk it is a JSON object with the keys
RotR, RotR_std, TTF, RotP, drops, episodes, RotR_per_episode (and seeds, tracking_error_rad
when known).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dexndm_agents.evaluation.reports import paired_difference
from dexndm_envs.core.metrics import EpisodeMetrics

_JSON_KEYS = {
    "rotr": "RotR",
    "rotr_std": "RotR_std",
    "ttf": "TTF",
    "rotp": "RotP",
    "drops": "drops",
    "episodes": "episodes",
    "rotr_per_episode": "RotR_per_episode",
    "seeds": "seeds",
    "tracking_error_rad": "tracking_error_rad",
}


@dataclass
class ConditionSummary:
    """The paper's table entries for one condition, and each episode's RotR.

    Attributes:
        rotr, rotr_std: mean RotR and its spread over episodes (not the standard error).
        ttf, rotp: mean TTF and RotP.
        drops: the share of episodes that dropped the object.
        episodes: how many episodes.
        rotr_per_episode: RotR of each episode, in seed order (rounded to 1e-3).
        seeds: [first seed, episodes] when known.
        tracking_error_rad: the replayed tracking error on the hand, when measured.
    """

    rotr: float
    rotr_std: float
    ttf: float
    rotp: float
    drops: float
    episodes: int
    rotr_per_episode: list[float] = field(repr=False)
    seeds: list[int] | None = None
    tracking_error_rad: float | None = None

    @classmethod
    def of(
        cls, metrics: Sequence[EpisodeMetrics], first_seed: int | None = None
    ) -> ConditionSummary:
        """Summarise episodes run on seeds first_seed, first_seed + 1, ... (in that order)."""
        if not metrics:
            raise ValueError("no episodes to summarise")
        rotr = np.array([m.rotr for m in metrics])
        return cls(
            rotr=float(rotr.mean()),
            rotr_std=float(rotr.std()),
            ttf=float(np.mean([m.ttf for m in metrics])),
            rotp=float(np.mean([m.rotp for m in metrics])),
            drops=float(np.mean([m.dropped for m in metrics])),
            episodes=len(metrics),
            rotr_per_episode=rotr.round(3).tolist(),
            seeds=None if first_seed is None else [first_seed, len(metrics)],
        )

    def paired_difference(self, baseline: ConditionSummary) -> tuple[float, float]:
        """Mean RotR difference to a baseline run on the same seeds, and its standard error."""
        if self.seeds is not None and baseline.seeds is not None and self.seeds != baseline.seeds:
            raise ValueError(
                f"a paired difference needs the same seeds: {self.seeds} vs {baseline.seeds}"
            )
        return paired_difference(self.rotr_per_episode, baseline.rotr_per_episode)

    def to_json(self) -> dict[str, Any]:
        """The record as written to disk (keys of the module docstring; unknowns left out)."""
        return {
            key: getattr(self, name)
            for name, key in _JSON_KEYS.items()
            if getattr(self, name) is not None
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> ConditionSummary:
        """Read a record written by to_json (unknown keys are ignored).

        Raises:
            ValueError: a key the summary needs is missing.
        """
        missing = [
            key
            for name, key in _JSON_KEYS.items()
            if key not in record and name not in ("seeds", "tracking_error_rad")
        ]
        if missing:
            raise ValueError(f"not a condition summary: missing {missing}")
        return cls(**{name: record.get(key) for name, key in _JSON_KEYS.items()})
