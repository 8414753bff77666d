"""PhysX (SAPIEN 3, on CPU) as an engine for the project's MuJoCo scenes.

`PhysxEngine.reset` builds a PhysX scene from the compiled model in data's state
(engines.physx_build); each `step` then does what `mujoco.mj_step` does, with PhysX computing
the motion:

1. `mj_forward` on the state it starts from: body poses, contacts and actuator forces in data
   are those of that state, as after mj_step (the task reads them).
2. Controls: position actuators' ctrl (clamped to ctrlrange) becomes the joint drives' targets;
   every other actuator's force, as MuJoCo computed it from ctrl (clamped to its force
   range), is a joint torque; so are the joints' passive damping and dry friction (world
   profile). `xfrc_applied` on free bodies is applied at their centre of mass.
3. PhysX steps world.substeps times; joint positions and velocities, and each free body's pose
   and velocity, are written back into data (MuJoCo's free-joint convention: the velocity of
   the body frame's origin in world coordinates, the angular velocity in the body frame).
"""

from __future__ import annotations

import mujoco
import numpy as np

from dexndm_envs.engines.physx_build import PhysxScene, build_scene, drive_slot
from dexndm_envs.engines.physx_shapes import pose, require_sapien
from dexndm_envs.engines.world import WorldProfile


class PhysxEngine:
    """Steps MuJoCo state with PhysX (see the module docstring)."""

    name = "physx"

    def __init__(self, world: WorldProfile) -> None:
        require_sapien()
        self.world = world
        self.built: PhysxScene | None = None

    # ------------------------------------------------------------------ reset
    def reset(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        """Build the scene from model's parameters in data's state (after mj_forward)."""
        self.built = build_scene(model, data, self.world)
        self._map_actuators(model)
        dofs = self.built.joint_dof
        self._damping = model.dof_damping[dofs].copy()
        self._frictionloss = model.dof_frictionloss[dofs].copy()
        self._index_free_bodies(model)
        self._write_state(data)

    def _map_actuators(self, model: mujoco.MjModel) -> None:
        """Which actuators drive a joint (position servos) and which push it with a force."""
        built = self.built
        self._drive_acts, self._drive_slots, self._force_acts, self._force_slots = [], [], [], []
        for actuator in range(model.nu):
            slot = drive_slot(built, model, actuator)
            if slot is None:
                qpos = model.jnt_qposadr[model.actuator_trnid[actuator, 0]]
                self._force_acts.append(actuator)
                self._force_slots.append(int(np.flatnonzero(built.joint_qpos == qpos)[0]))
            else:
                self._drive_acts.append(actuator)
                self._drive_slots.append(slot)
        self._ctrl_low = model.actuator_ctrlrange[self._drive_acts, 0].copy()
        self._ctrl_high = model.actuator_ctrlrange[self._drive_acts, 1].copy()
        self._ctrl_limited = model.actuator_ctrllimited[self._drive_acts].astype(bool)
        self._targets: np.ndarray | None = None
        self._joints = built.articulation.get_active_joints() if built.articulation else []

    def _index_free_bodies(self, model: mujoco.MjModel) -> None:
        """qpos and qvel addresses of every free body, for reading them back as arrays."""
        self._free = [component for _, component in self.built.free_bodies]
        self._free_bodies = np.array([body for body, _ in self.built.free_bodies], dtype=int)
        joints = model.body_jntadr[self._free_bodies]
        qpos = model.jnt_qposadr[joints].reshape(-1, 1)
        dof = model.jnt_dofadr[joints].reshape(-1, 1)
        self._free_pos, self._free_quat = qpos + np.arange(3), qpos + 3 + np.arange(4)
        self._free_linear, self._free_angular = dof + np.arange(3), dof + 3 + np.arange(3)
        self._com_local = np.array([c.cmass_local_pose.p for c in self._free]).reshape(-1, 3)

    def _write_state(self, data: mujoco.MjData) -> None:
        built = self.built
        if built.articulation is not None:
            built.articulation.set_qpos(data.qpos[built.joint_qpos].astype(np.float32))
            built.articulation.set_qvel(data.qvel[built.joint_dof].astype(np.float32))
        if not self._free:
            return
        bodies = self._free_bodies
        rot = data.xmat[bodies].reshape(-1, 3, 3)
        omega = np.einsum("bij,bj->bi", rot, data.qvel[self._free_angular])
        linear = data.qvel[self._free_linear] + _cross(
            omega, data.xipos[bodies] - data.xpos[bodies]
        )
        for i, component in enumerate(self._free):
            component.entity.pose = pose(data.xpos[bodies[i]], data.xquat[bodies[i]])
            component.set_linear_velocity(linear[i].astype(np.float32))
            component.set_angular_velocity(omega[i].astype(np.float32))

    # ------------------------------------------------------------------- step
    def step(self, model: mujoco.MjModel, data: mujoco.MjData, nstep: int = 1) -> None:
        """Advance nstep physics steps (see the module docstring)."""
        if self.built is None:
            raise RuntimeError("PhysxEngine.step before reset: reset(model, data) builds the scene")
        system = self.built.system
        for _ in range(nstep):
            mujoco.mj_forward(model, data)
            self._set_targets(data)
            joint_forces = self._joint_forces(data)
            for _ in range(self.world.substeps):
                if self.built.articulation is not None:
                    self.built.articulation.set_qf(joint_forces)
                self._apply_body_forces(data)
                system.step()
            self._read_state(data)
            data.time += model.opt.timestep

    def _set_targets(self, data: mujoco.MjData) -> None:
        ctrl = data.ctrl[self._drive_acts]
        ctrl = np.where(self._ctrl_limited, np.clip(ctrl, self._ctrl_low, self._ctrl_high), ctrl)
        if self._targets is not None and np.array_equal(ctrl, self._targets):
            return
        for slot, target in zip(self._drive_slots, ctrl.tolist(), strict=True):
            self._joints[slot].set_drive_target(target)
        self._targets = ctrl

    def _joint_forces(self, data: mujoco.MjData) -> np.ndarray:
        built = self.built
        forces = np.zeros(len(built.joint_dof))
        forces[self._force_slots] = data.actuator_force[self._force_acts]
        if self.world.passive_joint_forces:
            qvel = data.qvel[built.joint_dof]
            slip = np.clip(qvel / self.world.frictionloss_velocity_rad_s, -1.0, 1.0)
            forces -= self._damping * qvel + self._frictionloss * slip
        return forces.astype(np.float32)

    def _apply_body_forces(self, data: mujoco.MjData) -> None:
        if not self._free:
            return
        wrenches = data.xfrc_applied[self._free_bodies]
        for i in np.flatnonzero(wrenches.any(axis=1)):
            self._free[i].add_force_torque(wrenches[i, :3].tolist(), wrenches[i, 3:].tolist())

    def _read_state(self, data: mujoco.MjData) -> None:
        built = self.built
        if built.articulation is not None:
            data.qpos[built.joint_qpos] = built.articulation.get_qpos()
            data.qvel[built.joint_dof] = built.articulation.get_qvel()
        if not self._free:
            return
        poses = [component.entity.pose for component in self._free]
        quat = np.array([pose.q for pose in poses], dtype=np.float64)
        rot = _quat_to_mat(quat)
        omega = np.array([c.get_angular_velocity() for c in self._free], dtype=np.float64)
        linear = np.array([c.get_linear_velocity() for c in self._free], dtype=np.float64)
        com_offset = np.einsum("bij,bj->bi", rot, self._com_local)
        data.qpos[self._free_pos] = [pose.p for pose in poses]
        data.qpos[self._free_quat] = quat
        data.qvel[self._free_linear] = linear - _cross(omega, com_offset)
        data.qvel[self._free_angular] = np.einsum("bji,bj->bi", rot, omega)


def _quat_to_mat(quat: np.ndarray) -> np.ndarray:
    """Rotation matrices (n, 3, 3) of unit quaternions (n, 4; w, x, y, z)."""
    w, x, y, z = quat.T
    out = np.empty((len(quat), 3, 3))
    out[:, 0, 0] = 1 - 2 * (y * y + z * z)
    out[:, 0, 1] = 2 * (x * y - w * z)
    out[:, 0, 2] = 2 * (x * z + w * y)
    out[:, 1, 0] = 2 * (x * y + w * z)
    out[:, 1, 1] = 1 - 2 * (x * x + z * z)
    out[:, 1, 2] = 2 * (y * z - w * x)
    out[:, 2, 0] = 2 * (x * z - w * y)
    out[:, 2, 1] = 2 * (y * z + w * x)
    out[:, 2, 2] = 1 - 2 * (x * x + y * y)
    return out


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross products of (n, 3) arrays (np.cross costs more than the physics here)."""
    out = np.empty_like(a)
    out[:, 0] = a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1]
    out[:, 1] = a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]
    out[:, 2] = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    return out
