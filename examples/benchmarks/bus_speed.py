"""Speed of the Dynamixel bus and steadiness of the 20 Hz loop, against the virtual LEAP hand.

Prints:
  1. bus cycles per second: one group read of Present Current + Velocity + Position of all 16
     motors plus one sync write of their Goal Positions (DynamixelBus.read_state +
     write_goal_ticks), p50/p95 cycle time, Fast Sync Read vs plain Sync Read, over the pty,
     after DynamixelBus.configure (Return Delay Time 0 unless the row says 500 us, the
     factory setting). Against:
       - a bare server around FollowerBackend (no simulator): the software overhead alone
         (dynamixel-sdk, DynamixelBus, pty, the Protocol 2.0 server);
       - the full virtual hand, `real/virtual_hand.py` in real time: what users run. Real
         time, not lockstep: each request advances the physics only by the wall time since
         the one before (a 10 ms MuJoCo step every few cycles), where lockstep would simulate
         0.05 s (5 steps) inside every goal write;
       - the same hand with the USB adapter modelled (`--latency-timer-ms`): the 4 Mbaud wire
         and the adapter's latency timer, 16 ms as the FTDI driver sets it and 1 ms after the
         usual fix (dexndm_envs/dynamixel/usb_adapter.py says how).
     Each server runs in its own process: the SDK busy-waits while it reads, so a server
     thread in this process would fight it for the GIL and the figures would measure that.
     The two read modes alternate every 50 cycles on one bus, so both see the same load.
     Re-reads: motors read again one by one after a group read lost them (a late reply).
     Fast Sync Read gets one status packet back instead of 16 (e-Manual).
  2. the cycle rate of the virtual hand with each latency timer next to the software-only one.
  3. the control loop of DexNDM-Real-v0 with realtime=True against the virtual hand: loop
     period p50/p95/max over --steps steps, and the overruns: steps whose work ran past the
     next 50 ms tick (the env then restarts its schedule rather than bursting).

For comparison, users of the public LEAP hand API report 30-90 Hz reads on the hardware (their
figure, over a U2D2 at 4 Mbaud; the usual fixes are the USB latency timer and Return Delay Time).

Usage:
    python examples/benchmarks/bus_speed.py
    python examples/benchmarks/bus_speed.py --quick
    python examples/benchmarks/bus_speed.py --cycles 5000 --steps 400 --out bus_speed.json
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

import dexndm_envs  # noqa: F401
from dexndm_envs.core.atomic import atomic_write_text
from dexndm_envs.core.cli import check_at_least, run
from dexndm_envs.core.constants import CTRL_DT_S
from dexndm_envs.dynamixel.process import served_port
from dexndm_envs.dynamixel.usb_adapter import (
    FTDI_DEFAULT_LATENCY_TIMER_MS,
    FTDI_FIXED_LATENCY_TIMER_MS,
)
from dexndm_envs.hand.config import default_hand_config
from dexndm_envs.real.bus import DynamixelBus

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_LEAP_API_HZ = (30, 90)
"""Reads per second that public LEAP hand API users report on hardware (shared facts)."""


@dataclass
class Args:
    """Measure bus cycle rate and control-loop jitter against the virtual LEAP hand."""

    cycles: int = 2000
    """Timed bus cycles per server and read mode, software only."""
    adapter_cycles: int = 300
    """Timed bus cycles per read mode with a USB latency timer modelled (16 ms: ~5 s each)."""
    warmup: int = 100
    """Untimed bus cycles first, per read mode (at most 20 with a latency timer)."""
    steps: int = 200
    """DexNDM-Real-v0 steps at 20 Hz (realtime=True) for the loop jitter; 0 skips it."""
    quick: bool = False
    """About 40 s in all: 300 cycles (100 with a latency timer) and 100 steps."""
    seed: int = 0
    """Seed of the random actions in the loop measurement."""
    out: Path | None = None
    """Write the figures as JSON here (nothing is written otherwise)."""


FOLLOWER_SERVER = (
    "from dexndm_envs.dynamixel.server import VirtualDynamixelServer\n"
    "server = VirtualDynamixelServer()  # FollowerBackend, real time\n"
    "print(f'PORT={server.port_path}', flush=True)\n"
    "server.serve_forever()"
)
VIRTUAL_HAND = "virtual hand (MuJoCo, real time)"
_HAND_SCRIPT = str(ROOT / "real" / "virtual_hand.py")
SERVERS = [  # (name, arguments to the Python interpreter, latency timer ms, Return Delay Times)
    ("FollowerBackend (no physics)", ["-c", FOLLOWER_SERVER], 0.0, (0,)),
    (VIRTUAL_HAND, [_HAND_SCRIPT], 0.0, (0,)),
    *(
        (VIRTUAL_HAND, [_HAND_SCRIPT, "--latency-timer-ms", str(ms)], ms, (250, 0))
        for ms in (FTDI_DEFAULT_LATENCY_TIMER_MS, FTDI_FIXED_LATENCY_TIMER_MS)
    ),
]
"""Each server runs in its own process; with a latency timer, each is measured at the factory
Return Delay Time (250 = 500 us) and at the LEAP hand config's 0."""


def time_cycles(bus: DynamixelBus, goal_ticks: np.ndarray, cycles: int) -> list[float]:
    """Seconds of each of `cycles` read_state + write_goal_ticks cycles."""
    cycle_s = []
    for _ in range(cycles):
        begin = time.perf_counter()
        bus.read_state()
        bus.write_goal_ticks(goal_ticks)
        cycle_s.append(time.perf_counter() - begin)
    return cycle_s


def measure_cycles(
    port: str, cycles: int, warmup: int, return_delay_time: int, block: int = 50
) -> list[dict]:
    """Fast Sync Read and Sync Read cycles on one configured bus (goals = the first reading),
    alternating every `block` cycles so that both see the same machine, whatever else runs."""
    cycle_s: dict[bool, list[float]] = {True: [], False: []}
    retries = dict.fromkeys(cycle_s, 0)
    hand = dataclasses.replace(default_hand_config(), return_delay_time=return_delay_time)
    with DynamixelBus(port) as bus:
        bus.configure(hand)
        bus.set_torque(True)
        goal_ticks = bus.read_state()[0]
        for fast in cycle_s:
            bus.fast_sync_read = fast
            time_cycles(bus, goal_ticks, warmup)
        while len(cycle_s[False]) < cycles:
            for fast, times in cycle_s.items():
                bus.fast_sync_read = fast
                before = bus.stats["read_retries"]
                times += time_cycles(bus, goal_ticks, min(block, cycles - len(times)))
                retries[fast] += bus.stats["read_retries"] - before
    rows = []
    for fast, times in cycle_s.items():
        p50_ms, p95_ms = np.percentile(times, [50, 95]) * 1e3
        rows.append(
            {
                "return_delay_us": return_delay_time * 2,
                "read": "fast sync read" if fast else "sync read",
                "cycles": len(times),
                "p50_ms": p50_ms,
                "p95_ms": p95_ms,
                "hz_mean": len(times) / sum(times),
                "read_retries": retries[fast],
            }
        )
    return rows


def measure_loop(port: str, steps: int, seed: int) -> dict:
    """Loop period of DexNDM-Real-v0 (realtime=True) under half-scale random actions."""
    env = gym.make("DexNDM-Real-v0", port=port, realtime=True)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    period_s = np.empty(steps)
    try:
        for k in range(steps):
            action = rng.uniform(-0.5, 0.5, 16).astype(np.float32)
            _, _, terminated, truncated, info = env.step(action)
            period_s[k] = info["loop_period_s"]
            if terminated or truncated:
                env.reset()
    finally:
        env.close()
    p50, p95 = np.percentile(period_s, [50, 95]) * 1e3
    return {
        "steps": steps,
        "p50_ms": p50,
        "p95_ms": p95,
        "max_ms": period_s.max() * 1e3,
        "overruns": int(info["overruns"]),
    }


def print_bus_rows(rows: list[dict]) -> None:
    print(
        f"{'server':32} {'USB timer':>9} {'RDT us':>6} {'read':15} {'cycles':>6} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'Hz at p50':>9} {'Hz mean':>7} re-reads"
    )
    for row in rows:
        timer = f"{row['latency_timer_ms']:g} ms" if row["latency_timer_ms"] else "none"
        print(
            f"{row['server']:32} {timer:>9} {row['return_delay_us']:6d} {row['read']:15} "
            f"{row['cycles']:6d} {row['p50_ms']:7.2f} {row['p95_ms']:7.2f} "
            f"{1e3 / row['p50_ms']:9.0f} {row['hz_mean']:7.0f} {row['read_retries']}"
        )


def print_adapter_summary(rows: list[dict]) -> None:
    """The virtual hand's cycle rate with each latency timer next to the software-only one."""
    hand = [r for r in rows if r["server"] == VIRTUAL_HAND and not r["return_delay_us"]]
    print("\nvirtual hand, Return Delay Time 0, cycles per second (mean) and against software:")
    for read in ("fast sync read", "sync read"):
        by_timer = {r["latency_timer_ms"]: r["hz_mean"] for r in hand if r["read"] == read}
        software = by_timer.get(0.0)
        cells = [
            f"{f'{ms:g} ms timer' if ms else 'software only'} {hz:.0f} Hz"
            + (f" (x{hz / software:.3f})" if ms and software else "")
            for ms, hz in sorted(by_timer.items())
        ]
        print(f"  {read:15} " + ", ".join(cells))
    low, high = PUBLIC_LEAP_API_HZ
    print(f"public LEAP API users report {low}-{high} Hz reads on hardware (their figure)")


def print_loop(loop: dict) -> None:
    print(
        f"\nDexNDM-Real-v0, realtime=True, {loop['steps']} steps, target period "
        f"{CTRL_DT_S * 1e3:.1f} ms (virtual hand, real time):"
    )
    print(
        f"  period p50 {loop['p50_ms']:.2f} ms, p95 {loop['p95_ms']:.2f} ms, "
        f"max {loop['max_ms']:.2f} ms, overruns {loop['overruns']}"
    )


def main(args: Args) -> None:
    check_at_least({
        "--cycles": (args.cycles, 1), "--adapter-cycles": (args.adapter_cycles, 1),
        "--warmup": (args.warmup, 0), "--steps": (args.steps, 0),
    })  # fmt: skip
    cycles, adapter_cycles, steps = (
        (300, 100, 100) if args.quick else (args.cycles, args.adapter_cycles, args.steps)
    )
    load_before = os.getloadavg()[0]
    print(
        f"{os.cpu_count()} CPUs, load average {load_before:.2f}; one bus cycle = group read "
        "of 16 motors (addr 126, 10 bytes) + sync write of Goal Position (addr 116)"
    )
    rows, loop = [], None
    for name, python_args, timer_ms, return_delays in SERVERS:
        n, warmup = (adapter_cycles, min(args.warmup, 20)) if timer_ms else (cycles, args.warmup)
        with served_port([sys.executable, *python_args]) as port:
            for return_delay in return_delays:
                rows += [
                    {"server": name, "latency_timer_ms": timer_ms, **row}
                    for row in measure_cycles(port, n, warmup, return_delay)
                ]
            if name == VIRTUAL_HAND and not timer_ms and steps:
                loop = measure_loop(port, steps, args.seed)
    print_bus_rows(rows)
    print_adapter_summary(rows)
    if loop is not None:
        print_loop(loop)
    load_after = os.getloadavg()[0]
    print(f"load average {load_after:.2f} at the end (other work on the machine adds jitter)")
    if args.out is not None:
        load = {"cpus": os.cpu_count(), "before": load_before, "after": load_after}
        figures = {"args": asdict(args), "load_average": load, "bus": rows, "loop": loop}
        atomic_write_text(args.out, json.dumps(figures, indent=2, default=str) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    run(main, Args)
