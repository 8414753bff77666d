"""Metrics from info, against analytic cases."""

from __future__ import annotations

import pytest

from dexndm_envs.core.metrics import MetricsTracker


def test_constant_spin_gives_known_rotr_and_rotation():
    tracker = MetricsTracker(dt_s=0.05, episode_steps=400)
    for _ in range(400):
        tracker.add({"rot_vel": 0.785, "rot_perp": 0.2, "dropped": False})
    m = tracker.result()
    assert m.rotr == pytest.approx(314.0)
    assert m.rotation_rad == pytest.approx(15.7)
    assert m.rotp == pytest.approx(0.2)
    assert m.ttf == 1.0 and not m.dropped


def test_a_drop_shortens_ttf():
    tracker = MetricsTracker(dt_s=0.05, episode_steps=400)
    for step in range(100):
        tracker.add({"rot_vel": -0.1, "rot_perp": 0.0, "dropped": step == 99})
    m = tracker.result()
    assert m.ttf == pytest.approx(0.25)
    assert m.ttf_s == pytest.approx(5.0)
    assert m.dropped
    assert m.rotr == pytest.approx(-10.0)
