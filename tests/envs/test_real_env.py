"""DexNDM-Real-v0 over a pty with the official SDK, against the virtual LEAP hand."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import dexndm_envs  # noqa: F401
from dexndm_envs.core.checks import EnvClosedError, SettingError
from dexndm_envs.core.constants import JOINT_LOWER_RAD, JOINT_UPPER_RAD, MOTOR_IDS
from dexndm_envs.dynamixel import FaultConfig, VirtualDynamixelServer
from dexndm_envs.hand.config import HandConfig
from dexndm_envs.real.emulated_hand import VirtualHandBackend


@pytest.fixture(scope="module")
def backend_factory():
    return lambda: VirtualHandBackend("default", seed=0, wrist="palm_up", scene_name="task")


@pytest.fixture
def server(backend_factory):
    with VirtualDynamixelServer(backend=backend_factory(), lockstep=True, seed=0) as srv:
        yield srv


def _env(server, **kwargs):
    return gym.make("DexNDM-Real-v0", port=server.port_path, realtime=False, **kwargs)


def test_spaces_and_layout_match_the_sim_in_proprio_mode(server):
    env, sim = _env(server), gym.make("DexNDM-Rotate-v0")
    assert env.action_space == sim.action_space
    assert env.observation_space == sim.observation_space
    assert env.unwrapped.obs_layout.to_dict() == sim.unwrapped.obs_layout.to_dict()
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert info["joint_pos"].shape == info["joint_targets"].shape == (16,)
    env.close()
    sim.close()


def test_steps_move_the_hand_and_close_switches_torque_off(server):
    env = _env(server)
    _, info = env.reset(seed=0)
    start = info["joint_pos"].copy()
    for _ in range(10):
        _, reward, terminated, truncated, info = env.step(np.ones(16))
    assert reward == 0.0 and not terminated and not truncated
    moved = info["joint_pos"] - start
    # targets rose by 10/24 rad where the joint limits allowed it; the hand followed
    assert np.mean(moved > 0.05) > 0.5
    expected = np.minimum(
        np.clip(start, JOINT_LOWER_RAD, JOINT_UPPER_RAD) + 10 / 24, JOINT_UPPER_RAD
    )
    np.testing.assert_allclose(info["joint_targets"], expected)
    env.close()
    assert all(server.tables[i].get("torque_enable") == 0 for i in MOTOR_IDS)


def test_bad_actions_are_refused_before_anything_is_written(server):
    env = _env(server)
    env.reset(seed=0)
    before = [server.tables[i].get("goal_position") for i in MOTOR_IDS]
    with pytest.raises(ValueError, match="non-finite values for joints: if_rot"):
        env.step(np.array([0.0, np.nan] + [0.0] * 14))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(15))
    assert [server.tables[i].get("goal_position") for i in MOTOR_IDS] == before
    env.close()


def test_the_per_step_target_limit_holds(server):
    # a hand config that allows less than one full action step per control step
    env = _env(server, hand_config=HandConfig(max_target_step_rad=0.02))
    env.reset(seed=0)
    before = [server.tables[i].get("goal_position") for i in MOTOR_IDS]
    with pytest.raises(ValueError, match="nothing was written"):
        env.step(np.ones(16))
    assert [server.tables[i].get("goal_position") for i in MOTOR_IDS] == before
    env.step(np.full(16, 0.3))  # 0.3/24 rad is fine
    env.close()


def test_a_tracker_supplies_reward_and_termination(server):
    calls = []

    def tracker(info):
        calls.append(info)
        return 1.5, len(calls) >= 3

    env = _env(server, tracker=tracker)
    env.reset(seed=0)
    results = [env.step(np.zeros(16)) for _ in range(3)]
    assert [r[1] for r in results] == [1.5, 1.5, 1.5]
    assert [r[2] for r in results] == [False, False, True]
    env.close()


def test_100_steps_through_a_lossy_link(backend_factory):
    faults = FaultConfig(drop_rate=0.05, corrupt_rate=0.01)
    with VirtualDynamixelServer(
        backend=backend_factory(), lockstep=True, faults=faults, seed=1
    ) as server:
        env = _env(server)
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        for _ in range(100):
            obs, *_ = env.step(rng.uniform(-1, 1, 16))
        assert np.isfinite(obs).all()
        assert server.stats["dropped"] > 0
        env.close()
        assert all(server.tables[i].get("torque_enable") == 0 for i in MOTOR_IDS)


def test_realtime_counts_late_ticks_as_overruns(server):
    env = gym.make("DexNDM-Real-v0", port=server.port_path, realtime=True)
    env.unwrapped.dt = 0.0  # every tick is already past when the step gets there
    env.reset(seed=0)
    infos = [env.step(np.zeros(16))[4] for _ in range(5)]
    env.close()
    assert [info["overruns"] for info in infos] == [1, 2, 3, 4, 5]
    assert all(info["loop_period_s"] > 0 for info in infos)


def test_random_wrist_is_refused():
    with pytest.raises(ValueError, match="mounting"):
        gym.make("DexNDM-Real-v0", port="/dev/null", wrist="random")


def test_reset_options_it_does_not_take_are_refused_before_anything_is_written(server):
    env = _env(server)
    with pytest.raises(
        SettingError,
        match="unknown reset option 'joint_target' for DexNDM-Real-v0; it takes joint_targets",
    ):
        env.reset(seed=0, options={"joint_target": np.zeros(16)})
    assert all(server.tables[i].get("torque_enable") == 0 for i in MOTOR_IDS)
    env.reset(seed=0, options={})
    env.close()


@pytest.mark.parametrize(
    ("goal", "message"),
    [
        (np.full(16, 5.0), r"joint_targets'\]\[0\] \(if_mcp\) = 5.000 rad is outside"),
        (np.zeros(15), "must be 16 finite joint angles"),
        (np.full(16, np.nan), "must be 16 finite joint angles"),
        ("open", "must be 16 finite joint angles"),
    ],
)
def test_reset_targets_outside_the_joints_are_refused_not_clipped(server, goal, message):
    env = _env(server)
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options={"joint_targets": goal})
    assert all(server.tables[i].get("torque_enable") == 0 for i in MOTOR_IDS)  # nothing moved
    env.close()


def test_step_and_reset_after_close_are_refused(server):
    env = _env(server)
    env.reset(seed=0)
    env.close()
    env.close()  # harmless
    with pytest.raises(EnvClosedError, match=r"DexNDM-Real-v0 is closed: step\(\) after close"):
        env.step(np.zeros(16))
    with pytest.raises(EnvClosedError, match=r"reset\(\) after close\(\); make a new env"):
        env.reset(seed=0)
    assert all(server.tables[i].get("torque_enable") == 0 for i in MOTOR_IDS)
