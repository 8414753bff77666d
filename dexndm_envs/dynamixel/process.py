"""Run a virtual-hand server in its own process and get its port.

The SDK busy-waits while it reads, so a server sharing the client's process (and GIL) slows
both; benchmarks and end-to-end tests run `real/virtual_hand.py` (or any program that prints
`PORT=<path>` on a line of its own) as a child process instead.

Usage:
    with served_port([sys.executable, "real/virtual_hand.py", "--lockstep"]) as port:
        env = gym.make("DexNDM-Real-v0", port=port, realtime=False)
"""

from __future__ import annotations

import contextlib
import select
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any


class ServerStartError(RuntimeError):
    """The server exited or printed no PORT= line in time."""


@contextlib.contextmanager
def served_port(
    command: Sequence[str],
    *,
    stderr: IO[Any] | int | None = subprocess.DEVNULL,
    cwd: str | Path | None = None,
    timeout_s: float = 60.0,
) -> Iterator[str]:
    """Start `command`, yield the path it prints as PORT=..., terminate it afterwards.

    Raises:
        ServerStartError: when it exits or prints no PORT= line within timeout_s.
    """
    server = subprocess.Popen(
        list(command), stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=cwd
    )
    try:
        port = _read_port(server, timeout_s)
        assert server.stdout is not None
        threading.Thread(target=server.stdout.read, daemon=True).start()  # keep it drained
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _read_port(server: subprocess.Popen, timeout_s: float) -> str:
    assert server.stdout is not None
    deadline = time.monotonic() + timeout_s
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([server.stdout], [], [], remaining)
        line = server.stdout.readline() if ready else ""
        if line.startswith("PORT="):
            return line.strip().removeprefix("PORT=")
        if ready and not line:
            raise ServerStartError(f"{' '.join(server.args)} exited (rc {server.wait()})")
    raise ServerStartError(f"{' '.join(server.args)} printed no PORT= line in {timeout_s} s")
