"""Dynamixel Protocol 2.0 codec: CRC, byte stuffing, packet builders and a streaming parser.

Pure functions and classes, no I/O. Packet layout (e-Manual, Protocol 2.0):

    FF FF FD 00 | ID | LEN_L LEN_H | INST | params ... | CRC_L CRC_H

LEN counts INST, params and CRC; a status packet's params start with its ERR byte. Senders
byte-stuff the body (INST through the last param): every FF FF FD becomes FF FF FD FD; LEN then
counts the stuffed bytes and the CRC (CRC-16, polynomial 0x8005, initial value 0) covers the
stuffed packet (e-Manual, "Packet Process": stuff, then fix LEN, then compute the CRC).

dynamixel-sdk 4.1 does NOT stuff the instruction packets it sends (its `addStuffing` rebinds a
local list, so a stuffed packet never reaches the port) while it does un-stuff replies other
than the fast reads' combined ones (fast_read.py builds and parses those). `PacketParser`
therefore frames requests by LEN alone and only removes stuffing when the raw parameters do not
fit the instruction's layout but the un-stuffed ones do.

Example:
    >>> build_instruction(1, Instruction.PING).hex(" ")
    'ff ff fd 00 01 03 00 01 19 4e'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum

HEADER = b"\xff\xff\xfd\x00"
"""Header 1-3 and the reserved byte; the reserved byte is never 0xFD."""
BROADCAST_ID = 0xFE
MAX_ID = 0xFC
"""Largest unicast ID (e-Manual, Protocol 2.0, "Packet ID": 0 ~ 252)."""
MAX_PACKET_LENGTH = 1024
"""Largest LEN the parser accepts (dynamixel-sdk's packet buffers are 1024 bytes)."""
CRC_POLYNOMIAL = 0x8005
_STUFFING_TRIGGER = b"\xff\xff\xfd"


class Instruction(IntEnum):
    """Instruction codes (e-Manual, Protocol 2.0, "Instruction"; the fast reads as
    dynamixel-sdk 4.1 names them, `INST_FAST_SYNC_READ` and `INST_FAST_BULK_READ`)."""

    PING = 0x01
    READ = 0x02
    WRITE = 0x03
    REG_WRITE = 0x04
    ACTION = 0x05
    FACTORY_RESET = 0x06
    REBOOT = 0x08
    CLEAR = 0x10
    STATUS = 0x55
    SYNC_READ = 0x82
    SYNC_WRITE = 0x83
    FAST_SYNC_READ = 0x8A
    BULK_READ = 0x92
    BULK_WRITE = 0x93
    FAST_BULK_READ = 0x9A


READ_INSTRUCTIONS = frozenset(
    {
        Instruction.READ,
        Instruction.SYNC_READ,
        Instruction.BULK_READ,
        Instruction.FAST_SYNC_READ,
        Instruction.FAST_BULK_READ,
    }
)
"""The instructions a device answers at Status Return Level 1 besides PING (e-Manual, X-series
"Status Return Level(68)": 1 = "PING and READ"; the group and fast reads are READs too)."""


class StatusError(IntEnum):
    """Error numbers in bits 0-6 of a status packet's ERR byte (e-Manual, Protocol 2.0, "Error")."""

    NONE = 0
    RESULT_FAIL = 1
    INSTRUCTION = 2
    CRC = 3
    DATA_RANGE = 4
    DATA_LENGTH = 5
    DATA_LIMIT = 6
    ACCESS = 7


ERRBIT_ALERT = 0x80
"""ERR bit 7: the device has a hardware error; Hardware Error Status (70) says which."""

_STATUS_ERROR_TEXT = {
    StatusError.NONE: "no error",
    StatusError.RESULT_FAIL: "result fail: the device failed to process the instruction",
    StatusError.INSTRUCTION: "instruction error: undefined instruction, or Action before Reg Write",
    StatusError.CRC: "CRC error: the CRC of the instruction packet did not match",
    StatusError.DATA_RANGE: "data range error: value or address outside the allowed range",
    StatusError.DATA_LENGTH: "data length error: data shorter/longer than the item written",
    StatusError.DATA_LIMIT: "data limit error: value outside the configured limit",
    StatusError.ACCESS: "access error: read-only/undefined address, or EEPROM write with torque on",
}


def decode_status_error(error_byte: int) -> str:
    """Human-readable meaning of a status packet's ERR byte, alert bit included."""
    number = error_byte & ~ERRBIT_ALERT
    try:
        text = _STATUS_ERROR_TEXT[StatusError(number)]
    except ValueError:
        text = f"unknown error number {number}"
    if error_byte & ERRBIT_ALERT:
        text += " (alert: hardware error, read Hardware Error Status at address 70)"
    return text


class PacketError(ValueError):
    """Bytes that are not a well-formed Protocol 2.0 packet."""


class CrcMismatchError(PacketError):
    """A packet whose CRC does not match its contents."""


# ---------------------------------------------------------------- CRC and stuffing
def _make_crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = (crc << 1) ^ CRC_POLYNOMIAL if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _make_crc_table()


def crc16(data: bytes | bytearray, crc: int = 0) -> int:
    """CRC-16 of Protocol 2.0 (polynomial 0x8005, MSB first, initial value 0, no final XOR).

    Pass a previous result as `crc` to continue over more bytes.
    """
    for byte in data:
        crc = ((crc << 8) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]) & 0xFFFF
    return crc


def stuff(body: bytes | bytearray) -> bytes:
    """Byte-stuff a packet body (INST through the last param): FF FF FD -> FF FF FD FD."""
    out = bytearray()
    for byte in body:
        out.append(byte)
        if byte == 0xFD and out[-3:] == _STUFFING_TRIGGER:
            out.append(0xFD)
    return bytes(out)


def unstuff(body: bytes | bytearray) -> bytes:
    """Remove byte stuffing: drop the FD that follows each FF FF FD (inverse of `stuff`)."""
    out = bytearray()
    index = 0
    while index < len(body):
        out.append(body[index])
        index += 1
        if out[-3:] == _STUFFING_TRIGGER and index < len(body) and body[index] == 0xFD:
            index += 1
    return bytes(out)


# ---------------------------------------------------------------- packets
@dataclass(frozen=True)
class InstructionPacket:
    """A request: `params` are un-stuffed."""

    dxl_id: int
    instruction: int
    params: bytes = b""

    def encode(self, *, stuffing: bool = True) -> bytes:
        """Wire bytes; stuffing=False reproduces what dynamixel-sdk 4.1 sends."""
        return build_packet(self.dxl_id, self.instruction, self.params, stuffing=stuffing)


@dataclass(frozen=True)
class StatusPacket:
    """A reply: `error` is the ERR byte (alert bit included), `params` the data after it."""

    dxl_id: int
    error: int
    params: bytes = b""

    def encode(self) -> bytes:
        return build_status(self.dxl_id, self.error, self.params)


@dataclass(frozen=True)
class CorruptPacket:
    """A framed packet whose CRC did not match; `raw` is the bytes as received."""

    dxl_id: int
    instruction: int
    raw: bytes


def build_packet(
    dxl_id: int, instruction: int, params: bytes = b"", *, stuffing: bool = True
) -> bytes:
    """Header, ID, LEN, body (stuffed unless stuffing=False) and CRC over all of it."""
    body = bytes([instruction]) + bytes(params)
    if stuffing:
        body = stuff(body)
    packet = HEADER + bytes([dxl_id]) + (len(body) + 2).to_bytes(2, "little") + body
    return packet + crc16(packet).to_bytes(2, "little")


def build_instruction(
    dxl_id: int, instruction: int, params: bytes = b"", *, stuffing: bool = True
) -> bytes:
    """An instruction packet (see `build_packet`)."""
    return build_packet(dxl_id, instruction, params, stuffing=stuffing)


def build_status(dxl_id: int, error: int, params: bytes = b"") -> bytes:
    """A status packet (INST 0x55, ERR, params), always stuffed as devices send them."""
    return build_packet(dxl_id, Instruction.STATUS, bytes([error]) + bytes(params))


def read_params(address: int, length: int) -> bytes:
    """Params of READ: address and length, little-endian."""
    return address.to_bytes(2, "little") + length.to_bytes(2, "little")


def sync_read_params(address: int, length: int, dxl_ids: Iterable[int]) -> bytes:
    """Params of SYNC READ / FAST SYNC READ: address, length, then one ID per device."""
    return read_params(address, length) + bytes(dxl_ids)


def bulk_read_params(items: Iterable[tuple[int, int, int]]) -> bytes:
    """Params of BULK READ / FAST BULK READ: ID, address, length per (dxl_id, address, length)."""
    return b"".join(
        bytes([dxl_id]) + read_params(address, length) for dxl_id, address, length in items
    )


def sync_write_params(address: int, length: int, data_by_id: Mapping[int, bytes]) -> bytes:
    """Params of SYNC WRITE: address, length, then ID + `length` data bytes per device."""
    params = bytearray(read_params(address, length))
    for dxl_id, data in data_by_id.items():
        if len(data) != length:
            raise PacketError(
                f"sync write data for ID {dxl_id} has {len(data)} bytes, not {length}"
            )
        params += bytes([dxl_id]) + bytes(data)
    return bytes(params)


def parse_status(packet: bytes) -> StatusPacket:
    """Decode one complete status packet (header through CRC).

    Raises:
        PacketError: for a wrong header, length or instruction.
        CrcMismatchError: for a CRC that does not match.
    """
    if len(packet) < 11 or not packet.startswith(HEADER):
        raise PacketError(f"not a status packet: {bytes(packet[:11]).hex(' ')}")
    length = int.from_bytes(packet[5:7], "little")
    if len(packet) != 7 + length:
        raise PacketError(f"LEN says {7 + length} bytes, got {len(packet)}")
    if crc16(packet[:-2]) != int.from_bytes(packet[-2:], "little"):
        raise CrcMismatchError(f"CRC mismatch in {bytes(packet).hex(' ')}")
    if packet[7] != Instruction.STATUS:
        raise PacketError(f"instruction 0x{packet[7]:02X} is not STATUS (0x55)")
    body = unstuff(packet[7:-2])
    return StatusPacket(dxl_id=packet[4], error=body[1], params=bytes(body[2:]))


# ---------------------------------------------------------------- streaming parser
class PacketParser:
    """Frames packets out of a byte stream that arrives in arbitrary chunks.

    Packets are framed by LEN (requests from dynamixel-sdk 4.1 are not stuffed, so a header
    pattern inside the body must not split them), checked by CRC, and garbage is skipped up to
    the next FF FF FD 00. A packet with a bad CRC comes out as a CorruptPacket and only its
    first byte is dropped, so a corrupted LEN cannot swallow the packets behind it.

    Example:
        >>> parser = PacketParser()
        >>> wire = b"junk" + build_instruction(1, Instruction.PING)
        >>> parser.feed(wire[:6]), parser.feed(wire[6:])
        ([], [InstructionPacket(dxl_id=1, instruction=1, params=b'')])
    """

    def __init__(self, max_length: int = MAX_PACKET_LENGTH) -> None:
        self._buffer = bytearray()
        self._max_length = max_length
        self.discarded_bytes = 0
        """Bytes skipped as garbage (not part of any framed packet), for diagnostics."""

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a packet."""
        return len(self._buffer)

    def reset(self) -> int:
        """Drop a half-received packet (e.g. after an inter-byte timeout); returns its size."""
        dropped = len(self._buffer)
        self._discard(dropped)
        return dropped

    def feed(self, chunk: bytes) -> list[InstructionPacket | CorruptPacket]:
        """Add bytes; return the packets they complete, in order."""
        self._buffer += chunk
        packets: list[InstructionPacket | CorruptPacket] = []
        while (packet := self._next_packet()) is not None:
            packets.append(packet)
        return packets

    def _next_packet(self) -> InstructionPacket | CorruptPacket | None:
        while True:
            if not self._skip_to_header() or len(self._buffer) < 7:
                return None
            length = int.from_bytes(self._buffer[5:7], "little")
            if 3 <= length <= self._max_length:
                break
            self._discard(1)  # impossible LEN: a false header, resynchronise
        if len(self._buffer) < 7 + length:
            return None
        raw = bytes(self._buffer[: 7 + length])
        if crc16(raw[:-2]) != int.from_bytes(raw[-2:], "little"):
            self._discard(1)
            return CorruptPacket(dxl_id=raw[4], instruction=raw[7], raw=raw)
        del self._buffer[: 7 + length]
        return InstructionPacket(raw[4], raw[7], _resolve_stuffing(raw[7], raw[8:-2]))

    def _skip_to_header(self) -> bool:
        start = self._buffer.find(HEADER)
        if start >= 0:
            self._discard(start)
            return True
        keep = next(n for n in (3, 2, 1, 0) if n == 0 or self._buffer.endswith(HEADER[:n]))
        self._discard(len(self._buffer) - keep)
        return False

    def _discard(self, count: int) -> None:
        del self._buffer[:count]
        self.discarded_bytes += count


def _resolve_stuffing(instruction: int, raw_params: bytes) -> bytes:
    """The params as meant: un-stuffed if the sender stuffed them, raw if it did not.

    Status packets are always stuffed. For requests both are possible (dynamixel-sdk 4.1 does
    not stuff), so un-stuff only when that is what makes the params fit the instruction's
    layout. WRITE fits either way and is taken raw, as dynamixel-sdk sends it.
    """
    if b"\xff\xff\xfd\xfd" not in raw_params:
        return raw_params
    unstuffed = unstuff(raw_params)
    if instruction == Instruction.STATUS:
        return unstuffed
    if not _fits_layout(instruction, raw_params) and _fits_layout(instruction, unstuffed):
        return unstuffed
    return raw_params


def _fits_layout(instruction: int, params: bytes) -> bool:
    count = len(params)
    if instruction in (Instruction.PING, Instruction.REBOOT, Instruction.ACTION):
        return count == 0
    if instruction == Instruction.READ:
        return count == 4
    if instruction in (Instruction.SYNC_READ, Instruction.FAST_SYNC_READ):
        return count > 4 and max(params[4:]) <= MAX_ID
    if instruction == Instruction.SYNC_WRITE:
        item_size = int.from_bytes(params[2:4], "little") if count >= 4 else 0
        return item_size > 0 and count > 4 and (count - 4) % (item_size + 1) == 0
    if instruction in (Instruction.BULK_READ, Instruction.FAST_BULK_READ):
        return count > 0 and count % 5 == 0
    return True
