"""Grasp synthesis and the grasp cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dexndm_envs.core.task import WRISTS
from dexndm_envs.sim.config import RandomizationConfig
from dexndm_envs.sim.grasps import cache as grasps
from dexndm_envs.sim.grasps.synthesis import GraspSynthesizer
from dexndm_envs.sim.objects.catalog import object_library, resolve_object_set


def test_shipped_cache_covers_every_object_and_named_wrist():
    cache = grasps.default_cache()
    randomized_scales = RandomizationConfig().object_scale
    for obj in resolve_object_set("all"):
        assert len(cache.rows(obj.name, "palm_up", None)) >= 8  # the default task
        for wrist in WRISTS:
            rows = cache.rows(obj.name, wrist, None)  # at nominal scale; raises if none
            assert len(cache.rows(obj.name, wrist, randomized_scales)) >= len(rows) >= 1


def test_synthesised_grasp_holds_and_round_trips(tmp_path):
    synth = GraspSynthesizer(object_library()["cube"])
    rows = synth.generate("palm_down", count=2, rng=np.random.default_rng(0), max_attempts=20)
    assert rows.shape == (2, grasps.ROW_SIZE)
    grasp = grasps.Grasp.from_row(rows[0])
    assert synth.holds(WRISTS["palm_down"], grasp, seconds=1.0)
    np.testing.assert_allclose(grasp.to_row(), rows[0])
    # the same grasp under the opposite gravity is a different problem: it is checked, not assumed
    assert isinstance(synth.holds(WRISTS["palm_up"], grasp, seconds=1.0), bool)

    cache = grasps.GraspCache({("cube", "palm_down"): rows}, {"version": grasps.CACHE_VERSION})
    path = tmp_path / "g.npz"
    cache.save(path)
    loaded = grasps.GraspCache.load(path)
    np.testing.assert_allclose(loaded.rows("cube", "palm_down", None), rows[:1], atol=1e-6)


def test_cache_errors_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"python -m dexndm_envs\.sim\.grasps\.synthesis"):
        grasps.GraspCache.load(tmp_path / "missing.npz")
    old = tmp_path / "old.npz"
    np.savez(old, meta=np.array(json.dumps({"version": 0})))
    with pytest.raises(ValueError, match="rebuild"):
        grasps.GraspCache.load(old)
    cache = grasps.GraspCache({}, {"version": grasps.CACHE_VERSION})
    with pytest.raises(KeyError, match=r"no grasps for object 'cube'"):
        cache.rows("cube", "palm_up", None)


def test_nominal_rows_are_at_scale_one():
    rows = grasps.default_cache().rows("cube", "palm_up", None)
    np.testing.assert_allclose(rows[:, 0], 1.0, atol=1e-6)
