"""DexNDM-Real-v0: the LEAP hand on a Dynamixel bus, with the sim's action and observation.

Actions and observations are those of DexNDM-Rotate-v0 in proprio mode, computed by the same
code (dexndm_envs.core.interface): relative joint targets, and a history of (joint position, joint
target) pairs plus wrist and axis. Before anything is written the action is checked (shape,
NaN: ValueError), targets stay inside the joint limits, and no target may move further than
the hand config's max_target_step_rad in one step. Every reading is checked against the
joint's range: one further out than READING_TOLERANCE_RAD (a hand config whose angle convention
does not fit the hand) switches the torque off and raises JointRangeError, at reset before the
torque goes on and on every step. Reward is 0 and episodes never terminate
unless a tracker callback says otherwise; truncation is the TimeLimit's, as in the sim.

The same env drives the virtual hand served over a pty (`python real/virtual_hand.py`), which
is how it is tested here.

Usage:
    env = gym.make("DexNDM-Real-v0", port="/dev/ttyUSB0", wrist="palm_down", axis="+z")
    obs, info = env.reset()
    obs, reward, terminated, truncated, info = env.step(policy(obs))
    env.close()  # torque off
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from dexndm_envs.core import checks, interface, task
from dexndm_envs.core.constants import (
    CTRL_DT_S,
    JOINT_LOWER_RAD,
    JOINT_NAMES,
    JOINT_UPPER_RAD,
    MAX_DELTA_RAD,
)
from dexndm_envs.dynamixel import control_table as ct
from dexndm_envs.hand.config import READING_TOLERANCE_RAD, HandConfig, load_hand_config
from dexndm_envs.real.bus import DynamixelBus, JointRangeError

logger = logging.getLogger(__name__)

ENV_ID = "DexNDM-Real-v0"
RESET_OPTIONS = ("joint_targets",)
"""The keys reset(options=...) takes; an unknown key is refused, not ignored."""

Tracker = Callable[[dict[str, Any]], tuple[float, bool]]
"""Called after every step with the step's info; returns (reward, terminated)."""


def out_of_range_error(
    hand: HandConfig, joint_pos: np.ndarray, port: str
) -> JointRangeError | None:
    """The error for joint readings beyond their range by more than READING_TOLERANCE_RAD, or
    None when every reading is inside (rad, model convention)."""
    low, high = JOINT_LOWER_RAD - READING_TOLERANCE_RAD, JOINT_UPPER_RAD + READING_TOLERANCE_RAD
    outside = np.flatnonzero(~((joint_pos >= low) & (joint_pos <= high)))  # NaN is outside
    if not len(outside):
        return None
    i = int(outside[0])
    joint, motor_id, q = JOINT_NAMES[i], hand.motor_ids[i], float(joint_pos[i])
    more = [JOINT_NAMES[j] for j in outside[1:]]
    also = f" (also outside: {', '.join(more)})" if more else ""
    return JointRangeError(
        f"motor {motor_id} ({joint}) reads {q:+.3f} rad, outside the joint's range "
        f"{JOINT_LOWER_RAD[i]:+.3f}..{JOINT_UPPER_RAD[i]:+.3f} rad by more than "
        f"{READING_TOLERANCE_RAD} rad{also}; the hand config's angle_offset_rad or direction "
        f"does not fit this hand. Torque is off. Check the hand with "
        f"python real/calibrate.py --port {port} --hand-config <your hand config>",
        motor_id,
        joint,
        q,
    )


def _start_targets(joint_pos: np.ndarray) -> np.ndarray:
    """The targets that hold the hand where it reads; a reading within READING_TOLERANCE_RAD
    outside its range starts at the limit (logged: that joint moves by up to the tolerance)."""
    targets = np.clip(joint_pos, JOINT_LOWER_RAD, JOINT_UPPER_RAD)
    for i in np.flatnonzero(targets != joint_pos):
        logger.warning(
            "%s reads %+.3f rad, just outside its range: its target starts at %+.3f rad",
            JOINT_NAMES[i],
            joint_pos[i],
            targets[i],
        )
    return targets


class RealHandEnv(gym.Env):
    """The LEAP hand on hardware (see the module docstring).

    Args:
        port: the bus's serial device (the virtual hand prints its pty path as PORT=...).
        baudrate: 4,000,000 for the LEAP hand.
        hand_config: a HandConfig or the path of a YAML/JSON hand config (real/leap_hand.yaml);
            the LEAP default when None.
        wrist: how the hand is mounted: a named wrist orientation or a quaternion (w, x, y, z).
        axis: the rotation axis the policy is asked for (named or a 3-vector).
        history_len: T, the number of (joint position, joint target) pairs observed.
        realtime: keep a steady control period (20 Hz) by sleeping; loop period and overruns
            are in info. False steps as fast as the bus allows (lockstep virtual hand).
        tracker: optional reward/termination from an external object tracker.
        bus_timeout_ms: the least time the bus waits for a reply (raise it for a virtual
            hand that computes heavy physics before it answers, e.g. the chaos box).
        bus: an open DynamixelBus to use instead of opening `port` (tests, custom set-ups).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": [], "render_fps": 20}

    def __init__(
        self,
        port: str = "/dev/ttyUSB0",
        baudrate: int = 4_000_000,
        hand_config: HandConfig | str | Path | None = None,
        wrist: str | Sequence[float] = "palm_up",
        axis: str | Sequence[float] = "+z",
        history_len: int = interface.DEFAULT_HISTORY_LEN,
        realtime: bool = True,
        tracker: Tracker | None = None,
        bus_timeout_ms: float = 0.0,
        bus: DynamixelBus | None = None,
    ) -> None:
        self.hand = load_hand_config(hand_config)
        wrist_option, axis_option = task.resolve_wrist(wrist), task.resolve_axis(axis)
        if isinstance(wrist_option, str) and wrist_option == "random":
            raise ValueError("wrist='random' means nothing on hardware: give the mounting")
        self._wrist_option, self._axis_option = wrist_option, axis_option
        self.realtime, self.tracker = realtime, tracker
        self.history = interface.ProprioHistory(history_len)
        self.obs_layout = self.history.layout
        self.action_space = interface.action_space()
        self.observation_space = gym.spaces.Box(
            -np.inf, np.inf, (self.obs_layout.size,), np.float32
        )
        self.dt = CTRL_DT_S
        self.max_delta_rad = MAX_DELTA_RAD
        self.bus = bus or DynamixelBus(
            port, baudrate, self.hand.motor_ids, JOINT_NAMES, timeout_ms=bus_timeout_ms
        )
        self._configured = False
        self._targets = np.zeros(len(JOINT_NAMES))
        self._state: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._next_tick_s = 0.0
        self._last_step_s = 0.0
        self.overruns = 0
        self._closed = False

    @property
    def max_target_step_rad(self) -> float:
        """The hand config's limit on a joint target's change in one step: step() refuses
        more (a chaos-box collection checks its target noise against it before it starts)."""
        return self.hand.max_target_step_rad

    # ------------------------------------------------------------------ bus
    def _read(self) -> np.ndarray:
        """Read the hand; a joint outside its range switches the torque off and raises."""
        self._state = self.bus.read_state()
        joint_pos = self.hand.ticks_to_model(self._state[0])
        error = out_of_range_error(self.hand, joint_pos, self.bus.port_name)
        if error is not None:
            self.bus.close()  # torque off: no target computed from this reading is safe
            raise error
        return joint_pos

    # ------------------------------------------------------------------ reset
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Connect and configure the motors once, check the readings (JointRangeError, torque
        off, for one outside its joint's range), switch torque on, hold the present pose.

        options={"joint_targets": q} (16, rad) moves the hand there first, in steps no larger
        than max_target_step_rad; no other key is taken (RESET_OPTIONS). After close(),
        EnvClosedError: make a new env to drive the hand again.
        """
        if self._closed:
            raise checks.closed_error(ENV_ID, "reset")
        options = checks.check_reset_options(options, RESET_OPTIONS, ENV_ID)
        goal = options.get("joint_targets")
        goal_rad = None if goal is None else interface.check_joint_targets(goal)
        super().reset(seed=seed)
        if not self.bus.is_open:
            self.bus.open()
        if not self._configured:
            self.bus.configure(self.hand)
            self._configured = True
        self._read()  # a hand the config does not fit is refused before torque goes on
        assert self._state is not None
        # hold where the hand is, not at a goal an earlier (killed) program left in the motors
        self.bus.write_goal_ticks(self._state[0])
        self.bus.set_torque(True)
        joint_pos = self._read()
        self._targets = _start_targets(joint_pos)
        if goal_rad is not None:
            joint_pos = self._move_to(goal_rad)
        _, wrist_quat = task.sample_wrist(self._wrist_option, self.np_random)
        axis = task.sample_axis(self._axis_option, self.np_random)
        self.history.reset(joint_pos, self._targets, wrist_quat, axis)
        self._next_tick_s = time.perf_counter() + self.dt
        self._last_step_s = time.perf_counter()
        info = self._info(joint_pos, period_s=0.0)
        info.update({"wrist_quat": wrist_quat, "axis": axis})
        return self.history.observation(), info

    def _move_to(self, goal_rad: np.ndarray) -> np.ndarray:
        step = self.hand.max_target_step_rad / 2
        joint_pos = self._read()
        while np.max(np.abs(goal_rad - self._targets)) > 1e-9:
            self._targets = self._targets + np.clip(goal_rad - self._targets, -step, step)
            self.bus.write_goal_ticks(self.hand.model_to_ticks(self._targets))
            self._wait_for_tick()
            joint_pos = self._read()
        return joint_pos

    # ------------------------------------------------------------------- step
    def step(self, action: np.ndarray):
        """Check the action, write the new targets, wait for the period, read the hand."""
        if self._closed:
            raise checks.closed_error(ENV_ID, "step")
        action = interface.check_action(action)
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        targets = interface.next_targets(self._targets, action, self.max_delta_rad)
        change = np.abs(targets - self._targets)
        if change.max() > self.hand.max_target_step_rad:
            joint = JOINT_NAMES[int(change.argmax())]
            raise ValueError(
                f"target of {joint} would move {change.max():.3f} rad in one step, more than "
                f"max_target_step_rad={self.hand.max_target_step_rad}; nothing was written"
            )
        try:
            self.bus.write_goal_ticks(self.hand.model_to_ticks(targets))
            self._targets = targets
            self._wait_for_tick()
            joint_pos = self._read()
        except BaseException:
            self.bus.close()  # torque off before the error goes up
            raise
        now = time.perf_counter()
        period_s, self._last_step_s = now - self._last_step_s, now
        self.history.push(joint_pos, self._targets)
        info = self._info(joint_pos, period_s)
        reward, terminated = self.tracker(info) if self.tracker else (0.0, False)
        return self.history.observation(), float(reward), bool(terminated), False, info

    def _wait_for_tick(self) -> None:
        """Sleep to the next control tick (realtime); count a late tick as an overrun."""
        if not self.realtime:
            return
        now = time.perf_counter()
        if now > self._next_tick_s:
            self.overruns += 1
            self._next_tick_s = now + self.dt  # start a fresh schedule, do not burst
            return
        time.sleep(self._next_tick_s - now)
        self._next_tick_s += self.dt

    def _info(self, joint_pos: np.ndarray, period_s: float) -> dict[str, Any]:
        assert self._state is not None
        _, velocity, current = self._state
        return {
            "joint_pos": joint_pos,
            "joint_targets": self._targets.copy(),
            "joint_vel": np.asarray(self.hand.direction) * ct.velocity_units_to_rad_s(velocity),
            "joint_current": np.asarray(self.hand.direction) * ct.current_units_to_ma(current),
            "loop_period_s": period_s,
            "overruns": self.overruns,
        }

    def close(self) -> None:
        """Torque off and close the port; step() and reset() are refused from now on."""
        self._closed = True
        self.bus.close()
