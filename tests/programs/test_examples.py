"""The example programs run end to end with tiny budgets."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from helpers import run_program


def test_quickstart_runs_the_shipped_policy_and_writes_video_and_plot(tmp_path):
    out = run_program(
        "examples/quickstart.py",
        "--episodes",
        "3",
        "--max-steps",
        "30",
        "--out-dir",
        str(tmp_path),
    )
    assert out.splitlines()[0].startswith("policy pretrained on palm_up +z")
    results = json.loads((tmp_path / "quickstart.json").read_text())
    episodes = results["episodes"]
    assert [e["seed"] for e in episodes] == [0, 1, 2] and all(e["steps"] == 30 for e in episodes)
    rotr = [e["rotr"] for e in episodes]
    summary = results["summary"]
    assert summary["RotR"] == pytest.approx(np.mean(rotr)) and summary["first_seed"] == 0
    assert summary["starts"] == [e["start"] for e in episodes]
    assert summary["distinct_starts"] == 3  # seeded resets start from distinct grasps
    assert f"± {summary['RotR_se']:.2f} (standard error over 3 distinct starts" in out
    assert f"{summary['RotR']:.2f}" in next(
        line for line in out.splitlines() if line.startswith("mean")
    )
    median = int(np.argsort(rotr)[1])
    assert f"(episode {median}, the median by RotR; 31 frames)" in out
    assert out.splitlines()[-1] == f"results: {tmp_path / 'quickstart.json'}"
    video = tmp_path / "quickstart.mp4"
    assert video.stat().st_size > 10_000
    assert (tmp_path / "quickstart_rotation.png").stat().st_size > 5_000


def test_env_speed_benchmark_prints_ratios():
    out = run_program(
        "examples/benchmarks/env_speed.py",
        "--steps",
        "300",
        "--vec-steps",
        "0",
        "--object-set",
        "cube",
    )
    assert "env / raw" in out and "rollout 2 threads" in out
    # the raw replay repeats the env's trajectory bit for bit, or the ratio compares two runs
    exact, segments = map(int, re.search(r"replay exact in (\d+)/(\d+)", out).groups())
    assert segments > 0 and exact == segments


def test_learning_speed_benchmark_prints_ratios_against_sb3_defaults():
    out = run_program(
        "examples/benchmarks/learning_speed.py",
        "--algos", "ppo", "sac", "--steps", "64", "--rounds", "1", "--warmup-steps", "64",
        "--vecs", "threads", "--n-envs", "2", "--sac-n-envs", "2", "--object-set", "cube",
    )  # fmt: skip
    for algo in ("PPO", "SAC"):
        block = out.split(f"{algo}: env steps/s")[1].splitlines()[1:3]
        assert block[0].split()[:2] == ["sb3", "defaults"] and "x1.00" in block[0]
        assert block[1].split()[0] == "threads" and "vs sb3 defaults" in block[1]


def test_engine_speed_benchmark_prints_a_ratio_per_scene():
    out = run_program("examples/benchmarks/engine_speed.py", "--steps", "10", "--rounds", "1")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert set(rows) == {"task", "chaos"}
    for row in rows.values():
        mujoco_rate, physx_rate, ratio = map(float, row[-3:])
        assert ratio == pytest.approx(physx_rate / mujoco_rate, abs=0.01)  # printed to 0.01


def test_grasp_hold_benchmark_prints_a_rate_per_wrist():
    out = run_program("examples/benchmarks/grasp_hold.py", "--resets", "3", "--object-set", "cube")
    rows = [
        line.split()
        for line in out.splitlines()
        if line.split()[:1]
        and line.split()[0]
        in ("palm_up", "palm_down", "base_up", "base_down", "thumb_up", "thumb_down")
    ]
    assert len(rows) == 6
    assert all(row[1].endswith("%") and row[2].endswith("%") for row in rows)
