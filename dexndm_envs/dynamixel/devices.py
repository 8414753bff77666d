"""What a bus of virtual Dynamixel devices answers to each Protocol 2.0 request.

`VirtualBus` holds one ControlTable per device and turns each parsed request into the status
packets the devices send back (possibly none), injecting the faults of a `FaultConfig`. It does
no I/O and knows no physics: `VirtualDynamixelServer` (server.py) carries the bytes over a
pseudo-terminal, holds them back for the time the devices and the USB adapter take, and steps
the physics when told that Goal Position was written.

Behaviour (e-Manual, Protocol 2.0 and the XC330-M288 control table):
- Power-on state of an XC330: Torque Enable 0, factory Operating Mode 3, Return Delay Time
  250 (500 us), Status Return Level 2; EEPROM (addresses < 64) is writable only with torque off,
  otherwise the write is refused with an Access Error and changes nothing. Switching torque on
  makes the motor hold where it is: Goal Position becomes Present Position.
- Status Return Level (68): 0 answers PING only, 1 PING and the reads (READ, SYNC READ, BULK
  READ, FAST SYNC READ, FAST BULK READ), 2 everything. Broadcast READ/WRITE/REBOOT and SYNC
  WRITE are never answered; a broadcast PING is answered by every device in ID order.
- SYNC READ and BULK READ: each listed device answers with its own status packet, in list
  order; FAST SYNC READ and FAST BULK READ: one combined packet, not byte-stuffed, as the
  devices assemble it on the wire (fast_read.py), cut short at the first device that does not
  answer.
- Return Delay Time (9): `return_delay_s` says how long the devices wait before their replies.
- Instructions that are not emulated (REG WRITE, ACTION, FACTORY RESET, CLEAR, BULK WRITE) get
  an Instruction Error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from dexndm_envs.dynamixel.control_table import (
    ADDR_GOAL_POSITION,
    BAUD_RATE_CODE_4M,
    OVERLOAD_ERROR_BIT,
    RETURN_DELAY_UNIT_S,
    STATUS_RETURN_ALL,
    STATUS_RETURN_READ,
    ControlTable,
    ControlTableError,
)
from dexndm_envs.dynamixel.fast_read import build_fast_read_status
from dexndm_envs.dynamixel.protocol import (
    BROADCAST_ID,
    ERRBIT_ALERT,
    MAX_ID,
    READ_INSTRUCTIONS,
    CorruptPacket,
    Instruction,
    InstructionPacket,
    StatusError,
    build_status,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaultConfig:
    """Faults to inject; all off by default.

    Attributes:
        drop_rate: probability that a reply is never sent (per status packet).
        corrupt_rate: probability that a reply goes out with one byte flipped.
        delay_ms: every request's replies are held back this long (ms).
        dead_motors: IDs that never answer and ignore writes; a fast sync read reply is cut
            short at the first of them, as the combined packet on a real bus is.
        overload_motors: IDs that raise the overload bit of Hardware Error Status (70) and drop
            torque as soon as torque is enabled; REBOOT clears it until the next enable.
    """

    drop_rate: float = 0.0
    corrupt_rate: float = 0.0
    delay_ms: float = 0.0
    dead_motors: frozenset[int] = frozenset()
    overload_motors: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        for name in ("drop_rate", "corrupt_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"FaultConfig.{name} = {getattr(self, name)} is not in [0, 1]")
        if self.delay_ms < 0.0:
            raise ValueError(f"FaultConfig.delay_ms = {self.delay_ms} is negative")
        object.__setattr__(self, "dead_motors", frozenset(self.dead_motors))
        object.__setattr__(self, "overload_motors", frozenset(self.overload_motors))


class VirtualBus:
    """The devices on one bus: their control tables, replies and injected faults.

    Args:
        motor_ids: IDs of the devices.
        faults: faults to inject (default: none).
        seed: seed of the generator that draws drops and corruptions.
        on_goal_position_write: called once per WRITE / SYNC WRITE that covers Goal Position
            (116), after the tables were written (the server's lockstep hook).

    Attributes:
        tables: control table of each device by ID.
        stats: counters of requests, replies, dropped/corrupted replies, CRC errors and
            requests ignored by dead motors.
        stuff_fast_replies: byte-stuff the combined fast read replies, as no XC330 does (see
            fast_read.py); for checking that a client copes with both forms.
    """

    def __init__(
        self,
        motor_ids: Iterable[int],
        faults: FaultConfig | None = None,
        seed: int | None = None,
        on_goal_position_write: Callable[[], None] | None = None,
    ) -> None:
        self.motor_ids = tuple(motor_ids)
        if len(set(self.motor_ids)) != len(self.motor_ids) or not all(
            0 <= dxl_id <= MAX_ID for dxl_id in self.motor_ids
        ):
            raise ValueError(f"motor IDs must be unique and in 0..{MAX_ID}, got {self.motor_ids}")
        self.tables = {i: ControlTable(i, baud_rate=BAUD_RATE_CODE_4M) for i in self.motor_ids}
        self.faults = faults or FaultConfig()
        self.stats = dict.fromkeys(
            ("requests", "replies", "dropped", "corrupted", "crc_errors", "ignored"), 0
        )
        self.stuff_fast_replies = False
        self._rng = np.random.default_rng(seed)
        self._on_goal_position_write = on_goal_position_write or (lambda: None)

    # ------------------------------------------------------------ requests
    def handle(self, packet: InstructionPacket | CorruptPacket) -> list[bytes]:
        """The status packets the bus sends back for one request (possibly none), in order."""
        self.stats["requests"] += 1
        if isinstance(packet, CorruptPacket):
            # e-Manual, Protocol 2.0 "Error": CRC Error (3) = "CRC of the sent Packet does
            # not match"; the addressed device answers it. A corrupted ID may address the
            # wrong device, and broadcasts get no reply, as for every broadcast read/write.
            self.stats["crc_errors"] += 1
            return self._status(packet.dxl_id, packet.instruction, StatusError.CRC)
        if packet.instruction == Instruction.STATUS:
            return []  # another device's reply (never seen on a pty, but legal on a bus)
        handler = self._HANDLERS.get(packet.instruction)
        if handler is None:
            return self._status(packet.dxl_id, packet.instruction, StatusError.INSTRUCTION)
        return handler(self, packet)

    def return_delay_s(self, replies: Sequence[bytes]) -> float:
        """How long the devices wait before sending `replies` (Return Delay Time, addr 9).

        e-Manual, "Return Delay Time(9)": a device waits this long after an instruction before
        its status packet; in a group read each device answers after the one before it, so the
        waits add up. In a combined fast read reply only the first device waits: the others
        append their blocks at once, as a gap would end the packet.
        """
        units = 0
        for packet in replies:
            id_at = 9 if len(packet) > 9 and packet[4] == BROADCAST_ID else 4
            table = self.tables.get(packet[id_at]) if len(packet) > id_at else None
            units += table.get("return_delay_time") if table is not None else 0
        return units * RETURN_DELAY_UNIT_S

    def _ping(self, packet: InstructionPacket) -> list[bytes]:
        # Broadcast ping: every device answers, in ID order (e-Manual, "Ping").
        targets = self.motor_ids if packet.dxl_id == BROADCAST_ID else (packet.dxl_id,)
        replies = []
        for dxl_id in targets:
            if dxl_id in self.tables:
                info = self.tables[dxl_id].read(0, 2) + self.tables[dxl_id].read(6, 1)
                replies += self._status(dxl_id, Instruction.PING, StatusError.NONE, info)
        return replies

    def _read(self, packet: InstructionPacket) -> list[bytes]:
        if len(packet.params) != 4:
            return self._status(packet.dxl_id, Instruction.READ, StatusError.DATA_LENGTH)
        address, length = _two_words(packet.params)
        return self._read_reply(packet.dxl_id, Instruction.READ, address, length)

    def _write(self, packet: InstructionPacket) -> list[bytes]:
        if len(packet.params) < 3:
            return self._status(packet.dxl_id, Instruction.WRITE, StatusError.DATA_LENGTH)
        address, data = int.from_bytes(packet.params[:2], "little"), packet.params[2:]
        broadcast = packet.dxl_id == BROADCAST_ID
        replies = []
        for dxl_id in self.motor_ids if broadcast else (packet.dxl_id,):
            error = self._write_table(dxl_id, address, data)
            if not broadcast:  # the level after the write decides (the e-Manual is silent)
                replies += self._status(dxl_id, Instruction.WRITE, error)
        if _covers(address, len(data), ADDR_GOAL_POSITION):
            self._on_goal_position_write()
        return replies

    def _reboot(self, packet: InstructionPacket) -> list[bytes]:
        broadcast = packet.dxl_id == BROADCAST_ID
        replies = []
        for dxl_id in self.motor_ids if broadcast else (packet.dxl_id,):
            if self._alive(dxl_id):
                table = self.tables[dxl_id]
                for name in ("torque_enable", "hardware_error_status", "registered_instruction"):
                    table.set(name, 0)
                if not broadcast:
                    replies += self._status(dxl_id, Instruction.REBOOT, StatusError.NONE)
        return replies

    def _sync_read(self, packet: InstructionPacket) -> list[bytes]:
        # Each listed device answers with its own status packet, in list order.
        if len(packet.params) < 5:
            return []
        address, length = _two_words(packet.params)
        replies = []
        for dxl_id in packet.params[4:]:
            replies += self._read_reply(dxl_id, Instruction.SYNC_READ, address, length)
        return replies

    def _bulk_read(self, packet: InstructionPacket) -> list[bytes]:
        params = packet.params
        if not params or len(params) % 5:
            return []
        replies = []
        for dxl_id, address, length in _bulk_items(params):
            replies += self._read_reply(dxl_id, Instruction.BULK_READ, address, length)
        return replies

    def _sync_write(self, packet: InstructionPacket) -> list[bytes]:
        params = packet.params
        address, length = _two_words(params) if len(params) >= 4 else (0, 0)
        if length == 0 or len(params) <= 4 or (len(params) - 4) % (length + 1):
            logger.debug("ignoring a malformed sync write: %s", params.hex(" "))
            return []  # a broadcast: nobody answers, not even with an error
        for offset in range(4, len(params), length + 1):
            self._write_table(params[offset], address, params[offset + 1 : offset + 1 + length])
        if _covers(address, length, ADDR_GOAL_POSITION):
            self._on_goal_position_write()
        return []

    def _fast_sync_read(self, packet: InstructionPacket) -> list[bytes]:
        if len(packet.params) < 5:
            return []
        address, length = _two_words(packet.params)
        items = [(dxl_id, address, length) for dxl_id in packet.params[4:]]
        return self._fast_reply(Instruction.FAST_SYNC_READ, items)

    def _fast_bulk_read(self, packet: InstructionPacket) -> list[bytes]:
        params = packet.params
        if not params or len(params) % 5:
            return []
        return self._fast_reply(Instruction.FAST_BULK_READ, list(_bulk_items(params)))

    def _fast_reply(self, instruction: int, items: list[tuple[int, int, int]]) -> list[bytes]:
        """The combined reply of a fast read of (dxl_id, address, length) items, cut short at
        the first device that does not answer (dead, absent, or Status Return Level 0)."""
        blocks = []
        for dxl_id, address, length in items:
            table = self.tables.get(dxl_id)
            data, error = bytes(length), StatusError.NONE
            if table is not None:
                try:
                    data = table.read(address, length)
                except ControlTableError as exc:
                    error = exc.status_error
            blocks.append((dxl_id, self._error_byte(dxl_id, error), data))
        reply, offsets = build_fast_read_status(blocks, stuffing=self.stuff_fast_replies)
        silent = [
            k
            for k, (dxl_id, _, _) in enumerate(items)
            if not (self._alive(dxl_id) and self._answers(dxl_id, instruction))
        ]
        if silent:  # the bus carries the blocks up to the first silent device
            if any(not self._alive(items[k][0]) for k in silent):
                self.stats["ignored"] += 1
            reply = reply[: offsets[silent[0]]] if silent[0] > 0 else b""
        return self._inject_faults(reply) if reply else []

    _HANDLERS: ClassVar[dict[int, Callable[[VirtualBus, InstructionPacket], list[bytes]]]] = {
        Instruction.PING: _ping,
        Instruction.READ: _read,
        Instruction.WRITE: _write,
        Instruction.REBOOT: _reboot,
        Instruction.SYNC_READ: _sync_read,
        Instruction.SYNC_WRITE: _sync_write,
        Instruction.FAST_SYNC_READ: _fast_sync_read,
        Instruction.BULK_READ: _bulk_read,
        Instruction.FAST_BULK_READ: _fast_bulk_read,
    }

    # ------------------------------------------------------------ devices
    def _alive(self, dxl_id: int) -> bool:
        return dxl_id in self.tables and dxl_id not in self.faults.dead_motors

    def _answers(self, dxl_id: int, instruction: int) -> bool:
        """Whether the device's Status Return Level (68) lets it answer `instruction`."""
        level = self.tables[dxl_id].get("status_return_level")
        if instruction == Instruction.PING:
            return True
        if instruction in READ_INSTRUCTIONS:
            return level >= STATUS_RETURN_READ
        return level >= STATUS_RETURN_ALL

    def _read_reply(self, dxl_id: int, instruction: int, address: int, length: int) -> list[bytes]:
        if dxl_id not in self.tables:
            return []
        try:
            data = self.tables[dxl_id].read(address, length)
        except ControlTableError as exc:
            return self._status(dxl_id, instruction, exc.status_error)
        return self._status(dxl_id, instruction, StatusError.NONE, data)

    def _write_table(self, dxl_id: int, address: int, data: bytes) -> StatusError:
        """Apply one device's part of a write; returns the error its status would carry."""
        if not self._alive(dxl_id):
            return StatusError.NONE
        table = self.tables[dxl_id]
        torque_was_on = table.get("torque_enable")
        try:
            table.write(address, data)
        except ControlTableError as exc:
            logger.debug("ID %d refused a write at %d: %s", dxl_id, address, exc)
            return exc.status_error
        if table.get("torque_enable") and not torque_was_on:
            # switching torque on, the motor holds where it is rather than jump to a stale goal
            table.set("goal_position", table.get("present_position"))
        if table.get("torque_enable") and dxl_id in self.faults.overload_motors:
            table.set(
                "hardware_error_status", table.get("hardware_error_status") | OVERLOAD_ERROR_BIT
            )
        if table.get("hardware_error_status"):
            table.set("torque_enable", 0)  # shutdown: only REBOOT re-enables torque
        return StatusError.NONE

    def _error_byte(self, dxl_id: int, error: StatusError) -> int:
        table = self.tables.get(dxl_id)
        alert = table is not None and table.get("hardware_error_status") != 0
        return int(error) | (ERRBIT_ALERT if alert else 0)

    def _status(
        self, dxl_id: int, instruction: int, error: StatusError, params: bytes = b""
    ) -> list[bytes]:
        """One device's status packet for `instruction`, or none for a missing, dead or
        broadcast ID, or where its Status Return Level keeps it silent."""
        if dxl_id not in self.tables:
            return []
        if dxl_id in self.faults.dead_motors:
            self.stats["ignored"] += 1
            return []
        if not self._answers(dxl_id, instruction):
            return []
        packet = build_status(dxl_id, self._error_byte(dxl_id, error), params)
        return self._inject_faults(packet)

    def _inject_faults(self, packet: bytes) -> list[bytes]:
        if self.faults.drop_rate and self._rng.random() < self.faults.drop_rate:
            self.stats["dropped"] += 1
            return []
        if self.faults.corrupt_rate and self._rng.random() < self.faults.corrupt_rate:
            self.stats["corrupted"] += 1
            corrupted = bytearray(packet)
            corrupted[int(self._rng.integers(4, len(packet)))] ^= int(self._rng.integers(1, 256))
            packet = bytes(corrupted)
        self.stats["replies"] += 1
        return [packet]


def _two_words(params: bytes) -> tuple[int, int]:
    """The (address, length) that open READ, SYNC READ and SYNC WRITE params."""
    return int.from_bytes(params[0:2], "little"), int.from_bytes(params[2:4], "little")


def _bulk_items(params: bytes) -> Iterable[tuple[int, int, int]]:
    """(dxl_id, address, length) per 5-byte item of BULK READ / FAST BULK READ params."""
    for offset in range(0, len(params), 5):
        yield (params[offset], *_two_words(params[offset + 1 : offset + 5]))


def _covers(address: int, length: int, target: int) -> bool:
    return address <= target < address + length
