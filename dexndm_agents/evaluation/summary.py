"""One evaluated condition as one record, and the statistics every comparison uses.

A condition is a policy on a hand (the ideal sim, the virtual hand with direct transfer, with
a residual, with a factor put back ...) or a cell of an evaluation grid, run on a range of
seeds. `ConditionSummary` holds the paper's metrics over those episodes and each episode's
RotR, so that two conditions on the same seeds compare seed by seed: `paired_difference` gives
the mean difference and its standard error, the one place that is computed. On disk a summary
is a JSON object with the keys RotR, RotR_std, TTF, TTF_std, RotP, rotation_rad, drops,
episodes, RotR_per_episode (and seeds, tracking_error_rad when known).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class Episode(Protocol):
    """What a summary reads of an episode (EpisodeMetrics, or a grid's EpisodeRow)."""

    rotr: float
    ttf: float
    rotp: float
    rotation_rad: float
    dropped: bool


def mean_and_se(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """The mean of values and its standard error (0 for a single value)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no values to average")
    se = values.std(ddof=1) / np.sqrt(values.size) if values.size > 1 else 0.0
    return float(values.mean()), float(se)


def paired_difference(
    values: Sequence[float] | np.ndarray, baseline: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    """Mean of the per-seed differences values - baseline, and its standard error.

    Episodes differ far more from seed to seed than conditions do; pairing by seed removes the
    seed's share of the spread.

    Raises:
        ValueError: when the two do not cover the same number of seeds.
    """
    values, baseline = np.asarray(values, dtype=np.float64), np.asarray(baseline, np.float64)
    if values.shape != baseline.shape:
        raise ValueError(
            f"a paired difference needs the same seeds: {values.shape} vs {baseline.shape}"
        )
    return mean_and_se(values - baseline)


_JSON_KEYS = {
    "rotr": "RotR",
    "rotr_std": "RotR_std",
    "ttf": "TTF",
    "ttf_std": "TTF_std",
    "rotp": "RotP",
    "rotation_rad": "rotation_rad",
    "drops": "drops",
    "episodes": "episodes",
    "rotr_per_episode": "RotR_per_episode",
    "seeds": "seeds",
    "tracking_error_rad": "tracking_error_rad",
}


_OPTIONAL_KEYS = ("seeds", "tracking_error_rad", "ttf_std", "rotation_rad")


@dataclass
class ConditionSummary:
    """The paper's table entries for one condition, and each episode's RotR.

    Attributes:
        rotr, rotr_std: mean RotR and its spread over episodes (rotr_se: its standard error).
        ttf, rotp: mean TTF and RotP.
        ttf_std, rotation_rad: TTF's spread and the mean radians turned about the axis (None
            in records written before they were kept).
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
    ttf_std: float | None = None
    rotation_rad: float | None = None

    @classmethod
    def of(cls, metrics: Sequence[Episode], first_seed: int | None = None) -> ConditionSummary:
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
            ttf_std=float(np.std([m.ttf for m in metrics])),
            rotation_rad=float(np.mean([m.rotation_rad for m in metrics])),
        )

    @property
    def rotr_se(self) -> float:
        """The standard error of the mean RotR."""
        return mean_and_se(self.rotr_per_episode)[1]

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
            if key not in record and name not in _OPTIONAL_KEYS
        ]
        if missing:
            raise ValueError(f"not a condition summary: missing {missing}")
        return cls(**{name: record.get(key) for name, key in _JSON_KEYS.items()})
