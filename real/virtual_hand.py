"""Serve the virtual LEAP hand as 16 Dynamixel Protocol 2.0 devices on a pseudo-terminal.

Prints `PORT=<path>` on a line of its own, then serves until interrupted (Ctrl-C). Anything
that talks to a LEAP hand (DexNDM-Real-v0, real/collect_chaos_box.py, real/calibrate.py, the
official dynamixel-sdk) can be pointed at that path instead of /dev/ttyUSB0. The servos power
up as XC330s do (torque off, Operating Mode 3): a client brings them up as it would the hand.

Usage:
    python real/virtual_hand.py                           # task scene, real time
    python real/virtual_hand.py --scene chaos_box --wrist palm_down
    python real/virtual_hand.py --lockstep --drop-rate 0.05 --corrupt-rate 0.01
    python real/virtual_hand.py --dead-motor 5 --overload-motor 12
    python real/virtual_hand.py --latency-timer-ms 16     # bus timing of a U2D2 as plugged in
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Literal

from dexndm_envs.core.cli import run
from dexndm_envs.dynamixel import FaultConfig, VirtualDynamixelServer
from dexndm_envs.real.emulated_hand import VirtualHandBackend


@dataclass
class Args:
    """Serve the virtual LEAP hand over a pty."""

    profile: str = "default"
    """Hardware profile: a preset (default, gentle, worn) or a YAML/JSON file."""
    seed: int = 0
    """Which virtual hand (per-motor spread) and the scene's random draw."""
    wrist: str = "palm_up"
    """How the hand is mounted: palm_up, palm_down, base_up, base_down, thumb_up, thumb_down."""
    scene: Literal["task", "chaos_box"] = "task"
    """task: the hand holds `object` in a grasp; chaos_box: the hand in a box of soft balls."""
    object: str = "cylinder_0"
    """Object of the task scene."""
    lockstep: bool = False
    """Advance the physics one control period (0.05 s) per goal-position write instead of
    following wall time: fast, deterministic runs."""
    drop_rate: float = 0.0
    """Probability that a reply is lost."""
    corrupt_rate: float = 0.0
    """Probability that a reply is corrupted (one byte flipped)."""
    delay_ms: float = 0.0
    """Extra delay of every reply (ms)."""
    latency_timer_ms: float = 0.0
    """Model the USB adapter: replies wait for its latency timer (16 = the FTDI default, 1 =
    the usual fix) and the bytes take their time on the 4 Mbaud wire; 0 = software only."""
    dead_motor: tuple[int, ...] = ()
    """IDs of motors that never answer."""
    overload_motor: tuple[int, ...] = ()
    """IDs of motors that trip overload as soon as torque is enabled."""
    verbose: bool = False


def main(args: Args) -> None:
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    backend = VirtualHandBackend(
        profile=args.profile,
        seed=args.seed,
        wrist=args.wrist,
        scene_name=args.scene,
        object_name=args.object,
    )
    faults = FaultConfig(
        drop_rate=args.drop_rate,
        corrupt_rate=args.corrupt_rate,
        delay_ms=args.delay_ms,
        dead_motors=frozenset(args.dead_motor),
        overload_motors=frozenset(args.overload_motor),
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = VirtualDynamixelServer(
        backend=backend,
        lockstep=args.lockstep,
        faults=faults,
        seed=args.seed,
        latency_timer_ms=args.latency_timer_ms,
    )
    try:
        print(f"PORT={server.port_path}", flush=True)
        mode = "lockstep" if args.lockstep else "real time"
        if args.latency_timer_ms:
            mode += f", USB latency timer {args.latency_timer_ms:g} ms"
        print(
            f"virtual LEAP hand ({args.profile}, seed {args.seed}, {args.scene}, {args.wrist}, "
            f"{mode}); Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        server.serve_forever(stop)  # in this thread: signals arrive here
    finally:
        server.close()
        print(f"served: {server.stats}", file=sys.stderr)


if __name__ == "__main__":
    run(main, Args)
