"""What the DexNDM loop measures: its conditions, and `LoopResults`, the record run_loop returns
and examples/sim2real_gap.py writes as results.json.

results.json keeps one object per condition at the top level (a ConditionSummary's record),
beside "bundles" (each bundle's recorded model and adapter figures), "model_study", "config"
and, from the program, "seconds".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dexndm_agents.evaluation.summary import ConditionSummary

CONDITIONS = ("ideal", "direct", "whole_hand", "dexndm")
"""The paper's comparison: ideal sim; the target (the virtual hand, or a hand in PhysX:
loop_target) with direct transfer, with a whole-hand-NDM residual, and with DexNDM (the
joint-wise NDM's residual)."""

REACHABLE_HAND = "reachable"
"""The reference condition run after the comparison: direct transfer on the virtual hand with
every hands.REACHABLE factor at the sim's value. Its gain over direct transfer is about the
most a residual on the targets can regain (an estimate, not a bound: a residual may also offset
part of what is out of reach). Run on MuJoCo's virtual hand only (loop_target)."""

EVALUATED = (*CONDITIONS, REACHABLE_HAND)

MODEL_CONDITIONS = ("whole_hand", "dexndm")
"""The conditions with a residual trained through a dynamics model."""

_SECTIONS = ("bundles", "model_study", "config", "seconds")


@dataclass
class LoopResults:
    """The loop's comparison on one target hand.

    Attributes:
        conditions: each evaluated condition's summary (EVALUATED order; results of runs
            before the reachable hand was part of the loop lack it).
        bundles: each model condition's bundle figures (model error, predicted tracking).
        model_study: next-step error against training data size, in and out of distribution.
        config: the loop's settings (LoopConfig.as_dict, plus what the program adds).
        seconds: the wall-clock of the run, when a program timed it.
    """

    conditions: dict[str, ConditionSummary]
    bundles: dict[str, dict[str, Any]] = field(default_factory=dict)
    model_study: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None

    def paired_difference(self, condition: str) -> tuple[float, float]:
        """Mean RotR difference to direct transfer over the same seeds, and its standard
        error: episodes differ far more from seed to seed than conditions do, and pairing by
        seed removes the seed's share of the spread."""
        return self.conditions[condition].paired_difference(self.conditions["direct"])

    def share_of_loss(self, condition: str) -> float:
        """A condition's paired gain over direct transfer as a share of the RotR direct
        transfer loses from the ideal sim; nan when there is no loss to share: one no larger
        than two of its standard errors (a share of noise would read as a figure)."""
        loss, error = self.paired_difference("ideal")
        if not loss > 2.0 * error:
            return float("nan")
        return self.paired_difference(condition)[0] / loss

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {name: s.to_json() for name, s in self.conditions.items()}
        record |= {"bundles": self.bundles, "model_study": self.model_study, "config": self.config}
        if self.seconds is not None:
            record["seconds"] = self.seconds
        return record

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> LoopResults:
        """Read results.json's object (conditions it does not know are ignored)."""
        return cls(
            conditions={
                name: ConditionSummary.from_json(record[name])
                for name in EVALUATED
                if name in record
            },
            **{key: record[key] for key in _SECTIONS if key in record},
        )
