"""The virtual LEAP hand: Dynamixel servos, not ideal position actuators, drive the MuJoCo hand.

`VirtualMotors` replaces the model's 16 position actuators with direct torque inputs and runs,
every physics step, what an XC330 in current-based position control does (e-Manual, Operating
Mode 5 and Position PID Gain):

    error_ticks = goal_ticks - encoder_ticks          (12-bit output encoder, 4096 ticks/rev)
    u = K_P * error + K_I * sum(error) - K_D * (change of the reading over derivative_time)
        with K_P = P/128, K_I = I/65536, K_D = D/16
    current_mA = clip(loop_gain_ma * u, -bound, +bound)
        bound = min(Goal Current, Current Limit) in mode 5, Current Limit in the position modes
        (e-Manual, "Current Limit(38)": it bounds the current in every mode), and never more
        than the stall current the supply can drive (1.8 A at 5 V)
    torque = torque_constant * current, capped by the torque-speed line (stall -> no-load speed)

and then passes the torque through the gear train: backlash (no torque while the motor crosses
the play), Coulomb and viscous friction and the reflected rotor inertia (MuJoCo frictionloss,
damping and armature of each joint). Goal writes take effect after the command latency; readings
(position in ticks, velocity in 0.229 rpm units, current in mA) are quantised and arrive after the
read latency. Every motor has its own parameters, drawn from a HardwareProfile for a seed.

Registers are the hardware's own (goal positions in ticks, gains, Goal Current, Current Limit
and Operating Mode as raw values), so the same object serves the in-process env
(hardware="virtual": torque on in mode 5 with the hand config's currents, as a configured hand
runs) and the virtual hand behind the Protocol 2.0 server, whose backend copies them from the
control tables (starting, as an XC330 powers up, with torque off in mode 3).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import mujoco
import numpy as np

from dexndm_envs.core.checks import Integer, check_value
from dexndm_envs.core.constants import JOINT_NAMES, NUM_JOINTS
from dexndm_envs.dynamixel import control_table as ct
from dexndm_envs.hand.config import HandConfig, default_hand_config
from dexndm_envs.virtual.profiles import HardwareProfile, MotorParams, load_profile, sample_motors

TICKS_PER_RAD = 1.0 / ct.RAD_PER_TICK
"""12-bit absolute encoder on the output shaft (XC330 e-Manual: 4096 pulses per revolution)."""


class VirtualMotors:
    """The 16 servos of a virtual LEAP hand acting on a MuJoCo model of the hand.

    Args:
        profile: a HardwareProfile, a preset name or a profile file.
        seed: which hand (an integer >= 0): the per-motor spread is drawn from it.
        hand_config: wiring and register settings (gains, Goal Current); the LEAP default.

    Raises:
        ProfileError: for an unknown or unusable profile, and at bind() for latencies that are
            no whole number of the model's physics steps.
        SettingError: for a seed that is not an integer >= 0.
    """

    def __init__(
        self,
        profile: HardwareProfile | str = "default",
        seed: int = 0,
        hand_config: HandConfig | None = None,
    ) -> None:
        check_value("seed", seed, Integer(low=0))
        self.profile = load_profile(profile)
        self.seed = int(seed)
        self.hand = hand_config or default_hand_config()
        self.motors: MotorParams = sample_motors(self.profile, self.seed)
        self._direction = np.asarray(self.hand.direction, dtype=np.float64)
        # registers, JOINT_NAMES order (hardware units)
        self.p_gain = np.asarray(self.hand.position_p_gain, dtype=np.float64)
        self.i_gain = np.asarray(self.hand.position_i_gain, dtype=np.float64)
        self.d_gain = np.asarray(self.hand.position_d_gain, dtype=np.float64)
        self.goal_current_ma = np.asarray(self.hand.goal_current_ma, dtype=np.float64)
        self.current_limit_ma = np.full(NUM_JOINTS, float(self.hand.current_limit_ma))
        self.operating_mode = np.full(NUM_JOINTS, ct.OPERATING_MODE_CURRENT_BASED_POSITION)
        """Operating Mode (11) per motor: 5 bounds the current by Goal Current, any other by
        Current Limit alone (modes other than the position ones are not modelled)."""
        self.torque_enabled = np.ones(NUM_JOINTS, dtype=bool)
        self.goal_ticks = np.zeros(NUM_JOINTS, dtype=np.int64)
        self._sim_dt_s = 0.0
        self._model: mujoco.MjModel | None = None

    # --------------------------------------------------------------- binding
    def bind(self, model: mujoco.MjModel) -> None:
        """Turn model's hand actuators into torque inputs and write the gear-train physics.

        Call after anything else that edits the hand's actuators or joints (domain
        randomisation), then mujoco.mj_setConst.
        """
        self._qpos = np.array([model.jnt_qposadr[model.joint(n).id] for n in JOINT_NAMES])
        self._dof = np.array([model.jnt_dofadr[model.joint(n).id] for n in JOINT_NAMES])
        self._act = np.array([model.actuator(n).id for n in JOINT_NAMES])
        m, act, dof = self.motors, self._act, self._dof
        # a margin over the stall torque: the servo model, not MuJoCo, limits the torque
        stall_nm = 1.5 * self.profile.torque_constant_nm_per_a * self.profile.stall_current_a
        model.actuator_gaintype[act] = mujoco.mjtGain.mjGAIN_FIXED
        model.actuator_biastype[act] = mujoco.mjtBias.mjBIAS_NONE
        model.actuator_gainprm[act] = 0.0
        model.actuator_gainprm[act, 0] = 1.0
        model.actuator_biasprm[act] = 0.0
        model.actuator_ctrlrange[act] = (-stall_nm, stall_nm)
        model.actuator_forcerange[act] = (-stall_nm, stall_nm)
        model.dof_armature[dof] = m.rotor_inertia_kgm2
        model.dof_frictionloss[dof] = m.coulomb_friction_nm
        model.dof_damping[dof] = m.viscous_friction_nm_s
        self._sim_dt_s = float(model.opt.timestep)
        self._cmd_delay, self._read_delay = self.profile.latency_steps(self._sim_dt_s)
        self._model = model

    # ------------------------------------------------------------- registers
    def write_goal_ticks(self, ticks: np.ndarray) -> None:
        """A Goal Position write (ticks, JOINT_NAMES order); it acts after the command latency."""
        self._pending.append((self._clock + self._cmd_delay, np.asarray(ticks, dtype=np.int64)))

    def write_goal_rad(self, q_rad: np.ndarray) -> None:
        """Goal positions as model joint angles."""
        self.write_goal_ticks(self.hand.model_to_ticks(q_rad))

    # ---------------------------------------------------------------- physics
    def reset(self, data: mujoco.MjData, goal_rad: np.ndarray | None = None) -> None:
        """Start from data's state at rest: goals act at once, the gears sit mid-play."""
        assert self._model is not None, "bind() a model first"
        q = data.qpos[self._qpos]
        self.goal_ticks = self.hand.model_to_ticks(q if goal_rad is None else goal_rad)
        self._pending: deque[tuple[int, np.ndarray]] = deque()
        self._clock = 0
        self._integral = np.zeros(NUM_JOINTS)
        self._gap = np.zeros(NUM_JOINTS)
        self._current_ma = np.zeros(NUM_JOINTS)
        reading = self._reading(data)
        self._readings: deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = deque(
            [reading] * (self._read_delay + 1), maxlen=self._read_delay + 1
        )

    def run(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        nsteps: int,
        step: Callable[[mujoco.MjModel, mujoco.MjData], None] = mujoco.mj_step,
    ) -> None:
        """Advance nsteps physics steps with the servos in the loop.

        step advances one physics step: mujoco.mj_step, or an engine's (dexndm_envs.engines).
        """
        for _ in range(nsteps):
            while self._pending and self._pending[0][0] <= self._clock:
                self.goal_ticks = self._pending.popleft()[1]
            q_before = data.qpos[self._qpos].copy()
            torque, contact = self._gear_torque(self._motor_torque(data))
            data.ctrl[self._act] = torque
            step(model, data)
            # while the gears are apart the finger moves without dragging the motor along
            moved = data.qpos[self._qpos] - q_before
            self._gap = np.clip(
                self._gap - np.where(contact, 0.0, moved),
                -self.motors.backlash_rad / 2,
                self.motors.backlash_rad / 2,
            )
            self._clock += 1
            self._readings.append(self._reading(data))

    def _encoder_ticks(self, data: mujoco.MjData) -> np.ndarray:
        q_motor = self.hand.model_to_hardware_rad(data.qpos[self._qpos])
        return np.rint((q_motor + self.motors.zero_offset_rad) * TICKS_PER_RAD)

    def _motor_torque(self, data: mujoco.MjData) -> np.ndarray:
        """Torque at the motor's output (N m, hardware direction) from the position loop."""
        m, p = self.motors, self.profile
        error = self.goal_ticks - self._encoder_ticks(data)
        qd_motor = self._direction * data.qvel[self._dof]
        cycles = self._sim_dt_s / p.firmware_period_s
        self._integral = np.where(self.torque_enabled, self._integral + error * cycles, 0.0)
        u = (
            self.p_gain / 128 * error
            + self.i_gain / 65536 * self._integral
            - self.d_gain / 16 * qd_motor * TICKS_PER_RAD * p.derivative_time_s
        )
        bound = self.current_bound_ma()
        current = np.clip(m.loop_gain_ma * u, -bound, bound)
        current = np.where(self.torque_enabled, current, 0.0)
        torque = m.torque_constant_nm_per_ma * current
        # the torque-speed line: driving the way it already turns, less is left at speed
        cap = (
            m.torque_constant_nm_per_ma
            * self.profile.stall_current_a
            * 1e3
            * np.maximum(0.0, 1.0 - np.abs(qd_motor) / self.profile.no_load_speed_rad_s)
        )
        torque = np.where(torque * qd_motor > 0, np.clip(torque, -cap, cap), torque)
        self._current_ma = torque / m.torque_constant_nm_per_ma
        return torque

    def current_bound_ma(self) -> np.ndarray:
        """The largest |current| (mA) each servo's firmware lets through (module docstring)."""
        bound = ct.current_bound_ma(
            self.operating_mode, self.goal_current_ma, self.current_limit_ma
        )
        return np.minimum(bound, self.profile.stall_current_a * 1e3)

    def _gear_torque(self, torque: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Joint torque after the backlash; and where the gears are in contact all step long.

        The motor side crosses the play at no-load speed; for that fraction of the step it
        pushes nothing.
        """
        half = self.motors.backlash_rad / 2
        side = np.sign(torque) * half
        distance = np.abs(side - self._gap)
        travel = self.profile.no_load_speed_rad_s * self._sim_dt_s
        crossing = np.where(torque != 0.0, np.minimum(1.0, distance / travel), 1.0)
        self._gap = self._gap + np.sign(torque) * np.minimum(distance, travel)
        joint_torque = self._direction * torque * (1.0 - crossing)
        return joint_torque, crossing < 1.0

    # --------------------------------------------------------------- readings
    def _reading(self, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ticks = self._encoder_ticks(data).astype(np.int64)
        velocity = ct.rad_s_to_velocity_units(self._direction * data.qvel[self._dof])
        return ticks, velocity, np.rint(self._current_ma).astype(np.int64)

    def read_registers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Present Position ticks, Present Velocity units, Present Current mA), as old as the
        read latency."""
        return self._readings[0]

    def read_joint_pos(self) -> np.ndarray:
        """The present positions as model joint angles (rad), quantised and delayed."""
        return self.hand.ticks_to_model(self._readings[0][0])
