"""Distillation: the student sees what a proprio env shows, success filtering, BC, the programs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_agents.base_policy.distillation import (
    BCDataset,
    behaviour_clone,
    collect_rollouts,
    generalist_env_kwargs,
    split_by_episode,
)
from dexndm_agents.policies.baselines import ZeroPolicy
from dexndm_agents.policies.generalist import Generalist
from dexndm_envs.core import interface

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class LinearTeacher:
    """A deterministic teacher whose actions depend on every number of its observation."""

    def __init__(self, obs_size: int, seed: int = 0) -> None:
        self.weights = np.random.default_rng(seed).normal(scale=2.0, size=(obs_size, 16))
        self.obs_size = obs_size

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        assert observation.shape == (self.obs_size,)
        return np.tanh(observation @ self.weights) * 1.5, state  # beyond [-1, 1] at times


class ConstantPolicy:
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        return np.full((1, 16), self.value, dtype=np.float32), state  # a batch of one is fine


@pytest.mark.parametrize(
    "hardware",
    [{}, {"domain_randomization": True}, {"hardware": "virtual", "domain_randomization": True}],
    ids=["ideal", "randomised", "virtual_randomised"],
)
def test_student_observations_are_what_a_proprio_env_observes(hardware):
    teacher_kwargs = {"object_set": "cube", "obs_mode": "oracle", "history_len": 3, **hardware}
    oracle_size = gym.make("DexNDM-Rotate-v0", **teacher_kwargs).observation_space.shape[0]
    teacher = LinearTeacher(oracle_size)
    dataset = collect_rollouts(
        {"cube": (teacher, teacher_kwargs)},
        episodes=2,
        seed=11,
        success_only=False,
        progress=False,
        episode_steps=25,
    )
    assert dataset.obs.shape[1] == 10 * 32 + 7 and dataset.history_len == 10
    assert np.abs(dataset.actions).max() == 1.0  # executed: clipped to the action space
    proprio_kwargs = {**teacher_kwargs, "obs_mode": "proprio", "history_len": 10}
    env = gym.make("DexNDM-Rotate-v0", **proprio_kwargs)
    for episode in (0, 1):
        rows = dataset.episode_ids == episode
        obs, _ = env.reset(seed=11 + episode)
        seen = [obs]
        for action in dataset.actions[rows][:-1]:
            obs, *_ = env.step(action)
            seen.append(obs)
        np.testing.assert_array_equal(dataset.obs[rows], np.array(seen))
    env.close()
    np.testing.assert_array_equal(dataset.teacher_index, 0)


def test_only_episodes_that_hold_the_object_to_the_end_are_kept():
    # palm up, zero actions hold the cube; palm down, opening the hand drops it within 10 steps
    teachers = {
        "holds": (ZeroPolicy(), {"object_set": "cube", "wrist": "palm_up"}),
        "drops": (ConstantPolicy(-3.0), {"object_set": "cube", "wrist": "palm_down"}),
    }
    kept = collect_rollouts(teachers, 2, seed=0, progress=False, episode_steps=20)
    assert kept.teacher_names == ("holds", "drops")
    assert kept.episodes_kept.tolist() == [2, 0] and kept.episodes_total.tolist() == [2, 2]
    assert sorted(set(kept.episode_ids.tolist())) == [0, 1] and len(kept.obs) == 40
    assert kept.summary().splitlines() == ["holds: kept 2/2 episodes", "drops: kept 0/2 episodes"]
    everything = collect_rollouts(
        teachers, 2, seed=0, success_only=False, progress=False, episode_steps=20
    )
    assert everything.episodes_kept.tolist() == [2, 2]
    dropped = everything.teacher_index == 1
    assert 0 < dropped.sum() < 20  # both dropping episodes ended early, by termination
    assert sorted(set(everything.episode_ids[dropped].tolist())) == [2, 3]
    np.testing.assert_array_equal(everything.actions[dropped], -1.0)
    np.testing.assert_array_equal(everything.obs[~dropped], kept.obs)

    only_drops = {"drops": teachers["drops"]}
    empty = collect_rollouts(only_drops, 3, seed=0, progress=False, episode_steps=20)
    assert empty.obs.shape == (0, 327) and empty.episodes_kept.tolist() == [0]
    with pytest.raises(ValueError, match="no successful rollouts: all 3 episodes dropped"):
        behaviour_clone(empty, width=8, blocks=1, progress=False)


def test_dataset_save_load_round_trip(tmp_path):
    teachers = {"holds": (ZeroPolicy(), {"object_set": "cube"})}
    dataset = collect_rollouts(
        teachers, 2, seed=4, student_history_len=2, progress=False, episode_steps=5
    )
    path = dataset.save(tmp_path / "data")
    assert path.name == "data.npz"
    loaded = BCDataset.load(path)
    for name, value in vars(dataset).items():
        np.testing.assert_array_equal(getattr(loaded, name), value, err_msg=name)
    assert loaded.teacher_names == ("holds",) and loaded.history_len == 2
    assert loaded.episode_steps == 5 and loaded.seed == 4
    with pytest.raises(FileNotFoundError, match="no BC dataset"):
        BCDataset.load(tmp_path / "missing.npz")
    other = tmp_path / "other.npz"
    np.savez(other, obs=np.zeros(3))
    with pytest.raises(ValueError, match=r"not a BCDataset saved by BCDataset\.save"):
        BCDataset.load(other)
    with pytest.raises(ValueError, match=r"expected \(10, 71\) \(proprio, history_len 2\)"):
        BCDataset(**{**vars(dataset), "obs": np.zeros((10, 70), np.float32)})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"teachers": {}}, "at least one teacher"),
        ({"episodes": 0}, "episodes >= 1"),
        ({"student_history_len": 0}, "student_history_len must be >= 1"),
        ({"episode_steps": 0}, "episode_steps must be >= 1"),
        ({"action_noise_std": -0.1}, "action_noise_std must be >= 0"),
    ],
)
def test_collect_rollouts_refuses_bad_arguments(kwargs, message):
    args = {"teachers": {"holds": (ZeroPolicy(), {"object_set": "cube"})}, "episodes": 1}
    with pytest.raises(ValueError, match=message):
        collect_rollouts(**{**args, **kwargs}, seed=0, progress=False)


def test_teachers_keep_their_state_through_an_episode():
    """A gait counts steps in its SB3 state: the labels must follow it, not restart each step."""
    from dexndm_agents.policies.gait import PeriodicGait

    rng = np.random.default_rng(3)
    gait = PeriodicGait(rng.uniform(-0.3, 0.3, (1, 16)), rng.uniform(0, 6, (1, 16)), 1.0)
    teachers = {"gait": (gait, {"object_set": "cube"})}
    data = collect_rollouts(teachers, 1, seed=0, episode_steps=15, progress=False)
    np.testing.assert_allclose(data.actions, [gait.action(t) for t in range(15)], rtol=1e-6)


def test_dart_noise_moves_the_states_but_not_the_labels():
    """With action noise the student sees other states; the labels stay the teacher's actions."""
    teachers = {"holds": (ZeroPolicy(), {"object_set": "cube"})}
    plain = collect_rollouts(teachers, 1, seed=0, episode_steps=10, progress=False)
    noisy = collect_rollouts(
        teachers, 1, seed=0, episode_steps=10, progress=False, action_noise_std=0.3
    )
    assert np.all(noisy.actions == 0.0) and np.all(plain.actions == 0.0)
    assert not np.allclose(noisy.obs[1:], plain.obs[1:])


def synthetic_dataset(episodes: int = 40, steps: int = 25, seed: int = 0) -> BCDataset:
    """Actions a known linear map of the observation (history_len 1: 39 numbers)."""
    rng = np.random.default_rng(seed)
    size = interface.ObsLayout(interface.proprio_blocks(1)).size
    obs = rng.uniform(-1, 1, size=(episodes * steps, size)).astype(np.float32)
    weights = rng.normal(scale=0.1, size=(size, 16))
    return BCDataset(
        obs=obs,
        actions=(obs @ weights).astype(np.float32),
        episode_ids=np.repeat(np.arange(episodes), steps),
        teacher_index=np.zeros(episodes * steps, dtype=np.int64),
        teacher_names=("synthetic",),
        episodes_kept=np.array([episodes]),
        episodes_total=np.array([episodes]),
        history_len=1,
    )


def test_behaviour_cloning_learns_a_linear_map_and_keeps_the_best_validation_weights():
    dataset = synthetic_dataset()
    kwargs = {"width": 64, "blocks": 1, "epochs": 15, "batch_size": 64, "lr": 2e-3}
    generalist, history = behaviour_clone(dataset, seed=1, progress=False, **kwargs)
    assert (history["train_episodes"], history["val_episodes"]) == (36, 4)
    assert len(history["train_loss"]) == len(history["val_loss"]) == 15
    variance = float(dataset.actions.var())
    assert history["val_loss"][0] < variance and min(history["val_loss"]) < 0.05 * variance
    assert history["train_loss"][-1] < 0.1 * history["train_loss"][0]
    train_idx, val_idx = split_by_episode(dataset, 0.1, seed=1)
    train_eps, val_eps = set(dataset.episode_ids[train_idx]), set(dataset.episode_ids[val_idx])
    assert (len(train_eps), len(val_eps)) == (36, 4) and not train_eps & val_eps
    assert len(train_idx) + len(val_idx) == len(dataset.obs)
    with torch.no_grad():
        pred = generalist.forward(torch.as_tensor(dataset.obs[val_idx]))
        kept_loss = torch.nn.functional.mse_loss(pred, torch.as_tensor(dataset.actions[val_idx]))
    best = history["best_epoch"]
    assert history["val_loss"][best] == min(history["val_loss"])
    assert kept_loss.item() == pytest.approx(history["val_loss"][best], rel=1e-4)
    assert generalist.env_kwargs == {"obs_mode": "proprio", "history_len": 1}
    _, again = behaviour_clone(dataset, seed=1, progress=False, **kwargs)
    assert again["val_loss"] == history["val_loss"]  # seeded: the same run


def test_behaviour_cloning_names_splits_it_cannot_make():
    one_episode = synthetic_dataset(episodes=1)
    with pytest.raises(
        ValueError, match=r"1 kept episode\(s\) cannot be split.*pass val_fraction=0"
    ):
        behaviour_clone(one_episode, width=8, blocks=1, progress=False)
    generalist, history = behaviour_clone(
        one_episode, width=8, blocks=1, epochs=2, val_fraction=0.0, progress=False
    )
    assert history["val_loss"] == [] and history["best_epoch"] == 1
    assert isinstance(generalist, Generalist)


def test_generalist_keeps_the_teachers_shared_options_but_not_their_reward():
    teachers = [
        {"object_set": "cube", "wrist": "palm_up", "history_len": 3,
         "config": {"reward": {"drop": 50}, "drop_distance_m": 0.09}},
        {"object_set": "cylinder", "wrist": "palm_up", "history_len": 5,
         "config": {"reward": {"drop": 50}, "drop_distance_m": 0.09}},
    ]  # fmt: skip
    shared = generalist_env_kwargs(teachers)
    assert shared == {
        "object_set": ["cube", "cylinder"],
        "wrist": "palm_up",
        "config": {"drop_distance_m": 0.09},
    }
    only_reward = generalist_env_kwargs([{"object_set": "cube", "config": {"reward": {}}}])
    assert only_reward["config"] is None
