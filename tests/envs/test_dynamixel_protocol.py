"""Byte-level tests of the Protocol 2.0 codec and the XC330 control table (no I/O)."""

from __future__ import annotations

import numpy as np
import pytest

from dexndm_envs.core.constants import JOINT_LOWER_RAD, JOINT_UPPER_RAD
from dexndm_envs.dynamixel import control_table as ct
from dexndm_envs.dynamixel import fast_read as fr
from dexndm_envs.dynamixel import protocol as pr

sdk = pytest.importorskip("dynamixel_sdk", reason="dynamixel-sdk is the reference for the codec")


def _hex(text: str) -> bytes:
    return bytes.fromhex(text)


# e-Manual, Protocol 2.0 examples: packet without CRC, CRC bytes as sent (low, high).
EMANUAL_CRC_VECTORS = [
    ("FF FF FD 00 01 03 00 01", "19 4E"),  # ping ID 1
    ("FF FF FD 00 FE 03 00 01", "31 42"),  # broadcast ping
    ("FF FF FD 00 01 07 00 55 00 06 04 26", "65 5D"),  # ping status, XM430 model 1030 fw 38
    ("FF FF FD 00 02 07 00 55 00 06 04 26", "6F 6D"),
    ("FF FF FD 00 01 07 00 02 84 00 04 00", "1D 15"),  # read present position
    ("FF FF FD 00 01 08 00 55 00 A6 00 00 00", "8C C0"),
    ("FF FF FD 00 01 09 00 03 74 00 00 02 00 00", "CA 89"),  # write goal position 512
    ("FF FF FD 00 01 04 00 55 00", "A1 0C"),
    ("FF FF FD 00 01 03 00 08", "2F 4E"),  # reboot
    ("FF FF FD 00 FE 09 00 82 84 00 04 00 01 02", "CE FA"),  # sync read
    ("FF FF FD 00 FE 11 00 83 74 00 04 00 01 96 00 00 00 02 AA 00 00 00", "82 87"),
    ("FF FF FD 00 FE 0D 00 92 01 90 00 02 00 02 92 00 01 00", "1A 05"),  # bulk read
]


@pytest.mark.parametrize(("packet", "crc"), EMANUAL_CRC_VECTORS)
def test_crc_matches_emanual_examples(packet: str, crc: str) -> None:
    assert pr.crc16(_hex(packet)).to_bytes(2, "little") == _hex(crc)


def test_crc_matches_sdk_and_continues() -> None:
    rng = np.random.default_rng(0)
    handler = sdk.Protocol2PacketHandler()
    for size in (0, 1, 7, 64, 300):
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        assert pr.crc16(data) == handler.updateCRC(0, list(data), len(data))
        assert pr.crc16(data[size // 2 :], pr.crc16(data[: size // 2])) == pr.crc16(data)


@pytest.mark.parametrize(
    ("body", "stuffed"),
    [
        ("", ""),
        ("55 00 01 02", "55 00 01 02"),
        ("FF FF FD", "FF FF FD FD"),
        ("FF FF FD FD", "FF FF FD FD FD"),
        ("FF FF FF FD", "FF FF FF FD FD"),
        ("FF FF FD FF FF FD", "FF FF FD FD FF FF FD FD"),
        ("FF FD FF FD FD", "FF FD FF FD FD"),
        ("55 00 FF FF", "55 00 FF FF"),
    ],
)
def test_stuffing_edge_cases(body: str, stuffed: str) -> None:
    assert pr.stuff(_hex(body)) == _hex(stuffed)
    assert pr.unstuff(_hex(stuffed)) == _hex(body)


def test_stuffing_round_trips_on_dense_ff_fd_streams() -> None:
    rng = np.random.default_rng(1)
    handler = sdk.Protocol2PacketHandler()
    for _ in range(300):
        params = bytes(rng.choice([0xFF, 0xFD, 0x00], size=int(rng.integers(0, 40))))
        body = b"\x55" + params
        stuffed = pr.stuff(body)
        assert pr.unstuff(stuffed) == body
        assert len(stuffed) == len(body) + body.count(b"\xff\xff\xfd")
        packet = pr.build_status(1, 0, params[1:]) if params else pr.build_status(1, 0)
        sdk_view = handler.removeStuffing(list(packet))  # the SDK's un-stuffing agrees
        assert bytes(sdk_view[8 : 9 + len(params[1:])]) == (
            b"\x00" + params[1:] if params else b"\x00"
        )


def test_status_packet_is_stuffed_with_len_and_crc_over_stuffed_bytes() -> None:
    data = _hex("FF FF FD 00")  # e.g. goal current -1 followed by FD 00
    packet = pr.build_status(7, 0, data)
    body = packet[7:-2]
    assert body == _hex("55 00 FF FF FD FD 00")
    assert int.from_bytes(packet[5:7], "little") == len(body) + 2
    assert pr.crc16(packet[:-2]) == int.from_bytes(packet[-2:], "little")
    assert pr.parse_status(packet) == pr.StatusPacket(7, 0, data)
    unstuffed = sdk.Protocol2PacketHandler().removeStuffing(list(packet))  # what the SDK sees
    assert bytes(unstuffed[9:13]) == data


def test_instruction_builder_matches_sdk_wire_bytes() -> None:
    sent: list[bytes] = []

    class RecordingPort:
        is_using = False

        def clearPort(self) -> None:  # the SDK port interface
            pass

        def writePort(self, packet: list[int]) -> int:
            sent.append(bytes(packet))
            return len(packet)

    handler = sdk.Protocol2PacketHandler()
    port = RecordingPort()
    handler.syncWriteTxOnly(port, 116, 4, [1, 0xFF, 0xFF, 0xFD, 0xFD], 5)
    # dynamixel-sdk 4.1 does not stuff what it sends: LEN counts the raw params.
    raw = pr.build_instruction(
        0xFE, pr.Instruction.SYNC_WRITE, _hex("74 00 04 00 01 FF FF FD FD"), stuffing=False
    )
    assert sent == [raw]
    stuffed = pr.build_instruction(
        0xFE, pr.Instruction.SYNC_WRITE, _hex("74 00 04 00 01 FF FF FD FD")
    )
    assert len(stuffed) == len(raw) + 1


def test_parser_takes_arbitrary_chunks_and_garbage() -> None:
    ping = pr.build_instruction(1, pr.Instruction.PING)
    read = pr.build_instruction(3, pr.Instruction.READ, pr.read_params(126, 10))
    stream = b"\x00\xff\xff" + ping + b"\xff\xff\xfd" + read + b"\x12"
    for chunk_size in (1, 2, 3, 5, len(stream)):
        parser = pr.PacketParser()
        packets = []
        for start in range(0, len(stream), chunk_size):
            packets += parser.feed(stream[start : start + chunk_size])
        assert packets == [
            pr.InstructionPacket(1, pr.Instruction.PING),
            pr.InstructionPacket(3, pr.Instruction.READ, _hex("7E 00 0A 00")),
        ]
        assert parser.discarded_bytes == len(stream) - len(ping) - len(read) - parser.pending


def test_parser_frames_unstuffed_requests_by_length() -> None:
    # A header inside an unstuffed body must not split the packet (dynamixel-sdk sends these).
    params = pr.sync_write_params(116, 4, {1: _hex("FF FF FD 00"), 2: _hex("FF FF FD FD")})
    unstuffed = pr.build_instruction(0xFE, pr.Instruction.SYNC_WRITE, params, stuffing=False)
    stuffed = pr.build_instruction(0xFE, pr.Instruction.SYNC_WRITE, params)
    assert stuffed != unstuffed
    for wire in (unstuffed, stuffed):
        assert pr.PacketParser().feed(wire) == [pr.InstructionPacket(0xFE, 0x83, params)]


def test_parser_reports_bad_crc_and_resynchronises() -> None:
    good = pr.build_instruction(2, pr.Instruction.PING)
    bad = bytearray(pr.build_instruction(4, pr.Instruction.READ, pr.read_params(132, 4)))
    bad[-1] ^= 0xFF
    packets = pr.PacketParser().feed(bytes(bad) + good)
    assert packets[0] == pr.CorruptPacket(4, pr.Instruction.READ, bytes(bad))
    assert packets[1:] == [pr.InstructionPacket(2, pr.Instruction.PING)]


def test_parser_skips_impossible_length_and_can_drop_partial_packets() -> None:
    parser = pr.PacketParser(max_length=64)
    good = pr.build_instruction(5, pr.Instruction.PING)
    assert parser.feed(_hex("FF FF FD 00 05 FF 7F 01") + good) == [pr.InstructionPacket(5, 1)]
    assert parser.feed(good[:6]) == [] and parser.pending == 6
    assert parser.reset() == 6 and parser.pending == 0
    assert parser.feed(good) == [pr.InstructionPacket(5, 1)]


def test_fast_sync_read_reply_layout() -> None:
    blocks = [
        (1, 0, _hex("A6 00 00 00")),
        (2, 0x80, _hex("1F 08 00 00")),
        (3, 0, _hex("00 01 02 03")),
    ]
    packet, offsets = fr.build_fast_read_status(blocks)
    assert packet[:8] == _hex("FF FF FD 00 FE 19 00 55")  # LEN = 1 + 3 * (4 + 4) = 25
    assert offsets == [8, 16, 24]
    for k, (dxl_id, error, data) in enumerate(blocks):
        start = offsets[k]
        assert packet[start : start + 2 + len(data)] == bytes([error, dxl_id]) + data
        crc_at = start + 2 + len(data)  # every block ends with the CRC of all bytes before it
        assert packet[crc_at : crc_at + 2] == pr.crc16(packet[:crc_at]).to_bytes(2, "little")
    assert len(packet) == offsets[-1] + 2 + 4 + 2


# A velocity of -49 and a position of 2045: the bytes FF FF FD that the issue saw misparsed
_HAZARD = (-49).to_bytes(4, "little", signed=True) + (2045).to_bytes(4, "little")


def test_fast_read_reply_is_not_stuffed_and_the_sdk_reads_it() -> None:
    blocks = [(3, 0, _HAZARD), (7, 0, bytes(4)), (9, 0, _HAZARD[:2] + _hex("FD FD"))]
    packet, offsets = fr.build_fast_read_status(blocks)  # lengths 8, 4, 4: a bulk read
    assert b"\xff\xff\xfd\x07" in packet and b"\xff\xff\xfd\xfd\xfd" not in packet
    assert int.from_bytes(packet[5:7], "little") == 1 + (4 + 8) + 2 * (4 + 4)
    assert offsets == [8, 20, 28]
    # dynamixel-sdk 4.1 takes (N + 4)-byte strides from the first ERR, without un-stuffing
    raw = list(packet)
    assert bytes(raw[8 + 2 : 8 + 2 + 8]) == _HAZARD
    assert bytes(raw[28 + 2 : 28 + 2 + 4]) == _HAZARD[:2] + _hex("FD FD")
    assert pr.crc16(packet[:-2]).to_bytes(2, "little") == packet[-2:]


@pytest.mark.parametrize("stuffing", [False, True])
def test_fast_read_reply_parses_stuffed_or_not(stuffing: bool) -> None:
    # FF FF FD FD in the data: un-stuffing an unstuffed reply would drop a byte
    blocks = [(1, 0, _HAZARD), (2, 0x80, _hex("FF FF FD FD 00 00 00 00")), (4, 0, _HAZARD)]
    packet, offsets = fr.build_fast_read_status(blocks, stuffing=stuffing)
    assert (len(packet) > offsets[-1] + 12) == stuffing  # stuffing made it longer
    layout = [(dxl_id, len(data)) for dxl_id, _, data in blocks]
    assert fr.parse_fast_read_status(packet, layout) == [fr.FastReadBlock(*b) for b in blocks]
    cut = packet[: offsets[2]] + bytes(2)  # device 4 stayed silent
    assert [b.dxl_id for b in fr.parse_fast_read_status(cut, layout)] == [1, 2]
    wrong_order = [(2, 8), (1, 8), (4, 8)]
    assert fr.parse_fast_read_status(packet, wrong_order) == []


def test_control_table_addresses_and_defaults() -> None:
    expected = {
        "model_number": (0, 2), "firmware_version": (6, 1), "id": (7, 1), "baud_rate": (8, 1),
        "return_delay_time": (9, 1), "drive_mode": (10, 1), "operating_mode": (11, 1),
        "current_limit": (38, 2), "torque_enable": (64, 1), "led": (65, 1),
        "status_return_level": (68, 1), "registered_instruction": (69, 1),
        "hardware_error_status": (70, 1), "velocity_i_gain": (76, 2), "velocity_p_gain": (78, 2),
        "position_d_gain": (80, 2), "position_i_gain": (82, 2), "position_p_gain": (84, 2),
        "goal_pwm": (100, 2), "goal_current": (102, 2), "goal_velocity": (104, 4),
        "profile_acceleration": (108, 4), "profile_velocity": (112, 4), "goal_position": (116, 4),
        "moving": (122, 1), "moving_status": (123, 1), "present_pwm": (124, 2),
        "present_current": (126, 2), "present_velocity": (128, 4), "present_position": (132, 4),
        "present_input_voltage": (144, 2), "present_temperature": (146, 1),
    }  # fmt: skip
    for name, (address, size) in expected.items():
        assert (ct.field(name).address, ct.field(name).size) == (address, size), name
    for name in ("goal_current", "goal_position", "present_current", "present_velocity"):
        assert ct.field(name).signed
    ends = [item.address + item.size for item in ct.FIELDS]
    starts = [item.address for item in ct.FIELDS]
    assert all(end <= start for end, start in zip(ends, starts[1:], strict=False))
    table = ct.ControlTable(dxl_id=9)
    assert table.get("model_number") == 1240 and table.get("id") == 9
    assert table.get("current_limit") == 2352 and table.get("status_return_level") == 2
    assert ct.field("current_limit").area == "EEPROM" and ct.field("torque_enable").area == "RAM"


def test_control_table_typed_access_is_little_endian_and_signed() -> None:
    table = ct.ControlTable()
    table.set("goal_current", -350)
    assert table.read(102, 2) == (-350).to_bytes(2, "little", signed=True)
    table.set("present_velocity", -12)
    assert table.read(128, 4) == _hex("F4 FF FF FF") and table.get("present_velocity") == -12
    table.write(116, (3000).to_bytes(4, "little"))
    assert table.get("goal_position") == 3000
    with pytest.raises(ct.DataRangeError):
        table.set("torque_enable", 2)
    with pytest.raises(ct.UnknownFieldError, match="valid fields"):
        table.get("goal_torque")


@pytest.mark.parametrize(
    ("address", "data", "error", "status"),
    [
        (132, _hex("00 08 00 00"), ct.AccessError, pr.StatusError.ACCESS),  # read-only
        (66, _hex("00"), ct.AccessError, pr.StatusError.ACCESS),  # undefined gap
        (116, _hex("00 08"), ct.DataLengthError, pr.StatusError.DATA_LENGTH),  # half an item
        (146, _hex("00 00 00"), ct.AddressRangeError, pr.StatusError.DATA_RANGE),
        (64, _hex("01 05"), ct.DataRangeError, pr.StatusError.DATA_RANGE),  # led = 5
    ],
)
def test_control_table_refuses_writes_like_the_device(
    address: int, data: bytes, error: type[ct.ControlTableError], status: pr.StatusError
) -> None:
    table = ct.ControlTable()
    before = table.read(0, ct.TABLE_SIZE)
    with pytest.raises(error) as caught:
        table.write(address, data)
    assert caught.value.status_error == status
    assert table.read(0, ct.TABLE_SIZE) == before  # all or nothing


def test_eeprom_is_locked_while_torque_is_enabled() -> None:
    table = ct.ControlTable()
    table.write(11, b"\x05")
    table.write(64, b"\x01")
    with pytest.raises(ct.EepromLockedError, match="torque_enable") as caught:
        table.write(11, b"\x03")
    assert caught.value.status_error == pr.StatusError.ACCESS
    table.write(64, b"\x00")
    table.write(11, b"\x03")
    assert table.get("operating_mode") == 3
    with pytest.raises(ct.AddressRangeError):
        table.read(140, 10)
    with pytest.raises(ct.DataLengthError):
        table.read(0, 0)


def test_tick_conversions() -> None:
    assert ct.rad_to_ticks(0.0) == 2048  # flat hand
    assert ct.ticks_to_rad(2048) == 0.0
    assert ct.rad_to_ticks(-np.pi) == 0 and ct.rad_to_ticks(np.pi) == 4096
    ticks = np.arange(4096)
    assert np.array_equal(ct.rad_to_ticks(ct.ticks_to_rad(ticks)), ticks)
    q = np.random.default_rng(2).uniform(JOINT_LOWER_RAD, JOINT_UPPER_RAD, size=(100, 16))
    assert np.abs(ct.ticks_to_rad(ct.rad_to_ticks(q)) - q).max() <= ct.RAD_PER_TICK / 2 + 1e-12
    assert ct.velocity_units_to_rad_s(1) == pytest.approx(0.229 * 2 * np.pi / 60)
    assert ct.rad_s_to_velocity_units(ct.velocity_units_to_rad_s(-37)) == -37
    assert ct.current_units_to_ma(-300) == -300.0


def test_error_decoding() -> None:
    assert ct.decode_hardware_error(0b0010_0100) == ["overheating error", "overload error"]
    assert ct.decode_hardware_error(0) == []
    assert "unknown" in ct.decode_hardware_error(0x02)[0]
    assert pr.decode_status_error(0) == "no error"
    text = pr.decode_status_error(0x87)
    assert text.startswith("access error") and "alert" in text


def test_the_current_bound_is_current_limit_and_in_mode_5_goal_current_below_it():
    from dexndm_envs.dynamixel.control_table import current_bound_ma

    modes = np.array([3, 5, 5, 0])
    bound = current_bound_ma(modes, np.array([350, 350, -900, 350]), np.array([550, 550, 550, 550]))
    assert bound.tolist() == [550, 350, 550, 550]
