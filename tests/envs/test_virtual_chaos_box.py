"""DexNDM-ChaosBox-v0: the virtual hand in the chaos box in process, and collecting from it.

Few balls and short episodes keep these fast; the ball count changes the load, not the code.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dexndm_envs  # registers the environments
from dexndm_envs.chaos import actions as chaos_actions
from dexndm_envs.chaos import collection as chaos
from dexndm_envs.chaos.virtual_env import VirtualChaosBoxEnv, collect_virtual_chaos_box
from dexndm_envs.core.constants import JOINT_NAMES, JOINT_UPPER_RAD, MAX_DELTA_RAD, NUM_JOINTS
from dexndm_envs.data.episodes import load_episodes
from dexndm_envs.dynamixel import control_table as ct
from dexndm_envs.hand.config import default_hand_config

BALLS = 8


def actions(steps: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (steps, NUM_JOINTS))


def run(env: VirtualChaosBoxEnv, seed: int, steps: int) -> list[dict]:
    infos = [env.reset(seed=seed)[1]]
    infos += [env.step(a)[4] for a in actions(steps)]
    return infos


def test_registered_env_passes_gymnasiums_checker():
    env = gym.make("DexNDM-ChaosBox-v0", num_balls=BALLS)
    assert env.spec.max_episode_steps == dexndm_envs.EPISODE_STEPS
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*infinity.*")  # unbounded obs, as every env
        check_env(env.unwrapped)
    env.close()


def test_a_seed_fixes_the_run_and_a_reset_drops_the_balls_anew():
    env = VirtualChaosBoxEnv(num_balls=BALLS)
    first = run(env, seed=3, steps=10)
    balls_after_steps = env.box.positions(env.data).copy()
    again = run(VirtualChaosBoxEnv(num_balls=BALLS), seed=3, steps=10)
    for a, b in zip(first, again, strict=True):
        for key in ("joint_pos", "joint_vel", "joint_current", "joint_targets"):
            np.testing.assert_array_equal(a[key], b[key])
    env.reset(seed=3)
    dropped_again = env.box.positions(env.data).copy()
    assert not np.allclose(dropped_again, balls_after_steps)
    env.reset(seed=4)
    assert not np.allclose(env.box.positions(env.data), dropped_again)
    assert env.box.inside(env.data)


def test_info_holds_the_servo_readings_in_the_real_envs_units():
    # "gentle" reads without latency, so the readings belong to the present physics state
    env = VirtualChaosBoxEnv("palm_down", hardware_profile="gentle", num_balls=BALLS)
    obs, info = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape and obs.dtype == np.float32
    assert info["wrist"] == "palm_down" and info["axis"].tolist() == [0.0, 0.0, 1.0]
    assert info["hardware"] == {
        "kind": "virtual",
        "profile": "gentle",
        "seed": 0,
        "scene": "chaos_box",
        "num_balls": BALLS,
    }
    offset = env.motors.motors.zero_offset_rad
    half_tick = ct.RAD_PER_TICK / 2 + 1e-9
    moved = False
    for action in actions(15):
        obs, reward, terminated, truncated, info = env.step(action)
        assert (reward, terminated, truncated) == (0.0, False, False)
        for key in ("joint_pos", "joint_vel", "joint_current", "joint_targets"):
            assert info[key].shape == (NUM_JOINTS,)
        qpos, qvel = env.data.qpos[:NUM_JOINTS], env.data.qvel[:NUM_JOINTS]  # hand first
        # joint_pos: rad, model convention, off by the encoder's zero offset and quantisation
        assert np.abs(info["joint_pos"] - qpos - offset).max() <= half_tick
        # joint_vel: rad/s (not the servo's 0.229 rpm units)
        assert np.abs(info["joint_vel"] - qvel).max() <= ct.VELOCITY_UNIT_RAD_S / 2 + 1e-9
        moved = moved or np.abs(info["joint_vel"]).max() > 0.1
        # joint_current: whole mA, within the servos' Goal Current
        current = info["joint_current"]
        assert np.array_equal(current, np.rint(current))
        assert np.abs(current).max() <= max(env.motors.hand.goal_current_ma)
    assert moved
    assert np.abs(current).max() > 20.0  # mA: holding the fingers up against gravity


def test_the_ideal_hand_reads_its_exact_state_and_its_actuators_current():
    env = VirtualChaosBoxEnv("palm_up", num_balls=BALLS, hardware="ideal")
    _, info = env.reset(seed=0)
    assert env.motors is None
    assert info["hardware"] == {"kind": "ideal", "scene": "chaos_box", "num_balls": BALLS}
    model, data = env.model, env.data
    acts = [model.actuator(name).id for name in JOINT_NAMES]
    # DexNDM-Rotate-v0's ideal hand: position actuators with the hand config's gains
    np.testing.assert_allclose(model.actuator_gainprm[acts, 0], env.actuators.kp_nm_per_rad)
    np.testing.assert_allclose(model.actuator_forcerange[acts, 1], env.actuators.torque_limit_nm)
    goal_current_ma = np.asarray(env.hand_config.goal_current_ma, dtype=np.float64)
    for action in actions(10):
        info = env.step(action)[4]
        np.testing.assert_array_equal(info["joint_pos"], data.qpos[:NUM_JOINTS])  # exact
        np.testing.assert_array_equal(info["joint_vel"], data.qvel[:NUM_JOINTS])
        # the current of the torque MuJoCo's actuators give at this state, through k_t
        mujoco.mj_forward(model, data)
        torque_nm = data.actuator_force[acts]
        np.testing.assert_allclose(
            info["joint_current"], torque_nm / env.actuators.torque_constant_nm_per_a * 1e3
        )
        assert np.all(np.abs(info["joint_current"]) <= goal_current_ma + 1e-6)
    assert np.abs(info["joint_current"]).max() > 20.0  # mA: the fingers held up and loaded


def test_an_ideal_hand_collection_records_it_and_refuses_the_virtual_one(tmp_path: Path):
    out = tmp_path / "chaos"
    collect(out, 1, hardware="ideal")
    episode = load_episodes(out, require=chaos_arrays())[0]
    assert episode.meta["hardware"] == {"kind": "ideal", "scene": "chaos_box", "num_balls": BALLS}
    with pytest.raises(chaos.CollectionError, match="hardware: differs in kind"):
        collect(out, 2)


def test_targets_move_relative_to_the_last_ones_within_the_joint_limits():
    env = VirtualChaosBoxEnv(num_balls=0)
    start = np.full(NUM_JOINTS, 0.3)
    _, info = env.reset(seed=0, options={"joint_targets": start})
    np.testing.assert_array_equal(info["joint_targets"], start)
    action = np.linspace(-1.0, 1.0, NUM_JOINTS)
    info = env.step(action)[4]
    np.testing.assert_allclose(info["joint_targets"], start + action * MAX_DELTA_RAD)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"wrist": "sideways"}, "unknown wrist 'sideways' for the chaos box; valid: palm_up"),
        ({"wrist": "random"}, "unknown wrist 'random'"),
        ({"wrist": (1.0, 0.0, 0.0, 0.0)}, "valid: palm_up, palm_down"),
        ({"num_balls": -1}, "num_balls must be an integer in 0 .. 150, got -1"),
        ({"num_balls": 151}, "num_balls must be an integer in 0 .. 150, got 151"),
        ({"num_balls": 2.5}, "num_balls must be an integer"),
        ({"history_len": 0}, "history_len must be an integer >= 1, got 0"),
        ({"hardware_seed": "a"}, "hardware_seed must be an integer >= 0, got 'a' (str)"),
        ({"hardware_profile": "shiny"}, "unknown hardware profile 'shiny'; presets: default"),
        ({"axis": "+w"}, "unknown axis '+w'"),
        ({"hardware": "real"}, "hardware must be one of: ideal, virtual, got 'real'"),
    ],
)
def test_bad_options_are_named_with_the_valid_ones(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        VirtualChaosBoxEnv(**options)


def test_bad_use_is_refused_before_anything_moves():
    env = VirtualChaosBoxEnv(num_balls=0)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(np.zeros(NUM_JOINTS))
    with pytest.raises(ValueError, match="16 finite joint angles"):
        env.reset(options={"joint_targets": np.zeros(3)})
    with pytest.raises(ValueError, match=r"\[0\] \(if_mcp\) = 5.000 rad is outside"):
        env.reset(options={"joint_targets": np.full(NUM_JOINTS, 5.0)})  # refused, not clipped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="non-finite values for joints: if_mcp"):
        env.step(np.r_[np.nan, np.zeros(NUM_JOINTS - 1)])


# ------------------------------------------------------------------ collection
def collect(out: Path, episodes: int, **options) -> list[Path]:
    values = {"num_balls": BALLS, "progress": False, **options}
    return collect_virtual_chaos_box(
        out, chaos_actions.SmoothRandomActions(steps=10), episodes, **values
    )


def test_collection_writes_loadable_episodes_of_the_virtual_hand(tmp_path: Path):
    paths = collect(tmp_path / "chaos", 3, hardware_seed=2, wrist="base_up")
    assert paths == [tmp_path / "chaos" / f"episode_{i:06d}.npz" for i in range(3)]
    episodes = load_episodes(tmp_path / "chaos", require=chaos_arrays())
    assert [e.index for e in episodes] == [0, 1, 2]
    for episode in episodes:
        assert episode.num_steps == 10
        assert episode.meta["hardware"] == {
            "kind": "virtual",
            "profile": "default",
            "seed": 2,
            "scene": "chaos_box",
            "num_balls": BALLS,
        }
        assert episode.meta["wrist"] == "base_up"
        assert np.ptp(episode.joint_targets, axis=0).max() > 0.1
    # no resets in between: each episode goes on from where the last one stopped
    assert [e.meta["extra"]["follows_episode"] for e in episodes] == [None, 0, 1]
    step = np.abs(episodes[1].joint_targets[0] - episodes[0].joint_targets[-1]).max()
    assert step <= MAX_DELTA_RAD + 1e-9


def chaos_arrays() -> tuple[str, ...]:
    return ("joint_pos", "joint_targets", "joint_vel", "joint_current", "timestamps")


def test_resume_collects_only_the_missing_episodes(tmp_path: Path):
    out = tmp_path / "chaos"
    collect(out, 4)
    (out / "episode_000001.npz").unlink()  # as if the run had stopped before these
    (out / "episode_000003.npz").unlink()
    kept = {i: (out / f"episode_{i:06d}.npz").read_bytes() for i in (0, 2)}
    paths = collect(out, 5)
    assert [p.name for p in paths] == [f"episode_{i:06d}.npz" for i in range(5)]
    assert all((out / f"episode_{i:06d}.npz").read_bytes() == data for i, data in kept.items())
    follows = {e.index: e.meta["extra"]["follows_episode"] for e in load_episodes(out)}
    assert follows == {0: None, 1: None, 2: 1, 3: 1, 4: 3}  # 2 is from the first run


def test_resume_with_another_hand_is_refused(tmp_path: Path):
    out = tmp_path / "chaos"
    collect(out, 1)
    with pytest.raises(chaos.CollectionError, match="hardware: differs in seed"):
        collect(out, 2, hardware_seed=1)
    with pytest.raises(chaos.CollectionError, match="hardware: differs in num_balls"):
        collect(out, 2, num_balls=BALLS + 1)
    weaker = dataclasses.replace(default_hand_config(), goal_current_ma=(300,) * NUM_JOINTS)
    with pytest.raises(chaos.CollectionError, match="hand_config"):
        collect(out, 2, hand_config=weaker)
    assert [e.index for e in load_episodes(out)] == [0]


def test_physx_collection_resumes_and_refuses_another_world(tmp_path: Path):
    out = tmp_path / "chaos"
    collect(out, 2, engine="physx")
    (out / "episode_000001.npz").unlink()  # as if the run had stopped there
    kept = (out / "episode_000000.npz").read_bytes()
    collect(out, 2, engine="physx")
    assert (out / "episode_000000.npz").read_bytes() == kept
    hardware = [e.meta["hardware"] for e in load_episodes(out)]
    assert all(h["engine"] == "physx" and h["world_profile"] == "default" for h in hardware)
    with pytest.raises(chaos.CollectionError, match="hardware: differs in world_profile"):
        collect(out, 3, engine="physx", world_profile="fine")
    with pytest.raises(chaos.CollectionError, match="hardware: differs in engine"):
        collect(out, 3)  # MuJoCo data into a PhysX directory
    assert [e.index for e in load_episodes(out)] == [0, 1]


def test_real_hand_settings_are_unchanged_by_the_hardware_setting(tmp_path: Path):
    hand = VirtualChaosBoxEnv(num_balls=0).motors.hand
    source = chaos_actions.SmoothRandomActions(steps=10)
    values = {"seed": 0, "realtime": True, "hardware_note": "serial 7"}
    real = chaos.collection_settings(
        port="/dev/ttyUSB0",
        wrist="palm_down",
        hand_config_file=None,
        hand=hand,
        source=source,
        **values,
    ).as_record()
    assert real["hardware"] is None
    # a collection.json written before the setting existed resumes
    before = {k: v for k, v in real.items() if k != "hardware"}
    assert chaos.settings_differences(before, real) == []


def test_target_excitation_offsets_the_targets_past_the_action_bound(tmp_path: Path):
    full_speed = np.ones((1, 40, NUM_JOINTS))  # every joint at the action bound
    np.savez(tmp_path / "actions.npz", actions=full_speed)
    source = chaos_actions.ActionFile.load(tmp_path / "actions.npz", steps=40)
    out = tmp_path / "chaos"
    collect_virtual_chaos_box(
        out, source, 1, num_balls=BALLS, progress=False, target_noise_rad=0.02
    )
    episode = load_episodes(out)[0]
    assert episode.meta["action_noise"]["target_sigma_rad"] == 0.02
    # the clean path climbs at the bound; the sent targets scatter about it by the offsets
    # (clipped at 3 sigma), so a step can outrun the bound. Joints that reached an upper
    # limit stop: only steps between targets below their limits are compared.
    targets = episode.joint_targets
    free = (targets[1:] < JOINT_UPPER_RAD - 0.07) & (targets[:-1] < JOINT_UPPER_RAD - 0.07)
    steps = np.diff(targets, axis=0)[free]
    assert steps.size > 100
    assert steps.max() > MAX_DELTA_RAD + 0.01  # faster than the bound allows
    assert steps.min() < MAX_DELTA_RAD - 0.01  # and slower
    assert np.abs(steps - MAX_DELTA_RAD).max() <= 2 * 3 * 0.02 + 1e-9
    with pytest.raises(chaos.CollectionError, match="target_noise_rad must be >= 0"):
        collect(tmp_path / "bad", 1, target_noise_rad=-0.1)
    # a directory collected without excitation is not resumed with it
    collect(tmp_path / "plain", 1)
    refused = re.escape("target_noise_rad: 0.0 on disk, 0.02 now")
    with pytest.raises(chaos.CollectionError, match=refused):
        collect(tmp_path / "plain", 2, target_noise_rad=0.02)
