"""Torque off however a program ends, short of SIGKILL: the safety net of every open bus.

Every open `DynamixelBus` is watched; at interpreter exit and on Ctrl-C (SIGINT), SIGTERM,
SIGHUP and SIGQUIT each one is closed, which switches its motors' torque off, before the program
goes on to end: SIGINT as before (KeyboardInterrupt), the others by `ShutdownSignal`, an orderly
exit with status 128 + signum. SIGKILL cannot be caught; real/README.md ("Safety") says what it
leaves and how the next start recovers.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import threading
import weakref
from typing import Any, Protocol

SHUTDOWN_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
    if hasattr(signal, name)
)
"""Signals that end a program with every open bus's torque switched off first: Ctrl-C, kill's
default, a closed terminal or dropped SSH session, and Ctrl-\\. SIGKILL cannot be caught
(real/README.md, "Safety", says what it leaves and how the next start recovers)."""


class ShutdownSignal(SystemExit):
    """SIGTERM, SIGHUP or SIGQUIT arrived while a bus was open; the torque is already off.

    A SystemExit with the shell's status for a signal, 128 + signum: the program unwinds (its
    `finally` blocks and exit handlers run; `except Exception` does not stop it) and ends with
    that status, without a traceback, unless it catches this to say more.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(128 + int(signum))
        self.signum = int(signum)
        self.signal_name = signal.Signals(signum).name


class Closable(Protocol):
    """What the safety net closes: an open bus, whose close() switches the torque off."""

    def close(self) -> None: ...


_watched: weakref.WeakSet[Closable] = weakref.WeakSet()


def watch(bus: Closable) -> None:
    """Close `bus` at interpreter exit and on the shutdown signals, until `forget(bus)`; the
    first call installs the handlers."""
    _install_safety_net()
    _watched.add(bus)


def forget(bus: Closable) -> None:
    """Stop watching a bus (it has closed)."""
    _watched.discard(bus)


def _torque_off_everywhere() -> None:
    for bus in list(_watched):
        with contextlib.suppress(Exception):  # shutting down: do what can be done
            bus.close()


_safety_net: dict[str, Any] = {}


def _on_shutdown_signal(signum: int, frame: Any) -> None:
    """Torque off on every open bus, then the signal's previous handler (SIGINT's raises
    KeyboardInterrupt), or ShutdownSignal where the signal would have killed the process."""
    if _safety_net.get("busy"):
        return  # a second signal while the torque goes off: let that finish first
    _safety_net["busy"] = True
    try:
        _torque_off_everywhere()
    finally:
        _safety_net["busy"] = False
    previous = _safety_net["previous"].get(signum)
    if callable(previous):  # SIGINT's default raises KeyboardInterrupt
        previous(signum, frame)
        return
    raise ShutdownSignal(signum)


def _install_safety_net() -> None:
    """Once, when the first bus opens: torque off at interpreter exit and on every signal of
    SHUTDOWN_SIGNALS, which then does what it did before or ends the program by an exception.

    A signal a program ignores (SIG_IGN, as `nohup` sets SIGHUP) stays ignored: the program
    goes on and keeps the hand. Handlers can only be set from the main thread; a bus first
    opened in another thread has the exit handler only.
    """
    if _safety_net:
        return
    atexit.register(_torque_off_everywhere)
    _safety_net["previous"] = {}
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in SHUTDOWN_SIGNALS:
        previous = signal.getsignal(signum)
        if previous is signal.SIG_IGN:
            continue
        _safety_net["previous"][signum] = previous
        signal.signal(signum, _on_shutdown_signal)
