"""The virtual hand as clients no one here wrote see it: dynamixel-sdk 4.1's own classes, at
byte level, bringing the hand up from its power-on state as a public LEAP hand client does."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO_ROOT, signed, sync_write

from dexndm_envs.dynamixel import control_table as ct
from dexndm_envs.dynamixel.process import served_port
from dexndm_envs.dynamixel.server import VirtualDynamixelServer
from dexndm_envs.real.emulated_hand import VirtualHandBackend

sdk = pytest.importorskip("dynamixel_sdk")

ROOT = REPO_ROOT
IDS = list(range(16))
GOAL_CURRENT_MA = 350
HAZARD = b"\xff\xff\xfd"
"""The header pattern inside a reply: stuffed by the old emulator, misparsed by the SDK."""


class RecordingPort(sdk.PortHandler):
    """The SDK's own port, keeping every byte it reads (to see what came over the wire)."""

    def __init__(self, port_name: str) -> None:
        super().__init__(port_name)
        self.received = bytearray()

    def readPort(self, length: int) -> bytes:  # the SDK's naming
        data = super().readPort(length)
        self.received += data
        return data


Client = tuple[VirtualDynamixelServer, RecordingPort, "sdk.Protocol2PacketHandler"]


@pytest.fixture
def connect() -> Iterator[Callable[..., Client]]:
    """Serve (FollowerBackend unless a backend is given) and open the SDK's port on it."""
    opened: list[tuple[VirtualDynamixelServer, RecordingPort]] = []

    def make(**server_kwargs: object) -> Client:
        server = VirtualDynamixelServer(**server_kwargs).start()  # type: ignore[arg-type]
        port = RecordingPort(server.port_path)
        opened.append((server, port))
        assert port.openPort() and port.setBaudRate(4_000_000)
        return server, port, sdk.PacketHandler(2.0)

    yield make
    for server, port in opened:
        port.closePort()
        server.close()


def state_reader(port: object, handler: object) -> sdk.GroupSyncRead:
    """Present Current + Velocity + Position of all 16 motors, the LEAP hand's one group read."""
    reader = sdk.GroupSyncRead(port, handler, ct.ADDR_PRESENT_CURRENT, 10)
    for dxl_id in IDS:
        assert reader.addParam(dxl_id)
    return reader


def read_state(reader: sdk.GroupSyncRead) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(position, velocity, current) by ID from the reader's last fastSyncRead."""
    rows = [
        (
            signed(reader.getData(i, 132, 4), 4),
            signed(reader.getData(i, 128, 4), 4),
            signed(reader.getData(i, 126, 2), 2),
        )
        for i in IDS
    ]
    return tuple(np.array(column) for column in zip(*rows, strict=True))  # type: ignore[return-value]


def bring_up(
    port: object, handler: object, operating_mode: int = 5, *, torque_off_first: bool = True
) -> None:
    """A third-party client's order: torque off, then sync writes of Operating Mode, gains and
    Goal Current, none of which is answered, then torque on. The public LEAP hand API skips
    the torque off, relying on the power-on state (torque_off_first=False)."""
    if torque_off_first:
        sync_write(port, handler, 64, 1, dict.fromkeys(IDS, 0))
    sync_write(port, handler, 11, 1, dict.fromkeys(IDS, operating_mode))
    sync_write(port, handler, 84, 2, dict.fromkeys(IDS, 800))  # Position P
    sync_write(port, handler, 82, 2, dict.fromkeys(IDS, 0))  # Position I
    sync_write(port, handler, 80, 2, dict.fromkeys(IDS, 200))  # Position D
    sync_write(port, handler, 102, 2, dict.fromkeys(IDS, GOAL_CURRENT_MA))
    sync_write(port, handler, 64, 1, dict.fromkeys(IDS, 1))


def virtual_hand() -> VirtualHandBackend:
    return VirtualHandBackend("default", seed=0, wrist="palm_up", scene_name="task")


# ------------------------------------------------------------------ power-on and bring-up
def test_servos_power_up_as_xc330s_do(connect: Callable[..., Client]) -> None:
    _server, port, handler = connect(backend=virtual_hand(), lockstep=True)
    factory = {64: 0, 11: 3, 9: 250, 68: 2}  # torque off, position control, 500 us, answer all
    for address, value in factory.items():
        reader = sdk.GroupSyncRead(port, handler, address, 1)
        for dxl_id in IDS:
            reader.addParam(dxl_id)
        assert reader.txRxPacket() == sdk.COMM_SUCCESS
        assert [reader.getData(i, address, 1) for i in IDS] == [value] * 16, address
    assert handler.read2ByteTxRx(port, 3, 38) == (2352, sdk.COMM_SUCCESS, 0)  # Current Limit


def test_operating_mode_written_before_torque_enable_takes_effect(
    connect: Callable[..., Client],
) -> None:
    server, port, handler = connect(backend=virtual_hand(), lockstep=True)
    bring_up(port, handler, torque_off_first=False)  # straight from power-on
    modes = sdk.GroupSyncRead(port, handler, 11, 1)
    for dxl_id in IDS:
        modes.addParam(dxl_id)
    assert modes.txRxPacket() == sdk.COMM_SUCCESS
    assert [modes.getData(i, 11, 1) for i in IDS] == [5] * 16
    # EEPROM is locked now: a sync-written mode is refused without a word, as on the servo
    sync_write(port, handler, 11, 1, dict.fromkeys(IDS, 3))
    assert handler.read1ByteTxRx(port, 6, 11) == (5, sdk.COMM_SUCCESS, 0)
    reader = state_reader(port, handler)
    assert reader.fastSyncRead() == sdk.COMM_SUCCESS
    start = read_state(reader)[0]
    peak = 0
    for k in range(30):  # push every joint 300 ticks (0.46 rad) away and back: saturates
        offset = 300 if k % 10 < 5 else 0
        sync_write(port, handler, 116, 4, dict(zip(IDS, (start + offset).tolist(), strict=True)))
        assert reader.fastSyncRead() == sdk.COMM_SUCCESS
        current = read_state(reader)[2]
        assert np.abs(current).max() <= GOAL_CURRENT_MA, current
        peak = max(peak, int(np.abs(current).max()))
    assert peak >= 0.9 * GOAL_CURRENT_MA  # the cap was reached, so it is the cap that held
    assert server.stats["crc_errors"] == 0


def test_current_limit_bounds_the_current_in_position_control(
    connect: Callable[..., Client],
) -> None:
    _server, port, handler = connect(backend=virtual_hand(), lockstep=True)
    sync_write(port, handler, 38, 2, dict.fromkeys(IDS, 550))  # Current Limit, torque off
    bring_up(port, handler, operating_mode=3)  # Goal Current does not bound mode 3
    reader = state_reader(port, handler)
    assert reader.fastSyncRead() == sdk.COMM_SUCCESS
    far = read_state(reader)[0] + 400
    peak = 0
    for _ in range(10):
        sync_write(port, handler, 116, 4, dict(zip(IDS, far.tolist(), strict=True)))
        assert reader.fastSyncRead() == sdk.COMM_SUCCESS
        peak = max(peak, int(np.abs(read_state(reader)[2]).max()))
    assert GOAL_CURRENT_MA < peak <= 550


# ------------------------------------------------------------------------- fast reads
def test_fast_sync_read_parses_while_joints_pass_through_header_bytes(
    connect: Callable[..., Client],
) -> None:
    _server, port, handler = connect(lockstep=True)  # followers: exact, known readings
    bring_up(port, handler)
    reader = state_reader(port, handler)
    moving = (1, 4, 9, 14)
    hazards = 0
    for k in range(100):
        # 2048 -> 2045 moves at -4 units: velocity FC FF FF FF, position FD 07: FF FF FD
        goals = {i: (2045 if k % 2 == 0 else 2048) if i in moving else 2048 for i in IDS}
        sync_write(port, handler, 116, 4, goals)
        port.received.clear()
        assert reader.fastSyncRead() == sdk.COMM_SUCCESS
        hazards += HAZARD in port.received[4:]
        position, velocity, current = read_state(reader)
        assert position.tolist() == [goals[i] for i in IDS]
        assert set(velocity[list(moving)].tolist()) <= {-4, 4}
        assert not np.delete(velocity, moving).any() and not current.any()
    assert hazards >= 50  # every other reply carried FF FF FD, unstuffed


def test_fast_bulk_read_answers_as_the_sdk_parses_it(connect: Callable[..., Client]) -> None:
    server, port, handler = connect()
    assert handler.write1ByteTxRx(port, 12, 11, 5) == (sdk.COMM_SUCCESS, 0)
    # dynamixel-sdk 4.1's fastBulkReadRx finds each ID's length with list.index over the flat
    # params, so an ID equal to an earlier address or length byte is misread: IDs chosen apart
    items = {1: (64, 1), 3: (132, 4), 7: (126, 10), 12: (11, 1), 15: (146, 1)}
    reader = sdk.GroupBulkRead(port, handler)
    for dxl_id, (address, length) in items.items():
        assert reader.addParam(dxl_id, address, length)
    assert reader.fastBulkRead() == sdk.COMM_SUCCESS
    with server.lock:
        for dxl_id, (address, length) in items.items():
            expected = server.tables[dxl_id].read(address, length)
            assert bytes(reader.data_dict[dxl_id][0]) == expected, dxl_id
    assert reader.getData(12, 11, 1) == 5 and reader.getData(15, 146, 1) == 30  # degC
    assert reader.getData(3, 132, 4) == 2048


# ---------------------------------------------------------------- status and timing
def test_status_return_level_1_answers_ping_and_reads_only(
    connect: Callable[..., Client],
) -> None:
    server, port, handler = connect()
    assert handler.write1ByteTxRx(port, 4, 68, 1) == (sdk.COMM_RX_TIMEOUT, 0)  # now level 1
    assert handler.ping(port, 4)[1:] == (sdk.COMM_SUCCESS, 0)
    assert handler.read1ByteTxRx(port, 4, 68) == (1, sdk.COMM_SUCCESS, 0)
    assert handler.write1ByteTxRx(port, 4, 65, 1)[0] == sdk.COMM_RX_TIMEOUT  # LED: applied
    assert handler.reboot(port, 4)[0] == sdk.COMM_RX_TIMEOUT
    reader = state_reader(port, handler)
    assert reader.txRxPacket() == sdk.COMM_SUCCESS and reader.fastSyncRead() == sdk.COMM_SUCCESS
    assert handler.write1ByteTxRx(port, 5, 68, 0)[0] == sdk.COMM_RX_TIMEOUT  # 0: ping only
    assert handler.ping(port, 5)[1] == sdk.COMM_SUCCESS
    assert handler.read1ByteTxRx(port, 5, 68)[1] == sdk.COMM_RX_TIMEOUT
    with server.lock:
        assert server.tables[4].get("led") == 1
        server.tables[5].set("status_return_level", 2)
    assert handler.write1ByteTxRx(port, 4, 68, 2)[0] == sdk.COMM_SUCCESS  # answered again


def test_return_delay_time_and_latency_timer_hold_replies_back(
    connect: Callable[..., Client],
) -> None:
    _server, port, handler = connect(latency_timer_ms=10.0)
    begin = time.monotonic()
    for _ in range(5):  # each reply waits for a tick after the one that brought the last
        assert handler.ping(port, 2)[1] == sdk.COMM_SUCCESS
    assert time.monotonic() - begin >= 4 * 0.010
    _server, port, handler = connect()  # no adapter: only the factory Return Delay Time
    reader = state_reader(port, handler)
    begin = time.monotonic()
    assert reader.txRxPacket() == sdk.COMM_SUCCESS
    assert time.monotonic() - begin >= 16 * 250 * 2e-6  # one after the other, 500 us each


# ----------------------------------------------------- a third-party client, end to end
def test_a_third_party_client_brings_the_hand_up_and_reads_1000_cycles_cleanly(
    tmp_path: Path,
) -> None:
    command = [sys.executable, str(ROOT / "real" / "virtual_hand.py"), "--lockstep"]
    with (tmp_path / "server.err").open("w") as log, served_port(command, stderr=log) as path:
        port = RecordingPort(path)  # the server in its own process, as a user runs it
        assert port.openPort() and port.setBaudRate(4_000_000)
        try:
            hazards = run_cycles(port, sdk.PacketHandler(2.0), cycles=1000)
        finally:
            port.closePort()
    print(f"1000 cycles: {hazards} replies carried FF FF FD, all parsed")
    assert hazards > 0  # the case the issue saw misparsed did come up, and parsed cleanly


def run_cycles(port: RecordingPort, handler: object, cycles: int) -> int:
    """Bring up, then `cycles` of sync write + fast sync read with four joints moving; every
    reading must be one a servo can give. Returns how many replies carried FF FF FD."""
    bring_up(port, handler)
    reader = state_reader(port, handler)
    assert reader.fastSyncRead() == sdk.COMM_SUCCESS
    start = read_state(reader)[0]
    moving = np.isin(IDS, (1, 5, 9, 13))  # an mcp joint of each finger, the thumb's axl
    commanded = start.copy()
    hazards = 0
    for k in range(cycles):
        commanded = start + np.where(moving, np.rint(120 * np.sin(k / 6.0)), 0).astype(int)
        sync_write(port, handler, 116, 4, dict(zip(IDS, commanded.tolist(), strict=True)))
        port.received.clear()
        assert reader.fastSyncRead() == sdk.COMM_SUCCESS, f"cycle {k}"
        hazards += HAZARD in port.received[4:]
        position, velocity, current = read_state(reader)
        assert np.abs(position - commanded).max() < 400, (k, position - commanded)
        assert np.abs(velocity).max() < 500, (k, velocity)  # no-load speed is 354 units
        assert np.abs(current).max() <= GOAL_CURRENT_MA, (k, current)
    return hazards
