"""The official dynamixel-sdk as a client of VirtualDynamixelServer on a pseudo-terminal."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from helpers import signed, sync_write

from dexndm_envs.dynamixel import control_table as ct
from dexndm_envs.dynamixel.protocol import Instruction, build_instruction
from dexndm_envs.dynamixel.server import FaultConfig, FollowerBackend, VirtualDynamixelServer

sdk = pytest.importorskip("dynamixel_sdk")

IDS = list(range(16))
PERIOD_S = 0.05
SPEED_TICKS_PER_S = 4096.0  # FollowerBackend default: 204.8 ticks per lockstep period


class ShortTimeoutPort(sdk.PortHandler):
    """A PortHandler whose reply timeout is latency_ms plus the bytes' transfer time.

    dynamixel-sdk 4.1 waits 2 x 16 ms (its USB latency-timer allowance) + 2 ms per reply and
    0.8 s per broadcast ping. The virtual bus answers in well under a millisecond, but it runs
    in a thread of this process and the test machine may be busy: tests that expect replies
    keep a generous timeout (it costs nothing when the reply comes), tests that expect
    timeouts a shorter one.
    """

    def __init__(self, port_name: str, latency_ms: float) -> None:
        super().__init__(port_name)
        self.latency_ms = latency_ms

    def setPacketTimeout(self, packet_length: int) -> None:  # the SDK's naming
        self.packet_start_time = self.getCurrentTime()
        self.packet_timeout = self.tx_time_per_byte * packet_length + self.latency_ms

    def setPacketTimeoutMillis(self, msec: float) -> None:
        super().setPacketTimeoutMillis(min(msec, 2.0 * self.latency_ms))  # broadcast ping


Bus = tuple[VirtualDynamixelServer, ShortTimeoutPort, "sdk.Protocol2PacketHandler"]


@pytest.fixture
def make_bus() -> Iterator[Callable[..., Bus]]:
    """Start a server in a background thread and open an SDK port on it; all closed after."""
    opened: list[tuple[VirtualDynamixelServer, ShortTimeoutPort]] = []

    def make(latency_ms: float = 100.0, **server_kwargs: object) -> Bus:
        server = VirtualDynamixelServer(**server_kwargs).start()  # type: ignore[arg-type]
        port = ShortTimeoutPort(server.port_path, latency_ms)
        opened.append((server, port))
        assert port.openPort() and port.setBaudRate(4_000_000)
        return server, port, sdk.PacketHandler(2.0)

    yield make
    for server, port in opened:
        if port.is_open:
            port.closePort()
        server.close()
        assert not server.is_running


def test_ping_every_id_and_broadcast(make_bus: Callable[..., Bus]) -> None:
    _server, port, handler = make_bus()
    for dxl_id in IDS:
        assert handler.ping(port, dxl_id) == (ct.MODEL_NUMBER_XC330_M288, sdk.COMM_SUCCESS, 0)
    found, result = handler.broadcastPing(port)
    assert result == sdk.COMM_SUCCESS
    assert found == {i: [ct.MODEL_NUMBER_XC330_M288, ct.DEFAULT_FIRMWARE_VERSION] for i in IDS}
    assert handler.ping(port, 40)[1] == sdk.COMM_RX_TIMEOUT  # nobody has ID 40


def test_write_read_and_reboot_single_registers(make_bus: Callable[..., Bus]) -> None:
    server, port, handler = make_bus()
    assert handler.write1ByteTxRx(port, 4, 11, 5) == (sdk.COMM_SUCCESS, 0)  # operating mode
    assert handler.write2ByteTxRx(port, 4, 84, 800) == (sdk.COMM_SUCCESS, 0)  # position P
    assert handler.write2ByteTxRx(port, 4, 102, (-300) & 0xFFFF) == (sdk.COMM_SUCCESS, 0)
    assert handler.read1ByteTxRx(port, 4, 11) == (5, sdk.COMM_SUCCESS, 0)
    assert handler.read2ByteTxRx(port, 4, 84) == (800, sdk.COMM_SUCCESS, 0)
    current, result, error = handler.read2ByteTxRx(port, 4, 102)
    assert (signed(current, 2), result, error) == (-300, sdk.COMM_SUCCESS, 0)
    assert handler.write1ByteTxRx(port, 4, 64, 1) == (sdk.COMM_SUCCESS, 0)
    assert handler.reboot(port, 4) == (sdk.COMM_SUCCESS, 0)
    assert handler.read1ByteTxRx(port, 4, 64) == (0, sdk.COMM_SUCCESS, 0)
    with server.lock:
        assert server.tables[4].get("goal_current") == -300


def test_device_errors(make_bus: Callable[..., Bus]) -> None:
    _server, port, handler = make_bus()
    assert handler.write1ByteTxRx(port, 2, 64, 1) == (sdk.COMM_SUCCESS, 0)
    assert handler.write1ByteTxRx(port, 2, 11, 5) == (sdk.COMM_SUCCESS, 7)  # EEPROM, torque on
    assert handler.write4ByteTxRx(port, 2, 132, 7) == (sdk.COMM_SUCCESS, 7)  # read-only
    assert handler.write2ByteTxRx(port, 2, 116, 7) == (sdk.COMM_SUCCESS, 5)  # half an item
    assert handler.readTxRx(port, 2, 140, 20)[1:] == (sdk.COMM_SUCCESS, 4)  # past the table
    assert handler.clearMultiTurn(port, 2) == (sdk.COMM_SUCCESS, 2)  # not emulated
    assert handler.write1ByteTxRx(port, 2, 64, 0) == (sdk.COMM_SUCCESS, 0)
    assert handler.write1ByteTxRx(port, 2, 11, 5) == (sdk.COMM_SUCCESS, 0)


def test_bad_crc_gets_crc_error_and_garbage_is_skipped(make_bus: Callable[..., Bus]) -> None:
    server, port, handler = make_bus()
    request = bytearray(build_instruction(3, Instruction.PING))
    request[-1] ^= 0x55
    port.clearPort()
    port.writePort(b"\x01\xff\xff\x00" + bytes(request))
    port.setPacketTimeout(11)
    reply, result = handler.rxPacket(port, False)
    assert result == sdk.COMM_SUCCESS and (reply[4], reply[8]) == (3, 3)  # ID 3: CRC error
    assert handler.ping(port, 3)[1:] == (sdk.COMM_SUCCESS, 0)
    assert server.stats["crc_errors"] == 1


def expected_velocity_units(step_ticks: float) -> int:
    return ct.rad_s_to_velocity_units(step_ticks / PERIOD_S * ct.RAD_PER_TICK)


@pytest.mark.parametrize("read_mode", ["txRxPacket", "fastSyncRead"])
def test_sync_write_then_sync_read_of_all_motors(
    make_bus: Callable[..., Bus], read_mode: str
) -> None:
    _server, port, handler = make_bus(lockstep=True)
    sync_write(port, handler, 11, 1, dict.fromkeys(IDS, 5))  # current-based position control
    sync_write(port, handler, 102, 2, dict.fromkeys(IDS, 400))  # goal current, mA
    sync_write(port, handler, 64, 1, dict.fromkeys(IDS, 1))
    reader = sdk.GroupSyncRead(port, handler, ct.ADDR_PRESENT_CURRENT, 10)
    for dxl_id in IDS:
        assert reader.addParam(dxl_id)
    goals = {i: 2048 + 12 * (i - 8) for i in IDS}  # reachable in one period
    far = {i: 2048 + (1000 if i % 2 else -1000) for i in IDS}  # not reachable: current limit
    for targets, start in ((goals, 2048), (far, None)):
        sync_write(port, handler, 116, 4, targets)
        assert getattr(reader, read_mode)() == sdk.COMM_SUCCESS
        for dxl_id, goal in targets.items():
            position = signed(reader.getData(dxl_id, 132, 4), 4)
            velocity = signed(reader.getData(dxl_id, 128, 4), 4)
            current = signed(reader.getData(dxl_id, 126, 2), 2)
            if start is not None:
                assert (position, current) == (goal, 0)
                assert velocity == expected_velocity_units(goal - start)
            else:
                direction = 1 if goal > 2048 else -1
                step = round(direction * SPEED_TICKS_PER_S * PERIOD_S)
                assert position == goals[dxl_id] + step and current == 400 * direction
                assert velocity == expected_velocity_units(direction * SPEED_TICKS_PER_S * PERIOD_S)


class RecordingBackend(FollowerBackend):
    def __init__(self) -> None:
        super().__init__(IDS, control_period_s=PERIOD_S)
        self.advances: list[float] = []

    def advance(self, duration_s: float) -> None:
        self.advances.append(duration_s)
        super().advance(duration_s)


def test_lockstep_advances_one_period_per_goal_position_write(
    make_bus: Callable[..., Bus],
) -> None:
    backend = RecordingBackend()
    _server, port, handler = make_bus(lockstep=True, backend=backend)
    sync_write(port, handler, 64, 1, dict.fromkeys(IDS, 1))  # not a goal write
    for _ in range(3):
        sync_write(port, handler, 116, 4, dict.fromkeys(IDS, 2100))
    assert handler.write4ByteTxRx(port, 5, 116, 2200) == (sdk.COMM_SUCCESS, 0)
    assert handler.write1ByteTxRx(port, 5, 65, 1) == (sdk.COMM_SUCCESS, 0)
    assert handler.read4ByteTxRx(port, 5, 132)[1] == sdk.COMM_SUCCESS  # all handled by now
    assert backend.advances == [PERIOD_S] * 4


def test_real_time_mode_follows_wall_time(make_bus: Callable[..., Bus]) -> None:
    _server, port, handler = make_bus(lockstep=False)
    assert handler.write1ByteTxRx(port, 9, 64, 1) == (sdk.COMM_SUCCESS, 0)
    assert handler.write4ByteTxRx(port, 9, 116, 2048 + 400) == (sdk.COMM_SUCCESS, 0)
    deadline = time.monotonic() + 3.0  # 400 ticks at 4096 ticks/s: about 0.1 s
    position = 0
    while time.monotonic() < deadline and position != 2448:
        position, result, _ = handler.read4ByteTxRx(port, 9, 132)
        assert result == sdk.COMM_SUCCESS
    assert position == 2448


def test_dead_motor_is_silent_while_the_others_answer(make_bus: Callable[..., Bus]) -> None:
    server, port, handler = make_bus(faults=FaultConfig(dead_motors={5}))
    short, long = 20.0, port.latency_ms  # short waits where silence is the expected answer
    port.latency_ms = short
    assert handler.ping(port, 5)[1] == sdk.COMM_RX_TIMEOUT
    assert handler.write1ByteTxRx(port, 5, 64, 1)[0] == sdk.COMM_RX_TIMEOUT
    first_dead = sdk.GroupSyncRead(port, handler, ct.ADDR_PRESENT_CURRENT, 10)
    for dxl_id in [5, *IDS[:3]]:
        first_dead.addParam(dxl_id)
    assert first_dead.fastSyncRead() == sdk.COMM_RX_TIMEOUT  # the first block never starts
    port.latency_ms = long
    assert all(handler.ping(port, i)[1] == sdk.COMM_SUCCESS for i in IDS if i != 5)
    assert set(handler.broadcastPing(port)[0]) == set(IDS) - {5}
    reader = sdk.GroupSyncRead(port, handler, ct.ADDR_PRESENT_CURRENT, 10)
    for dxl_id in [i for i in IDS if i != 5] + [5]:  # the dead one last: the SDK stops at it
        reader.addParam(dxl_id)
    assert reader.txRxPacket() == sdk.COMM_RX_TIMEOUT
    assert all(len(reader.data_dict[i]) == 10 for i in IDS if i != 5)
    # fast sync read: one combined packet, cut short where the dead device should answer
    assert reader.fastSyncRead() == sdk.COMM_RX_CORRUPT
    with server.lock:
        assert server.tables[5].get("torque_enable") == 0  # writes ignored


def test_overload_sets_alert_until_reboot(make_bus: Callable[..., Bus]) -> None:
    _server, port, handler = make_bus(faults=FaultConfig(overload_motors={7}))
    assert handler.write1ByteTxRx(port, 7, 64, 1) == (sdk.COMM_SUCCESS, 0x80)
    assert handler.read1ByteTxRx(port, 7, 64) == (0, sdk.COMM_SUCCESS, 0x80)
    bits, result, error = handler.read1ByteTxRx(port, 7, 70)
    assert (ct.decode_hardware_error(bits), result, error) == (["overload error"], 0, 0x80)
    assert handler.write1ByteTxRx(port, 6, 64, 1) == (sdk.COMM_SUCCESS, 0)
    assert handler.reboot(port, 7) == (sdk.COMM_SUCCESS, 0)
    assert handler.read1ByteTxRx(port, 7, 70) == (0, sdk.COMM_SUCCESS, 0)
    assert handler.write1ByteTxRx(port, 7, 64, 1) == (sdk.COMM_SUCCESS, 0x80)


def test_retrying_client_gets_through_a_lossy_bus(make_bus: Callable[..., Bus]) -> None:
    faults = FaultConfig(drop_rate=0.05, corrupt_rate=0.01)
    server, port, handler = make_bus(latency_ms=5.0, lockstep=True, faults=faults, seed=3)
    # Return Delay Time 0, as the LEAP hand runs: at the factory 500 us, 16 replies take 8 ms,
    # longer than this client's 5 ms timeout, and the losses would not be the only failures
    sync_write(port, handler, 9, 1, dict.fromkeys(IDS, 0))
    sync_write(port, handler, 64, 1, dict.fromkeys(IDS, 1))
    reader = sdk.GroupSyncRead(port, handler, 132, 4)
    for dxl_id in IDS:
        reader.addParam(dxl_id)
    rng = np.random.default_rng(4)
    previous = dict.fromkeys(IDS, 2048)
    attempts = 0
    for _ in range(100):
        goals = {i: int(previous[i] + rng.integers(-150, 151)) for i in IDS}  # reachable
        sync_write(port, handler, 116, 4, goals)
        tries = 1
        port.latency_ms = 5.0
        while reader.txRxPacket() != sdk.COMM_SUCCESS:
            tries += 1
            assert tries <= 20, "20 sync reads in a row failed"
            # Most failures are injected losses; if they go on, maybe the machine is slow.
            port.latency_ms = min(5.0 * 2.0 ** max(0, tries - 4), 100.0)
        attempts += tries
        for dxl_id in IDS:  # a reply late past its timeout may stand in for the next one
            assert signed(reader.getData(dxl_id, 132, 4), 4) in (goals[dxl_id], previous[dxl_id])
        previous = goals
    assert server.stats["dropped"] > 0 and server.stats["corrupted"] > 0
    assert attempts > 100


def test_port_survives_client_reopen_and_disappears_on_close() -> None:
    server = VirtualDynamixelServer(motor_ids=[1, 2])
    with server:
        for _ in range(2):
            port = ShortTimeoutPort(server.port_path, 100.0)
            assert port.openPort()
            assert sdk.PacketHandler(2.0).ping(port, 2)[1] == sdk.COMM_SUCCESS
            port.closePort()
    assert not os.path.exists(server.port_path)
    server.close()  # idempotent
