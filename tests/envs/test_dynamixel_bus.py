"""DynamixelBus against virtual devices on a pty: group I/O, configuration, faults, safety."""

from __future__ import annotations

import numpy as np
import pytest

from dexndm_envs.core.constants import JOINT_NAMES, MOTOR_IDS
from dexndm_envs.dynamixel import FaultConfig, VirtualDynamixelServer
from dexndm_envs.hand.config import default_hand_config
from dexndm_envs.real.bus import (
    DynamixelBus,
    MotorHardwareError,
    MotorTimeoutError,
    PortError,
)


def _server(**faults) -> VirtualDynamixelServer:
    return VirtualDynamixelServer(lockstep=True, faults=FaultConfig(**faults), seed=0)


def _set_faults(server: VirtualDynamixelServer, faults: FaultConfig) -> None:
    """Change the injected faults of a running server (a motor dies mid-run)."""
    with server.lock:
        server.bus.faults = server.faults = faults


@pytest.mark.parametrize("fast", [True, False])
def test_group_read_and_write_follow_the_goals(fast):
    with _server() as server, DynamixelBus(server.port_path, fast_sync_read=fast) as bus:
        bus.configure(default_hand_config())
        bus.set_torque(True)
        ticks, velocity, current = bus.read_state()
        assert ticks.shape == velocity.shape == current.shape == (16,)
        goal = ticks + np.arange(16) * 3
        for _ in range(3):
            bus.write_goal_ticks(goal)
        ticks, _, _ = bus.read_state()
        np.testing.assert_array_equal(ticks, goal)
        # joint order, not ID order: if_mcp is motor 1
        assert server.tables[MOTOR_IDS[0]].get("goal_position") == goal[0]


@pytest.mark.parametrize("stuffed", [False, True], ids=["as-xc330s-send", "stuffed"])
def test_fast_replies_parse_whether_or_not_the_motors_stuff_them(stuffed):
    # -512 -> -515 reads velocity -4, position -515: FF FF | FD FD FF FF, which un-stuffing
    # an unstuffed reply would cut; 2048 -> 2045 gives FF FF FD 07, which stuffing lengthens
    with _server() as server, DynamixelBus(server.port_path) as bus:
        with server.lock:
            server.bus.stuff_fast_replies = stuffed
        bus.set_torque(True)
        for _ in range(15):  # the followers move 205 ticks per control period
            bus.write_goal_ticks(np.array([-512] * 2 + [2048] * 14))
        for k in range(6):
            goal = np.full(16, 2048)
            goal[:4] = (-512, -512, 2048, 2048) if k % 2 else (-515, -515, 2045, 2045)
            bus.write_goal_ticks(goal)
            ticks, velocity, _ = bus.read_state()
            np.testing.assert_array_equal(ticks, goal)
            assert k % 2 or velocity[:4].tolist() == [-4] * 4
        assert bus.stats["read_retries"] == 0  # every reply parsed, none read again


def test_a_hand_left_at_status_return_level_1_is_brought_back():
    with _server() as server:
        with server.lock:
            for table in server.tables.values():
                table.set("status_return_level", 1)  # writes get no status packet
        with DynamixelBus(server.port_path) as bus:
            bus.configure(default_hand_config())
            bus.set_torque(True)
            assert bus.read_state()[0].shape == (16,)
        assert {table.get("status_return_level") for table in server.tables.values()} == {2}


def test_configure_writes_the_hand_config_registers():
    config = default_hand_config()
    with _server() as server, DynamixelBus(server.port_path) as bus:
        bus.configure(config)
        for joint, motor_id in enumerate(config.motor_ids):
            table = server.tables[motor_id]
            assert table.get("operating_mode") == 5
            assert table.get("position_p_gain") == config.position_p_gain[joint]
            assert table.get("goal_current") == config.goal_current_ma[joint]
            assert table.get("return_delay_time") == 0


def test_close_switches_torque_off():
    with _server() as server:
        bus = DynamixelBus(server.port_path).open()
        bus.set_torque(True)
        assert all(server.tables[i].get("torque_enable") == 1 for i in MOTOR_IDS)
        bus.close()
        assert all(server.tables[i].get("torque_enable") == 0 for i in MOTOR_IDS)
        assert not bus.is_open


def test_a_lossy_link_does_not_break_100_cycles():
    with _server(drop_rate=0.05, corrupt_rate=0.01) as server:
        with DynamixelBus(server.port_path, attempts=5) as bus:
            bus.set_torque(True)
            ticks, _, _ = bus.read_state()
            for k in range(100):
                bus.write_goal_ticks(ticks + k % 5)
                bus.read_state()
            assert bus.stats["reads"] == 101
        assert server.stats["dropped"] > 0
        assert server.stats["corrupted"] > 0


@pytest.mark.parametrize("fast", [True, False])
def test_a_dead_motor_is_named_within_seconds(fast):
    with _server(dead_motors={5}) as server:
        bus = DynamixelBus(server.port_path, fast_sync_read=fast)
        with pytest.raises(MotorTimeoutError, match=r"motor 5 \(mf_mcp\)") as caught:
            bus.open()  # the ping of every motor finds it
        assert caught.value.motor_id == 5 and caught.value.joint == "mf_mcp"
        # bounded: the bus gave up after its attempts (each a ~34 ms SDK timeout)
        assert server.stats["ignored"] == bus.attempts
        # and in the control loop, a motor that dies after start-up is named too
        _set_faults(server, FaultConfig())
        bus.open()
        _set_faults(server, FaultConfig(dead_motors=frozenset({5})))
        ignored = server.stats["ignored"]
        with pytest.raises(MotorTimeoutError, match=r"motor 5 \(mf_mcp\)"):
            bus.read_state()
        # one group read, then `attempts` reads of motor 5 alone
        assert server.stats["ignored"] - ignored <= bus.attempts + 1
        _set_faults(server, FaultConfig())
        bus.close()


def test_overload_is_reported_with_the_motor_and_the_cause():
    with _server(overload_motors={12}) as server, DynamixelBus(server.port_path) as bus:
        # the motor trips as soon as its torque is switched on; its reply carries the alert
        with pytest.raises(MotorHardwareError, match=r"motor 12 \(th_cmc\).*overload") as caught:
            bus.set_torque(True)
        assert caught.value.errors and "overload" in caught.value.errors[0].lower()
        assert JOINT_NAMES[MOTOR_IDS.index(12)] == caught.value.joint


def test_a_missing_port_is_a_clear_error(tmp_path):
    with pytest.raises(PortError, match="cannot open"):
        DynamixelBus(str(tmp_path / "ttyUSB9")).open()
