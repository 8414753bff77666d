"""The rotation reward (HORA / RotateIt form, as in DexNDM), term by term.

Each term is a named quantity weighted by config.RewardConfig and reported in `info` as
`reward/<term>` (the weighted contribution, so the terms add up to the reward).
"""

from __future__ import annotations

import mujoco
import numpy as np

from dexndm_envs.core import geometry
from dexndm_envs.core.constants import NUM_JOINTS
from dexndm_envs.sim.config import RewardConfig


class RewardTerms:
    """Computes the reward of a step from MuJoCo state; keeps per-episode state (goal, q_init)."""

    def __init__(self, config: RewardConfig) -> None:
        self.config = config
        self.rot_vel = 0.0
        """Object angular velocity projected on the axis (rad/s), of the last step."""
        self.rot_perp = 0.0
        """Norm of the angular velocity off the axis, ||omega x k|| (rad/s), of the last step."""
        self.angvel_world = np.zeros(3)
        self.axis_dev_weight = 0.0
        self.goals_reached = 0
        self._q_init = np.zeros(NUM_JOINTS)
        self._axis = np.array([0.0, 0.0, 1.0])
        self._axis_xyz = (0.0, 0.0, 1.0)
        self._goal_quat = np.array([1.0, 0.0, 0.0, 0.0])

    def reset(
        self, resets: int, joint_pos_rad: np.ndarray, object_quat: np.ndarray, axis: np.ndarray
    ) -> None:
        """Start an episode: the pose to stay near, the axis, the first goal waypoint.

        Args:
            resets: how many resets this env has done (the axis-deviation weight ramps with it).
        """
        cfg = self.config
        start, end = cfg.axis_dev_ramp_resets
        ramp = np.clip((resets - start) / max(end - start, 1), 0.0, 1.0)
        self.axis_dev_weight = float(cfg.axis_dev_max * ramp)
        self._q_init = joint_pos_rad.copy()
        self._axis = np.asarray(axis, dtype=np.float64)
        self._axis_xyz = tuple(self._axis.tolist())
        self.rot_vel = self.rot_perp = 0.0
        self.angvel_world = np.zeros(3)
        self.goals_reached = 0
        self._goal_quat = self._next_goal(object_quat)

    def _next_goal(self, object_quat: np.ndarray) -> np.ndarray:
        step = geometry.axis_angle_quat(self._axis, self.config.goal_step_rad)
        return geometry.quat_mul(step, object_quat)

    def bind(self, data: mujoco.MjData, obj_body: int, obj_dof: int) -> None:
        """Read from this MjData from now on (views are made once: step is a hot path)."""
        self._obj_rot = data.xmat[obj_body].reshape(3, 3)
        self._obj_quat = data.xquat[obj_body]
        # a free joint's velocity: linear in the world frame, angular in the body frame
        self._obj_linvel = data.qvel[obj_dof : obj_dof + 3]
        self._obj_angvel_body = data.qvel[obj_dof + 3 : obj_dof + 6]
        self._joint_pos = data.qpos[:NUM_JOINTS]
        self._joint_vel = data.qvel[:NUM_JOINTS]
        self._torque = data.actuator_force[:NUM_JOINTS]

    def compute(self, dropped: bool = False) -> tuple[float, dict[str, float]]:
        """The reward of the step just simulated (in the bound MjData) and its weighted terms.

        Args:
            dropped: whether the object left the hand in this step (the drop penalty).
        """
        cfg = self.config
        # ndarray.dot: the @ operator's dispatch costs twice as much on 3-vectors
        self.angvel_world = angvel = self._obj_rot.dot(self._obj_angvel_body)
        wx, wy, wz = angvel.tolist()
        kx, ky, kz = self._axis_xyz
        self.rot_vel = rot_vel = wx * kx + wy * ky + wz * kz
        # ||omega x k||_1 in scalars: np.cross costs more than the rest of the reward together
        cx, cy, cz = wy * kz - wz * ky, wz * kx - wx * kz, wx * ky - wy * kx
        axis_dev = abs(cx) + abs(cy) + abs(cz)
        self.rot_perp = (cx * cx + cy * cy + cz * cz) ** 0.5
        linvel, qvel, torque = self._obj_linvel, self._joint_vel, self._torque
        q_err = self._joint_pos - self._q_init
        terms = {
            "reward/rot": cfg.rot * min(max(rot_vel, -cfg.rot_clip_rad_s), cfg.rot_clip_rad_s),
            "reward/axis_dev": -self.axis_dev_weight * axis_dev,
            "reward/obj_vel": -cfg.obj_vel * float(linvel.dot(linvel)),
            "reward/pose": -cfg.pose * float(q_err.dot(q_err)),
            "reward/work": -cfg.work * abs(float(torque.dot(qvel))),
            "reward/torque": -cfg.torque * float(torque.dot(torque)),
            "reward/goal": self._goal_bonus(self._obj_quat) if cfg.goal_bonus else 0.0,
            "reward/drop": -cfg.drop if dropped else 0.0,
        }
        return sum(terms.values()), terms

    def _goal_bonus(self, object_quat: np.ndarray) -> float:
        if geometry.quat_angle(object_quat, self._goal_quat) > self.config.goal_tolerance_rad:
            return 0.0
        self.goals_reached += 1
        self._goal_quat = self._next_goal(self._goal_quat)
        return self.config.goal_bonus
