"""The example programs run end to end with tiny budgets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_quickstart_prints_metrics_and_writes_video_and_plot(tmp_path):
    out = run(
        "examples/quickstart.py",
        "--episodes",
        "2",
        "--max-steps",
        "30",
        "--out-dir",
        str(tmp_path),
        "--env.object-set",
        "cube",
    )
    rows = [line for line in out.splitlines() if line.strip().startswith(("0 ", "1 "))]
    assert len(rows) == 2 and all("cube" in row for row in rows)
    video = tmp_path / "quickstart.mp4"
    assert video.stat().st_size > 10_000
    assert (tmp_path / "quickstart_rotation.png").stat().st_size > 5_000


def test_env_speed_benchmark_prints_ratios():
    out = run(
        "examples/benchmarks/env_speed.py",
        "--steps",
        "300",
        "--vec-steps",
        "0",
        "--object-set",
        "cube",
    )
    assert "env / raw" in out and "rollout 2 threads" in out


def test_grasp_hold_benchmark_prints_a_rate_per_wrist():
    out = run("examples/benchmarks/grasp_hold.py", "--resets", "3", "--object-set", "cube")
    rows = [
        line.split()
        for line in out.splitlines()
        if line.split()[:1]
        and line.split()[0]
        in ("palm_up", "palm_down", "base_up", "base_down", "thumb_up", "thumb_down")
    ]
    assert len(rows) == 6
    assert all(row[1].endswith("%") and row[2].endswith("%") for row in rows)
