"""The generalist: the paper's residual network, predict, save/load, load_policy, fine-tuning."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_agents.policies.files import Policy, load_policy, policy_env_kwargs
from dexndm_agents.policies.generalist import (
    Generalist,
    SkipBlock,
    SkipMLP,
    observation_stats,
)
from dexndm_envs.core import interface
from dexndm_envs.dynamixel import VirtualDynamixelServer
from dexndm_envs.real.emulated_hand import VirtualHandBackend

HISTORY_LEN = 10
OBS_SIZE = interface.ObsLayout(interface.proprio_blocks(HISTORY_LEN)).size  # 10 * 32 + 7


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_generalist(width: int = 32, blocks: int = 2, seed: int = 0) -> Generalist:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mean, std = observation_stats(rng.normal(size=(50, OBS_SIZE)))
    env_kwargs = {"obs_mode": "proprio", "history_len": HISTORY_LEN, "object_set": "cube"}
    return Generalist(SkipMLP(OBS_SIZE, 16, width, blocks), mean, std, env_kwargs)


def test_residual_mlp_has_the_papers_shape():
    net = SkipMLP(OBS_SIZE, 16, width=24, blocks=3)
    assert net(torch.zeros(5, OBS_SIZE)).shape == (5, 16)
    assert len(net.blocks) == 3 and all(isinstance(b, SkipBlock) for b in net.blocks)
    assert (net.input.in_features, net.input.out_features) == (OBS_SIZE, 24)
    assert (net.output.in_features, net.output.out_features) == (24, 16)
    per_block = 3 * (24 * 24 + 24)
    expected = (OBS_SIZE * 24 + 24) + 3 * per_block + (24 * 16 + 16)
    assert sum(p.numel() for p in net.parameters()) == expected
    with pytest.raises(ValueError, match="positive sizes"):
        SkipMLP(OBS_SIZE, 16, width=0)


def test_residual_block_is_relu_of_nn1_plus_nn3_of_relu_nn2():
    torch.manual_seed(0)
    block = SkipBlock(8)
    x = torch.randn(4, 8)
    expected = torch.relu(block.nn1(x) + block.nn3(torch.relu(block.nn2(x))))
    torch.testing.assert_close(block(x), expected)
    with torch.no_grad():  # without the inner branch only the skip path NN1 is left
        block.nn3.weight.zero_()
        block.nn3.bias.zero_()
    torch.testing.assert_close(block(x), torch.relu(block.nn1(x)))


def test_predict_takes_one_or_a_batch_and_clips_to_the_action_space():
    generalist = make_generalist()
    rng = np.random.default_rng(1)
    batch = rng.normal(scale=50.0, size=(7, OBS_SIZE))  # far out: the raw outputs exceed 1
    actions, state = generalist.predict(batch)
    assert state is None and actions.shape == (7, 16) and actions.dtype == np.float32
    assert np.abs(actions).max() == 1.0
    raw = generalist.forward(torch.as_tensor(batch, dtype=torch.float32)).detach().numpy()
    assert np.abs(raw).max() > 1.0
    np.testing.assert_array_equal(actions, np.clip(raw, -1.0, 1.0))
    one, _ = generalist.predict(batch[3])
    assert one.shape == (16,)
    np.testing.assert_allclose(one, actions[3], rtol=1e-5, atol=1e-5)  # batched matmul order
    stochastic, _ = generalist.predict(batch, deterministic=False)  # a regressor: the same
    np.testing.assert_array_equal(stochastic, actions)
    assert isinstance(generalist, Policy)


@pytest.mark.parametrize("shape", [(OBS_SIZE - 7,), (2, OBS_SIZE + 1), (1, 2, OBS_SIZE)])
def test_predict_names_the_observation_it_expects(shape):
    with pytest.raises(ValueError, match=f"D = {OBS_SIZE}: obs_mode 'proprio', history_len 10"):
        make_generalist().predict(np.zeros(shape))


def test_predict_runs_on_a_proprio_env_made_from_its_env_kwargs():
    generalist = make_generalist()
    env = gym.make("DexNDM-Rotate-v0", **generalist.env_kwargs)
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        action, _ = generalist.predict(obs)
        obs, *_ = env.step(action)
    env.close()
    oracle = gym.make("DexNDM-Rotate-v0", object_set="cube", obs_mode="oracle", history_len=10)
    with pytest.raises(ValueError, match="history_len 10"):
        generalist.predict(oracle.reset(seed=0)[0])
    oracle.close()


def test_a_loaded_generalist_drives_the_real_hand_env_unchanged(tmp_path):
    """DexNDM-Real-v0 (here over a pty to the virtual LEAP hand) shows the same observation."""
    path = make_generalist().save(tmp_path / "generalist.pt")
    generalist = load_policy(path)
    backend = VirtualHandBackend("default", seed=0, wrist="palm_up", scene_name="task")
    with VirtualDynamixelServer(backend=backend, lockstep=True, seed=0) as server:
        env = gym.make(
            "DexNDM-Real-v0",
            port=server.port_path,
            realtime=False,
            history_len=generalist.history_len,
        )
        obs, _ = env.reset(seed=0)
        for _ in range(3):
            action, _ = generalist.predict(obs)
            obs, _, _, _, info = env.step(action)
        env.close()
    assert obs.shape == (OBS_SIZE,) and info["joint_targets"].shape == (16,)


def test_save_load_round_trip_gives_identical_actions(tmp_path):
    generalist = make_generalist(seed=3)
    path = generalist.save(tmp_path / "sub" / "generalist")
    assert path == tmp_path / "sub" / "generalist.pt"
    obs = np.random.default_rng(2).normal(size=(9, OBS_SIZE))
    for loaded in (Generalist.load(path), load_policy(path)):
        assert isinstance(loaded, Generalist)
        np.testing.assert_array_equal(loaded.predict(obs)[0], generalist.predict(obs)[0])
        assert loaded.env_kwargs == generalist.env_kwargs
        assert policy_env_kwargs(loaded)["history_len"] == HISTORY_LEN
        assert (loaded.net.width, loaded.net.num_blocks) == (32, 2)
    payload = torch.load(path, weights_only=True)  # a plain dict, readable without this class
    assert payload["format"] == "dexndm-generalist" and payload["version"] == 1


def test_load_refuses_files_that_are_not_generalists(tmp_path):
    with pytest.raises(FileNotFoundError, match="no generalist file"):
        Generalist.load(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a torch file at all")
    with pytest.raises(ValueError, match=r"not a generalist saved by Generalist\.save"):
        Generalist.load(garbage)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(ValueError, match="torch file but not a generalist"):
        load_policy(other)
    newer = tmp_path / "newer.pt"
    path = make_generalist().save(tmp_path / "good.pt")
    torch.save({**torch.load(path, weights_only=True), "version": 99}, newer)
    with pytest.raises(ValueError, match="format version 99"):
        Generalist.load(newer)
    broken = tmp_path / "broken.pt"
    payload = torch.load(path, weights_only=True)
    payload["state_dict"].pop("output.bias")
    torch.save(payload, broken)
    with pytest.raises(ValueError, match="corrupt generalist file"):
        Generalist.load(broken)


def test_generalist_needs_proprio_env_kwargs_and_matching_normaliser():
    net = SkipMLP(OBS_SIZE, 16, 8, 1)
    mean, std = np.zeros(OBS_SIZE), np.ones(OBS_SIZE)
    with pytest.raises(ValueError, match="obs_mode='proprio'"):
        Generalist(net, mean, std, {"obs_mode": "oracle", "history_len": 10})
    with pytest.raises(ValueError, match="do not match the network's input size"):
        Generalist(net, mean[:-1], std[:-1], {"obs_mode": "proprio", "history_len": 10})
    with pytest.raises(ValueError, match=f"history_len 3 makes 103 .* takes {OBS_SIZE}"):
        Generalist(net, mean, std, {"obs_mode": "proprio", "history_len": 3})


def test_observation_stats_floor_the_std_of_constant_inputs():
    obs = np.column_stack([np.arange(4.0), np.full(4, 2.0)])
    mean, std = observation_stats(obs, std_floor=0.5)
    np.testing.assert_allclose(mean, [1.5, 2.0])
    np.testing.assert_allclose(std, [np.std(np.arange(4.0)), 0.5])


def test_one_optimiser_step_on_net_fine_tunes_the_policy():
    generalist = make_generalist()
    obs = np.random.default_rng(4).normal(size=(16, OBS_SIZE)).astype(np.float32)
    before, _ = generalist.predict(obs)
    optimizer = torch.optim.Adam(generalist.net.parameters(), lr=1e-2)
    target = torch.full((16, 16), 0.5)
    loss = torch.nn.functional.mse_loss(generalist.forward(torch.as_tensor(obs)), target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    after, _ = generalist.predict(obs)
    assert not np.allclose(after, before)
    new_loss = torch.nn.functional.mse_loss(generalist.forward(torch.as_tensor(obs)), target)
    assert new_loss.item() < loss.item()
