"""The real hand moves only as commanded: readings outside a joint's range stop it, and every
way a program can end short of SIGKILL switches the torque off (virtual hand on a pty)."""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import subprocess
import sys
from collections.abc import Iterator

import gymnasium as gym
import numpy as np
import pytest
from helpers import REPO_ROOT

import dexndm_envs  # noqa: F401
from dexndm_envs.core.constants import HARDWARE_ANGLE_OFFSET_RAD, MOTOR_IDS, NUM_JOINTS
from dexndm_envs.dynamixel import VirtualDynamixelServer
from dexndm_envs.dynamixel.control_table import RAD_PER_TICK
from dexndm_envs.dynamixel.server import FollowerBackend
from dexndm_envs.hand.config import READING_TOLERANCE_RAD, HandConfig
from dexndm_envs.real.bus import JointRangeError

FLAT_TICKS = 2048  # a flat hand: every joint at 0 rad with the LEAP convention


def serve(initial_ticks: int = FLAT_TICKS) -> VirtualDynamixelServer:
    """A lockstep bus of 16 motors that follow their goals (no physics: fast)."""
    backend = FollowerBackend(MOTOR_IDS, initial_ticks=initial_ticks)
    return VirtualDynamixelServer(backend=backend, lockstep=True)


def registers(server: VirtualDynamixelServer, name: str) -> list[int]:
    with server.lock:
        return [server.tables[i].get(name) for i in MOTOR_IDS]


def make_env(server: VirtualDynamixelServer, **kwargs) -> gym.Env:
    return gym.make("DexNDM-Real-v0", port=server.port_path, realtime=False, **kwargs)


# ------------------------------------------------------------------ readings in range
def test_a_wrong_angle_offset_is_refused_at_reset_before_torque_goes_on():
    # an offset the config accepts, 0.66 rad off: the hand reads -0.66 rad where it is flat
    # (unchecked, reset clipped the readings into the limits: zero actions moved the joints)
    wrong = HandConfig(angle_offset_rad=HARDWARE_ANGLE_OFFSET_RAD + 0.66)
    with serve() as server:
        env = make_env(server, hand_config=wrong)
        with pytest.raises(JointRangeError) as caught:
            env.reset(seed=0)
        message = str(caught.value)
        assert message.startswith("motor 1 (if_mcp) reads -0.660 rad, outside")
        assert "-0.314..+2.230" in message and "angle_offset_rad" in message
        assert "real/calibrate.py --port" in message and "Torque is off" in message
        assert registers(server, "torque_enable") == [0] * NUM_JOINTS
        assert registers(server, "present_position") == [FLAT_TICKS] * NUM_JOINTS
        assert (caught.value.motor_id, caught.value.joint) == (1, "if_mcp")
        env.close()


def test_a_reading_out_of_range_mid_run_switches_the_torque_off():
    with serve() as server:
        env = make_env(server)
        env.reset(seed=0)
        env.step(np.zeros(NUM_JOINTS))
        with server.lock:  # motor 0 (if_rot) slips 2 rad: a horn jumping teeth
            server.backend.position_ticks[0] += 2.0 / RAD_PER_TICK
        with pytest.raises(JointRangeError, match=r"motor 0 \(if_rot\) reads \+1\.[0-9]+ rad"):
            env.step(np.zeros(NUM_JOINTS))
        assert registers(server, "torque_enable") == [0] * NUM_JOINTS
        env.close()


def test_a_reading_just_outside_the_range_starts_at_the_limit_and_says_so(caplog):
    # -0.34 rad everywhere: 0.026 rad below the mcp joints' -0.314, inside the tolerance
    reading_rad = -0.34
    assert reading_rad > -0.314 - READING_TOLERANCE_RAD
    ticks = round((HARDWARE_ANGLE_OFFSET_RAD + reading_rad) / RAD_PER_TICK)
    with serve(initial_ticks=ticks) as server:
        env = make_env(server)
        with caplog.at_level(logging.WARNING, logger="dexndm_envs.real.env"):
            _, info = env.reset(seed=0)
        env.close()
    assert info["joint_targets"][0] == pytest.approx(-0.314)
    assert re.search(r"if_mcp reads -0\.34\d rad, just outside its range", caplog.text)
    assert "if_rot" not in caplog.text


# ------------------------------------------------------------------ signals
STEPPING = """
import sys, numpy as np, gymnasium as gym, dexndm_envs
env = gym.make("DexNDM-Real-v0", port=sys.argv[1], realtime=False)
env.reset(seed=0)
print("READY", flush=True)
while True:
    env.step(np.zeros(16))
"""


@contextlib.contextmanager
def ready_child(server: VirtualDynamixelServer, script: str, **popen) -> Iterator[subprocess.Popen]:
    """A Python process running script against the served hand, once it printed READY; killed
    on the way out (harmless when it has ended)."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, server.port_path],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        **{"stderr": subprocess.PIPE, **popen},
    )
    try:
        assert child.stdout.readline() == "READY\n", child.stderr and child.stderr.read()
        yield child
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGINT], ids=lambda s: s.name
)
def test_shutdown_signals_switch_the_torque_off(signum):
    with serve() as server:
        with ready_child(server, STEPPING) as child:
            assert registers(server, "torque_enable") == [1] * NUM_JOINTS
            child.send_signal(signum)  # lands mid-step, most likely inside a bus exchange
            _, stderr = child.communicate(timeout=30)
        assert registers(server, "torque_enable") == [0] * NUM_JOINTS
    if signum == signal.SIGINT:  # Python's own KeyboardInterrupt exit
        assert child.returncode == -signal.SIGINT
    else:  # an orderly exit with the shell's status for the signal, no traceback
        assert child.returncode == 128 + signum, stderr
        assert "Traceback" not in stderr


ON_REQUEST = """
import signal, sys, numpy as np, gymnasium as gym, dexndm_envs
signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup runs a program
env = gym.make("DexNDM-Real-v0", port=sys.argv[1], realtime=False)
env.reset(seed=0)
print("READY", flush=True)
for _ in sys.stdin:
    env.step(np.zeros(16))
    print("STEPPED", flush=True)
"""


def test_an_ignored_sighup_stays_ignored_and_the_hand_stays_up():
    with serve() as server:
        with ready_child(server, ON_REQUEST, stdin=subprocess.PIPE) as child:
            child.send_signal(signal.SIGHUP)
            child.stdin.write("step\n")
            child.stdin.flush()
            assert child.stdout.readline() == "STEPPED\n"  # still running
            assert registers(server, "torque_enable") == [1] * NUM_JOINTS
            child.send_signal(signal.SIGTERM)
            child.communicate(timeout=30)
        assert child.returncode == 128 + signal.SIGTERM
        assert registers(server, "torque_enable") == [0] * NUM_JOINTS


def test_sigkill_leaves_the_torque_on_and_the_next_start_takes_the_hand_over():
    with serve() as server:
        with ready_child(server, STEPPING, stderr=subprocess.DEVNULL) as child:
            child.kill()  # SIGKILL: nothing in the process runs again
            child.wait()
        assert registers(server, "torque_enable") == [1] * NUM_JOINTS  # real/README.md, Safety
        env = make_env(server)
        _, info = env.reset(seed=0)  # configure (torque off), check, hold where it is
        assert registers(server, "torque_enable") == [1] * NUM_JOINTS
        assert registers(server, "goal_position") == registers(server, "present_position")
        np.testing.assert_allclose(info["joint_targets"], info["joint_pos"])
        env.close()
        assert registers(server, "torque_enable") == [0] * NUM_JOINTS
