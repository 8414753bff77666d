"""DexNDM-ChaosBox-v0: the virtual LEAP hand in the chaos box, in process.

The chaos box (arXiv 2510.08556, "Chaos Box"; dexndm_envs.chaos.box) driven through the virtual
LEAP hand's servo model (dexndm_envs.virtual.servos), or with hardware="ideal" through the
ideal hand's position actuators (dexndm_envs.sim.nominal_hand, as DexNDM-Rotate-v0's ideal
hand; on PhysX its joint drives), with the interface of DexNDM-Rotate-v0 and DexNDM-Real-v0:
relative joint targets at 20 Hz (5 physics steps of 0.01 s), a proprioceptive observation,
and `info` with the servos' readings in the units DexNDM-Real-v0 reports (joint positions in
rad, velocities in rad/s, currents in mA, model sign convention). It is the same hand that
`real/virtual_hand.py --scene chaos_box` serves over a pty, without the bus: the DexNDM loop
collects its data here 2-3 times faster (100 balls).

The ideal hand reads exactly: joint_pos and joint_vel are the joints' state, and
joint_current the current a nominal servo would draw for the torque the position actuator
gives at that state (NominalActuators.current_ma: torque / k_t, in mA, model sign
convention), computed, not measured.

The box has no drop: episodes never terminate and the reward is 0; a reset puts the hand at
its start pose and drops the balls anew, scattered from the reset's seed. Ball sizes are a
property of the box and fixed (`BALL_SIZE_SEED`).

Usage:
    import gymnasium as gym
    import dexndm_envs  # registers the environments

    env = gym.make("DexNDM-ChaosBox-v0", wrist="palm_down", hardware_seed=0)
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    print(info["joint_pos"], info["joint_current"], info["finger_contacts"])

    # chaos-box data straight to disk (crash-safe, resumable):
    paths = collect_virtual_chaos_box("data/chaos/palm_down", SmoothRandomActions(400), 100)
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np
from tqdm.auto import tqdm

from dexndm_envs.chaos import actions as chaos_actions
from dexndm_envs.chaos import box as chaos_box
from dexndm_envs.chaos import collection as chaos
from dexndm_envs.core import checks, interface, task
from dexndm_envs.core.checks import Choice, Instance, Integer
from dexndm_envs.core.constants import (
    CTRL_DT_S,
    JOINT_NAMES,
    MAX_DELTA_RAD,
    NUM_JOINTS,
)
from dexndm_envs.dynamixel import control_table as ct
from dexndm_envs.engines.engine import make_engine
from dexndm_envs.engines.world import ENGINES, WorldProfile
from dexndm_envs.hand.config import HandConfig, load_hand_config
from dexndm_envs.sim.nominal_hand import NominalActuators
from dexndm_envs.sim.options import HARDWARE
from dexndm_envs.virtual.profiles import HardwareProfile
from dexndm_envs.virtual.servos import VirtualMotors

NUM_BALLS = chaos_box.NUM_BALLS
"""Default ball count: the scene's. MuJoCo's contact solve dominates a step and grows with the
pile, so fewer balls run faster, but they leave the fingers unloaded, palm up first: fewer
suit palm_down only."""

MAX_BALLS = 150
"""No more balls fit (chaos_box.NUM_BALLS). Near it, resets take seconds and can fail to find
room (RuntimeError): 150 fails for base_up and base_down, 135 works for every wrist."""

SIM_DT_S = 0.01
FRAME_SKIP = round(CTRL_DT_S / SIM_DT_S)
"""Physics steps per control step: 5 of 0.01 s, as in DexNDM-Rotate-v0."""

SETTLE_S = 1.0
"""After a reset the balls fall for this long, with the hand holding its start pose."""

BALL_SIZE_SEED = 0
"""Draws the balls' radii and masses (chaos_box.ball_sizes): one physical set of balls."""

ENV_ID = "DexNDM-ChaosBox-v0"
RESET_OPTIONS = ("joint_targets",)
"""The keys reset(options=...) takes; an unknown key is refused, not ignored."""

OPTION_RULES: dict[str, checks.Rule] = {
    "num_balls": Integer(0, MAX_BALLS),
    "history_len": Integer(low=1),
    "hardware": Choice(HARDWARE),
    "hardware_seed": Integer(low=0),
    "hand_config": Instance(
        (HandConfig, str, os.PathLike, type(None)),
        "a HandConfig, the path of a YAML/JSON hand config, or None",
    ),
    "engine": Choice(ENGINES),
    "world_profile": Instance(
        (WorldProfile, str, os.PathLike),
        "a preset name, the path of a YAML/JSON file, or a WorldProfile",
    ),
}
"""Constructor options and what each may be; wrist, axis and hardware_profile are checked by
their own resolvers."""


class VirtualChaosBoxEnv(gym.Env):
    """The virtual LEAP hand in a box of soft balls (see the module docstring).

    Args:
        wrist: how the hand is mounted: a name from task.WRISTS.
        axis: the rotation axis written into the observation (as DexNDM-Real-v0: named or a
            3-vector); it moves nothing here, and is recorded with collected data.
        hardware_profile: the virtual hand's profile: a preset name (virtual.profiles.PROFILES),
            a YAML/JSON file of HardwareProfile fields, or a HardwareProfile.
        hardware_seed: which virtual hand: the per-motor spread is drawn from it.
        hand_config: the servo settings (gains, Goal Current), as DexNDM-Real-v0 takes them: a
            HandConfig or a YAML/JSON hand config; the public LEAP defaults when None.
        num_balls: soft balls in the box, 0 .. MAX_BALLS (NUM_BALLS: why 100).
        history_len: T, the number of (joint position, joint target) pairs observed.
        engine: which physics computes the box: "mujoco" or "physx" (as DexNDM-Rotate-v0's
            engine; the chaos-box data of the DexNDM loop come from its target world).
        world_profile: how PhysX runs it (dexndm_envs.engines.world), checked on MuJoCo too.
        hardware: "virtual" (the servo model, hardware_profile and hardware_seed's hand) or
            "ideal" (the position actuators of hand_config, as DexNDM-Rotate-v0's ideal hand;
            the profile is still checked, so a typo never goes unseen).

    Raises:
        ValueError: for an unknown wrist, axis or profile, or a bad ball count, history length
            or hand seed (an integer >= 0), naming the valid values (SettingTypeError, also a
            TypeError, for a value of the wrong type).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": [], "render_fps": 20}

    def __init__(
        self,
        wrist: str = "palm_down",
        axis: str | Sequence[float] = "+z",
        hardware_profile: HardwareProfile | str | Path = "default",
        hardware_seed: int = 0,
        num_balls: int = NUM_BALLS,
        history_len: int = interface.DEFAULT_HISTORY_LEN,
        hand_config: HandConfig | str | Path | None = None,
        engine: str = "mujoco",
        world_profile: WorldProfile | str | Path = "default",
        hardware: str = "virtual",
    ) -> None:
        if not isinstance(wrist, str) or wrist not in task.WRISTS:
            raise ValueError(
                f"unknown wrist {wrist!r} for the chaos box; valid: {', '.join(task.WRISTS)}"
            )
        checks.check_options(OPTION_RULES, locals())  # before anything is built
        self.wrist = wrist
        self._wrist_quat = task.WRISTS[wrist].copy()
        self._axis_option = task.resolve_axis(axis)
        self.hardware = hardware
        self.hand_config = load_hand_config(hand_config)
        motors = VirtualMotors(hardware_profile, int(hardware_seed), self.hand_config)
        self.motors = motors if hardware == "virtual" else None
        self.actuators = NominalActuators.from_hand_config(self.hand_config)
        self.model = chaos_box.compile_chaos_box(wrist, int(num_balls), BALL_SIZE_SEED, SIM_DT_S)
        self.data = mujoco.MjData(self.model)
        if self.motors is not None:
            self.motors.bind(self.model)
        else:
            self.actuators.apply(self.model)
        mujoco.mj_setConst(self.model, self.data)
        self.box = chaos_box.ChaosBoxScene(self.model)
        self.engine = make_engine(engine, world_profile)
        joints = [self.model.joint(name).id for name in JOINT_NAMES]
        self._joint_qpos = self.model.jnt_qposadr[joints]
        self._joint_dof = self.model.jnt_dofadr[joints]
        self._actuators = np.array([self.model.actuator(name).id for name in JOINT_NAMES])
        self._direction = np.asarray(self.hand_config.direction, dtype=np.float64)
        self.history = interface.ProprioHistory(int(history_len))
        self.obs_layout = self.history.layout
        self.action_space = interface.action_space()
        self.observation_space = gym.spaces.Box(
            -np.inf, np.inf, (self.obs_layout.size,), np.float32
        )
        self.dt = CTRL_DT_S
        self.frame_skip = FRAME_SKIP
        self.max_delta_rad = MAX_DELTA_RAD
        self._targets = np.zeros(NUM_JOINTS)
        self._axis = np.array([0.0, 0.0, 1.0])
        self._started = False
        self._closed = False

    def close(self) -> None:
        """Nothing to release; step() and reset() are refused from now on (EnvClosedError)."""
        self._closed = True

    @property
    def num_balls(self) -> int:
        return self.box.num_balls

    def hardware_description(self) -> dict[str, Any]:
        """What is driven, as episode metadata records it (data.episode_meta's hardware)."""
        if self.motors is None:
            hand: dict[str, Any] = {"kind": "ideal"}
        else:
            hand = {
                "kind": "virtual",
                "profile": self.motors.profile.name,
                "seed": self.motors.seed,
            }
        return {
            **hand,
            "scene": "chaos_box",
            "num_balls": self.num_balls,
            **self.engine_description(),
        }

    def engine_description(self) -> dict[str, Any]:
        """The physics the box runs on (recorded with collected data; MuJoCo records none)."""
        if self.engine.name == "mujoco":
            return {}
        return {"engine": self.engine.name, "world_profile": self.engine.world.name}

    # ------------------------------------------------------------------ reset
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Hand at its start pose (all joints 0 rad), balls scattered from the seed and settled.

        options={"joint_targets": q} (16, rad) starts the hand there instead; it takes no
        other key (RESET_OPTIONS).

        Raises:
            ValueError: for joint targets that are not 16 finite angles within the joint
                limits, or another key.
            RuntimeError: if the balls find no room (too many of them, MAX_BALLS).
            EnvClosedError (a RuntimeError): after close().
        """
        if self._closed:
            raise checks.closed_error(ENV_ID, "reset")
        options = checks.check_reset_options(options, RESET_OPTIONS, ENV_ID)
        super().reset(seed=seed)
        start = np.zeros(NUM_JOINTS)
        if "joint_targets" in options:
            start = interface.check_joint_targets(options["joint_targets"])
        model, data = self.model, self.data
        self._targets = start  # the start pose (0 rad) is inside every joint's range
        mujoco.mj_resetData(model, data)
        data.qpos[self._joint_qpos] = self._targets
        self.box.reset(model, data, self.np_random)  # clear of the hand where it now stands
        self.engine.reset(model, data)
        if self.motors is not None:
            self.motors.reset(data, self._targets)
        self._run(round(SETTLE_S / SIM_DT_S))
        self._axis = task.sample_axis(self._axis_option, self.np_random).copy()
        self._started = True
        info = self._info()
        self.history.reset(info["joint_pos"], self._targets, self._wrist_quat, self._axis)
        info.update(wrist_quat=self._wrist_quat.copy(), hardware=self.hardware_description())
        return self.history.observation(), info

    # ------------------------------------------------------------------- step
    def step(self, action: np.ndarray):
        """Move the targets by action / 24 rad, run the servos for 0.05 s, read them."""
        if self._closed:
            raise checks.closed_error(ENV_ID, "step")
        action = interface.check_action(action)
        if not self._started:
            raise RuntimeError("call reset() before step()")
        self._targets = interface.next_targets(self._targets, action, self.max_delta_rad)
        if self.motors is not None:
            self.motors.write_goal_rad(self._targets)
        self._run(self.frame_skip)
        info = self._info()
        self.history.push(info["joint_pos"], self._targets)
        return self.history.observation(), 0.0, False, False, info

    def _run(self, nsteps: int) -> None:
        """nsteps physics steps toward the targets: through the servos, or the ideal hand's
        position actuators holding them."""
        if self.motors is not None:
            self.motors.run(self.model, self.data, nsteps, self.engine.step)
        else:
            self.data.ctrl[self._actuators] = self._targets
            self.engine.step(self.model, self.data, nsteps)

    def _readings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Joint positions (rad), velocities (rad/s), currents (mA), model convention: the
        servos' registers as DexNDM-Real-v0 converts them, or the ideal hand's exact state."""
        if self.motors is None:
            joint_pos = self.data.qpos[self._joint_qpos].copy()
            joint_vel = self.data.qvel[self._joint_dof].copy()
            torque = self.actuators.torque_nm(self._targets, joint_pos, joint_vel)
            return joint_pos, joint_vel, self.actuators.current_ma(torque)
        ticks, velocity, current = self.motors.read_registers()
        return (
            self.motors.hand.ticks_to_model(ticks),
            self._direction * ct.velocity_units_to_rad_s(velocity),
            self._direction * ct.current_units_to_ma(current),
        )

    def _info(self) -> dict[str, Any]:
        """The hand's readings (_readings), plus the task and the load."""
        joint_pos, joint_vel, joint_current = self._readings()
        return {
            "joint_pos": joint_pos,
            "joint_targets": self._targets.copy(),
            "joint_vel": joint_vel,
            "joint_current": joint_current,
            "wrist": self.wrist,
            "axis": self._axis.copy(),
            "finger_contacts": self.box.finger_contacts(self.data),
        }


# ------------------------------------------------------------------ collection
def collect_virtual_chaos_box(
    out_dir: str | Path,
    source: chaos_actions.ActionSource,
    episodes: int,
    *,
    wrist: str = "palm_down",
    hardware_profile: str | Path = "default",
    hardware_seed: int = 0,
    num_balls: int = NUM_BALLS,
    seed: int = 0,
    progress: bool = True,
    target_noise_rad: float = 0.0,
    hand_config: HandConfig | str | Path | None = None,
    engine: str = "mujoco",
    world_profile: WorldProfile | str | Path = "default",
    hardware: str = "virtual",
) -> list[Path]:
    """Collect chaos-box episodes 0 .. episodes-1 on the virtual (or the ideal) hand, in process.

    The collection of real/collect_chaos_box.py (chaos.collection.ChaosBoxCollector: noise on
    half the trajectories, no resets between episodes, one atomic file per episode, resume)
    without the bus. Episodes already in out_dir are kept and not collected again; a directory
    collected with other settings (including another profile, hand seed, hand config or ball
    count) is refused. Episode metadata records hardware {"kind": "virtual", "profile", "seed",
    "scene": "chaos_box", "num_balls"} ({"kind": "ideal", "scene", "num_balls"} for the ideal
    hand), and on PhysX its "engine" and "world_profile".

    Args:
        out_dir: the episodes' directory (episode_<index>.npz and collection.json).
        source: the actions, e.g. chaos_actions.ActionFile or SmoothRandomActions.
        episodes: how many episodes the directory should hold.
        wrist, hardware_profile, hardware_seed, num_balls, hand_config, engine,
            world_profile, hardware: the env's options.
        seed: episode e's trajectory, noise and the balls' first drop come from it.
        progress: show a progress bar.
        target_noise_rad: sigma of i.i.d. offsets on the commanded targets, past the action
            bound (chaos.collection, "Target excitation"); 0: the paper's collection.

    Returns:
        The paths of episodes 0 .. episodes-1.

    Raises:
        ValueError: bad options (CollectionError for the directory or the settings).
    """
    if episodes < 1:
        raise chaos.CollectionError(f"episodes must be at least 1, got {episodes}")
    env = VirtualChaosBoxEnv(
        wrist,
        hardware_profile=hardware_profile,
        hardware_seed=hardware_seed,
        num_balls=num_balls,
        hand_config=hand_config,
        engine=engine,
        world_profile=world_profile,
        hardware=hardware,
    )
    settings = chaos.collection_settings(
        port=None,
        wrist=wrist,
        hand_config_file=None,
        hand=env.hand_config,
        source=source,
        seed=seed,
        realtime=False,
        hardware_note="",
        hardware=env.hardware_description(),
        target_noise_rad=target_noise_rad,
    )
    writer, todo = chaos.prepare_directory(out_dir, settings, episodes)  # locks out_dir
    try:
        if todo:
            collector = chaos.ChaosBoxCollector(env, writer, source, settings)
            collector.start()
            bar = tqdm(todo, desc="chaos box", unit="ep", disable=not progress, file=sys.stderr)
            with bar:
                started_s, steps = time.monotonic(), 0
                for index in bar:
                    steps += collector.collect(index).steps
                    bar.set_postfix(steps_per_s=f"{steps / (time.monotonic() - started_s):.0f}")
    finally:
        writer.unlock()
        env.close()
    return [writer.path(index) for index in range(episodes)]
