"""The benchmark programs run and print their ratios (timings are never asserted)."""

from __future__ import annotations

import pytest
from helpers import run_program


@pytest.mark.slow
def test_speed_benchmark_runs():
    out = run_program("examples/benchmarks/ndm_speed.py", "--transitions", "5000", "--epochs", "2")
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["model"][-1] == "ms" and rows["model"][-2] == "1-step"
    for name in ("per_joint", "shared", "whole_hand"):
        assert len(rows[name]) == 9 and rows[name][6].endswith("x")
