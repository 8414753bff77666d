"""The studies in examples/studies/: each runs end to end and writes the results file its docs
page describes; bad input is refused before any episode runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import run_program


def test_the_breakdown_runs_every_hand_on_the_same_seeds(tmp_path):
    out = run_program(
        "examples/studies/gap_breakdown.py",
        *("--episodes", "2", "--max-steps", "5", "--factors", "latency", "torque_limit"),
        *("--out-dir", str(tmp_path)),
    )
    result = json.loads((tmp_path / "breakdown.json").read_text())
    names = {"ideal", "virtual", "latency", "torque_limit", "reachable", "all"}
    assert set(result["conditions"]) == names and result["first_seed"] == 1000
    assert result["episodes"] == 2 and result["distinct_starts"] == 2
    assert all(len(result["rotr"][name]) == 2 for name in names)
    virtual = result["conditions"]["virtual"]
    assert virtual["paired_gain"] == 0.0 and virtual["paired_gain_se"] == 0.0
    gain = np.mean(np.subtract(result["rotr"]["latency"], result["rotr"]["virtual"]))
    assert result["conditions"]["latency"]["paired_gain"] == pytest.approx(gain)
    assert "sim latency" in out and "sim torque_limit" in out
    assert (tmp_path / "breakdown.png").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--factors", "gravity"), "error: --factors: unknown gravity; known: "),
        (("--episodes", "1"), "error: --episodes must be at least 2, got 1"),
    ],
)
def test_the_breakdown_refuses_bad_input_before_any_episode(tmp_path, args, message):
    err = run_program(
        "examples/studies/gap_breakdown.py",
        *args,
        *("--out-dir", str(tmp_path / "x")),
        expect_failure=True,
    )
    assert err.startswith(message) and err.count("\n") == 1  # one line, no traceback
    assert not (tmp_path / "x").exists()


def test_the_sweep_pairs_every_push_with_the_bundle_alone(tmp_path):
    out = run_program(
        "examples/studies/push_sweep.py",
        *("--pushes", "0.01", "--episodes", "2", "--max-steps", "15"),
        *("--out", str(tmp_path / "push.json")),
    )
    rows = json.loads((tmp_path / "push.json").read_text())["rows"]
    assert [r["push_rad"] for r in rows] == [0.0, 0.01]  # push 0 always runs, first
    assert rows[0]["paired_gain"] == 0.0 and len(rows[1]["RotR_per_episode"]) == 2
    gains = np.subtract(rows[1]["RotR_per_episode"], rows[0]["RotR_per_episode"])
    assert rows[1]["paired_gain"] == pytest.approx(gains.mean(), abs=1e-3)  # rows round
    assert "paired gain over push 0" in out


def test_a_push_past_the_adapters_bound_is_refused_before_any_episode():
    err = run_program("examples/studies/push_sweep.py", "--pushes", "0.2", expect_failure=True)
    assert "pushes must be within the adapter's bound (0.05 rad)" in err
    assert "Traceback" not in err and "push 0 mrad" not in err


def test_engine_transfer_pairs_physx_with_mujoco_on_the_same_starts(tmp_path):
    out = run_program(
        "examples/studies/engine_transfer.py",
        *("--episodes", "3", "--max-steps", "10", "--out", str(tmp_path / "transfer.json")),
    )
    result = json.loads((tmp_path / "transfer.json").read_text())
    assert result["world"]["name"] == "default" and result["config"]["seed"] == 5000
    every = result["rows"]["all"]
    assert every["episodes"] == 3 and every["distinct_starts"] == 3
    assert every["difference"] == pytest.approx(every["physx_rotr"] - every["mujoco_rotr"])
    episodes = result["episodes"]
    assert len(set(episodes["starts"])) == 3
    assert np.mean(episodes["physx_rotr"]) == pytest.approx(every["physx_rotr"])
    assert sum(r["episodes"] for n, r in result["rows"].items() if n != "all") <= 3
    assert "PhysX - MuJoCo" in out and (tmp_path / "transfer.png").is_file()
