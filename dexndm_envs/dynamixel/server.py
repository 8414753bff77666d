"""Virtual Dynamixel devices answering Protocol 2.0 on a pseudo-terminal.

`VirtualDynamixelServer` opens a pty and behaves like a bus of XC330 servos (IDs 0-15 by
default): any client that opens `port_path` with pyserial, e.g. the official dynamixel-sdk,
talks to it as to /dev/ttyUSB0. The physics behind the devices is a pluggable `MotorBackend`;
`FollowerBackend` is a trivial one that needs no simulator. Faults (lost, corrupted and late
replies, dead and overloaded motors) come from a `FaultConfig` and a seeded generator.

Usage:
    with VirtualDynamixelServer(lockstep=True) as server:
        port = dynamixel_sdk.PortHandler(server.port_path)
        port.openPort()
        ...

Timing: with lockstep=True the physics advances exactly one `control_period_s` per instruction
that writes Goal Position (116) - WRITE or SYNC WRITE, once per instruction - and never
otherwise. With lockstep=False (default) it follows wall time: before each request and every
`idle_period_s` while idle the server calls apply, advance(elapsed) and report.

Bus timing: each reply is held back by the devices' Return Delay Time (addr 9; 500 us at the
factory setting, 0 in the LEAP hand config) and, with latency_timer_ms > 0, by the wire at the
bus's baud rate and the USB adapter's latency timer (usb_adapter.py): 16 ms is the FTDI
default, 1 ms the usual fix. The default 0 leaves the adapter out, so tests run fast.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
import tty
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Protocol

from dexndm_envs.core.constants import CTRL_DT_S, MOTOR_IDS
from dexndm_envs.dynamixel.control_table import (
    BAUD_RATE_BPS,
    RAD_PER_TICK,
    VELOCITY_UNIT_RAD_S,
    ControlTable,
    current_bound_ma,
)
from dexndm_envs.dynamixel.devices import FaultConfig as FaultConfig
from dexndm_envs.dynamixel.devices import VirtualBus
from dexndm_envs.dynamixel.protocol import CorruptPacket, InstructionPacket, PacketParser
from dexndm_envs.dynamixel.usb_adapter import UsbAdapter, wire_time_s

logger = logging.getLogger(__name__)

DEFAULT_MOTOR_IDS: tuple[int, ...] = tuple(sorted(MOTOR_IDS))
"""The LEAP hand's bus: IDs 0..15."""


class MotorBackend(Protocol):
    """The physics behind the virtual devices."""

    control_period_s: float
    """Physics time one lockstep goal-position write advances (0.05 s for the LEAP hand)."""

    def apply(self, tables: Mapping[int, ControlTable]) -> None:
        """Read the RAM registers that drive the physics (torque, gains, goals) by motor ID."""
        ...

    def advance(self, duration_s: float) -> None:
        """Move the physics forward by duration_s seconds."""
        ...

    def report(self, tables: Mapping[int, ControlTable]) -> None:
        """Write present position / velocity / current and moving into the tables."""
        ...


class FollowerBackend:
    """Each motor's position moves towards its goal at a fixed speed while torque is on.

    Present Velocity is the speed of that motion and Present Current what a proportional
    position loop would draw (Position P Gain / 128 mA per tick of error, clipped to the
    Current Limit, and in current-based position control (mode 5) to |Goal Current| below
    it), both signed like the motion, so the server is useful without MuJoCo.

    Args:
        motor_ids: the IDs it simulates.
        control_period_s: lockstep period (s).
        speed_ticks_per_s: speed towards the goal (default 1 rev/s, about an XC330 at 5 V).
        initial_ticks: starting position of every motor (2048 = flat hand).
    """

    def __init__(
        self,
        motor_ids: Iterable[int] = DEFAULT_MOTOR_IDS,
        *,
        control_period_s: float = CTRL_DT_S,
        speed_ticks_per_s: float = 4096.0,
        initial_ticks: int = 2048,
    ) -> None:
        self.control_period_s = control_period_s
        self.speed_ticks_per_s = speed_ticks_per_s
        self.position_ticks = {dxl_id: float(initial_ticks) for dxl_id in motor_ids}
        self.velocity_ticks_per_s = dict.fromkeys(self.position_ticks, 0.0)
        self._goal_ticks = dict(self.position_ticks)
        self._torque_on = dict.fromkeys(self.position_ticks, False)
        self._current_limit_ma = dict.fromkeys(self.position_ticks, 0)
        self._p_gain = dict.fromkeys(self.position_ticks, 0)

    def apply(self, tables: Mapping[int, ControlTable]) -> None:
        for dxl_id in self.position_ticks:
            table = tables[dxl_id]
            self._torque_on[dxl_id] = bool(table.get("torque_enable"))
            self._goal_ticks[dxl_id] = float(table.get("goal_position"))
            self._current_limit_ma[dxl_id] = int(
                current_bound_ma(
                    table.get("operating_mode"),
                    table.get("goal_current"),
                    table.get("current_limit"),
                )
            )
            self._p_gain[dxl_id] = table.get("position_p_gain")

    def advance(self, duration_s: float) -> None:
        if duration_s <= 0.0:
            return
        max_step = self.speed_ticks_per_s * duration_s
        for dxl_id, position in self.position_ticks.items():
            error = self._goal_ticks[dxl_id] - position if self._torque_on[dxl_id] else 0.0
            step = max(-max_step, min(max_step, error))
            self.position_ticks[dxl_id] = position + step
            self.velocity_ticks_per_s[dxl_id] = step / duration_s

    def report(self, tables: Mapping[int, ControlTable]) -> None:
        for dxl_id, position in self.position_ticks.items():
            table = tables[dxl_id]
            velocity = self.velocity_ticks_per_s[dxl_id]
            current = 0.0
            if self._torque_on[dxl_id]:
                error = self._goal_ticks[dxl_id] - position
                limit = self._current_limit_ma[dxl_id]
                current = max(-limit, min(limit, error * self._p_gain[dxl_id] / 128.0))
            table.set("present_position", round(position))
            # = rad_s_to_velocity_units(velocity * RAD_PER_TICK), without numpy per scalar
            table.set("present_velocity", round(velocity * RAD_PER_TICK / VELOCITY_UNIT_RAD_S))
            table.set("present_current", round(current))
            table.set("moving", int(velocity != 0.0))


class VirtualDynamixelServer:
    """A bus of virtual Dynamixel devices on a pseudo-terminal.

    Args:
        motor_ids: IDs of the devices on the bus (default 0..15).
        backend: physics behind them (default: a FollowerBackend for motor_ids).
        lockstep: advance the physics one control period per goal-position write (see module).
        faults: faults to inject (default: none).
        seed: seed of the generator that draws drops and corruptions.
        idle_period_s: how often the real-time physics is advanced while no request comes.
        latency_timer_ms: model the USB adapter's latency timer and the wire (16 = the FTDI
            default, 1 = the usual fix); 0 leaves them out (see the module docstring).

    Attributes:
        port_path: the pty's device path; open it like a serial port.
        bus: the VirtualBus that answers the requests; `motor_ids`, `tables` (control table
            by ID), `stats` (counters of requests, replies, dropped/corrupted replies, CRC
            errors, requests ignored by dead motors) and `faults` (settable) are its. The
            server thread changes them: hold `lock` while touching them from another thread.
        adapter: the USB adapter model (usb_adapter.UsbAdapter) that holds replies back.
    """

    def __init__(
        self,
        motor_ids: Iterable[int] = DEFAULT_MOTOR_IDS,
        backend: MotorBackend | None = None,
        *,
        lockstep: bool = False,
        faults: FaultConfig | None = None,
        seed: int | None = None,
        idle_period_s: float = 0.005,
        latency_timer_ms: float = 0.0,
    ) -> None:
        self.bus = VirtualBus(motor_ids, faults, seed, on_goal_position_write=self._lockstep_step)
        self.adapter = UsbAdapter(latency_timer_ms)
        self.backend: MotorBackend = backend or FollowerBackend(self.motor_ids)
        self.lockstep = lockstep
        self.idle_period_s = idle_period_s
        self.lock = threading.RLock()
        self._parser = PacketParser()
        self._master_fd, self._slave_fd = os.openpty()
        tty.setraw(self._slave_fd)  # no echo, no line discipline: bytes pass untouched
        os.set_blocking(self._master_fd, False)
        self._wake_r, self._wake_w = os.pipe()
        self.port_path = os.ttyname(self._slave_fd)
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._last_advance_s = time.monotonic()
        self._last_input_s = self._last_advance_s
        self.backend.report(self.tables)

    @property
    def motor_ids(self) -> tuple[int, ...]:
        return self.bus.motor_ids

    @property
    def tables(self) -> dict[int, ControlTable]:
        return self.bus.tables

    @property
    def stats(self) -> dict[str, int]:
        return self.bus.stats

    @property
    def faults(self) -> FaultConfig:
        return self.bus.faults

    @faults.setter
    def faults(self, faults: FaultConfig) -> None:
        """Change the injected faults (e.g. a motor dies mid-run); hold `lock` while serving."""
        self.bus.faults = faults

    # ------------------------------------------------------------ lifecycle
    def start(self) -> VirtualDynamixelServer:
        """Serve from a background daemon thread; returns self."""
        if self._closed:
            raise RuntimeError(f"the server on {self.port_path} is closed; create a new one")
        if self.is_running:
            raise RuntimeError(f"the server on {self.port_path} is already running")
        self._stop_event.clear()
        self._thread = threading.Thread(
            target=self.serve_forever, name=f"dynamixel-server {self.port_path}", daemon=True
        )
        self._thread.start()
        return self

    @property
    def is_running(self) -> bool:
        """Whether the background thread started by start() is serving."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the background thread (no-op when not running)."""
        self._stop_event.set()
        if not self._closed:
            os.write(self._wake_w, b"\0")
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise RuntimeError(
                    f"server thread on {self.port_path} did not stop in {timeout_s} s"
                )
            self._thread = None

    def close(self) -> None:
        """Stop serving and close the pty; the port path stops existing."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        for fd in (self._master_fd, self._slave_fd, self._wake_r, self._wake_w):
            os.close(fd)

    def __enter__(self) -> VirtualDynamixelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def serve_forever(self, stop: threading.Event | None = None) -> None:
        """Answer requests until `stop` (or stop()/close()) is set."""
        stop_event = stop or self._stop_event
        while not (stop_event.is_set() or self._stop_event.is_set() or self._closed):
            # Lockstep physics needs no idle ticks; stop() wakes the select up either way.
            idle = self.lockstep and not self._parser.pending
            self.poll(0.1 if idle else self.idle_period_s)

    # ------------------------------------------------------------ I/O
    def poll(self, timeout_s: float = 0.0) -> int:
        """Wait up to timeout_s for request bytes and answer them; returns packets handled."""
        try:
            ready, _, _ = select.select([self._master_fd, self._wake_r], [], [], timeout_s)
        except (OSError, ValueError):
            if self._closed:  # closed under a serve_forever() the caller runs itself
                return 0
            raise
        if self._wake_r in ready:
            os.read(self._wake_r, 64)
        with self.lock:
            if self._master_fd not in ready:
                self._drop_stale_input()
                self._follow_wall_time()
                return 0
            try:
                chunk = os.read(self._master_fd, 4096)
            except (BlockingIOError, InterruptedError):
                return 0
            self._last_input_s = time.monotonic()
            packets = self._parser.feed(chunk)
            for packet in packets:
                self._follow_wall_time()
                replies = self.bus.handle(packet)
                self._send(replies, self._reply_due_s(packet, replies))
            return len(packets)

    def _drop_stale_input(self, stale_after_s: float = 0.05) -> None:
        # A packet cut short (or a corrupted LEN) must not hold the next request hostage.
        if self._parser.pending and time.monotonic() - self._last_input_s > stale_after_s:
            logger.debug("dropping %d stale bytes on %s", self._parser.reset(), self.port_path)

    def _reply_due_s(
        self, request: InstructionPacket | CorruptPacket, replies: list[bytes]
    ) -> float:
        """When the replies to a request that arrived at _last_input_s reach the client."""
        due_s = self._last_input_s + self.faults.delay_ms / 1000.0  # a late device (fault)
        due_s += self.bus.return_delay_s(replies)
        if replies and self.adapter.enabled:
            if isinstance(request, CorruptPacket):
                request_bytes = len(request.raw)
            else:  # header, ID, LEN, INST, params, CRC
                request_bytes = 10 + len(request.params)
            n_bytes = request_bytes + sum(len(reply) for reply in replies)
            baud_bps = BAUD_RATE_BPS.get(self.tables[self.motor_ids[0]].get("baud_rate"))
            due_s = self.adapter.delivery_s(due_s + wire_time_s(n_bytes, baud_bps or 4_000_000))
        return due_s

    def _send(self, replies: list[bytes], due_s: float = 0.0) -> None:
        if not replies:
            return
        if (wait_s := due_s - time.monotonic()) > 0.0:
            time.sleep(wait_s)  # the devices and the USB adapter take this long
        pending = memoryview(b"".join(replies))
        deadline = time.monotonic() + 0.5
        while pending:
            try:
                pending = pending[os.write(self._master_fd, pending) :]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    logger.warning(
                        "nobody reads %s; dropped %d bytes", self.port_path, len(pending)
                    )
                    return
                select.select([], [self._master_fd], [], 0.01)

    # ------------------------------------------------------------ physics
    def _follow_wall_time(self) -> None:
        if self.lockstep:
            return
        now = time.monotonic()
        self.backend.apply(self.tables)
        self.backend.advance(now - self._last_advance_s)
        self.backend.report(self.tables)
        self._last_advance_s = now

    def _lockstep_step(self) -> None:
        if self.lockstep:
            self.backend.apply(self.tables)
            self.backend.advance(self.backend.control_period_s)
            self.backend.report(self.tables)
