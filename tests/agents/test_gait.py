"""Periodic gaits: actions, SB3-style state, files, and the cross-entropy search."""

from __future__ import annotations

import numpy as np
import pytest

from dexndm_agents.base_policy.gait_search import cross_entropy_search, search_gait
from dexndm_agents.policies.files import load_policy
from dexndm_agents.policies.gait import PeriodicGait


def two_harmonic_gait() -> PeriodicGait:
    rng = np.random.default_rng(0)
    return PeriodicGait(rng.uniform(-1, 1, (2, 16)), rng.uniform(0, 6, (2, 16)), 0.5, 0.05)


def test_action_is_the_clipped_sum_of_harmonics():
    gait = PeriodicGait(np.full((1, 16), 2.0), np.zeros((1, 16)), 1.0, 0.05)
    np.testing.assert_allclose(gait.action(0), np.ones(16))  # 2 cos(0) saturates at 1
    np.testing.assert_allclose(gait.action(10), -np.ones(16))  # half a period at 1 Hz
    g2 = two_harmonic_gait()
    t = 7
    want = sum(
        g2.amplitudes[h] * np.cos(2 * np.pi * (h + 1) * 0.5 * t * 0.05 + g2.phases_rad[h])
        for h in range(2)
    )
    np.testing.assert_allclose(g2.action(t), np.clip(want, -1, 1), rtol=1e-6)


def test_predict_counts_steps_in_its_state_and_restarts_on_episode_start():
    gait = two_harmonic_gait()
    obs = np.zeros(10, dtype=np.float32)
    action, state = gait.predict(obs)
    np.testing.assert_array_equal(action, gait.action(0))
    for step in range(1, 4):
        action, state = gait.predict(obs, state)
        np.testing.assert_array_equal(action, gait.action(step))
    action, state = gait.predict(obs, state, episode_start=np.array([True]))
    np.testing.assert_array_equal(action, gait.action(0))
    batch, batch_state = gait.predict(np.zeros((3, 10)), (np.array([0, 4, 9]), np.zeros((3, 16))))
    assert batch.shape == (3, 16)
    np.testing.assert_array_equal(batch[2], gait.action(9))
    np.testing.assert_array_equal(batch_state[0], [1, 5, 10])


def test_target_space_gait_moves_the_env_targets_along_its_wave_around_the_grasp():
    import gymnasium as gym

    import dexndm_envs  # noqa: F401

    rng = np.random.default_rng(2)
    gait = PeriodicGait(
        rng.uniform(-0.05, 0.05, (1, 16)), rng.uniform(0, 6, (1, 16)), 0.5, space="target"
    )  # small and slow: the action limit never binds; a grasp may hold a joint at its limit
    from dexndm_envs.core.constants import JOINT_LOWER_RAD, JOINT_UPPER_RAD

    env = gym.make("DexNDM-Rotate-v0", object_set="cube", history_len=3)
    obs, _ = env.reset(seed=0)
    start = env.unwrapped.joint_targets.copy()
    state = None
    for step in range(12):
        action, state = gait.predict(obs, state)
        assert np.all(np.abs(action) < 1.0)
        obs, *_ = env.step(action)
        want = np.clip(
            start + gait._wave(step + 1) - gait._wave(0), JOINT_LOWER_RAD, JOINT_UPPER_RAD
        )
        np.testing.assert_allclose(env.unwrapped.joint_targets, want, atol=1e-5)  # float32 obs
    env.close()


def test_gait_file_round_trips_through_load_policy(tmp_path):
    gait = two_harmonic_gait()
    gait.env_kwargs = {"object_set": "cube", "wrist": "palm_up"}
    gait.space, gait.history_len = "target", 10
    loaded = load_policy(gait.save(tmp_path / "gait.json"))
    assert isinstance(loaded, PeriodicGait) and loaded.env_kwargs == gait.env_kwargs
    assert (loaded.space, loaded.history_len) == ("target", 10)
    np.testing.assert_array_equal(loaded.to_vector(), gait.to_vector())
    np.testing.assert_array_equal(
        PeriodicGait.from_vector(gait.to_vector(), 2)._wave(3), gait._wave(3)
    )


def test_bad_gaits_are_refused():
    with pytest.raises(ValueError, match="amplitudes and phases"):
        PeriodicGait(np.zeros((1, 15)), np.zeros((1, 15)), 1.0)
    with pytest.raises(ValueError, match="frequency_hz"):
        PeriodicGait(np.zeros((1, 16)), np.zeros((1, 16)), 12.0, 0.05)
    with pytest.raises(ValueError, match="elite"):
        cross_entropy_search(
            lambda v, r: 0.0, np.zeros(2), np.ones(2), 1, 3, 4, np.random.default_rng(0),
            (np.full(2, -1.0), np.full(2, 1.0)),
        )  # fmt: skip


def test_cross_entropy_search_finds_the_peak_of_a_known_function():
    peak = np.array([0.3, -0.7, 0.1])

    def score(vector: np.ndarray, rng: np.random.Generator) -> float:
        return -float(np.sum((vector - peak) ** 2)) + 0.01 * rng.standard_normal()

    mean, history = cross_entropy_search(
        score, np.zeros(3), np.ones(3), 40, 30, 6, np.random.default_rng(1),
        (np.full(3, -2.0), np.full(3, 2.0)),
    )  # fmt: skip
    np.testing.assert_allclose(mean, peak, atol=0.05)
    assert history[-1]["elite_mean"] > history[0]["elite_mean"]


def test_search_gait_runs_and_is_reproducible():
    kwargs = {"object_set": "cube", "config": {"drop_distance_m": 0.0}}  # 1-step episodes

    def search():
        return search_gait(kwargs, generations=2, population=3, elite=1, seed=4, progress=False)

    first, second = search(), search()
    assert len(first.history) == 2 and first.gait.env_kwargs == kwargs
    np.testing.assert_array_equal(first.gait.to_vector(), second.gait.to_vector())
