"""Check a LEAP hand's joint order, direction and range, one joint at a time.

Pings every motor, reads each one's Present Position and Hardware Error Status, and reports per
joint: motor ID, reading (ticks and model rad), whether it lies in the joint's range. Then it
moves ONE joint at a time by a small step (0.15 rad towards the middle of its range, at a low
Goal Current) and back, checks that the reading moved the commanded way and that no other
motor moved, and asks you to confirm that the right finger joint moved. `--check` runs the
same automatic checks with no prompts. Either way it ends with a PASS/FAIL table and exits
non-zero on any failure. Torque goes off at the end, on any error and on Ctrl-C.

Readings cannot catch everything (see dexndm_envs/real/calibration.py): two swapped IDs, or a
flipped direction on a joint that is free to move, read back consistently; your eyes catch those.

Usage:
    python real/calibrate.py --port /dev/ttyUSB0
    python real/calibrate.py --port /dev/ttyUSB0 --hand-config my_hand.yaml --yes
    python real/calibrate.py --port /dev/ttyUSB0 --read-only
    python real/virtual_hand.py --lockstep          # prints PORT=/dev/pts/N; then:
    python real/calibrate.py --port /dev/pts/N --check --period-s 0
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from dexndm_envs.core.atomic import atomic_write_text
from dexndm_envs.core.cli import run
from dexndm_envs.hand.config import HandConfigError, load_hand_config
from dexndm_envs.real import calibration
from dexndm_envs.real.bus import DynamixelError


@dataclass
class Args:
    """Check joint order, direction and range of a LEAP hand."""

    port: str = "/dev/ttyUSB0"
    """The bus's serial device (the virtual hand prints its pty as PORT=...)."""
    hand_config: Path | None = None
    """YAML/JSON hand config (see real/leap_hand.yaml); the public LEAP hand's when omitted."""
    baudrate: int = 4_000_000
    """Bus speed (4 Mbaud on the LEAP hand)."""
    check: bool = False
    """Automatic checks only: no narration, no prompts (for scripts and CI)."""
    yes: bool = False
    """Interactive mode without the prompts: assume every answer is yes."""
    read_only: bool = False
    """Ping and read the motors only; move nothing."""
    report: Path | None = None
    """Also write the outcome as JSON here: every joint's readings, checks and result."""
    settings: Annotated[calibration.CheckSettings, tyro.conf.arg(name="")] = field(
        default_factory=calibration.CheckSettings
    )


def ask_person(question: str) -> bool:
    """A yes/no question on the terminal (Ctrl-C stops the calibration, torque off)."""
    while True:
        answer = input(f"{question} [y/n] ").strip().lower()
        if answer in ("y", "yes", "n", "no"):
            return answer.startswith("y")


def main(args: Args) -> int:
    try:
        hand = load_hand_config(args.hand_config)
    except HandConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    interactive = not args.check
    try:
        bus = calibration.open_bus(args.port, hand, args.baudrate)
    except DynamixelError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        reports = calibration.survey(bus, hand, args.settings.range_tolerance_rad)
        if interactive:
            print("Readings (nothing moved yet):")
            print(calibration.format_table(reports), "\n", flush=True)
        if args.read_only:
            pass
        elif interactive and not args.yes and not ask_person("Torque on and move each joint?"):
            return 1
        else:
            say = print if interactive else None
            ask = ask_person if interactive and not args.yes else None
            calibration.check_motion(bus, hand, reports, args.settings, say, ask)
    except KeyboardInterrupt:
        print("\nstopped: torque off", file=sys.stderr)
        return 130
    finally:
        bus.close()  # torque off
    print(calibration.format_table(reports))
    if args.report is not None:
        record = calibration.report_record(reports)
        print(f"report: {atomic_write_text(args.report, json.dumps(record, indent=2))}")
    passed = calibration.all_passed(reports)
    print("PASS" if passed else "FAIL", flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    run(main, Args)
