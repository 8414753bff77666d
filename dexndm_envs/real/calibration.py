"""Checks of a LEAP hand's wiring: motors answer, readings lie in range, one joint moves at a time.

`survey` reads every motor on its own (Present Position, Hardware Error Status) and says, per
joint, whether it answers, where it is (ticks and model rad) and whether that is inside the
joint's range. `check_motion` then moves ONE joint at a time by a small step (default 0.15 rad,
towards the middle of its range, at a low Goal Current) and back, writing goals once per
control period - the only thing that advances a lockstep virtual hand - and checks that the
joint's reading moved the commanded way, that no other reading moved, and that it came back.

What readings alone can tell: a motor reads back in whatever frame the hand config maps it to,
so a flipped `direction` entry (or two swapped IDs) looks consistent on the bus as long as the
joint is free to move. It shows as a reading outside the joint's range (most LEAP joints have
lopsided ranges, e.g. if_mcp -0.314..2.23 rad) or as a move its end stop blocks; the rest is
for the person who watches the hand (`ask`), which is why the interactive mode asks.

Usage:
    bus = open_bus("/dev/ttyUSB0", hand)
    try:
        reports = survey(bus, hand)
        check_motion(bus, hand, reports, CheckSettings())
    finally:
        bus.close()  # torque off
    print(format_table(reports))
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dexndm_envs.core.constants import JOINT_LOWER_RAD, JOINT_UPPER_RAD
from dexndm_envs.dynamixel import control_table as ct
from dexndm_envs.hand.config import READING_TOLERANCE_RAD, HandConfig
from dexndm_envs.real.bus import DynamixelBus, DynamixelError, MotorError

_FINGER_WORDS = {"if": "index finger", "mf": "middle finger", "rf": "ring finger", "th": "thumb"}
_JOINT_WORDS = {
    "mcp": "knuckle (mcp)",
    "rot": "side-to-side swing (rot)",
    "pip": "middle joint (pip)",
    "dip": "tip joint (dip)",
    "cmc": "base joint (cmc)",
    "axl": "base twist (axl)",
    "ipl": "tip joint (ipl)",
}
_FLEXION = tuple(
    f"{finger}_{kind}" for finger in ("if", "mf", "rf") for kind in ("mcp", "pip", "dip")
)
"""Joints whose + direction bends (closes) the finger."""


@dataclass(frozen=True)
class CheckSettings:
    """How far, how gently and how long each joint is moved, and what counts as a pass."""

    step_rad: float = 0.15
    """How far each joint is moved (towards the middle of its range) and back."""
    goal_current_ma: int = 150
    """Goal Current during the check (mA): the torque limit, kept low so a wrong joint cannot
    hurt the hand; the hand config's value is used where that is lower."""
    period_s: float = 0.05
    """Wait between goal writes (the 20 Hz control period); 0 runs as fast as the bus allows,
    for a lockstep virtual hand (whose physics advances 0.05 s per goal write)."""
    max_periods: int = 30
    """Longest wait for a joint to settle, in control periods."""
    range_tolerance_rad: float = READING_TOLERANCE_RAD
    """A reading this far outside the joint's range still counts as inside; DexNDM-Real-v0
    refuses a hand that reads further out (hand.config.READING_TOLERANCE_RAD)."""
    min_fraction: float = 0.5
    """The joint must move at least this fraction of step_rad the commanded way."""
    others_tolerance_rad: float = 0.05
    """Any other joint moving further than this fails the joint under test."""

    def __post_init__(self) -> None:
        if not 0.0 < self.step_rad <= 0.3:
            raise ValueError(f"step_rad must be in (0, 0.3] rad to stay safe, got {self.step_rad}")
        if not 0 < self.goal_current_ma <= 550:
            raise ValueError(f"goal_current_ma must be in 1..550, got {self.goal_current_ma}")
        if self.period_s < 0.0 or self.max_periods < 3:
            raise ValueError("period_s must be >= 0 and max_periods >= 3")


@dataclass
class JointReport:
    """What the checks found for one joint; `problems` empty means it passed."""

    joint: str
    motor_id: int
    answered: bool = False
    ticks: int | None = None
    q_rad: float | None = None
    in_range: bool | None = None
    hardware_errors: tuple[str, ...] = ()
    moved_rad: float | None = None
    """How far the reading moved the commanded way (negative: the wrong way)."""
    alone: bool | None = None
    returned: bool | None = None
    confirmed: bool | None = None
    problems: list[str] = field(default_factory=list)
    skipped: str | None = None
    """Why the joint was not moved (another motor is broken), or None."""

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def name(self) -> str:
        return f"motor {self.motor_id} ({self.joint})"


def describe(joint: str) -> str:
    """Words for a joint a person can find on the hand: "index finger knuckle (mcp)"."""
    finger, kind = joint.split("_")
    return f"{_FINGER_WORDS[finger]} {_JOINT_WORDS[kind]}"


def open_bus(port: str, hand: HandConfig, baudrate: int = 4_000_000) -> DynamixelBus:
    """Open the bus; a silent or faulted motor does not stop it (survey names every one).

    Raises:
        PortError: when the port cannot be opened.
    """
    bus = DynamixelBus(port, baudrate, hand.motor_ids, hand.joint_names)
    return bus.open(check_motors=False)  # survey pings and names every silent motor itself


def survey(
    bus: DynamixelBus, hand: HandConfig, tolerance_rad: float = READING_TOLERANCE_RAD
) -> list[JointReport]:
    """Ask each motor alone for its Hardware Error Status and Present Position (moves nothing);
    judge each reading against the joint's range, widened by tolerance_rad."""
    reports = [
        _read_motor(bus, joint, motor_id)
        for joint, motor_id in zip(hand.joint_names, hand.motor_ids, strict=True)
    ]
    ticks = np.array([report.ticks or 0 for report in reports])
    for i, (report, q) in enumerate(zip(reports, hand.ticks_to_model(ticks), strict=True)):
        if not report.answered:
            continue
        low, high = JOINT_LOWER_RAD[i], JOINT_UPPER_RAD[i]
        report.q_rad = float(q)
        report.in_range = bool(low - tolerance_rad <= q <= high + tolerance_rad)
        if not report.in_range:
            report.problems.append(
                f"reads {q:+.3f} rad, outside {low:+.3f}..{high:+.3f}: a flipped direction, "
                "a wrong angle offset, or a horn mounted one tooth off"
            )
    return reports


def _read_motor(bus: DynamixelBus, joint: str, motor_id: int) -> JointReport:
    report = JointReport(joint, motor_id)
    try:
        bits = bus.read_register(motor_id, "hardware_error_status", check_alert=False)
        report.ticks = bus.read_register(motor_id, "present_position", check_alert=False)
    except MotorError as err:
        report.problems.append(f"does not answer: {err}")
        return report
    report.answered = True
    report.hardware_errors = tuple(ct.decode_hardware_error(bits))
    if report.hardware_errors:
        report.problems.append(
            f"reports {', '.join(report.hardware_errors)}; power-cycle it after fixing the "
            "cause (overload: Goal Current too high or the finger blocked)"
        )
    return report


class _Ticker:
    """Sleeps to the next control tick; period 0 never sleeps."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._next_s = time.perf_counter() + period_s

    def wait(self) -> None:
        if self.period_s <= 0.0:
            return
        now = time.perf_counter()
        self._next_s = max(self._next_s, now)
        time.sleep(self._next_s - now)
        self._next_s += self.period_s


Say = Callable[[str], None]
"""Narration for the person at the hand."""
Ask = Callable[[str], bool]
"""A yes/no question to the person at the hand."""


def prepare(bus: DynamixelBus, hand: HandConfig, settings: CheckSettings) -> np.ndarray:
    """Current-based position control at the low Goal Current, goals = present positions, then
    torque on (so nothing jumps); returns that pose (model rad)."""
    low = tuple(min(current, settings.goal_current_ma) for current in hand.goal_current_ma)
    bus.configure(dataclasses.replace(hand, goal_current_ma=low))
    ticks = bus.read_state()[0]
    bus.write_goal_ticks(ticks)
    bus.set_torque(True)
    return hand.ticks_to_model(ticks)


def check_motion(
    bus: DynamixelBus,
    hand: HandConfig,
    reports: list[JointReport],
    settings: CheckSettings,
    say: Say | None = None,
    ask: Ask | None = None,
) -> None:
    """Move each joint out and back in turn and judge it (see the module docstring).

    Skipped (reports[i].skipped) when a motor is silent or faulted: a group read needs them all.
    A bus error stops the check; it is reported on the motor it names.
    """
    broken = [report.name for report in reports if not report.answered or report.hardware_errors]
    if broken:
        _skip(reports, f"not moved: fix {', '.join(broken)} first")
        return
    where, index = "switching torque on", 0
    try:
        mover = _JointMover(bus, hand, settings, prepare(bus, hand, settings), say, ask)
        for index, report in enumerate(reports):
            where = f"moving {report.joint}"
            mover.check(index, report)
    except DynamixelError as err:
        # blame the motor the error names (an overload, a timeout), else the joint under test
        culprit_id = getattr(err, "motor_id", reports[index].motor_id)
        culprit = next(report for report in reports if report.motor_id == culprit_id)
        culprit.problems.append(f"bus error while {where}: {err}")
        _skip(reports, f"not moved: the check stopped at {where}")


def _skip(reports: list[JointReport], reason: str) -> None:
    for report in reports:
        if report.passed and report.moved_rad is None:
            report.skipped = reason


class _JointMover:
    """Moves one joint at a time out and back while holding the others at the `hold` pose.

    A joint goes towards the middle of its range first; when something blocks it there (an
    object in the hand, a neighbouring finger) it is tried the other way, if that stays inside
    its range.
    """

    def __init__(
        self,
        bus: DynamixelBus,
        hand: HandConfig,
        settings: CheckSettings,
        hold: np.ndarray,
        say: Say | None,
        ask: Ask | None,
    ) -> None:
        self.bus, self.hand, self.settings, self.hold = bus, hand, settings, hold
        self.say, self.ask = say or (lambda text: None), ask
        self.ticker = _Ticker(settings.period_s)
        self.wanted_rad = settings.min_fraction * settings.step_rad

    def read(self) -> np.ndarray:
        return self.hand.ticks_to_model(self.bus.read_state()[0])

    def track(self, goal_rad: np.ndarray, index: int) -> np.ndarray:
        """Write the goals every period until joint `index` is still; the readings, one per
        period, the first from before. Still = moved less than 0.005 rad in a period, once it
        is near its goal or after 3 periods (it may be blocked)."""
        goal_ticks = self.hand.model_to_ticks(goal_rad)
        trace = [self.read()]
        for period in range(1, self.settings.max_periods + 1):
            self.bus.write_goal_ticks(goal_ticks)
            self.ticker.wait()
            trace.append(self.read())
            still = abs(trace[-1][index] - trace[-2][index]) < 0.005
            near = abs(trace[-1][index] - goal_rad[index]) < 0.03
            if still and (near or period >= 3):
                break
        return np.array(trace)

    def check(self, index: int, report: JointReport) -> None:
        """Out and back (the other way too if blocked), then judge the last attempt."""
        start_rad = self.read()[index]
        signs = self._signs(index, start_rad)
        for attempt, sign in enumerate(signs):
            last = attempt == len(signs) - 1
            out, back = self._out_and_back(index, report, start_rad, sign, last)
            if abs(out[-1, index] - out[0, index]) >= self.wanted_rad:
                break
            if not last:
                self.say(f"  {report.joint} is blocked that way; trying the other way")
        _judge_move(report, index, out, back, sign, self.settings, self.hand.joint_names)

    def _signs(self, index: int, start_rad: float) -> list[float]:
        low, high = JOINT_LOWER_RAD[index], JOINT_UPPER_RAD[index]
        towards_middle = 1.0 if start_rad < (low + high) / 2 else -1.0
        away_rad = start_rad - towards_middle * self.settings.step_rad
        return [towards_middle, -towards_middle] if low <= away_rad <= high else [towards_middle]

    def _out_and_back(
        self, index: int, report: JointReport, start_rad: float, sign: float, last: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Move step_rad the `sign` way from start_rad and back to the hold pose; the readings
        of both moves."""
        joint = report.joint
        words = _motion_words(joint, sign * self.settings.step_rad)
        self.say(f"{report.name}: the {describe(joint)} should {words} ...")
        goal = self.hold.copy()
        goal[index] = start_rad + sign * self.settings.step_rad
        out = self.track(goal, index)
        moved_rad = abs(out[-1, index] - out[0, index])
        if self.ask is not None and (moved_rad >= self.wanted_rad or last):
            report.confirmed = self.ask(f"Did the {describe(joint)} {words}, and nothing else?")
            if not report.confirmed:
                report.problems.append(
                    "the person saw another joint move, or none: joint order, wiring or direction"
                )
        return out, self.track(self.hold, index)


def _judge_move(
    report: JointReport,
    index: int,
    out: np.ndarray,
    back: np.ndarray,
    sign: float,
    settings: CheckSettings,
    joint_names: tuple[str, ...],
) -> None:
    """Direction, moving alone and coming back, from the readings of the move out and back."""
    start = out[0]
    report.moved_rad = float((out[-1, index] - start[index]) * sign)
    wanted = settings.min_fraction * settings.step_rad
    if report.moved_rad <= -wanted:
        report.problems.append(
            f"its reading moved {abs(report.moved_rad):.3f} rad AGAINST the goal: the motor "
            "is not holding (torque off, overload) and something pushes the finger"
        )
    elif report.moved_rad < wanted:
        report.problems.append(
            f"moved only {report.moved_rad:+.3f} of {settings.step_rad:.3f} rad: blocked, "
            "torque off, or another motor answers for it"
        )
    drift = np.abs(np.concatenate([out, back]) - start).max(axis=0)
    drift[index] = 0.0
    report.alone = bool(drift.max() <= settings.others_tolerance_rad)
    if not report.alone:
        other = int(drift.argmax())
        report.problems.append(
            f"{joint_names[other]} moved too ({drift[other]:.3f} rad): joint order or wiring"
        )
    report.returned = bool(abs(back[-1, index] - start[index]) <= 0.5 * settings.step_rad)
    if not report.returned:
        report.problems.append(f"did not come back (ended {back[-1, index]:+.3f} rad)")


def _motion_words(joint: str, change_rad: float) -> str:
    amount = f"{abs(change_rad):.2f} rad"
    if joint in _FLEXION:
        return f"bend (close) by {amount}" if change_rad > 0 else f"straighten by {amount}"
    return f"turn by {change_rad:+.2f} rad (model frame)"


def format_table(reports: list[JointReport]) -> str:
    """A PASS/FAIL table, one row per joint, then the problems found, one per line."""
    rows = [
        f"{'joint':7} {'ID':>3} {'ticks':>6} {'rad':>7} {'range':>5} {'hw error':>9} "
        f"{'moved':>7} {'alone':>5} {'back':>4} {'seen':>4}  result"
    ]
    for r in reports:
        rows.append(
            f"{r.joint:7} {r.motor_id:>3} {_cell(r.ticks, '{:d}'):>6} "
            f"{_cell(r.q_rad, '{:+.3f}'):>7} "
            f"{_yes_no(r.in_range):>5} {', '.join(r.hardware_errors) or '-':>9} "
            f"{_cell(r.moved_rad, '{:+.3f}'):>7} {_yes_no(r.alone):>5} {_yes_no(r.returned):>4} "
            f"{_yes_no(r.confirmed):>4}  {_result(r)}"
        )
    notes = [f"  {r.name}: {problem}" for r in reports for problem in r.problems]
    skipped = sorted({r.skipped for r in reports if r.skipped and r.passed})
    return "\n".join(rows + notes + [f"  {reason}" for reason in skipped])


def all_passed(reports: list[JointReport]) -> bool:
    """True when every joint passed every check (a skipped move is not a pass)."""
    return all(r.passed and not r.skipped for r in reports)


def report_record(reports: list[JointReport]) -> dict[str, Any]:
    """The checks' outcome as JSON values: {"passed", "joints": [each report, with "result"]}."""
    joints = [{**asdict(r), "result": _result(r)} for r in reports]
    return {"passed": all_passed(reports), "joints": joints}


def _cell(value: float | int | None, spec: str) -> str:
    return "-" if value is None else spec.format(value)


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else ("ok" if value else "NO")


def _result(report: JointReport) -> str:
    if not report.passed:
        return "FAIL"
    return "skip" if report.skipped else "PASS"
