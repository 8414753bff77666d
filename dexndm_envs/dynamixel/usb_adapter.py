"""When a reply reaches the host through a USB serial adapter: bytes on the wire, latency timer.

The LEAP hand's bus reaches the computer through a U2D2, an FTDI USB-serial bridge. Two things
set how long a request-reply exchange takes there, beyond the devices' own Return Delay Time:

- the wire: every byte is a start bit, 8 data bits and a stop bit at the bus's baud rate
  (2.5 us a byte at 4 Mbaud), the request on the way out and the reply on the way back;
- the adapter's latency timer (FTDI application note AN232B-04, "Data Throughput, Latency and
  Handshaking"): the chip collects the bytes it receives from the bus and sends them to the host
  when they fill a USB packet or when the latency timer expires, and it restarts
  the timer whenever it sends, the 2-byte modem-status packets it sends on every expiry while
  idle included. The timer therefore ticks on a fixed grid, and the end of a reply waits for
  the next tick: 0 to 16 ms with the driver's default of 16 ms, 0 to 1 ms after the usual fix
  (`echo 1 > /sys/bus/usb-serial/devices/ttyUSB0/latency_timer`). A client that sends its next
  request as soon as a reply arrives falls into step with the grid, so each exchange costs one
  whole period: about 16 ms, the 30-90 Hz that LEAP hand users report.

`UsbAdapter.delivery_s` applies that model to a whole reply: it arrives at the first tick at or
after its last byte left the bus. Full USB packets that go early are not modelled: a client
waits for the last byte, so they change when a long reply starts to arrive, not when it ends.
With latency_timer_ms = 0 (the default) there is no adapter: bytes arrive as soon as they are
computed, and the wire takes no time either - what the software alone costs.

Example:
    >>> adapter = UsbAdapter(latency_timer_ms=16.0, epoch_s=0.0)
    >>> round(adapter.delivery_s(0.0031) * 1e3, 3)  # a reply ready 3.1 ms after a tick
    16.0
    >>> round(wire_time_s(232, 4_000_000) * 1e6, 1)  # a fast sync read reply of 16 motors, us
    580.0
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

BITS_PER_BYTE = 10
"""8N1 framing on the Dynamixel TTL bus: start bit, 8 data bits, stop bit."""
FTDI_DEFAULT_LATENCY_TIMER_MS = 16.0
"""The latency timer the Linux ftdi_sio driver sets when the adapter is plugged in."""
FTDI_FIXED_LATENCY_TIMER_MS = 1.0
"""The usual fix for slow Dynamixel reads: the shortest latency timer."""


def wire_time_s(n_bytes: int, baud_bps: int) -> float:
    """Seconds that n_bytes take on the bus at baud_bps."""
    return n_bytes * BITS_PER_BYTE / baud_bps


@dataclass
class UsbAdapter:
    """The adapter's latency timer (see the module docstring).

    Attributes:
        latency_timer_ms: the timer period; 0 models no adapter at all.
        epoch_s: a tick of the timer on the time.monotonic() clock (the grid's origin).
    """

    latency_timer_ms: float = 0.0
    epoch_s: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if not 0.0 <= self.latency_timer_ms <= 255.0:  # the FTDI register is one byte of ms
            raise ValueError(f"latency_timer_ms must be in 0..255, got {self.latency_timer_ms}")

    @property
    def enabled(self) -> bool:
        """Whether an adapter is modelled at all."""
        return self.latency_timer_ms > 0.0

    def delivery_s(self, last_byte_s: float) -> float:
        """When a reply whose last byte left the bus at last_byte_s reaches the host."""
        if not self.enabled:
            return last_byte_s
        period_s = self.latency_timer_ms / 1000.0
        return self.epoch_s + math.ceil((last_byte_s - self.epoch_s) / period_s) * period_s
