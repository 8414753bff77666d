"""Dynamixel Protocol 2.0 for the LEAP hand: codec, XC330 control table and a virtual bus.

- `protocol`: CRC, byte stuffing, packet builders and a streaming parser (no I/O).
- `fast_read`: the combined replies of Fast Sync Read and Fast Bulk Read, built and parsed.
- `control_table`: the XC330-M288 control table, error codes and unit conversions.
- `devices`: `VirtualBus`, what virtual devices answer to each request, with fault injection.
- `server`: `VirtualDynamixelServer`, those devices on a pseudo-terminal that the official
  dynamixel-sdk can talk to, with pluggable physics (`MotorBackend`).
- `usb_adapter`: the wire and the USB adapter's latency timer, for hardware-like bus timing.
"""

from __future__ import annotations

from dexndm_envs.dynamixel.control_table import (
    CURRENT_UNIT_MA,
    FIELDS,
    HARDWARE_ERROR_BITS,
    MODEL_NUMBER_XC330_M288,
    TICKS_PER_REV,
    VELOCITY_UNIT_RPM,
    AccessError,
    AddressRangeError,
    ControlTable,
    ControlTableError,
    DataLengthError,
    DataRangeError,
    EepromLockedError,
    Field,
    UnknownFieldError,
    decode_hardware_error,
    field,
    rad_to_ticks,
    ticks_to_rad,
)
from dexndm_envs.dynamixel.devices import FaultConfig, VirtualBus
from dexndm_envs.dynamixel.fast_read import (
    FastReadBlock,
    build_fast_read_status,
    build_fast_sync_read_status,
    parse_fast_read_status,
)
from dexndm_envs.dynamixel.protocol import (
    BROADCAST_ID,
    ERRBIT_ALERT,
    CorruptPacket,
    CrcMismatchError,
    Instruction,
    InstructionPacket,
    PacketError,
    PacketParser,
    StatusError,
    StatusPacket,
    build_instruction,
    build_status,
    crc16,
    decode_status_error,
    parse_status,
    stuff,
    unstuff,
)
from dexndm_envs.dynamixel.server import (
    FollowerBackend,
    MotorBackend,
    VirtualDynamixelServer,
)
from dexndm_envs.dynamixel.usb_adapter import UsbAdapter

__all__ = [
    "BROADCAST_ID",
    "CURRENT_UNIT_MA",
    "ERRBIT_ALERT",
    "FIELDS",
    "HARDWARE_ERROR_BITS",
    "MODEL_NUMBER_XC330_M288",
    "TICKS_PER_REV",
    "VELOCITY_UNIT_RPM",
    "AccessError",
    "AddressRangeError",
    "ControlTable",
    "ControlTableError",
    "CorruptPacket",
    "CrcMismatchError",
    "DataLengthError",
    "DataRangeError",
    "EepromLockedError",
    "FastReadBlock",
    "FaultConfig",
    "Field",
    "FollowerBackend",
    "Instruction",
    "InstructionPacket",
    "MotorBackend",
    "PacketError",
    "PacketParser",
    "StatusError",
    "StatusPacket",
    "UnknownFieldError",
    "UsbAdapter",
    "VirtualBus",
    "VirtualDynamixelServer",
    "build_fast_read_status",
    "build_fast_sync_read_status",
    "build_instruction",
    "build_status",
    "crc16",
    "decode_hardware_error",
    "decode_status_error",
    "field",
    "parse_fast_read_status",
    "parse_status",
    "rad_to_ticks",
    "stuff",
    "ticks_to_rad",
    "unstuff",
]
