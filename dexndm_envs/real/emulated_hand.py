"""The virtual LEAP hand behind the Protocol 2.0 server: registers in, MuJoCo physics, readings out.

`VirtualHandBackend` implements the server's MotorBackend: it copies the registers that drive
a servo (Torque Enable, Operating Mode, Current Limit, Position P/I/D Gain, Goal Current, Goal
Position) into VirtualMotors, advances the MuJoCo scene, and writes Present Position / Velocity
/ Current and Moving back. The scene is the rotation task (an object in a cached grasp) or the
chaos box. The servos power up as XC330s do: torque off, in the factory Operating Mode 3, with
the factory Current Limit - a client brings them up (the VirtualBus holds a motor where it is
when its torque goes on). Until then nothing holds the fingers: a real-time server lets the
task's object fall while no client has switched torque on, as the hardware would; a lockstep
one moves nothing before the first Goal Position write.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import mujoco
import numpy as np

from dexndm_envs.chaos import box as chaos_box
from dexndm_envs.core import task
from dexndm_envs.core.constants import CTRL_DT_S, NUM_JOINTS
from dexndm_envs.dynamixel.control_table import ControlTable
from dexndm_envs.hand.config import HandConfig, default_hand_config
from dexndm_envs.sim import scene
from dexndm_envs.sim.grasps.cache import Grasp, default_cache
from dexndm_envs.sim.objects.catalog import resolve_object_set
from dexndm_envs.virtual.profiles import HardwareProfile
from dexndm_envs.virtual.servos import VirtualMotors

SCENES = ("task", "chaos_box")


class VirtualHandBackend:
    """MuJoCo physics of a virtual LEAP hand, driven through control-table registers.

    Args:
        profile: hardware profile (preset name, file, or HardwareProfile).
        seed: which virtual hand (per-motor spread), and the scene's random draw.
        wrist: a named wrist orientation (task.WRISTS).
        scene_name: "task" (hold `object_name` in a cached grasp) or "chaos_box".
        object_name: the object of the task scene.
        hand_config: IDs and angle convention (the LEAP default).
        sim_dt_s: physics timestep.
    """

    control_period_s = CTRL_DT_S

    def __init__(
        self,
        profile: HardwareProfile | str | Path = "default",
        seed: int = 0,
        wrist: str = "palm_up",
        scene_name: str = "task",
        object_name: str = "cylinder_0",
        hand_config: HandConfig | None = None,
        sim_dt_s: float = 0.01,
    ) -> None:
        if scene_name not in SCENES:
            raise ValueError(f"unknown scene {scene_name!r}; valid: {', '.join(SCENES)}")
        if wrist not in task.WRISTS:
            raise ValueError(f"unknown wrist {wrist!r}; valid: {', '.join(task.WRISTS)}")
        self.hand = hand_config or default_hand_config()
        self.motors = VirtualMotors(profile, seed, self.hand)
        self.scene_name, self.wrist = scene_name, wrist
        rng = np.random.default_rng(seed)
        if scene_name == "chaos_box":
            self.model = chaos_box.compile_chaos_box(wrist, seed=seed, sim_dt_s=sim_dt_s)
        else:
            self.model = scene.compile_scene(resolve_object_set(object_name)[0], sim_dt_s)
        self.data = mujoco.MjData(self.model)
        self.motors.bind(self.model)
        mujoco.mj_setConst(self.model, self.data)
        start = self._start_pose(object_name, rng)
        mujoco.mj_forward(self.model, self.data)
        self.motors.reset(self.data, start)
        self.motors.torque_enabled[:] = False  # power-on; apply() follows the tables from here
        self._ids = self.hand.motor_ids
        self._goal_in_tables: np.ndarray | None = None  # the first apply() passes it on
        self._tables_set_up = False
        self._leftover_s = 0.0

    def _start_pose(self, object_name: str, rng: np.random.Generator) -> np.ndarray:
        """Put hand (and object or balls) in their starting state; the joints' goal pose."""
        model, data = self.model, self.data
        wrist_quat = task.WRISTS[self.wrist]
        if self.scene_name == "chaos_box":
            box = chaos_box.ChaosBoxScene(model)
            box.reset(model, data, rng)
            return np.zeros(NUM_JOINTS)
        palm, camera = model.body("palm").id, model.camera("closeup").id
        scene.place_hand(model, palm, camera, wrist_quat)
        rows = default_cache().rows(object_name, self.wrist, None)
        grasp = Grasp.from_row(rows[rng.integers(len(rows))])
        scene.ObjectPhysics(model).apply(model, scale=grasp.scale)
        mujoco.mj_setConst(model, data)
        obj_qpos = int(model.jnt_qposadr[model.joint("object_joint").id])
        grasp.write_state(model, data, palm, obj_qpos, wrist_quat)
        return grasp.joint_targets.copy()

    # ------------------------------------------------------------ MotorBackend
    def apply(self, tables: Mapping[int, ControlTable]) -> None:
        """Registers -> servo model (Torque Enable, Operating Mode, Current Limit, gains, Goal
        Current, Goal Position); VirtualMotors bounds the current by them."""
        m = self.motors
        goal = np.empty(NUM_JOINTS, dtype=np.int64)
        for i, motor_id in enumerate(self._ids):
            table = tables[motor_id]
            m.torque_enabled[i] = bool(table.get("torque_enable"))
            m.operating_mode[i] = table.get("operating_mode")
            m.current_limit_ma[i] = table.get("current_limit")
            m.goal_current_ma[i] = table.get("goal_current")
            m.p_gain[i] = table.get("position_p_gain")
            m.i_gain[i] = table.get("position_i_gain")
            m.d_gain[i] = table.get("position_d_gain")
            goal[i] = table.get("goal_position")
        if self._goal_in_tables is None or not np.array_equal(goal, self._goal_in_tables):
            m.write_goal_ticks(goal)
            self._goal_in_tables = goal

    def advance(self, duration_s: float) -> None:
        """Simulate duration_s (in whole physics steps; the rest carries over)."""
        dt = float(self.model.opt.timestep)
        total = self._leftover_s + max(0.0, duration_s)
        steps = int(total / dt + 1e-9)
        self._leftover_s = total - steps * dt
        if steps:
            self.motors.run(self.model, self.data, steps)

    def report(self, tables: Mapping[int, ControlTable]) -> None:
        """Servo readings -> Present Position / Velocity / Current and Moving."""
        ticks, velocity, current = self.motors.read_registers()
        for i, motor_id in enumerate(self._ids):
            table = tables[motor_id]
            if not self._tables_set_up:  # power-on: Goal Position reads where the motor is
                table.set("goal_position", int(ticks[i]))
            table.set("present_position", int(ticks[i]))
            table.set("present_velocity", int(velocity[i]))
            table.set("present_current", int(current[i]))
            table.set("moving", int(abs(velocity[i]) > 1))
        self._tables_set_up = True
