"""Artifacts record the versions they were built with; loading under another MuJoCo warns."""

from __future__ import annotations

import json
import warnings

import mujoco
import numpy as np
import pytest

from dexndm_agents.policies.gait import PeriodicGait
from dexndm_agents.policies.generalist import Generalist, SkipMLP
from dexndm_agents.policies.pretrained import load_pretrained
from dexndm_envs.core.interface import ObsLayout, proprio_blocks
from dexndm_envs.core.provenance import EngineVersionWarning, build_info, check_build
from dexndm_envs.sim.grasps.cache import GraspCache


def test_build_info_names_the_running_engine_and_the_package():
    info = build_info(torch="x")
    assert info["mujoco"] == mujoco.__version__
    assert info["dexndm"] and info["torch"] == "x"


def test_a_different_or_missing_engine_warns_naming_both_and_the_same_one_is_silent():
    with pytest.warns(
        EngineVersionWarning, match=f"MuJoCo 3.9.9 and runs on MuJoCo {mujoco.__version__}"
    ):
        check_build({"mujoco": "3.9.9"}, "policy p")
    with pytest.warns(EngineVersionWarning, match="records no MuJoCo version"):
        check_build(None, "policy p")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_build(build_info(), "policy p")


def _generalist() -> Generalist:
    size = ObsLayout(proprio_blocks(2)).size
    kwargs = {"obs_mode": "proprio", "history_len": 2}
    return Generalist(SkipMLP(size, 16, 8, 1), np.zeros(size), np.ones(size), kwargs)


def test_a_saved_generalist_records_its_build_and_loads_silently(tmp_path):
    path = _generalist().save(tmp_path / "g.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = Generalist.load(path)
    assert loaded.build["mujoco"] == mujoco.__version__ and "torch" in loaded.build


def test_a_gait_from_another_engine_warns_when_loaded(tmp_path):
    gait = PeriodicGait(np.zeros((1, 16)), np.zeros((1, 16)), 1.0, 0.05, {}, "target", 3)
    path = gait.save(tmp_path / "gait.json")
    record = json.loads(path.read_text())
    assert record["build"]["mujoco"] == mujoco.__version__
    record["build"]["mujoco"] = "4.0.0"
    path.write_text(json.dumps(record))
    with pytest.warns(EngineVersionWarning, match="4.0.0"):
        PeriodicGait.load(path)


def test_shipped_artifacts_say_what_they_were_built_with():
    cache = GraspCache.load()
    assert "mujoco" in cache.meta["build"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        policy = load_pretrained()
    built = policy.build["mujoco"]
    expected = [] if built == mujoco.__version__ else [EngineVersionWarning]
    assert [w.category for w in caught if w.category is EngineVersionWarning] == expected
