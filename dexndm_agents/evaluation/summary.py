"""One evaluated condition as one record, and the statistics every comparison uses.

A condition is a policy on a hand (the ideal sim, the virtual hand with direct transfer, with
a residual, with a factor put back ...) or a cell of an evaluation grid, run on a range of
seeds. `ConditionSummary` holds the paper's metrics over those episodes, each episode's RotR
and where each episode started, so that two conditions on the same seeds compare seed by seed:
`paired_difference` gives the mean difference and its standard error, the one place that is
computed.

Episodes are not independent just because their seeds differ. Without randomisation an
episode is fixed by its start (the cached grasp, `info["start"]`), and episodes from one start
stay alike under randomisation and small perturbations (the grasp decides most of the
outcome). So every standard error here is taken over distinct starts: the episodes of one start
are one cluster (`clustered_se`); with every start distinct it is the usual std / sqrt(n).

On disk a summary is a JSON object with the keys RotR, RotR_se, RotR_std, TTF, TTF_se,
TTF_std, RotP, rotation_rad, drops, episodes, distinct_starts, first_seed, RotR_per_episode,
starts (and tracking_error_rad when known).
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


def clustered_se(values: Sequence[float] | np.ndarray, starts: Sequence[str] | None) -> float:
    """The standard error of the mean of values, taken over distinct starts.

    Episodes from one start are one cluster: se^2 = G / (G - 1) * sum_g (sum_{i in g}
    (x_i - mean))^2 / n^2 over the G distinct starts of the n episodes (the cluster-robust
    variance; with every start distinct it is std(ddof=1)^2 / n). NaN when fewer than two
    distinct starts; with starts None every episode counts as its own start.

    Raises:
        ValueError: no values, or starts of another length.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no values to average")
    if starts is None:
        starts = [str(i) for i in range(values.size)]
    if len(starts) != values.size:
        raise ValueError(f"{values.size} values but {len(starts)} starts")
    _, cluster = np.unique(np.asarray(starts, dtype=str), return_inverse=True)
    groups = int(cluster.max()) + 1
    if groups < 2:
        return float("nan")
    sums = np.bincount(cluster, weights=values - values.mean(), minlength=groups)
    return float(np.sqrt(groups / (groups - 1) * np.sum(sums**2)) / values.size)


def mean_and_se(
    values: Sequence[float] | np.ndarray, starts: Sequence[str] | None = None
) -> tuple[float, float]:
    """The mean of values and its standard error over distinct starts (clustered_se)."""
    se = clustered_se(values, starts)  # raises for no values
    return float(np.mean(values)), se


def paired_difference(
    values: Sequence[float] | np.ndarray,
    baseline: Sequence[float] | np.ndarray,
    starts: Sequence[str],
) -> tuple[float, float]:
    """Mean of the per-seed differences values - baseline, and its standard error over the
    distinct starts of those seeds.

    Episodes differ far more from seed to seed than conditions do; pairing by seed removes the
    seed's share of the spread. Seeds that share a start are one cluster, so a repeated start
    counts once (clustered_se).

    Args:
        values, baseline: one value per seed, the same seeds in the same order.
        starts: each seed's start (info["start"]), the same under both conditions.

    Raises:
        ValueError: when the two do not cover the same number of seeds, or starts is not one
            per seed.
    """
    values, baseline = np.asarray(values, dtype=np.float64), np.asarray(baseline, np.float64)
    if values.shape != baseline.shape:
        raise ValueError(
            f"a paired difference needs the same seeds: {values.shape} vs {baseline.shape}"
        )
    return mean_and_se(values - baseline, starts)


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
    "first_seed": "first_seed",
    "starts": "starts",
    "ttf_per_episode": "TTF_per_episode",
    "tracking_error_rad": "tracking_error_rad",
}
_DERIVED_KEYS = {"rotr_se": "RotR_se", "ttf_se": "TTF_se", "distinct_starts": "distinct_starts"}
"""Written for readers of the file; recomputed from the rest when it is read."""
_OPTIONAL_KEYS = (
    "first_seed", "starts", "ttf_per_episode", "tracking_error_rad", "ttf_std", "rotation_rad",
)  # fmt: skip


@dataclass
class ConditionSummary:
    """The paper's table entries for one condition, each episode's RotR and TTF, and where
    each episode started.

    Attributes:
        rotr, rotr_std: mean RotR and its spread over episodes (rotr_se: its standard error
            over distinct starts).
        ttf, rotp: mean TTF and RotP.
        drops: the share of episodes that dropped the object.
        episodes: how many episodes.
        rotr_per_episode: RotR of each episode, in seed order (rounded to 1e-3).
        first_seed: the first episode's seed (the others follow one by one), when known.
        starts: each episode's start (info["start"]: object/wrist/grasp), in seed order, when
            known; distinct_starts counts them.
        ttf_per_episode: TTF of each episode, in seed order, when kept.
        tracking_error_rad: the replayed tracking error on the hand, when measured.
        ttf_std, rotation_rad: TTF's spread and the mean radians turned about the axis (None
            in records written before they were kept).
    """

    rotr: float
    rotr_std: float
    ttf: float
    rotp: float
    drops: float
    episodes: int
    rotr_per_episode: list[float] = field(repr=False)
    first_seed: int | None = None
    starts: list[str] | None = field(default=None, repr=False)
    ttf_per_episode: list[float] | None = field(default=None, repr=False)
    tracking_error_rad: float | None = None
    ttf_std: float | None = None
    rotation_rad: float | None = None

    def __post_init__(self) -> None:
        if self.starts is not None and len(self.starts) != self.episodes:
            raise ValueError(f"{self.episodes} episodes but {len(self.starts)} starts")

    @classmethod
    def of(
        cls,
        metrics: Sequence[Episode],
        first_seed: int | None = None,
        starts: Sequence[str] | None = None,
    ) -> ConditionSummary:
        """Summarise episodes run on seeds first_seed, first_seed + 1, ... (in that order) from
        the given starts (info["start"] of each episode's reset)."""
        if not metrics:
            raise ValueError("no episodes to summarise")
        rotr = np.array([m.rotr for m in metrics])
        ttf = np.array([m.ttf for m in metrics])
        return cls(
            rotr=float(rotr.mean()),
            rotr_std=float(rotr.std()),
            ttf=float(ttf.mean()),
            rotp=float(np.mean([m.rotp for m in metrics])),
            drops=float(np.mean([m.dropped for m in metrics])),
            episodes=len(metrics),
            rotr_per_episode=rotr.round(3).tolist(),
            first_seed=first_seed,
            starts=None if starts is None else [str(start) for start in starts],
            ttf_per_episode=ttf.round(4).tolist(),
            ttf_std=float(ttf.std()),
            rotation_rad=float(np.mean([m.rotation_rad for m in metrics])),
        )

    @property
    def distinct_starts(self) -> int | None:
        """How many distinct starts the episodes came from (None when starts are unknown)."""
        return None if self.starts is None else len(set(self.starts))

    @property
    def rotr_se(self) -> float:
        """The standard error of the mean RotR, over distinct starts (clustered_se)."""
        return clustered_se(self.rotr_per_episode, self.starts)

    @property
    def ttf_se(self) -> float | None:
        """The standard error of the mean TTF, over distinct starts (None when not kept)."""
        if self.ttf_per_episode is None:
            return None
        return clustered_se(self.ttf_per_episode, self.starts)

    def paired_difference(self, baseline: ConditionSummary) -> tuple[float, float]:
        """Mean RotR difference to a baseline run on the same seeds, and its standard error over
        the distinct starts of those seeds.

        Raises:
            ValueError: other seeds, other starts for a seed, or starts unknown on either side
                (then nothing tells how many episodes are distinct: evaluate again).
        """
        if self.first_seed != baseline.first_seed or self.episodes != baseline.episodes:
            raise ValueError(
                "a paired difference needs the same seeds: "
                f"{self.episodes} from {self.first_seed} vs {baseline.episodes} from "
                f"{baseline.first_seed}"
            )
        if self.starts is None or baseline.starts is None:
            raise ValueError(
                "a paired difference needs each episode's start on both sides, to count "
                "distinct episodes; this record has none (written before starts were kept): "
                "evaluate again"
            )
        if self.starts != baseline.starts:
            pairs = zip(self.starts, baseline.starts, strict=True)
            i = next(i for i, (start, other) in enumerate(pairs) if start != other)
            raise ValueError(
                f"a paired difference needs the same starts: episode {i} started from "
                f"{self.starts[i]} and from {baseline.starts[i]}"
            )
        return paired_difference(self.rotr_per_episode, baseline.rotr_per_episode, self.starts)

    def to_json(self) -> dict[str, Any]:
        """The record as written to disk (keys of the module docstring; unknowns left out)."""
        names = {**_JSON_KEYS, **_DERIVED_KEYS}
        record = {key: getattr(self, name) for name, key in names.items()}
        return {key: value for key, value in record.items() if value is not None}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> ConditionSummary:
        """Read a record written by to_json (unknown and derived keys are ignored; the
        "seeds": [first seed, episodes] of older records becomes first_seed).

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
        values = {name: record.get(key) for name, key in _JSON_KEYS.items()}
        if values["first_seed"] is None and record.get("seeds") is not None:
            values["first_seed"] = int(record["seeds"][0])
        return cls(**values)
