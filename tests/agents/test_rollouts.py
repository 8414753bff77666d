"""Recorded rollouts: the episode files' row layout, actions.npz for the chaos box, metadata."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_agents.dexndm.rollouts import record_rollouts
from dexndm_agents.evaluation.harness import run_episode
from dexndm_agents.policies.baselines import ZeroPolicy
from dexndm_envs.chaos.actions import ActionFile
from dexndm_envs.core.constants import NUM_JOINTS
from dexndm_envs.data.episodes import load_episodes

STEPS = 12


class WavePolicy:
    """Deterministic actions from the observation, partly outside [-1, 1] (the env clips)."""

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        phase = float(np.sum(observation[:NUM_JOINTS]))
        return 1.5 * np.sin(phase + np.arange(NUM_JOINTS)).astype(np.float32), state


class OpenHand:
    """Opens every joint at full speed: palm down, the object falls within a few steps."""

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return -np.ones(NUM_JOINTS, dtype=np.float32), state


def env_kwargs(hardware: str, **changes) -> dict:
    return {"object_set": "cube", "wrist": "palm_up", "hardware": hardware, **changes}


@pytest.mark.parametrize("hardware", ["ideal", "virtual"])
def test_rows_are_the_reading_before_each_step_and_the_target_it_sent(tmp_path: Path, hardware):
    kwargs = env_kwargs(hardware)
    rollouts = record_rollouts(
        WavePolicy(), kwargs, 2, 7, tmp_path, max_steps=STEPS, progress=False
    )
    episodes = load_episodes(tmp_path)
    assert [e.path for e in episodes] == rollouts.episode_paths
    actions = ActionFile.load(rollouts.actions_path, steps=STEPS).trajectories
    assert actions.shape == (2, STEPS, NUM_JOINTS)
    env = gym.make("DexNDM-Rotate-v0", **kwargs)
    for episode, trajectory in zip(episodes, actions, strict=True):
        assert episode.num_steps == STEPS and episode.meta["extra"]["seed"] == 7 + episode.index
        # replaying the stored actions open loop from the same seed gives the same episode
        _, info = env.reset(seed=7 + episode.index)
        for t, action in enumerate(trajectory):
            np.testing.assert_array_equal(episode.joint_pos[t], info["joint_pos"])
            info = env.step(action)[4]
            np.testing.assert_array_equal(episode.joint_targets[t], info["joint_targets"])
        assert episode.meta["hardware"]["kind"] == hardware
        assert episode.joint_vel is None  # DexNDM-Rotate-v0 does not report velocities
    env.close()
    assert np.abs(actions).max() == 1.0  # clipped as the env clipped them


def test_dropped_episodes_are_padded_with_zero_actions_and_say_so(tmp_path: Path):
    kwargs = env_kwargs("ideal", wrist="palm_down")
    rollouts = record_rollouts(OpenHand(), kwargs, 2, 0, tmp_path, max_steps=40, progress=False)
    assert rollouts.summary.drops == 1.0
    with np.load(rollouts.actions_path) as stored:
        steps, dropped, seeds = stored["steps"], stored["dropped"], stored["seeds"]
        actions = stored["actions"]
    assert dropped.tolist() == [True, True] and seeds.tolist() == [0, 1]
    assert actions.shape == (2, 40, NUM_JOINTS)
    for episode, length, trajectory in zip(load_episodes(tmp_path), steps, actions, strict=True):
        assert 0 < length < 40 and episode.num_steps == length
        assert (trajectory[:length] == -1.0).all() and not trajectory[length:].any()
        extra = episode.meta["extra"]
        assert extra["dropped"] is True and extra["steps"] == length
        assert extra["ttf"] == pytest.approx(length / 40)
    assert ActionFile.load(rollouts.actions_path, steps=40).trajectories.shape == (2, 40, 16)


def test_metadata_names_the_policy_task_and_result(tmp_path: Path):
    kwargs = env_kwargs("virtual", hardware_seed=3, wrist="random")
    rollouts = record_rollouts(
        ZeroPolicy(), kwargs, 1, 5, tmp_path, max_steps=STEPS, progress=False, policy_name="hold"
    )
    meta = load_episodes(tmp_path)[0].meta
    assert meta["hardware"] == {"kind": "virtual", "profile": "default", "seed": 3}
    assert len(meta["wrist"]) == 4  # a random wrist is recorded as its quaternion
    assert meta["extra"]["policy"] == "hold" and "hold" in meta["action_source"]
    assert meta["extra"]["env_kwargs"] == kwargs
    env = gym.make("DexNDM-Rotate-v0", **kwargs)
    result = run_episode(env, ZeroPolicy(), 5, max_steps=STEPS)
    env.close()
    assert meta["axis"] == result.axis and meta["extra"]["object"] == result.object
    assert meta["extra"]["rotr"] == result.metrics.rotr == rollouts.summary.rotr
    assert meta["extra"]["ttf"] == result.metrics.ttf


def test_bad_requests_are_refused_before_an_env_is_made(tmp_path: Path, monkeypatch):
    record_rollouts(ZeroPolicy(), env_kwargs("ideal"), 1, 0, tmp_path, max_steps=2, progress=False)
    monkeypatch.setattr(gym, "make", lambda *a, **kw: pytest.fail("an env was made"))
    with pytest.raises(FileExistsError, match="already holds rollouts"):
        record_rollouts(ZeroPolicy(), {}, 1, 0, tmp_path, progress=False)
    with pytest.raises(ValueError, match="episodes must be at least 1"):
        record_rollouts(ZeroPolicy(), {}, 0, 0, tmp_path / "new", progress=False)
    with pytest.raises(ValueError, match="max_steps must be at least 1"):
        record_rollouts(ZeroPolicy(), {}, 1, 0, tmp_path / "new", max_steps=0, progress=False)
