"""The DexNDM loop's reference hand: the ideal sim hand with the action latency the base policy
was trained around records the sim rollouts, runs the "ideal" condition and sets the reachable
hand's latency; a run directory of another reference is refused."""

from __future__ import annotations

import numpy as np
import pytest

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_agents.dexndm import loop
from dexndm_agents.dexndm.loop import LoopConfig, StaleRunError, _condition_env, run_loop
from dexndm_agents.dexndm.reference import REFERENCE_LATENCY_S, reference_overrides
from dexndm_agents.policies.baselines import RandomPolicy, ZeroPolicy
from dexndm_envs.core.checks import SettingError
from dexndm_envs.sim.config import RotateConfig

TINY = {"sim_episodes": 2, "episode_steps": 12, "progress": False}


def _sim_rollouts(tmp_path, latency_s: float):
    cfg = LoopConfig(out_dir=tmp_path, reference_latency_s=latency_s, **TINY)
    # a policy that moves: with targets that never change, a latency changes nothing
    return loop._rollouts(RandomPolicy(seed=0), cfg, "sim_rollouts", "ideal", 7)


@pytest.mark.parametrize(
    ("latency_s", "message"),
    [
        (-0.01, "reference_latency_s must be a finite number >= 0, got -0.01"),
        (0.005, "reference_latency_s must be a whole number of physics steps of sim_dt_s = 0.01"),
        (0.05, "at most (frame_skip - 1) x sim_dt_s = 0.04 s, got 0.05"),
        (float("nan"), "reference_latency_s must be a finite number >= 0, got nan"),
    ],
)
def test_a_reference_latency_the_hand_cannot_run_is_refused_by_name(tmp_path, latency_s, message):
    with pytest.raises(SettingError) as refused:
        LoopConfig(out_dir=tmp_path, reference_latency_s=latency_s)
    assert message in str(refused.value)
    assert "config.randomization" not in str(refused.value)  # the loop's name, not the env's


def test_the_reference_latency_reaches_the_sim_rollouts(tmp_path):
    prompt = _sim_rollouts(tmp_path / "prompt", 0.0)
    late = _sim_rollouts(tmp_path / "late", 0.02)
    for episodes, steps in ((prompt, 0), (late, 2)):
        assert [e.meta["extra"]["randomization"]["latency_steps"] for e in episodes] == [steps] * 2
    recorded = late[0].meta["extra"]["env_kwargs"]["config"]  # recorded as plain values
    assert recorded["randomization"]["nominal_action_latency_s"] == 0.02
    for without, with_latency in zip(prompt, late, strict=True):
        assert np.array_equal(without.joint_pos[0], with_latency.joint_pos[0])  # one start
        steps = min(without.num_steps, with_latency.num_steps)
        assert np.abs(without.joint_pos[1:steps] - with_latency.joint_pos[1:steps]).max() > 1e-3


def test_a_run_directory_of_another_reference_is_refused_before_any_work(tmp_path):
    _sim_rollouts(tmp_path, 0.0)  # as every run made before the reference existed
    cfg = LoopConfig(out_dir=tmp_path, reference_latency_s=0.01, **TINY)
    with pytest.raises(StaleRunError) as refused:
        run_loop(RandomPolicy(seed=0), cfg)
    assert (
        f"{tmp_path / 'sim_rollouts'} holds sim rollouts with an action latency of 0 s, not the "
        "reference_latency_s 0.01 s asked for" in str(refused.value)
    )
    assert not (tmp_path / "chaos_box").exists()  # nothing built on the stale rollouts
    assert len(_sim_rollouts(tmp_path, 0.0)) == 2  # the same reference reuses them


def test_the_ideal_condition_and_the_reachable_hand_have_the_reference_latency(tmp_path):
    cfg = LoopConfig(out_dir=tmp_path)
    assert cfg.reference_latency_s == REFERENCE_LATENCY_S == 0.01
    ideal = _condition_env(ZeroPolicy(), "ideal", {}, cfg)
    _, info = ideal.reset(seed=0)
    assert info["randomization"]["latency_steps"] == 1
    ideal.close()
    for latency_s in (0.0, 0.02):
        cfg = LoopConfig(out_dir=tmp_path, hardware_profile="worn", reference_latency_s=latency_s)
        reachable = _condition_env(ZeroPolicy(), "reachable", {}, cfg)
        profile = reachable.unwrapped.motors.profile
        assert profile.command_latency_s == latency_s and profile.read_latency_s == 0.0
        reachable.close()


class _ConfiguredPolicy(ZeroPolicy):
    def __init__(self, config) -> None:
        self.env_kwargs = {"config": config}


@pytest.mark.parametrize(
    "config",
    [None, {"frame_skip": 4, "randomization": {"obs_noise_rad": 0.0}}, RotateConfig(frame_skip=4)],
    ids=["none", "overrides", "config"],
)
def test_the_reference_keeps_the_policys_own_config(config):
    overrides = reference_overrides(_ConfiguredPolicy(config), 0.01)
    assert overrides["randomization"]["nominal_action_latency_s"] == 0.01
    if config is not None:
        assert overrides["frame_skip"] == 4
    if isinstance(config, dict):
        assert overrides["randomization"]["obs_noise_rad"] == 0.0
        assert "nominal_action_latency_s" not in config["randomization"]  # the policy's stays
