"""The LEAP hand's Dynamixel bus over the official dynamixel-sdk (Protocol 2.0).

One `DynamixelBus` owns the serial port and speaks to the 16 motors as a group: one group read
of Present Current + Velocity + Position (addr 126, 10 bytes) per control cycle (Fast Sync
Read where the motors support it, Sync Read otherwise), one Sync Write of Goal Position, and
the configuration writes of current-based position control. Every exchange has a bounded
number of attempts; what still fails raises an exception that names the motor ID and joint.
Torque is switched off on `close()`, at interpreter exit and on Ctrl-C, SIGTERM, SIGHUP and
SIGQUIT (dexndm_envs.core.shutdown), so a program that ends any way short of SIGKILL never
leaves the hand pushing.

Usage:
    with DynamixelBus("/dev/ttyUSB0") as bus:
        bus.configure(default_hand_config())
        bus.set_torque(True)
        ticks, velocity, current = bus.read_state()
        bus.write_goal_ticks(ticks)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from dexndm_envs.core import shutdown
from dexndm_envs.core.constants import JOINT_NAMES, MOTOR_IDS
from dexndm_envs.dynamixel import control_table as ct
from dexndm_envs.dynamixel import protocol
from dexndm_envs.dynamixel.fast_read import parse_fast_read_status
from dexndm_envs.hand.config import OPERATING_MODE_CURRENT_BASED_POSITION, HandConfig

try:
    import dynamixel_sdk as sdk
except ImportError as err:  # pragma: no cover - a declared dependency
    raise ImportError(
        "dexndm needs dynamixel-sdk to talk to the hand: pip install dynamixel-sdk"
    ) from err


class DynamixelError(RuntimeError):
    """Base class of bus errors."""


class PortError(DynamixelError):
    """The serial port cannot be opened or set up."""


class MotorError(DynamixelError):
    """A motor misbehaved; carries its ID and joint."""

    def __init__(self, message: str, motor_id: int, joint: str) -> None:
        super().__init__(message)
        self.motor_id = motor_id
        self.joint = joint


class MotorTimeoutError(MotorError):
    """A motor did not answer within the allowed attempts."""


class MotorHardwareError(MotorError):
    """A motor reports a Hardware Error Status (overload, overheating ...)."""

    def __init__(self, message: str, motor_id: int, joint: str, errors: list[str]) -> None:
        super().__init__(message, motor_id, joint)
        self.errors = errors


class JointRangeError(MotorError):
    """A motor reads outside its joint's range (beyond READING_TOLERANCE_RAD): the hand config's
    angle convention does not fit the hand, and any target computed from the reading would be
    wrong. Raised by DexNDM-Real-v0 with the torque already off."""

    def __init__(self, message: str, motor_id: int, joint: str, reading_rad: float) -> None:
        super().__init__(message, motor_id, joint)
        self.reading_rad = reading_rad


_STATE_ADDRESS = ct.ADDR_PRESENT_CURRENT
_STATE_LENGTH = ct.LEN_CURRENT_VELOCITY_POSITION  # current 2 + velocity 4 + position 4


class _PortHandler(sdk.PortHandler):
    """The SDK's port with a floor under every reply timeout.

    The SDK waits (11 + bytes) byte times plus twice a 16 ms latency allowance for a reply,
    about 34 ms; a device that needs longer (a virtual hand in lockstep, computing a control
    period of physics before it answers) would look dead.
    """

    def __init__(self, port_name: str, min_timeout_ms: float) -> None:
        super().__init__(port_name)
        self.min_timeout_ms = min_timeout_ms

    def setPacketTimeout(self, packet_length: int) -> None:  # the SDK names it so
        super().setPacketTimeout(packet_length)
        if self.packet_timeout < self.min_timeout_ms:
            self.setPacketTimeoutMillis(self.min_timeout_ms)


class DynamixelBus:
    """Group reads and writes to the hand's motors (see the module docstring).

    Args:
        port: serial device (/dev/ttyUSB0 for the LEAP hand's U2D2; a pty for the virtual one).
        baudrate: 4,000,000 for the LEAP hand.
        motor_ids: the motors, in joint order.
        joint_names: names for messages, in the same order.
        attempts: tries per exchange before giving up.
        fast_sync_read: use Fast Sync Read (one reply packet for all motors) when True.
        timeout_ms: the least time to wait for any reply (the SDK's own is about 34 ms).
    """

    def __init__(
        self,
        port: str,
        baudrate: int = 4_000_000,
        motor_ids: Sequence[int] = MOTOR_IDS,
        joint_names: Sequence[str] = JOINT_NAMES,
        attempts: int = 3,
        fast_sync_read: bool = True,
        timeout_ms: float = 0.0,
    ) -> None:
        if len(motor_ids) != len(joint_names):
            raise ValueError("motor_ids and joint_names must have the same length")
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {attempts}")
        self.port_name, self.baudrate = port, baudrate
        self.motor_ids = tuple(int(i) for i in motor_ids)
        self.joint_names = tuple(joint_names)
        self.attempts = attempts
        self.fast_sync_read = fast_sync_read
        self.timeout_ms = timeout_ms
        self.stats = {"reads": 0, "read_retries": 0, "writes": 0}
        self._port: Any = None
        self._handler: Any = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------ connection
    def open(self, check_motors: bool = True) -> DynamixelBus:
        """Open the port at the baud rate, make every motor answer every instruction (Status
        Return Level 2) and (unless told not to) check every motor answers a ping; a hand with
        a silent motor is not left open."""
        port = _PortHandler(self.port_name, self.timeout_ms)
        try:
            opened = port.openPort()
        except Exception as err:  # pyserial raises SerialException with the OS reason
            raise PortError(f"cannot open {self.port_name}: {err}") from None
        if not opened:
            raise PortError(f"cannot open {self.port_name}; is the hand plugged in?")
        if not port.setBaudRate(self.baudrate):
            port.closePort()
            raise PortError(f"cannot set {self.port_name} to {self.baudrate} baud")
        self._port, self._handler = port, sdk.PacketHandler(2.0)
        shutdown.watch(self)  # torque off at exit and on the shutdown signals
        try:
            self._answer_everything()
            if check_motors:
                self.ping_all()
        except DynamixelError:
            port.closePort()  # a hand that is not all there is not opened
            self._port = None
            shutdown.forget(self)
            raise
        return self

    def _answer_everything(self) -> None:
        """Status Return Level (68) = 2 on every motor, by one Sync Write.

        Every write here waits for its status packet to learn that it arrived and whether the
        motor refused it; at level 1 a motor answers only PING and READ (e-Manual, "Status
        Return Level(68)"), so another program may have left the hand where every write would
        time out. The level is RAM (2 again after a power cycle); a Sync Write never gets a
        status packet, so this works at every level.
        """
        item = ct.field("status_return_level")
        writer = sdk.GroupSyncWrite(self._port, self._handler, item.address, item.size)
        for motor_id in self.motor_ids:
            writer.addParam(motor_id, [ct.STATUS_RETURN_ALL])
        with self._lock:
            result = writer.txPacket()
        if result != sdk.COMM_SUCCESS:
            raise PortError(
                f"cannot write to the motors {self._where()}: {self._handler.getTxRxResult(result)}"
            )

    def close(self) -> None:
        """Torque off on every motor (best effort), then close the port."""
        with self._lock:
            if self._port is None:
                return
            # an exchange cut short (Ctrl-C mid-read) leaves the SDK's port marked busy, and
            # every later write on it would fail silently
            self._port.is_using = False
            self._port.clearPort()
            try:
                self.set_torque(False, check=False)
            finally:
                # a signal handler may have closed the bus meanwhile (same thread, the lock
                # lets it in), finishing the torque-off this call had begun
                port, self._port = self._port, None
                if port is not None:
                    port.closePort()
                shutdown.forget(self)

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def __enter__(self) -> DynamixelBus:
        return self if self.is_open else self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------- helpers
    def _name(self, motor_id: int) -> str:
        return f"motor {motor_id} ({self.joint_names[self.motor_ids.index(motor_id)]})"

    def _joint(self, motor_id: int) -> str:
        return self.joint_names[self.motor_ids.index(motor_id)]

    def _where(self) -> str:
        return f"at {self.baudrate} baud on {self.port_name}"

    def _require_open(self) -> None:
        if self._port is None:
            raise DynamixelError(f"the bus on {self.port_name} is not open; call open() first")

    def _check_alert(self, motor_id: int, error: int) -> None:
        """Raise for a status error or an alert (non-zero Hardware Error Status)."""
        if error & protocol.ERRBIT_ALERT:
            bits = self.read_register(motor_id, "hardware_error_status", check_alert=False)
            names = ct.decode_hardware_error(bits)
            raise MotorHardwareError(
                f"{self._name(motor_id)} reports a hardware error: {', '.join(names)}; "
                "it has switched its torque off. Power-cycle or reboot it after fixing the "
                "cause (an overload usually means the Goal Current is too high or the finger "
                "is blocked).",
                motor_id,
                self._joint(motor_id),
                names,
            )
        if error & 0x7F:
            raise MotorError(
                f"{self._name(motor_id)} refused an instruction: "
                f"{protocol.decode_status_error(error & 0x7F)}",
                motor_id,
                self._joint(motor_id),
            )

    # ------------------------------------------------------- single motors
    def ping_all(self) -> None:
        """Ping every motor; raise MotorTimeoutError naming the first that stays silent."""
        for motor_id in self.motor_ids:
            self._retry(motor_id, "ping", lambda i=motor_id: self._handler.ping(self._port, i))

    def read_register(self, motor_id: int, name: str, *, check_alert: bool = True) -> int:
        """One control-table field of one motor (signed where the field is)."""
        self._require_open()
        item = ct.field(name)
        data = self._retry(
            motor_id,
            f"read of {name}",
            lambda: self._handler.readTxRx(self._port, motor_id, item.address, item.size),
            check_alert=check_alert,
        )
        return int.from_bytes(bytes(data), "little", signed=item.signed)

    def write_register(self, motor_id: int, name: str, value: int) -> None:
        """Write one field of one motor and wait for its acknowledgement."""
        self._require_open()
        item = ct.field(name)
        raw = list(int(value).to_bytes(item.size, "little", signed=item.signed))
        self._retry(
            motor_id,
            f"write of {name}={value}",
            lambda: self._handler.writeTxRx(self._port, motor_id, item.address, item.size, raw),
        )

    def _retry(self, motor_id: int, what: str, call: Any, *, check_alert: bool = True) -> Any:
        """Run an SDK exchange until it succeeds, at most `attempts` times."""
        with self._lock:
            result_text = ""
            for _ in range(self.attempts):
                reply = call()
                data, result, error = reply if len(reply) == 3 else (None, *reply)
                if result == sdk.COMM_SUCCESS:
                    if check_alert:
                        self._check_alert(motor_id, error)
                    return data
                result_text = self._handler.getTxRxResult(result)
                self._port.clearPort()
            raise MotorTimeoutError(
                f"{self._name(motor_id)} failed the {what} {self.attempts} times {self._where()} "
                f"({result_text}); check its cable, power and ID",
                motor_id,
                self._joint(motor_id),
            )

    # ------------------------------------------------------------- the group
    def configure(self, hand: HandConfig) -> None:
        """Set current-based position control and the hand config's gains and currents.

        Works from the power-on state (torque off, factory Operating Mode 3) as from a running
        hand: EEPROM items (operating mode, current limit, return delay) are writable only with
        torque off (a motor refuses them otherwise, with an Access Error), so this switches
        torque off first, then writes EEPROM, then the RAM gains and Goal Current; switch torque
        on with set_torque(True) afterwards.
        """
        self.set_torque(False)
        for i, motor_id in enumerate(hand.motor_ids):
            self.write_register(motor_id, "operating_mode", OPERATING_MODE_CURRENT_BASED_POSITION)
            self.write_register(motor_id, "current_limit", hand.current_limit_ma)
            self.write_register(motor_id, "return_delay_time", hand.return_delay_time)
            self.write_register(motor_id, "position_p_gain", hand.position_p_gain[i])
            self.write_register(motor_id, "position_i_gain", hand.position_i_gain[i])
            self.write_register(motor_id, "position_d_gain", hand.position_d_gain[i])
            self.write_register(motor_id, "goal_current", hand.goal_current_ma[i])

    def set_torque(self, enabled: bool, *, check: bool = True) -> None:
        """Torque on or off for every motor. With check=False (shutdown) failures are skipped."""
        self._require_open()
        for motor_id in self.motor_ids:
            try:
                self.write_register(motor_id, "torque_enable", int(enabled))
            except DynamixelError:
                if check:
                    raise

    def write_goal_ticks(self, ticks: np.ndarray) -> None:
        """One Sync Write of Goal Position (ticks, joint order); no reply is expected."""
        self._require_open()
        item = ct.field("goal_position")
        writer = sdk.GroupSyncWrite(self._port, self._handler, item.address, item.size)
        for motor_id, value in zip(self.motor_ids, np.asarray(ticks).tolist(), strict=True):
            writer.addParam(motor_id, list(int(value).to_bytes(4, "little", signed=True)))
        with self._lock:
            result = writer.txPacket()
        if result != sdk.COMM_SUCCESS:
            raise DynamixelError(
                f"sync write of goal positions failed {self._where()}: "
                f"{self._handler.getTxRxResult(result)}"
            )
        self.stats["writes"] += 1

    def read_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Present Position (ticks), Velocity (0.229 rpm units), Current (mA units) of every
        motor in joint order, from one group read.

        Motors whose reply was lost or corrupted are read again one by one (at most `attempts`
        times each), so a lossy link costs a retry, not the cycle; a motor that never answers
        raises MotorTimeoutError with its ID and joint.
        """
        self._require_open()
        with self._lock:
            replies, missing = self._group_read()
            if missing:
                self._port.clearPort()
                self.stats["read_retries"] += len(missing)
            for motor_id in missing:
                replies[motor_id] = bytes(
                    self._retry(
                        motor_id,
                        "read of present current/velocity/position",
                        lambda i=motor_id: self._handler.readTxRx(
                            self._port, i, _STATE_ADDRESS, _STATE_LENGTH
                        ),
                    )
                )
            self.stats["reads"] += 1
            return self._decode(replies)

    def _group_read(self) -> tuple[dict[int, bytes], list[int]]:
        """One group read: the replies by ID, and the IDs that gave none (alerts raise)."""
        ph, port, n = self._handler, self._port, _STATE_LENGTH
        ids = list(self.motor_ids)
        result = ph.syncReadTx(port, _STATE_ADDRESS, n, ids, len(ids), self.fast_sync_read)
        if result != sdk.COMM_SUCCESS:
            return {}, ids
        if self.fast_sync_read:
            return self._fast_replies(n)
        replies, missing = {}, []
        for motor_id in self.motor_ids:
            data, result, error = ph.readRx(port, motor_id, n)
            if result != sdk.COMM_SUCCESS:
                missing.append(motor_id)
                continue
            self._check_alert(motor_id, error)
            replies[motor_id] = bytes(data)
        return replies, missing

    def _fast_replies(self, n: int) -> tuple[dict[int, bytes], list[int]]:
        """Split a Fast Sync Read reply: per motor ERR, ID, DATA, CRC (the last CRC is the
        packet's), in the order the request listed the motors.

        Real XC330s send this reply NOT byte-stuffed: the motors assemble it on the wire, the
        first sends LEN before the others' data exist, and none sees what the others sent
        (e-Manual, Protocol 2.0, "Fast Sync Read"); dynamixel-sdk 4.1 reads it so too, its
        rxPacket(port, fast_option=True) skipping removeStuffing. Firmware or emulators may
        differ, and a stuffed reply is longer than the layout, so `parse_fast_read_status`
        tells the two apart by length and reads both. The SDK has checked the packet CRC.
        """
        packet, result = self._handler.rxPacket(self._port, True)
        if result != sdk.COMM_SUCCESS:
            return {}, list(self.motor_ids)
        replies: dict[int, bytes] = {}
        for block in parse_fast_read_status(packet, [(i, n) for i in self.motor_ids]):
            self._check_alert(block.dxl_id, block.error)
            replies[block.dxl_id] = block.data
        return replies, [i for i in self.motor_ids if i not in replies]

    def _decode(self, replies: dict[int, bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raw = b"".join(replies[i] for i in self.motor_ids)
        records = np.frombuffer(
            raw, dtype=np.dtype([("current", "<i2"), ("velocity", "<i4"), ("position", "<i4")])
        )
        return (
            records["position"].astype(np.int64),
            records["velocity"].astype(np.int64),
            records["current"].astype(np.int64),
        )
