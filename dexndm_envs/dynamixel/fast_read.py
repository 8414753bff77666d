"""The combined replies of FAST SYNC READ (0x8A) and FAST BULK READ (0x9A): build and parse.

A fast read is answered by ONE status packet that several devices assemble on the wire, each
appending its block in the order the request listed the IDs (e-Manual, Protocol 2.0, "Fast Sync
Read" / "Fast Bulk Read"):

    FF FF FD 00 FE LEN_L LEN_H 55 | ERR ID DATA CRC | ERR ID DATA CRC | ... | ERR ID DATA CRC

The first block's ERR sits where an ordinary status packet has its ERR; each block ends with the
CRC of every byte before it, so the last block's CRC is the packet's CRC. LEN = 1 + sum(4 + N):
the first device sends it before the others' data exist, so it cannot count stuffing bytes, and
no device sees the bytes the others sent before it. Real devices therefore send the combined
reply NOT byte-stuffed, and dynamixel-sdk 4.1 reads it that way: `Protocol2PacketHandler.
rxPacket(port, fast_option=True)` skips `removeStuffing`, and `GroupSyncRead.
fastSyncReadRxPacket` / `fastBulkReadRx` cut the blocks at fixed (N + 4)-byte strides.

`build_fast_read_status` sends it so (stuffing=True reproduces an emulator or a firmware that
stuffs, for tests); `parse_fast_read_status` reads either form.

Example:
    >>> packet, _ = build_fast_read_status([(1, 0, bytes([0xFF, 0xFF, 0xFD, 0x07]))])
    >>> packet[:11].hex(" ")
    'ff ff fd 00 fe 09 00 55 00 01 ff'
    >>> parse_fast_read_status(packet, [(1, 4)])
    [FastReadBlock(dxl_id=1, error=0, data=b'\\xff\\xff\\xfd\\x07')]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from dexndm_envs.dynamixel.protocol import (
    BROADCAST_ID,
    HEADER,
    Instruction,
    PacketError,
    crc16,
    stuff,
    unstuff,
)


class FastReadBlock(NamedTuple):
    """One device's part of a fast read reply: its ID, ERR byte and data."""

    dxl_id: int
    error: int
    data: bytes


def build_fast_read_status(
    blocks: Sequence[tuple[int, int, bytes]], *, stuffing: bool = False
) -> tuple[bytes, list[int]]:
    """The one combined reply to FAST SYNC READ or FAST BULK READ, and where each block starts.

    Args:
        blocks: (dxl_id, error, data) per device, in the order the request listed the IDs (the
            data lengths differ between devices in a bulk read).
        stuffing: byte-stuff the body as ordinary status packets are (not what devices do, see
            the module docstring; LEN then counts the stuffed bytes and the inner CRCs stay
            those of the unstuffed bytes).

    Returns:
        (packet, offsets): offsets[k] is the index of block k's ERR byte in the packet, so
        packet[:offsets[k]] is what the bus carries when device k does not answer.
    """
    if not blocks:
        raise PacketError("a fast read reply needs at least one device")
    unstuffed_length = 1 + sum(4 + len(data) for _, _, data in blocks)
    prefix = HEADER + bytes([BROADCAST_ID]) + unstuffed_length.to_bytes(2, "little")
    body = bytearray([Instruction.STATUS])
    starts = []
    for index, (dxl_id, error, data) in enumerate(blocks):
        starts.append(len(body))
        body += bytes([error, dxl_id]) + bytes(data)
        if index < len(blocks) - 1:  # the last block's CRC is the packet CRC, added below
            body += crc16(prefix + body).to_bytes(2, "little")
    if not stuffing:
        packet = prefix + body
        return packet + crc16(packet).to_bytes(2, "little"), [7 + start for start in starts]
    stuffed = stuff(body)
    packet = HEADER + bytes([BROADCAST_ID]) + (len(stuffed) + 2).to_bytes(2, "little") + stuffed
    packet += crc16(packet).to_bytes(2, "little")
    return packet, [7 + len(stuff(body[:start])) for start in starts]


build_fast_sync_read_status = build_fast_read_status
"""The reply to FAST SYNC READ (every block the same length): `build_fast_read_status`."""


def parse_fast_read_status(
    packet: bytes | bytearray | Sequence[int], layout: Sequence[tuple[int, int]]
) -> list[FastReadBlock]:
    """The blocks of a combined fast read reply, whether or not the sender stuffed it.

    The packet's CRC is the caller's to check (dynamixel-sdk's rxPacket does). Which form came
    is told by the length: an unstuffed body is exactly sum(4 + N) - 1 bytes from INST to the
    packet CRC, and stuffing only ever adds bytes; so a longer body is un-stuffed first. Data
    that happen to contain FF FF FD FD are therefore never mangled in an unstuffed reply. A
    reply cut short is read both ways, and the one that finds more blocks in place wins.

    Args:
        packet: the whole packet, header through CRC, as received.
        layout: (dxl_id, data length) per device, in the order the request listed them.

    Returns:
        The blocks in order, up to (not including) the first that is missing, short or carries
        another ID than the layout puts there.
    """
    body = bytes(packet)[7:-2]  # INST, then the blocks without the last CRC (the packet CRC)
    expected = sum(4 + length for _, length in layout) - 1
    if len(body) == expected:
        return _blocks(body, layout)
    unstuffed_body = unstuff(body)
    unstuffed = _blocks(unstuffed_body, layout)
    if len(unstuffed_body) == expected:
        return unstuffed
    # cut short (a silent device): whichever reading keeps more blocks where the layout says
    raw = _blocks(body, layout)
    return unstuffed if len(unstuffed) > len(raw) else raw


def _blocks(body: bytes, layout: Sequence[tuple[int, int]]) -> list[FastReadBlock]:
    blocks: list[FastReadBlock] = []
    offset = 1  # past INST
    for dxl_id, length in layout:
        chunk = body[offset : offset + 2 + length]
        if len(chunk) < 2 + length or chunk[1] != dxl_id:
            break
        blocks.append(FastReadBlock(dxl_id, chunk[0], bytes(chunk[2:])))
        offset += length + 4
    return blocks
