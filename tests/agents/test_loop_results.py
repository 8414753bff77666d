"""The loop's results: each condition's summary, paired gains and shares of the loss, the
record on disk, and the table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dexndm_agents.dexndm.loop_report import format_table
from dexndm_agents.dexndm.results import LoopResults
from dexndm_agents.evaluation.summary import ConditionSummary, clustered_se
from dexndm_envs.core.metrics import EpisodeMetrics


def _metrics(rotr: float, dropped: bool = False) -> EpisodeMetrics:
    return EpisodeMetrics(
        rotr=rotr, ttf=0.5 if dropped else 1.0, ttf_s=10.0, rotp=1.0, rotation_rad=rotr / 20,
        steps=400, dropped=dropped,
    )  # fmt: skip


def test_a_summary_holds_the_papers_metrics_and_survives_the_round_trip():
    episodes = [_metrics(100.0), _metrics(50.0, dropped=True)]
    summary = ConditionSummary.of(episodes, first_seed=7, starts=["a/palm_up/1", "a/palm_up/2"])
    assert summary.rotr == 75.0 and summary.rotr_std == 25.0 and summary.ttf == 0.75
    assert summary.drops == 0.5 and summary.episodes == 2 and summary.first_seed == 7
    assert summary.distinct_starts == 2 and summary.rotr_se == pytest.approx(25.0)
    record = json.loads(json.dumps(summary.to_json()))
    assert record["RotR"] == 75.0 and "tracking_error_rad" not in record  # unknowns left out
    assert record["RotR_se"] == pytest.approx(25.0) and record["distinct_starts"] == 2
    assert ConditionSummary.from_json(record) == summary
    # a record of before: "seeds": [first seed, episodes] and no starts
    old = {k: v for k, v in record.items() if k not in ("first_seed", "starts")}
    assert ConditionSummary.from_json({**old, "seeds": [7, 2]}).first_seed == 7
    with pytest.raises(ValueError, match=r"missing \['RotR_per_episode'\]"):
        ConditionSummary.from_json({k: v for k, v in record.items() if k != "RotR_per_episode"})
    with pytest.raises(ValueError, match="no episodes"):
        ConditionSummary.of([])


def test_paired_differences_need_the_same_seeds_and_starts():
    starts = ["a/palm_up/0", "a/palm_up/1"]
    a = ConditionSummary.of([_metrics(10.0), _metrics(30.0)], first_seed=0, starts=starts)
    b = ConditionSummary.of([_metrics(4.0), _metrics(20.0)], first_seed=0, starts=starts)
    assert a.paired_difference(b) == pytest.approx((8.0, 2.0))
    with pytest.raises(ValueError, match="same seeds"):
        a.paired_difference(
            ConditionSummary.of([_metrics(4.0), _metrics(20.0)], first_seed=5, starts=starts)
        )
    other = ConditionSummary.of([_metrics(4.0), _metrics(20.0)], 0, ["a/palm_up/0", "b/palm_up/1"])
    with pytest.raises(ValueError, match="episode 1 started from a/palm_up/1 and from b/palm_up/1"):
        a.paired_difference(other)
    unknown = ConditionSummary.of([_metrics(4.0), _metrics(20.0)], first_seed=0)
    with pytest.raises(ValueError, match="needs each episode's start"):
        a.paired_difference(unknown)


def test_episodes_that_share_a_start_count_once_in_the_standard_error():
    """Four seeds, two of them from one grasp with the same outcome: two clusters' worth of
    evidence, and a paired difference clusters the same way."""
    rng = np.random.default_rng(3)
    values = rng.normal(100.0, 30.0, 200)
    distinct = [f"c/palm_up/{i}" for i in range(200)]
    naive = values.std(ddof=1) / np.sqrt(200)
    assert clustered_se(values, distinct) == pytest.approx(naive)
    assert clustered_se(values, None) == pytest.approx(naive)
    # every episode twice (bit-identical repeats): the same information, so the same s.e.,
    # where treating the 400 as independent would shrink it by sqrt(2)
    twice, twice_starts = np.repeat(values, 2), np.repeat(distinct, 2)
    assert clustered_se(twice, twice_starts) == pytest.approx(naive, rel=0.01)
    assert twice.std(ddof=1) / np.sqrt(400) < 0.75 * naive
    assert np.isnan(clustered_se([1.0, 2.0], ["c/palm_up/0"] * 2))  # one start: unknowable
    metrics = [_metrics(float(v)) for v in twice]
    summary = ConditionSummary.of(metrics, first_seed=0, starts=list(twice_starts))
    baseline = ConditionSummary.of(
        [_metrics(float(v) - 5.0) for v in twice], first_seed=0, starts=list(twice_starts)
    )
    assert summary.distinct_starts == 200
    assert summary.rotr_se == pytest.approx(naive, rel=0.01)
    assert summary.paired_difference(baseline) == pytest.approx((5.0, 0.0), abs=1e-9)


def test_loop_results_read_back_what_they_write():
    results = _results({"ideal": [3.0, 5.0], "direct": [1.0, 2.0]})
    results.config, results.seconds = {"hardware_profile": "worn"}, 12.5
    record = json.loads(json.dumps(results.to_json()))
    assert record["direct"]["RotR"] == 1.5 and record["seconds"] == 12.5
    assert LoopResults.from_json(record) == results
    assert results.share_of_loss("direct") == 0.0


def _results(rotr: dict[str, list[float]]) -> LoopResults:
    return LoopResults(
        conditions={
            name: ConditionSummary(
                rotr=float(np.mean(v)),
                rotr_std=1.0,
                ttf=1.0,
                rotp=0.5,
                drops=0.0,
                episodes=len(v),
                rotr_per_episode=v,
                first_seed=0,
                starts=[f"c/palm_up/{i}" for i in range(len(v))],
            )
            for name, v in rotr.items()
        }
    )


def test_the_table_gives_each_residual_its_share_of_the_loss_and_of_the_reachable_part():
    results = _results(
        {
            "ideal": [200.0, 100.0],
            "direct": [100.0, 60.0],  # loses 70
            "whole_hand": [110.0, 64.0],  # regains 7: 10 %
            "dexndm": [128.0, 74.0],  # regains 21: 30 %
            "reachable": [140.0, 90.0],  # regains 35 (40 and 30): 50 %
        }
    )
    table = format_table(results)
    assert "dexndm regains 30% of the loss, 60% of the reachable hand's 50%" in table
    assert "whole_hand regains 10% of the loss, 20% of the reachable hand's 50%" in table
    row = next(line for line in table.splitlines() if line.startswith("reachable"))
    assert "+35.0 +- 5.0" in row and " 50% " in row
    # results from before the reachable hand was part of the loop still print
    del results.conditions["reachable"]
    assert "regains" not in format_table(results)
    assert "dexndm" in format_table(results)


def test_a_loss_within_two_standard_errors_has_no_shares():
    """Ideal - direct of 1 +- 2: a residual's share of it would be a share of noise."""
    results = _results(
        {
            "ideal": [101.0, 104.0, 98.0],
            "direct": [100.0, 100.0, 100.0],
            "dexndm": [105.0, 104.0, 106.0],
        }
    )
    loss, error = results.paired_difference("ideal")
    assert 0.0 < loss < 2.0 * error
    assert np.isnan(results.share_of_loss("dexndm"))
    row = next(line for line in format_table(results).splitlines() if line.startswith("dexndm"))
    assert row.split()[-2] == "-"  # the share column (the last is tracking)
