"""The interface shared by sim and hardware: actions, targets, history, layout."""

from __future__ import annotations

import numpy as np
import pytest

from dexndm_envs.core import interface
from dexndm_envs.core.constants import JOINT_LOWER_RAD, JOINT_UPPER_RAD, NUM_JOINTS


def test_targets_move_by_action_times_max_delta_and_stay_in_limits():
    prev = np.zeros(NUM_JOINTS)
    action = np.full(NUM_JOINTS, 0.5)
    np.testing.assert_allclose(interface.next_targets(prev, action, 1 / 24), 0.5 / 24)
    at_limit = JOINT_UPPER_RAD.copy()
    np.testing.assert_allclose(
        interface.next_targets(at_limit, np.ones(NUM_JOINTS), 1 / 24), JOINT_UPPER_RAD
    )
    # actions beyond the space's bounds are clipped by check_action: no further than -1 would
    clipped = interface.check_action(np.full(NUM_JOINTS, -7.0))
    np.testing.assert_allclose(clipped, -1.0)
    np.testing.assert_allclose(
        interface.next_targets(prev, clipped, 1 / 24), np.maximum(-1 / 24, JOINT_LOWER_RAD)
    )


def test_check_action_names_the_problem():
    with pytest.raises(ValueError, match=r"shape \(16,\)"):
        interface.check_action(np.zeros(15))
    bad = np.zeros(NUM_JOINTS)
    bad[13] = np.nan
    with pytest.raises(ValueError, match="th_axl"):
        interface.check_action(bad)
    bad[13] = -np.inf
    with pytest.raises(ValueError, match="th_axl"):
        interface.check_action(bad)


def test_normalisation_maps_limits_to_plus_minus_one():
    np.testing.assert_allclose(interface.normalize_joints(JOINT_LOWER_RAD), -1.0)
    np.testing.assert_allclose(interface.normalize_joints(JOINT_UPPER_RAD), 1.0)
    q = np.linspace(-0.3, 0.3, NUM_JOINTS)
    np.testing.assert_allclose(interface.unnormalize_joints(interface.normalize_joints(q)), q)


def test_history_keeps_the_last_t_readings_oldest_first():
    hist = interface.ProprioHistory(history_len=3)
    zero = np.zeros(NUM_JOINTS)
    hist.reset(zero, zero, np.array([1.0, 0, 0, 0]), np.array([0, 0, 1.0]))
    for k in range(1, 5):
        hist.push(np.full(NUM_JOINTS, 0.01 * k), np.full(NUM_JOINTS, -0.01 * k))
    obs = hist.observation()
    q = interface.unnormalize_joints(obs[hist.layout["joint_pos"]].reshape(3, NUM_JOINTS))
    t = interface.unnormalize_joints(obs[hist.layout["joint_targets"]].reshape(3, NUM_JOINTS))
    np.testing.assert_allclose(q[:, 0], [0.02, 0.03, 0.04], atol=1e-6)
    np.testing.assert_allclose(t[:, 5], [-0.02, -0.03, -0.04], atol=1e-6)
    np.testing.assert_allclose(obs[hist.layout["axis"]], [0, 0, 1])
    obs[0] = 99.0  # observations are copies: the history is untouched
    assert hist.observation()[0] != 99.0


def test_layout_is_data():
    layout = interface.ObsLayout(interface.proprio_blocks(10))
    assert layout.size == 10 * 32 + 7
    assert layout.to_dict()["wrist_quat"] == (320, 324)
    with pytest.raises(KeyError, match="axis"):
        layout["object_pos"]
    with pytest.raises(ValueError, match="duplicate"):
        interface.ObsLayout([("a", 1), ("a", 2)])
