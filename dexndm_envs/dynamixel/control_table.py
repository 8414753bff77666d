"""The X-series (XC330-M288) control table, its hardware error bits and unit conversions.

The one source of truth for addresses, sizes, access rights and defaults of the servos on the
LEAP hand bus. Numbers come from the ROBOTIS e-Manual, XC330-M288 page ("Control Table of EEPROM
Area" / "Control Table of RAM Area", "Shutdown(63)"). The Protocol 2.0 codes (instructions,
status errors, broadcast ID) are defined in protocol.py and re-exported here.

Example:
    >>> table = ControlTable(dxl_id=3)
    >>> table.set("goal_current", -350)
    >>> table.read(102, 2)
    b'\\xa2\\xfe'
    >>> table.get("goal_current")
    -350
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np

from dexndm_envs.core.constants import HARDWARE_ANGLE_OFFSET_RAD
from dexndm_envs.dynamixel.protocol import BROADCAST_ID as BROADCAST_ID
from dexndm_envs.dynamixel.protocol import ERRBIT_ALERT as ERRBIT_ALERT
from dexndm_envs.dynamixel.protocol import MAX_ID, StatusError
from dexndm_envs.dynamixel.protocol import Instruction as Instruction
from dexndm_envs.dynamixel.protocol import decode_status_error as decode_status_error

# ---------------------------------------------------------------- hardware errors
HARDWARE_ERROR_BITS: dict[int, str] = {
    0: "input voltage error",
    2: "overheating error",
    3: "motor encoder error",
    4: "electrical shock error",
    5: "overload error",
}
"""Hardware Error Status (70) bits (e-Manual, X-series "Shutdown(63)"); bits 1, 6, 7 unused."""

OVERLOAD_ERROR_BIT = 1 << 5


def decode_hardware_error(bits: int) -> list[str]:
    """Names of the errors set in a Hardware Error Status (70) value, lowest bit first."""
    names = [name for bit, name in HARDWARE_ERROR_BITS.items() if bits & (1 << bit)]
    unknown = bits & ~sum(1 << bit for bit in HARDWARE_ERROR_BITS)
    if unknown:
        names.append(f"unknown bits 0x{unknown:02X}")
    return names


# ---------------------------------------------------------------- control table fields
MODEL_NUMBER_XC330_M288 = 1240
"""e-Manual, XC330-M288, Model Number (0) initial value."""
DEFAULT_FIRMWARE_VERSION = 52
"""The e-Manual gives no value; any recent X-series firmware number (v41+ flashes the LED)."""
BAUD_RATE_CODE_4M = 6
"""Baud Rate (8) code for 4 Mbps, the LEAP hand's bus speed (e-Manual: 0=9600 ... 6=4M)."""
BAUD_RATE_BPS: dict[int, int] = {
    0: 9_600,
    1: 57_600,
    2: 115_200,
    3: 1_000_000,
    4: 2_000_000,
    5: 3_000_000,
    6: 4_000_000,
}
"""Bits per second of each Baud Rate (8) code (e-Manual, XC330-M288 "Baud Rate(8)")."""
RETURN_DELAY_UNIT_S = 2e-6
"""Return Delay Time (9) unit: a device waits value x 2 us before its status packet (e-Manual;
factory value 250 = 500 us, the LEAP hand config sets 0)."""
OPERATING_MODE_POSITION = 3
"""Operating Mode (11) of position control, the XC330's factory setting (e-Manual); the LEAP
hand runs mode 5, current-based position control (hand_config)."""
OPERATING_MODE_CURRENT_BASED_POSITION = 5
"""Operating Mode (11) of current-based position control (e-Manual), which the LEAP hand runs."""
STATUS_RETURN_PING, STATUS_RETURN_READ, STATUS_RETURN_ALL = 0, 1, 2
"""Status Return Level (68) values (e-Manual): answer PING only; PING and READ; everything."""
EEPROM_END = 64
"""Addresses below this are EEPROM, writable only with Torque Enable (64) = 0."""
TABLE_SIZE = 148
"""Bytes 0..147; the indirect address/data area (168-227) is not emulated."""


@dataclass(frozen=True)
class Field:
    """One control table item.

    Attributes:
        name: snake_case name, as used by ControlTable.get/set.
        address: first byte.
        size: bytes (1, 2 or 4), little-endian.
        signed: two's complement when True.
        access: "R" (read-only) or "RW".
        default: initial value after power-on (e-Manual "Initial Value"; "-" entries documented).
        minimum, maximum: accepted range for set/write (defaults to the full size range).
    """

    name: str
    address: int
    size: int
    signed: bool = False
    access: Literal["R", "RW"] = "RW"
    default: int = 0
    minimum: int | None = None
    maximum: int | None = None

    @property
    def area(self) -> Literal["EEPROM", "RAM"]:
        return "EEPROM" if self.address < EEPROM_END else "RAM"

    @functools.cached_property
    def value_range(self) -> tuple[int, int]:
        """Inclusive (low, high) a value must lie in."""
        bits = 8 * self.size
        low, high = (
            (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if self.signed else (0, (1 << bits) - 1)
        )
        low = low if self.minimum is None else self.minimum
        high = high if self.maximum is None else self.maximum
        return low, high


def _f(
    name: str,
    address: int,
    size: int,
    access: Literal["R", "RW"] = "RW",
    default: int = 0,
    *,
    signed: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
) -> Field:
    return Field(name, address, size, signed, access, default, minimum, maximum)


# e-Manual, XC330-M288 control table; "-" initial values: goals = limits or the flat hand
# (2048 ticks), present values = a resting motor at 5.0 V and room temperature.
FIELDS: tuple[Field, ...] = (
    # EEPROM area
    _f("model_number", 0, 2, "R", MODEL_NUMBER_XC330_M288),
    _f("model_information", 2, 4, "R"),
    _f("firmware_version", 6, 1, "R", DEFAULT_FIRMWARE_VERSION),
    _f("id", 7, 1, default=1, maximum=MAX_ID),
    _f("baud_rate", 8, 1, default=1, maximum=6),
    _f("return_delay_time", 9, 1, default=250, maximum=254),  # unit 2 us
    _f("drive_mode", 10, 1, maximum=5),
    _f("operating_mode", 11, 1, default=OPERATING_MODE_POSITION, maximum=16),  # 5: LEAP
    _f("secondary_id", 12, 1, default=255),
    _f("protocol_type", 13, 1, default=2, minimum=2, maximum=22),
    _f("homing_offset", 20, 4, signed=True, minimum=-1_044_479, maximum=1_044_479),
    _f("moving_threshold", 24, 4, default=10, maximum=1023),  # 0.229 rpm
    _f("temperature_limit", 31, 1, default=70, maximum=100),  # 1 degC
    _f("max_voltage_limit", 32, 2, default=70, minimum=31, maximum=70),  # 0.1 V
    _f("min_voltage_limit", 34, 2, default=35, minimum=31, maximum=70),  # 0.1 V
    _f("pwm_limit", 36, 2, default=885, maximum=885),  # 0.113 %
    _f("current_limit", 38, 2, default=2352, maximum=2352),  # 1.0 mA; bounds every mode
    _f("velocity_limit", 44, 4, default=350, maximum=2047),  # 0.229 rpm
    _f("max_position_limit", 48, 4, default=4095, maximum=4095),
    _f("min_position_limit", 52, 4, default=0, maximum=4095),
    _f("startup_configuration", 60, 1, maximum=3),
    _f("pwm_slope", 62, 1, default=140, minimum=1),  # 1.977 mV/ms
    _f("shutdown", 63, 1, default=52),  # bits 2, 4, 5: overheating, electrical shock, overload
    # RAM area
    _f("torque_enable", 64, 1, maximum=1),
    _f("led", 65, 1, maximum=1),
    _f("status_return_level", 68, 1, default=STATUS_RETURN_ALL, maximum=2),
    _f("registered_instruction", 69, 1, "R"),
    _f("hardware_error_status", 70, 1, "R"),
    _f("velocity_i_gain", 76, 2, default=1600, maximum=16383),
    _f("velocity_p_gain", 78, 2, default=50, maximum=16383),
    _f("position_d_gain", 80, 2, default=500, maximum=16383),  # K_D = D / 16
    _f("position_i_gain", 82, 2, default=0, maximum=16383),  # K_I = I / 65536
    _f("position_p_gain", 84, 2, default=1100, maximum=16383),  # K_P = P / 128
    _f("feedforward_2nd_gain", 88, 2, maximum=16383),
    _f("feedforward_1st_gain", 90, 2, maximum=16383),
    _f("bus_watchdog", 98, 1, maximum=127),  # 20 ms
    _f("goal_pwm", 100, 2, default=885, signed=True, minimum=-885, maximum=885),
    _f("goal_current", 102, 2, default=2352, signed=True, minimum=-2352, maximum=2352),  # mA
    _f("goal_velocity", 104, 4, signed=True, minimum=-2047, maximum=2047),
    _f("profile_acceleration", 108, 4, maximum=32767),
    _f("profile_velocity", 112, 4, maximum=32767),
    _f("goal_position", 116, 4, default=2048, signed=True),  # 1 tick; flat hand = 2048
    _f("realtime_tick", 120, 2, "R"),  # 1 ms, wraps at 32767
    _f("moving", 122, 1, "R"),
    _f("moving_status", 123, 1, "R"),
    _f("present_pwm", 124, 2, "R", signed=True),
    _f("present_current", 126, 2, "R", signed=True),  # 1.0 mA (measured at the supply)
    _f("present_velocity", 128, 4, "R", signed=True),  # 0.229 rpm
    _f("present_position", 132, 4, "R", 2048, signed=True),  # 1 tick
    _f("velocity_trajectory", 136, 4, "R", signed=True),
    _f("position_trajectory", 140, 4, "R", 2048, signed=True),
    _f("present_input_voltage", 144, 2, "R", 50),  # 0.1 V
    _f("present_temperature", 146, 1, "R", 30),  # 1 degC
    _f("backup_ready", 147, 1, "R"),
)

FIELDS_BY_NAME: dict[str, Field] = {item.name: item for item in FIELDS}
_FIELD_AT: dict[int, Field] = {
    address: item for item in FIELDS for address in range(item.address, item.address + item.size)
}

ADDR_TORQUE_ENABLE = FIELDS_BY_NAME["torque_enable"].address
ADDR_GOAL_POSITION = FIELDS_BY_NAME["goal_position"].address
ADDR_PRESENT_CURRENT = FIELDS_BY_NAME["present_current"].address
LEN_CURRENT_VELOCITY_POSITION = 10
"""Present Current + Velocity + Position (126..135): the LEAP hand's one group read per cycle."""


# ---------------------------------------------------------------- errors
class ControlTableError(Exception):
    """A read or write the device would refuse; `status_error` is what its status packet says."""

    status_error: StatusError = StatusError.RESULT_FAIL


class AddressRangeError(ControlTableError, IndexError):
    """Address or length outside the control table."""

    status_error = StatusError.DATA_RANGE


class DataRangeError(ControlTableError, ValueError):
    """A value outside the item's range."""

    status_error = StatusError.DATA_RANGE


class DataLengthError(ControlTableError, ValueError):
    """A write that covers only part of a multi-byte item, or no bytes at all."""

    status_error = StatusError.DATA_LENGTH


class AccessError(ControlTableError):
    """A write to a read-only or undefined address."""

    status_error = StatusError.ACCESS


class EepromLockedError(AccessError):
    """An EEPROM write while Torque Enable (64) is 1 (the e-Manual's "ROM lock")."""


class UnknownFieldError(KeyError):
    """A field name the control table does not have."""


def field(name: str) -> Field:
    """The Field called `name`.

    Raises:
        UnknownFieldError: listing the valid names.
    """
    try:
        return FIELDS_BY_NAME[name]
    except KeyError:
        raise UnknownFieldError(
            f"no control table field {name!r}; valid fields: {', '.join(FIELDS_BY_NAME)}"
        ) from None


# ---------------------------------------------------------------- one device's table
class ControlTable:
    """The control table of one device: a bytearray initialised from the defaults.

    Raw `read`/`write` behave like the device does for Protocol 2.0 READ/WRITE (and raise the
    ControlTableError whose `status_error` the device would answer); `get`/`set` are typed
    access by field name for the server and physics backends, and bypass the access checks.

    Args:
        dxl_id: the device's ID (stored in field "id").
        **overrides: initial values by field name, e.g. baud_rate=BAUD_RATE_CODE_4M.
    """

    def __init__(self, dxl_id: int = 1, **overrides: int) -> None:
        self._bytes = bytearray(TABLE_SIZE)
        for item in FIELDS:
            self.set(item.name, item.default)
        self.set("id", dxl_id)
        for name, value in overrides.items():
            self.set(name, value)

    @property
    def dxl_id(self) -> int:
        return self.get("id")

    def get(self, name: str) -> int:
        """Value of a field, sign-extended where the field is signed."""
        item = FIELDS_BY_NAME.get(name) or field(name)
        return int.from_bytes(
            self._bytes[item.address : item.address + item.size], "little", signed=item.signed
        )

    def set(self, name: str, value: int) -> None:
        """Set a field (no access checks: for the device itself and its physics).

        Raises:
            DataRangeError: for a value outside the field's range.
        """
        item = FIELDS_BY_NAME.get(name) or field(name)
        low, high = item.value_range
        value = int(value)
        if not low <= value <= high:
            raise DataRangeError(f"{name} = {value} is outside {low}..{high}")
        self._bytes[item.address : item.address + item.size] = value.to_bytes(
            item.size, "little", signed=item.signed
        )

    def read(self, address: int, length: int) -> bytes:
        """Raw bytes, as a Protocol 2.0 READ returns them (gaps between items read as 0).

        Raises:
            DataLengthError: for length < 1.
            AddressRangeError: when address..address+length-1 leaves the table.
        """
        if length < 1:
            raise DataLengthError(f"read of {length} bytes at address {address}; need >= 1")
        _check_span(address, length)
        return bytes(self._bytes[address : address + length])

    def write(self, address: int, data: bytes) -> None:
        """Write raw bytes as a Protocol 2.0 WRITE does: all or nothing.

        Raises:
            AddressRangeError: when the bytes leave the table.
            DataLengthError: for no data or a partly covered multi-byte item.
            AccessError: for read-only or undefined addresses.
            EepromLockedError: for EEPROM bytes while torque is enabled.
            DataRangeError: for a value outside an item's range.
        """
        if not data:
            raise DataLengthError(f"write of 0 bytes at address {address}")
        _check_span(address, len(data))
        staged = bytearray(self._bytes)
        for item in _fields_written(address, len(data)):
            self._check_writable(item)
            offset = item.address - address
            value = int.from_bytes(data[offset : offset + item.size], "little", signed=item.signed)
            low, high = item.value_range
            if not low <= value <= high:
                raise DataRangeError(f"{item.name} = {value} is outside {low}..{high}")
            staged[item.address : item.address + item.size] = data[offset : offset + item.size]
        self._bytes[:] = staged

    def _check_writable(self, item: Field) -> None:
        if item.access != "RW":
            raise AccessError(f"{item.name} (address {item.address}) is read-only")
        if item.area == "EEPROM" and self.get("torque_enable"):
            raise EepromLockedError(
                f"{item.name} (address {item.address}) is in EEPROM and torque is enabled on "
                f"ID {self.dxl_id}; write torque_enable (64) = 0 first"
            )


def _check_span(address: int, length: int) -> None:
    if address < 0 or address + length > TABLE_SIZE:
        raise AddressRangeError(
            f"bytes {address}..{address + length - 1} leave the control table (0..{TABLE_SIZE - 1})"
        )


def _fields_written(address: int, length: int) -> list[Field]:
    """The items a write of `length` bytes at `address` covers; each must be covered whole."""
    covered: list[Field] = []
    for byte_address in range(address, address + length):
        item = _FIELD_AT.get(byte_address)
        if item is None:
            raise AccessError(f"address {byte_address} is not a control table item")
        if item.address < address or item.address + item.size > address + length:
            raise DataLengthError(
                f"write of bytes {address}..{address + length - 1} covers only part of "
                f"{item.name} ({item.size} bytes at {item.address})"
            )
        if not covered or covered[-1] is not item:
            covered.append(item)
    return covered


# ---------------------------------------------------------------- units
TICKS_PER_REV = 4096
"""Present/Goal Position resolution (e-Manual: 4096 pulse/rev)."""
RAD_PER_TICK = 2.0 * np.pi / TICKS_PER_REV
VELOCITY_UNIT_RPM = 0.229
"""Present/Goal Velocity unit (e-Manual)."""
CURRENT_UNIT_MA = 1.0
"""Present/Goal Current and Current Limit unit of the XC330 ("about 1 [mA]", e-Manual;
measured at the supply, unlike other X-series)."""
VOLTAGE_UNIT_V = 0.1
VELOCITY_UNIT_RAD_S = VELOCITY_UNIT_RPM * 2.0 * np.pi / 60.0
"""One Present/Goal Velocity unit in rad/s."""


def rad_to_ticks(q_rad: float | np.ndarray) -> int | np.ndarray:
    """Model joint angle(s) to Goal/Present Position ticks: hardware angle = model angle + pi.

    A flat hand (0 rad) is 2048 ticks.
    """
    ticks = np.rint(
        (np.asarray(q_rad, dtype=np.float64) + HARDWARE_ANGLE_OFFSET_RAD) / RAD_PER_TICK
    )
    return int(ticks) if ticks.ndim == 0 else ticks.astype(np.int64)


def ticks_to_rad(ticks: int | np.ndarray) -> float | np.ndarray:
    """Position ticks to model joint angle(s) in rad (inverse of rad_to_ticks)."""
    q_rad = np.asarray(ticks, dtype=np.float64) * RAD_PER_TICK - HARDWARE_ANGLE_OFFSET_RAD
    return float(q_rad) if q_rad.ndim == 0 else q_rad


def velocity_units_to_rad_s(units: int | np.ndarray) -> float | np.ndarray:
    """Present Velocity (0.229 rpm units) to rad/s."""
    rad_s = np.asarray(units, dtype=np.float64) * VELOCITY_UNIT_RAD_S
    return float(rad_s) if rad_s.ndim == 0 else rad_s


def rad_s_to_velocity_units(rad_s: float | np.ndarray) -> int | np.ndarray:
    """Angular velocity in rad/s to the nearest 0.229 rpm unit."""
    units = np.rint(np.asarray(rad_s, dtype=np.float64) / VELOCITY_UNIT_RAD_S)
    return int(units) if units.ndim == 0 else units.astype(np.int64)


def current_units_to_ma(units: int | np.ndarray) -> float | np.ndarray:
    """Present/Goal Current units to mA."""
    current_ma = np.asarray(units, dtype=np.float64) * CURRENT_UNIT_MA
    return float(current_ma) if current_ma.ndim == 0 else current_ma


def current_bound_ma(
    operating_mode: int | np.ndarray,
    goal_current_ma: int | np.ndarray,
    current_limit_ma: int | np.ndarray,
) -> np.ndarray:
    """The largest |current| (mA) the firmware lets through: Current Limit (38) in every
    operating mode, and in current-based position control (5) Goal Current (102) below it
    (e-Manual, "Current Limit(38)", "Goal Current(102)"). Elementwise over motors."""
    limit = np.asarray(current_limit_ma)
    goal = np.minimum(np.abs(goal_current_ma), limit)
    return np.where(
        np.asarray(operating_mode) == OPERATING_MODE_CURRENT_BASED_POSITION, goal, limit
    )
