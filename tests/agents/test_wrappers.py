"""Bundles (save/load, clear errors) and NDMResidualWrapper (conformance, what it executes)."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_agents import NDMResidualWrapper, load_pretrained
from dexndm_agents.dexndm.adapters import LeadAdapter, MLPAdapter
from dexndm_agents.dexndm.bundle import Bundle, BundleError, resolve_bundle
from dexndm_agents.dexndm.loop import LoopConfig, replay_tracking_error
from dexndm_agents.dexndm.models import JointWiseNDM, WholeHandNDM
from dexndm_agents.dexndm.rollouts import record_rollouts
from dexndm_envs.core import interface
from dexndm_envs.core.constants import JOINT_LOWER_RAD, JOINT_UPPER_RAD
from dexndm_envs.data.episodes import load_episodes
from dexndm_envs.dynamixel import VirtualDynamixelServer
from dexndm_envs.hand.config import load_hand_config
from dexndm_envs.real.emulated_hand import VirtualHandBackend

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ENV_KWARGS = {"object_set": "cylinder", "history_len": 3}


def make_bundle(bound_rad: float = 0.05, seed: int = 0, whole_hand: bool = False) -> Bundle:
    """An untrained model and an adapter whose last layer is random: it corrects something."""
    torch.manual_seed(seed)
    ndm = WholeHandNDM(window=4, hidden=16) if whole_hand else JointWiseNDM(window=4, hidden=16)
    adapter = MLPAdapter(history=3, hidden=32, bound_rad=bound_rad)
    with torch.no_grad():
        adapter.net[-1].weight.normal_(0.0, 0.5)
    return Bundle(ndm, adapter, {"note": "test bundle"})


def rollout(env: gym.Env, actions: np.ndarray, seed: int = 0):
    obs, info = env.reset(seed=seed)
    observations, infos = [obs], [info]
    for action in actions:
        obs, _, terminated, _, info = env.step(action)
        observations.append(obs)
        infos.append(info)
        if terminated:
            break
    return observations, infos


def test_bundle_round_trip_gives_identical_models(tmp_path):
    bundle = make_bundle(whole_hand=True)
    path = bundle.save(tmp_path / "sub" / "bundle.pt")
    loaded = Bundle.load(path)
    joint_pos = torch.rand(5, 4, 16)
    targets = joint_pos + 0.01
    torch.testing.assert_close(loaded.ndm(joint_pos, targets), bundle.ndm(joint_pos, targets))
    torch.testing.assert_close(
        loaded.residual(joint_pos[:, 1:], targets[:, 1:]),
        bundle.residual(joint_pos[:, 1:], targets[:, 1:]),
    )
    assert loaded.config == {"note": "test bundle"}
    assert not any(p.requires_grad for p in loaded.residual.parameters())


def test_bundle_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(BundleError, match="not a shipped name \\(default"):
        Bundle.load("nonexistent")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"definitely not a torch archive")
    with pytest.raises(BundleError, match="not a readable bundle file"):
        Bundle.load(junk)
    other = tmp_path / "other.pt"
    torch.save({"format": "something-else"}, other)
    with pytest.raises(BundleError, match="not a DexNDM bundle"):
        Bundle.load(other)
    path = make_bundle().save(tmp_path / "bundle.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(BundleError, match="not a readable bundle file"):
        Bundle.load(truncated)


def test_newer_or_mismatched_bundles_are_refused(tmp_path):
    path = make_bundle().save(tmp_path / "bundle.pt")
    payload = torch.load(path, weights_only=True)
    newer = dict(payload, format_version=99)
    torch.save(newer, tmp_path / "newer.pt")
    with pytest.raises(BundleError, match="newer than this dexndm reads"):
        Bundle.load(tmp_path / "newer.pt")
    config = json.loads(payload["ndm_config"])
    mismatched = dict(payload, ndm_config=json.dumps({**config, "hidden": 8}))
    torch.save(mismatched, tmp_path / "mismatched.pt")
    with pytest.raises(BundleError, match="do not fit the model settings"):
        Bundle.load(tmp_path / "mismatched.pt")


def test_wrapper_passes_the_env_checkers(tmp_path):
    path = make_bundle().save(tmp_path / "bundle.pt")
    env = NDMResidualWrapper(gym.make("DexNDM-Rotate-v0", **ENV_KWARGS), bundle=path)
    check_env(env, skip_render_check=True)
    sb3_check_env(env)


def test_a_zero_residual_changes_nothing():
    """A fresh adapter corrects nothing: the same observations, and targets to rounding (the
    wrapper sends them on the env's raised step limit)."""
    fresh = Bundle(JointWiseNDM(window=4, hidden=8), MLPAdapter(history=2))
    actions = np.random.default_rng(0).uniform(-1, 1, (30, 16))
    plain = rollout(gym.make("DexNDM-Rotate-v0", **ENV_KWARGS), actions)
    wrapped = rollout(
        NDMResidualWrapper(gym.make("DexNDM-Rotate-v0", **ENV_KWARGS), fresh), actions
    )
    for obs_plain, obs_wrapped in zip(plain[0], wrapped[0], strict=True):
        np.testing.assert_allclose(obs_plain, obs_wrapped, atol=1e-6)
    for info_plain, info_wrapped in zip(plain[1], wrapped[1], strict=True):
        np.testing.assert_allclose(info_wrapped["residual"], 0.0, atol=1e-12)
        np.testing.assert_allclose(
            info_wrapped["joint_targets"], info_plain["joint_targets"], atol=1e-12
        )


def test_the_hand_gets_the_policy_targets_plus_the_bounded_residual():
    env = NDMResidualWrapper(gym.make("DexNDM-Rotate-v0", **ENV_KWARGS), make_bundle(0.05))
    actions = np.random.default_rng(1).uniform(-0.3, 0.3, (20, 16))
    observations, infos = rollout(env, actions)
    base = infos[0]["joint_targets"]
    layout = env.get_wrapper_attr("obs_layout")
    for action, obs, info in zip(actions, observations[1:], infos[1:], strict=False):
        base = interface.next_targets(base, action, env.max_delta_rad)
        np.testing.assert_allclose(info["base_targets"], base)
        np.testing.assert_allclose(info["joint_targets"], base + info["residual"])
        assert np.abs(info["residual"]).max() <= 0.05 + 1e-12
        # the policy sees its own targets, as in the simulator it was trained in
        newest = obs[layout["joint_targets"]].reshape(3, 16)[-1]
        np.testing.assert_allclose(newest, interface.normalize_joints(base), atol=1e-6)
    assert np.abs(np.stack([info["residual"] for info in infos[1:]])).max() > 0.01


def test_the_residual_is_what_the_adapter_asks_for(tmp_path):
    bundle = make_bundle(0.05)
    env = NDMResidualWrapper(gym.make("DexNDM-Rotate-v0", **ENV_KWARGS), bundle)
    _, info = env.reset(seed=3)
    joint_pos = [info["joint_pos"]] * 3
    base = [info["joint_targets"]] * 3
    for action in np.zeros((4, 16)):
        base = [*base[1:], interface.next_targets(base[-1], action, env.max_delta_rad)]
        with torch.no_grad():
            asked = bundle.residual(
                torch.as_tensor(np.array([joint_pos]), dtype=torch.float32),
                torch.as_tensor(np.array([base]), dtype=torch.float32),
            )[0].numpy()
        _, _, _, _, info = env.step(action)
        # zero actions: only the joint limits can stop the correction asked for
        executed = np.clip(base[-1] + asked, JOINT_LOWER_RAD, JOINT_UPPER_RAD) - base[-1]
        np.testing.assert_allclose(info["residual"], executed, atol=1e-5)
        joint_pos = [*joint_pos[1:], info["joint_pos"]]


def test_a_policy_at_full_speed_still_gets_its_correction_in_full():
    """Full actions leave no room within the policy's step: the wrapper makes room."""
    inner = gym.make("DexNDM-Rotate-v0", **ENV_KWARGS)
    policy_step = inner.unwrapped.max_delta_rad
    env = NDMResidualWrapper(inner, make_bundle(0.05))
    assert env.max_delta_rad == policy_step  # what the policy's actions mean is unchanged
    actions = np.tile(np.where(np.arange(16) % 2 == 0, 1.0, -1.0), (12, 1))
    _, infos = rollout(env, actions, seed=2)
    base = infos[0]["joint_targets"]
    for action, info in zip(actions, infos[1:], strict=False):
        base = np.clip(base + action * policy_step, JOINT_LOWER_RAD, JOINT_UPPER_RAD)
        np.testing.assert_allclose(info["base_targets"], base)
        np.testing.assert_allclose(info["joint_targets"], base + info["residual"], atol=1e-12)
    residuals = np.stack([info["residual"] for info in infos[1:]])
    free = ~np.isclose(np.stack([i["joint_targets"] for i in infos[1:]]), JOINT_LOWER_RAD) & ~(
        np.isclose(np.stack([i["joint_targets"] for i in infos[1:]]), JOINT_UPPER_RAD)
    )
    # corrections along the motion (same sign as the action) are executed, not cut to zero
    assert np.any((residuals * actions[: len(residuals)] > 0.005) & free)
    env.close()
    assert inner.unwrapped.max_delta_rad == policy_step  # closing gives the env its limit back


def test_a_lead_bundle_sends_each_joint_ahead_of_the_policys_motion(tmp_path):
    torch.manual_seed(0)
    adapter = LeadAdapter(history=2, bound_rad=0.05)
    with torch.no_grad():
        adapter.lead[0] = torch.linspace(0.0, 0.75, 16)
    path = Bundle(JointWiseNDM(window=4, hidden=8), adapter).save(tmp_path / "lead.pt")
    env = NDMResidualWrapper(gym.make("DexNDM-Rotate-v0", **ENV_KWARGS), path)
    actions = np.random.default_rng(4).uniform(-1.0, 1.0, (10, 16))
    _, infos = rollout(env, actions, seed=1)
    previous = infos[0]["joint_targets"]
    for info in infos[1:]:
        change = info["base_targets"] - previous
        expected = 0.05 * np.tanh(np.linspace(0.0, 0.75, 16) * change / 0.05)
        expected = np.clip(info["base_targets"] + expected, JOINT_LOWER_RAD, JOINT_UPPER_RAD)
        np.testing.assert_allclose(info["joint_targets"], expected, atol=1e-6)
        previous = info["base_targets"]
    assert np.abs(np.stack([i["residual"] for i in infos[1:]])).max() > 0.01


def test_a_bundle_of_an_unknown_adapter_kind_is_refused(tmp_path):
    path = make_bundle().save(tmp_path / "bundle.pt")
    payload = torch.load(path, weights_only=True)
    config = json.loads(payload["residual_config"])
    torch.save(dict(payload, residual_config=json.dumps({**config, "kind": "gru"})), path)
    with pytest.raises(BundleError, match="residual_config: unknown adapter kind 'gru'"):
        Bundle.load(path)


def test_an_sb3_agent_trains_through_the_wrapper():
    env = NDMResidualWrapper(gym.make("DexNDM-Rotate-v0", **ENV_KWARGS), make_bundle())
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=32, n_epochs=1, device="cpu", seed=0)
    model.learn(64)
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert action.shape == (16,)


def test_the_wrapper_drives_the_real_hand_env_over_the_wire():
    backend = VirtualHandBackend("default", seed=0, wrist="palm_up", scene_name="task")
    with VirtualDynamixelServer(backend=backend, lockstep=True, seed=0) as server:
        env = gym.make("DexNDM-Real-v0", port=server.port_path, realtime=False, history_len=3)
        env = NDMResidualWrapper(env, make_bundle())
        env.reset(seed=0)
        for _ in range(3):
            _, _, _, _, info = env.step(np.full(16, 0.2))
        env.close()
    np.testing.assert_allclose(info["joint_targets"], info["base_targets"] + info["residual"])
    assert np.abs(info["residual"]).max() > 0


def test_envs_without_the_shared_interface_are_refused():
    with pytest.raises(ValueError, match="Box action space of shape \\(16,\\)"):
        NDMResidualWrapper(gym.make("Pendulum-v1"), make_bundle())


def test_the_shipped_default_bundle_is_for_the_default_task_and_hand():
    bundle = Bundle.load("default")
    hardware = bundle.config["hardware"]
    assert (hardware["profile"], hardware["seed"]) == ("default", 0)
    assert hardware["hand_config"] == load_hand_config(None).as_dict()  # the public LEAP one
    task = bundle.config["task"]
    assert (task["wrist"], task["axis"]) == ("palm_up", "+z")
    assert bundle.residual.bound_rad <= 0.05
    assert "out_dir" not in bundle.config["loop"]  # no path of the machine it was made on
    env = NDMResidualWrapper(
        gym.make("DexNDM-Rotate-v0", hardware="virtual", history_len=10), bundle="default"
    )
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.zeros(16))
    assert np.abs(info["residual"]).max() <= bundle.residual.bound_rad


@pytest.mark.slow
def test_the_shipped_default_bundle_makes_the_virtual_hand_track_the_sim(tmp_path):
    """The results' tracking column for the shipped bundle (full preset: 13.4 mrad direct, 5.4
    with DexNDM) on other seeds: the base policy's sim targets replayed on the default virtual
    hand."""
    policy = load_pretrained()
    record_rollouts(policy, None, 3, 2000, tmp_path / "sim", progress=False)
    sim = load_episodes(tmp_path / "sim")
    cfg = LoopConfig(out_dir=tmp_path)
    bundles = {"dexndm": resolve_bundle("default")}
    direct = replay_tracking_error(policy, "direct", bundles, cfg, sim)
    dexndm = replay_tracking_error(policy, "dexndm", bundles, cfg, sim)
    assert dexndm < 0.8 * direct
