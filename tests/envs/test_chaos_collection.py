"""Chaos-box collection: the action sources and settings in process, the program against the
virtual LEAP hand served on a pty (lockstep, so runs are fast and need no real time)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from helpers import REPO_ROOT

from dexndm_envs.chaos import actions as chaos_actions
from dexndm_envs.chaos import collection as chaos
from dexndm_envs.core import interface
from dexndm_envs.core.constants import JOINT_LOWER_RAD, JOINT_UPPER_RAD, MAX_DELTA_RAD, NUM_JOINTS
from dexndm_envs.core.shutdown import ShutdownSignal
from dexndm_envs.data.episodes import LOCK_FILE, load_episodes
from dexndm_envs.dynamixel.process import served_port
from dexndm_envs.hand.config import HandConfig, default_hand_config
from dexndm_envs.real.bus import DynamixelBus

REPO = REPO_ROOT
COLLECTOR = REPO / "real" / "collect_chaos_box.py"
VIRTUAL_HAND_OPTIONS = ("--scene", "chaos_box", "--wrist", "palm_down")


def wait_for(condition, timeout_s: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)


@contextlib.contextmanager
def virtual_hand(log_path: Path, *options: str) -> Iterator[str]:
    """A chaos-box virtual hand served on a pty; yields its path, stops it on exit."""
    command = [sys.executable, str(REPO / "real" / "virtual_hand.py"), *options]
    with log_path.open("w") as log, served_port(command, stderr=log, cwd=REPO) as port:
        yield port


@pytest.fixture(scope="module")
def hand_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A lockstep chaos-box virtual hand shared by the module's tests; yields its pty path."""
    log_path = tmp_path_factory.mktemp("virtual_hand") / "stderr.txt"
    with virtual_hand(log_path, *VIRTUAL_HAND_OPTIONS, "--lockstep") as port:
        yield port


def collector_command(port: str, out: Path, *options: str) -> list[str]:
    base = ["--port", port, "--out", str(out), "--no-realtime", "--hardware-note", "virtual 0"]
    return [sys.executable, str(COLLECTOR), *base, *options]


def run_collector(port: str, out: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        collector_command(port, out, *options),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


# ------------------------------------------------------------------ in process
def integrate(actions: np.ndarray, start_rad: np.ndarray) -> np.ndarray:
    targets, out = start_rad, []
    for action in actions:
        targets = interface.next_targets(targets, action, MAX_DELTA_RAD)
        out.append(targets)
    return np.array(out)


def test_generator_sweeps_inside_the_margins_and_is_fixed_by_seed_and_index():
    source = chaos_actions.SmoothRandomActions(steps=400)
    start = JOINT_LOWER_RAD.copy()  # at the lower limits: the worst place to start
    actions = source.actions(7, chaos_actions.episode_rngs(0, 7)[0], start)[0]
    again = source.actions(7, chaos_actions.episode_rngs(0, 7)[0], start)[0]
    other = source.actions(8, chaos_actions.episode_rngs(0, 8)[0], start)[0]
    assert actions.shape == (400, NUM_JOINTS) and np.abs(actions).max() <= 1.0
    np.testing.assert_array_equal(actions, again)
    assert not np.allclose(actions, other)
    targets = integrate(actions, start)[100:]  # after the catch-up from the limits
    margin = source.margin / 2 * (JOINT_UPPER_RAD - JOINT_LOWER_RAD)
    assert (targets >= JOINT_LOWER_RAD + margin - 1e-9).all()
    assert (targets <= JOINT_UPPER_RAD - margin + 1e-9).all()
    assert (np.ptp(targets, axis=0) > 0.2).all()  # every joint moves


def test_noise_on_half_the_episodes_with_sigma_in_action_units():
    draws = [
        chaos_actions.add_noise(
            np.zeros((400, NUM_JOINTS)), chaos_actions.episode_rngs(0, i)[1], 0.5, 0.01
        )
        for i in range(200)
    ]
    applied = [noisy for _, noisy in draws]
    assert 0.35 < np.mean(applied) < 0.65
    noise = np.concatenate([a for a, noisy in draws if noisy])
    assert np.std(noise) == pytest.approx(0.01, rel=0.05)
    assert all(not a.any() for a, noisy in draws if not noisy)


def test_action_files_are_checked(tmp_path: Path):
    np.save(tmp_path / "one.npy", np.zeros((30, NUM_JOINTS)))
    assert chaos_actions.ActionFile.load(tmp_path / "one.npy", steps=20).trajectories.shape == (
        1,
        20,
        16,
    )
    bad = {
        "short.npz": ({"actions": np.zeros((2, 10, NUM_JOINTS))}, "have 10 steps"),
        "wide.npz": ({"actions": np.full((1, 30, NUM_JOINTS), 2.0)}, "must lie in [-1, 1]"),
        "shape.npz": ({"actions": np.zeros((1, 30, 12))}, "expected (trajectories"),
        "names.npz": ({"a": np.zeros(1), "b": np.zeros(1)}, "name the action array"),
    }
    for name, (arrays, message) in bad.items():
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(chaos.CollectionError, match=re.escape(message)):
            chaos_actions.ActionFile.load(tmp_path / name, steps=20)
    (tmp_path / "zeroed.npz").write_bytes(bytes(1000))  # numpy would say "pickled data"
    with pytest.raises(chaos.CollectionError, match=r"zeroed\.npz: corrupt or truncated"):
        chaos_actions.ActionFile.load(tmp_path / "zeroed.npz", steps=20)


def _settings(port: str = "/dev/pts/1", wrist: str = "palm_down", **changes) -> dict:
    """A run's settings as collection.json records them."""
    hand = changes.pop("hand", default_hand_config())
    values = {"seed": 0, "realtime": False, "hardware_note": "", **changes}
    source = chaos_actions.SmoothRandomActions(steps=20)
    return chaos.collection_settings(
        port=port, wrist=wrist, hand_config_file=None, hand=hand, source=source, **values
    ).as_record()


def test_settings_compare_what_shapes_the_data_not_the_device_path():
    assert chaos.settings_differences(_settings(), _settings(port="/dev/pts/9")) == []
    assert chaos.settings_differences(_settings(), _settings(seed=1)) == ["seed: 0 on disk, 1 now"]
    hand = dataclasses.replace(default_hand_config(), goal_current_ma=(300,) * NUM_JOINTS)
    assert chaos.settings_differences(_settings(), _settings(hand=hand)) == [
        "hand_config: differs in goal_current_ma"
    ]
    with pytest.raises(chaos.CollectionError, match="unknown wrist 'sideways'"):
        _settings(wrist="sideways")


def test_stop_request_defers_shutdown_signals_and_leaves_ignored_ones_alone():
    before = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup runs a program
    terminate = signal.getsignal(signal.SIGTERM)
    try:
        with chaos.StopRequest() as stop:
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            signal.raise_signal(signal.SIGTERM)  # deferred: only noted
            assert stop.requested == signal.SIGTERM
            with pytest.raises(ShutdownSignal) as caught:
                stop.raise_if_requested()
            assert caught.value.code == 128 + signal.SIGTERM
        assert signal.getsignal(signal.SIGTERM) is terminate
    finally:
        signal.signal(signal.SIGHUP, before)


# ------------------------------------------------------------------ the program
@pytest.fixture(scope="module")
def collected(hand_port: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished collection of 3 episodes of 20 steps with the built-in generator."""
    out = tmp_path_factory.mktemp("collected") / "chaos"
    result = run_collector(hand_port, out, "--episodes", "3", "--steps", "20")
    assert result.returncode == 0, result.stderr
    assert "collected 3 episodes (60 steps)" in result.stdout
    return out


def test_collection_writes_episodes_that_load(collected: Path, hand_port: str):
    episodes = load_episodes(collected)
    assert [e.index for e in episodes] == [0, 1, 2]
    for episode in episodes:
        for name in ("joint_pos", "joint_targets", "joint_vel", "joint_current"):
            array = getattr(episode, name)
            assert array.shape == (20, NUM_JOINTS) and np.isfinite(array).all()
        assert np.ptp(episode.joint_targets, axis=0).max() > 0.1
        assert episode.timestamps[0] == 0.0 and (np.diff(episode.timestamps) >= 0).all()
        assert episode.meta["hardware"] == {"kind": "real", "port": hand_port, "note": "virtual 0"}
        assert episode.meta["extra"]["episode"] == episode.index
        assert episode.meta["wrist"] == "palm_down"
    # no resets: each episode starts where the last one ended
    assert [e.meta["extra"]["follows_episode"] for e in episodes] == [None, 0, 1]
    step = np.abs(episodes[1].joint_targets[0] - episodes[0].joint_targets[-1]).max()
    assert step <= MAX_DELTA_RAD + 1e-9
    settings = json.loads((collected / "collection.json").read_text())
    assert settings["noise_sigma"] == 0.01 and settings["steps"] == 20


def test_finished_collection_is_not_collected_again(collected: Path, hand_port: str):
    result = run_collector(hand_port, collected, "--episodes", "3", "--steps", "20")
    assert result.returncode == 0 and "all 3 episodes are already in" in result.stdout


def test_changed_setting_refuses_to_resume(collected: Path, hand_port: str):
    result = run_collector(hand_port, collected, "--episodes", "4", "--steps", "20", "--seed", "1")
    assert result.returncode == 2
    assert "refusing to resume" in result.stderr and "seed: 0 on disk, 1 now" in result.stderr
    assert "Traceback" not in result.stderr
    assert [e.index for e in load_episodes(collected)] == [0, 1, 2]


def test_actions_file_is_replayed_open_loop(hand_port: str, tmp_path: Path):
    phase = (
        np.arange(25)[None, :, None] / 4 + np.arange(NUM_JOINTS) + np.array([0, 1])[:, None, None]
    )
    np.savez(tmp_path / "rollouts.npz", actions=0.5 * np.sin(phase))
    out = tmp_path / "chaos"
    options = ("--episodes", "3", "--steps", "10", "--actions", str(tmp_path / "rollouts.npz"))
    result = run_collector(hand_port, out, *options)
    assert result.returncode == 0, result.stderr
    for episode in load_episodes(out):
        trajectory = episode.meta["extra"]["action_trajectory"]
        assert trajectory == episode.index % 2
        sent = np.diff(episode.joint_targets, axis=0) / MAX_DELTA_RAD
        planned = 0.5 * np.sin(phase[trajectory, 1:10])
        tolerance = 0.05 if episode.meta["action_noise"] else 1e-9
        inside = (episode.joint_targets[1:] > JOINT_LOWER_RAD) & (
            episode.joint_targets[1:] < JOINT_UPPER_RAD
        )
        assert np.abs(sent - planned)[inside].max() <= tolerance


def test_killed_collection_resumes_without_duplicates(hand_port: str, tmp_path: Path):
    out = tmp_path / "chaos"
    command = collector_command(hand_port, out, "--episodes", "6", "--steps", "10")
    collector = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for(lambda: (out / "episode_000000.npz").exists(), 60.0, "the first episode")
        os.kill(collector.pid, signal.SIGKILL)
    finally:
        collector.kill()
        collector.communicate(timeout=10)
    assert collector.returncode == -signal.SIGKILL
    before = {p.name: p.read_bytes() for p in out.glob("episode_*.npz")}
    assert 0 < len(before) < 6, "the collector finished before it could be killed"
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    # the killed collector's lock file stays, its flock gone with the process: no obstacle
    assert names == [LOCK_FILE, "collection.json"] + [f"episode_{i:06d}.npz" for i in range(6)]
    assert all((out / name).read_bytes() == data for name, data in before.items())
    episodes = load_episodes(out)
    assert [e.index for e in episodes] == list(range(6))
    assert episodes[len(before)].meta["extra"]["follows_episode"] is None  # the resume
    for episode in episodes:  # the noise draw is a function of (seed, index) alone
        rng = chaos_actions.episode_rngs(0, episode.index)[1]
        noisy = chaos_actions.add_noise(np.zeros((10, NUM_JOINTS)), rng, 0.5, 0.01)[1]
        assert (episode.meta["action_noise"] is not None) == noisy


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name
)
def test_a_signal_switches_torque_off_and_says_how_to_resume(
    hand_port: str, tmp_path: Path, signum: signal.Signals
):
    # SIGHUP: the SSH session of an overnight run dropped
    out = tmp_path / "chaos"
    command = collector_command(hand_port, out, "--episodes", "50", "--steps", "10")
    collector = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: (out / "episode_000000.npz").exists(), 60.0, "the first episode")
        collector.send_signal(signum)
        _, stderr = collector.communicate(timeout=30)
    finally:
        collector.kill()
        collector.wait()
    assert collector.returncode == 128 + signum, stderr.decode()
    assert f"interrupted by {signum.name}; torque off".encode() in stderr
    assert b"run the same command again to resume" in stderr and b"Traceback" not in stderr
    with DynamixelBus(hand_port) as bus:
        assert [bus.read_register(i, "torque_enable") for i in bus.motor_ids] == [0] * NUM_JOINTS


def test_a_second_collector_on_the_same_out_is_refused(hand_port: str, tmp_path: Path):
    out = tmp_path / "chaos"
    command = collector_command(hand_port, out, "--episodes", "50", "--steps", "10")
    first = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: (out / "episode_000000.npz").exists(), 60.0, "the first episode")
        # a port that does not exist: the refusal comes before the bus is opened
        second = run_collector("/dev/no-such-hand", out, "--episodes", "50", "--steps", "10")
        still_running = first.poll() is None
        first.send_signal(signal.SIGINT)
        _, first_stderr = first.communicate(timeout=30)
    finally:
        first.kill()
        first.wait()
    assert still_running, first_stderr.decode()[-3000:]
    assert second.returncode == 2, second.stderr
    assert f"is being written by another collection (pid {first.pid} holds" in second.stderr
    assert "Traceback" not in second.stderr


def test_resume_collects_an_episode_cut_short_again(hand_port: str, tmp_path: Path):
    out = tmp_path / "chaos"
    assert run_collector(hand_port, out, "--episodes", "2", "--steps", "10").returncode == 0
    whole = (out / "episode_000001.npz").read_bytes()
    (out / "episode_000001.npz").write_bytes(whole[: len(whole) // 2])  # e.g. a copy cut short
    result = run_collector(hand_port, out, "--episodes", "2", "--steps", "10")
    assert result.returncode == 0, result.stderr
    assert "episode 1 is not complete" in result.stderr and "corrupt" in result.stderr
    assert "collected 1 episodes (10 steps)" in result.stdout
    assert [e.index for e in load_episodes(out)] == [0, 1]
    assert (out / "episode_000001.npz.invalid").read_bytes() == whole[: len(whole) // 2]


def test_target_noise_the_step_limit_would_stop_is_refused_before_anything_moves(
    tmp_path: Path,
):
    out = tmp_path / "chaos"
    result = run_collector("/dev/no-such-hand", out, "--target-noise-rad", "0.05")
    assert result.returncode == 2
    assert "target_noise_rad=0.05 sends target steps of up to 0.342 rad" in result.stderr
    assert "max_target_step_rad=0.2" in result.stderr and "<= 0.0263" in result.stderr
    assert not out.exists()


def test_the_largest_target_noise_that_fits_collects(hand_port: str, tmp_path: Path):
    sigma = chaos_actions.largest_target_step_rad  # 1/24 + 6 sigma <= 0.2
    assert sigma(0.0263) <= 0.2 < sigma(0.0264)
    out = tmp_path / "chaos"
    options = ("--episodes", "2", "--steps", "20", "--target-noise-rad", "0.0263")
    result = run_collector(hand_port, out, *options)
    assert result.returncode == 0, result.stderr
    steps = np.abs(np.diff(load_episodes(out)[1].joint_targets, axis=0))
    assert MAX_DELTA_RAD < steps.max() <= 0.2  # the offsets moved targets past the action step


def test_the_collector_checks_the_envs_step_limit_before_the_hand_moves(tmp_path: Path):
    env = gym.make(
        "DexNDM-Real-v0", port="/dev/no-such-hand", hand_config=HandConfig(max_target_step_rad=0.1)
    )
    settings = chaos.collection_settings(
        port="/dev/no-such-hand",
        wrist="palm_down",
        hand_config_file=None,
        hand=env.unwrapped.hand,
        source=chaos_actions.SmoothRandomActions(steps=10),
        seed=0,
        realtime=False,
        hardware_note="",
        target_noise_rad=0.02,
    )
    writer, _ = chaos.prepare_directory(tmp_path / "chaos", settings, episodes=1)
    source = chaos_actions.SmoothRandomActions(steps=10)
    with pytest.raises(chaos.CollectionError, match=r"max_target_step_rad=0\.1"):
        chaos.ChaosBoxCollector(env, writer, source, settings)
    writer.unlock()
    assert not env.unwrapped.bus.is_open


def test_short_actions_are_refused_before_anything_moves(tmp_path: Path):
    np.save(tmp_path / "short.npy", np.zeros((2, 10, NUM_JOINTS)))
    out = tmp_path / "chaos"
    # a port that does not exist: the refusal must come before the bus is opened
    command = collector_command("/dev/no-such-hand", out, "--steps", "20")
    result = subprocess.run(
        [*command, "--actions", str(tmp_path / "short.npy")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "have 10 steps, but --steps 20 needs at least 20" in result.stderr
    assert not out.exists()


def test_bad_port_is_one_clear_error(tmp_path: Path):
    result = run_collector("/dev/no-such-hand", tmp_path / "chaos", "--steps", "5")
    assert result.returncode == 1
    assert "cannot open /dev/no-such-hand" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_real_time_collection_keeps_20_hz(tmp_path: Path):
    with virtual_hand(tmp_path / "stderr.txt", *VIRTUAL_HAND_OPTIONS) as port:
        command = collector_command(port, tmp_path / "chaos", "--episodes", "2", "--steps", "60")
        command.remove("--no-realtime")
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for episode in load_episodes(tmp_path / "chaos"):
        assert np.median(np.diff(episode.timestamps)) == pytest.approx(0.05, abs=0.005)
        assert episode.meta["extra"]["realtime"] is True
