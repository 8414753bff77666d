"""examples/push_sweep.py: a hand-set push towards the target on top of a bundle."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
from helpers import run_program

from dexndm_agents.dexndm.adapters import NumpyAdapter
from dexndm_agents.dexndm.bundle import Bundle


@pytest.fixture
def program(repo_root, monkeypatch):
    path = repo_root / "examples/push_sweep.py"
    spec = importlib.util.spec_from_file_location("push_sweep", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_push_moves_each_target_towards_where_the_policy_wants_it(program):
    adapter = NumpyAdapter(Bundle.load("default").residual)
    pushed = program.PushedAdapter(adapter, push_rad=0.01, scale_rad=0.003)
    rng = np.random.default_rng(0)
    joint_pos = rng.uniform(-0.5, 0.5, (adapter.history, 16))
    base_targets = joint_pos + rng.choice([-0.05, 0.05], (adapter.history, 16))
    extra = pushed(joint_pos, base_targets) - adapter(joint_pos, base_targets)
    ahead = np.sign(base_targets[-1] - joint_pos[-1])
    # the full push wherever the bound leaves room, always towards the new target
    assert np.all(extra * ahead > 0)
    assert np.all(np.abs(pushed(joint_pos, base_targets)) <= adapter.bound_rad)
    room = np.abs(adapter(joint_pos, base_targets) + 0.01 * ahead) < adapter.bound_rad
    np.testing.assert_allclose(extra[room], 0.01 * ahead[room] * np.tanh(0.05 / 0.003))
    # on target: no push
    assert np.allclose(pushed(joint_pos, joint_pos), adapter(joint_pos, joint_pos))


def test_the_sweep_pairs_every_push_with_the_bundle_alone(tmp_path):
    out = run_program(
        "examples/push_sweep.py",
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
    err = run_program("examples/push_sweep.py", "--pushes", "0.2", expect_failure=True)
    assert "pushes must be within the adapter's bound (0.05 rad)" in err
    assert "Traceback" not in err and "push 0 mrad" not in err
