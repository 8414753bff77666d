"""The ideal hand's actuators, derived from the same hand config the real and virtual hands run.

The ideal hand ("ideal" hardware, what policies train on) is MuJoCo position actuators: a
spring of stiffness kp towards the joint target, a damper kv, and a torque limit. On the LEAP
hand all three are servo registers (Operating Mode 5, current-based position control), so the
ideal hand takes them from a `HandConfig` through the servo model's nominal constants (one
XC330 of the "default" `HardwareProfile`, no per-motor spread):

    kp [N m/rad]   = k_t * loop_gain * (P / 128) * ticks_per_rad
    kv [N m s/rad] = k_t * loop_gain * (D / 16) * ticks_per_rad * derivative_time
    limit [N m]    = k_t * Goal Current

with the e-Manual's K_P = P/128, K_D = D/16, the XC330's torque constant k_t = 0.517 N m/A
at stall (0.93 N m / 1.80 A) and the loop gain that makes P = 800 a 3.0 N m/rad spring
(`HardwareProfile.loop_gain_ma`). The virtual hand (`virtual_hand.VirtualMotors`) runs the
same registers through the same constants, so change the hand config and both hands follow.

For the LEAP defaults (P 800 / D 200, side-to-side motors 600 / 150, Goal Current 350 mA):
kp 3.0 N m/rad (2.24 on the side-to-side joints), kv 0.060 (0.045) N m s/rad, 0.181 N m.
The ideal hand leaves out what the servo model adds on top: the torque-speed line, backlash,
latency and quantisation; those are the reality gap (dexndm_envs.virtual.servos).

Usage:
    from dexndm_envs.sim.nominal_hand import NominalActuators
    NominalActuators.from_hand_config(load_hand_config("real/leap_hand.yaml")).apply(model)
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from dexndm_envs.core.constants import JOINT_NAMES
from dexndm_envs.dynamixel.control_table import RAD_PER_TICK
from dexndm_envs.hand.config import HandConfig, default_hand_config
from dexndm_envs.virtual.profiles import PROFILES, HardwareProfile

_NOMINAL_SERVO = PROFILES["default"]


@dataclass(frozen=True)
class NominalActuators:
    """Per-joint position-actuator parameters of the ideal hand (JOINT_NAMES order)."""

    kp_nm_per_rad: np.ndarray
    kv_nm_s_per_rad: np.ndarray
    torque_limit_nm: np.ndarray
    torque_constant_nm_per_a: float = _NOMINAL_SERVO.torque_constant_nm_per_a
    """The nominal servo's k_t, through which Goal Current became torque_limit_nm."""

    @classmethod
    def from_hand_config(
        cls, hand: HandConfig | None = None, servo: HardwareProfile = _NOMINAL_SERVO
    ) -> NominalActuators:
        """The ideal hand that runs hand's registers (the LEAP defaults when None)."""
        hand = hand or default_hand_config()
        nm_per_ma = servo.torque_constant_nm_per_a * 1e-3
        nm_per_tick_unit = nm_per_ma * servo.loop_gain_ma / RAD_PER_TICK
        p_gain = np.asarray(hand.position_p_gain, dtype=np.float64)
        d_gain = np.asarray(hand.position_d_gain, dtype=np.float64)
        return cls(
            kp_nm_per_rad=nm_per_tick_unit * p_gain / 128,
            kv_nm_s_per_rad=nm_per_tick_unit * d_gain / 16 * servo.derivative_time_s,
            torque_limit_nm=nm_per_ma * np.asarray(hand.goal_current_ma, dtype=np.float64),
            torque_constant_nm_per_a=servo.torque_constant_nm_per_a,
        )

    def apply(self, model: mujoco.MjModel) -> None:
        """Write the gains and torque limits into model's hand actuators (position actuators:
        force = kp (target - q) - kv qdot, clipped at the limit)."""
        acts = np.array([model.actuator(name).id for name in JOINT_NAMES])
        model.actuator_gainprm[acts, 0] = self.kp_nm_per_rad
        model.actuator_biasprm[acts, 1] = -self.kp_nm_per_rad
        model.actuator_biasprm[acts, 2] = -self.kv_nm_s_per_rad
        model.actuator_forcerange[acts, 0] = -self.torque_limit_nm
        model.actuator_forcerange[acts, 1] = self.torque_limit_nm

    def torque_nm(
        self, joint_targets: np.ndarray, joint_pos: np.ndarray, joint_vel: np.ndarray
    ) -> np.ndarray:
        """The torque (N m, per joint) the actuators give at this state: MuJoCo's position
        actuator, kp (target - q) - kv qdot, clipped at the torque limit."""
        spring = self.kp_nm_per_rad * (joint_targets - joint_pos)
        torque = spring - self.kv_nm_s_per_rad * joint_vel
        return np.clip(torque, -self.torque_limit_nm, self.torque_limit_nm)

    def current_ma(self, torque_nm: np.ndarray) -> np.ndarray:
        """The current (mA) a nominal servo draws for a torque: torque / k_t. The ideal hand
        has no motor; this is the reading a current-based servo giving that torque would
        report (what DexNDM-Real-v0's joint_current is), not a measurement."""
        return np.asarray(torque_nm, dtype=np.float64) / self.torque_constant_nm_per_a * 1e3

    def as_dict(self) -> dict[str, list[float]]:
        """Plain lists, as artifacts record them."""
        return {
            "kp_nm_per_rad": self.kp_nm_per_rad.round(6).tolist(),
            "kv_nm_s_per_rad": self.kv_nm_s_per_rad.round(6).tolist(),
            "torque_limit_nm": self.torque_limit_nm.round(6).tolist(),
        }
