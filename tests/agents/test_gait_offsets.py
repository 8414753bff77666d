"""A bounded offset on a gait's targets: the training wrapper, the policy, and train.py --gait."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import dexndm_envs  # noqa: F401  (registers the env)
from dexndm_agents.base_policy.training import EnvOptions, TrainConfig, train
from dexndm_agents.policies.files import load_policy
from dexndm_agents.policies.gait import PeriodicGait
from dexndm_agents.policies.gait_offsets import GaitOffsetPolicy, GaitOffsetWrapper
from dexndm_envs.core.constants import JOINT_LOWER_RAD, JOINT_UPPER_RAD

ENV_KWARGS = {"object_set": "cube", "history_len": 3}


def slow_gait(space: str = "target") -> PeriodicGait:
    rng = np.random.default_rng(3)
    return PeriodicGait(
        rng.uniform(-0.08, 0.08, (1, 16)), rng.uniform(0, 6, (1, 16)), 0.5, space=space
    )


class ConstantAgent:
    """An agent that always offers the same action (and records what it was shown)."""

    def __init__(self, action: np.ndarray) -> None:
        self.action, self.seen = np.asarray(action, dtype=np.float32), []

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        self.seen.append(np.array(observation))
        return np.broadcast_to(self.action, (len(observation), 16)).copy(), None


def rollout(env: gym.Env, act, steps: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    obs, _ = env.reset(seed=seed)
    observations, targets = [obs], []
    for _ in range(steps):
        obs, _, terminated, truncated, info = env.step(act(obs))
        observations.append(obs)
        targets.append(info["joint_targets"])
        assert not (terminated or truncated)
    return np.array(observations), np.array(targets)


def test_zero_offset_is_the_gait_itself():
    gait = slow_gait()
    plain = gym.make("DexNDM-Rotate-v0", **ENV_KWARGS)
    state = {"s": None}

    def gait_act(obs):
        action, state["s"] = gait.predict(obs, state["s"])
        return action

    _, want = rollout(plain, gait_act, 15)
    wrapped = GaitOffsetWrapper(gym.make("DexNDM-Rotate-v0", **ENV_KWARGS), gait)
    observations, got = rollout(wrapped, lambda obs: np.zeros(16, np.float32), 15)
    np.testing.assert_array_equal(got, want)
    # the phase rides at the end of the observation
    angle = 2 * np.pi * gait.frequency_hz * 15 * gait.dt_s
    np.testing.assert_allclose(observations[-1][-2:], [np.sin(angle), np.cos(angle)], atol=1e-6)
    plain.close()
    wrapped.close()


def test_offsets_are_bounded_and_reach_the_gait_targets_plus_the_offset():
    gait = slow_gait()
    env = GaitOffsetWrapper(gym.make("DexNDM-Rotate-v0", **ENV_KWARGS), gait, residual_rad=0.1)
    env.reset(seed=1)
    start = env.unwrapped.joint_targets.copy()
    push = np.where(np.arange(16) % 2 == 0, 5.0, -5.0).astype(np.float32)  # clipped to +-1
    for _ in range(20):
        env.step(push)
    # 0.1 rad is under 3 steps at the rate limit: after 20 steps every offset has arrived, up
    # to the joint limits the env clips targets to
    want = np.clip(
        gait.target_goal(20, start) + 0.1 * np.sign(push), JOINT_LOWER_RAD, JOINT_UPPER_RAD
    )
    np.testing.assert_allclose(env.unwrapped.joint_targets, want, atol=1e-5)
    env.close()


def test_the_policy_on_the_plain_env_executes_what_the_wrapper_does():
    gait = slow_gait()
    action = np.random.default_rng(4).uniform(-1, 1, 16).astype(np.float32)
    wrapped = GaitOffsetWrapper(gym.make("DexNDM-Rotate-v0", **ENV_KWARGS), gait, 0.12)
    _, want = rollout(wrapped, lambda obs: action, 12)
    agent = ConstantAgent(action)
    policy = GaitOffsetPolicy(agent, gait, 0.12)
    plain = gym.make("DexNDM-Rotate-v0", **ENV_KWARGS)
    state = {"s": None}

    def policy_act(obs):
        act, state["s"] = policy.predict(obs, state["s"], deterministic=True)
        return act

    _, got = rollout(plain, policy_act, 12)
    np.testing.assert_allclose(got, want, atol=1e-6)
    # the agent saw the wrapper's observation: env observation + phase
    assert agent.seen[0].shape == (1, wrapped.observation_space.shape[0])
    plain.close()
    wrapped.close()


def test_wrapper_passes_the_env_checkers():
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = GaitOffsetWrapper(gym.make("DexNDM-Rotate-v0", **ENV_KWARGS), slow_gait())
    check_env(env, skip_render_check=True)
    sb3_check_env(env, warn=False)
    env.close()


def test_bad_gaits_and_offsets_are_refused():
    env = gym.make("DexNDM-Rotate-v0", **ENV_KWARGS)
    with pytest.raises(ValueError, match="target-space gait"):
        GaitOffsetWrapper(env, slow_gait(space="action"))
    with pytest.raises(ValueError, match="residual_rad"):
        GaitOffsetWrapper(env, slow_gait(), residual_rad=0.0)
    long = slow_gait()
    long.history_len = 10
    with pytest.raises(ValueError, match="history_len"):
        GaitOffsetWrapper(env, long)
    env.close()


def test_train_with_a_gait_saves_a_policy_that_loads_as_gait_plus_offset(tmp_path):
    gait_path = slow_gait().save(tmp_path / "gait.json")
    cfg = TrainConfig(
        total_timesteps=64,
        env=EnvOptions(object_set="cube", obs_mode="oracle", history_len=3),
        n_envs=2,
        eval_every=0,
        checkpoint_every=0,
        progress=False,
        out_dir=tmp_path / "run",
        gait=gait_path,
        gait_residual_rad=0.07,
    )
    policy = load_policy(train(cfg))
    assert isinstance(policy, GaitOffsetPolicy) and policy.residual_rad == 0.07
    np.testing.assert_array_equal(policy.gait.to_vector(), slow_gait().to_vector())
    env = gym.make("DexNDM-Rotate-v0", **policy.env_kwargs)
    obs, _ = env.reset(seed=0)
    action, state = policy.predict(obs, deterministic=True)
    assert action.shape == (16,) and np.all(np.abs(action) <= 1.0)
    assert state[0][0] == 1
    env.close()
    with pytest.raises(ValueError, match="--gait"):
        train(TrainConfig(gait=tmp_path / "missing.json", out_dir=tmp_path / "bad"))
