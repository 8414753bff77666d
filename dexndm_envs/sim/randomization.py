"""Domain randomisation of DexNDM-Rotate-v0 (ranges: config.RandomizationConfig).

Per reset: object mass, friction, scale (through the grasp drawn), centre of mass; actuator
gains, joint damping and friction per joint; action latency. Per step: observation noise and
random disturbance forces on the object. With randomisation off, the nominal model is used (its
action latency: RandomizationConfig.nominal_action_latency_s) and the per-step hooks return at
once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from dexndm_envs.core.constants import NUM_JOINTS
from dexndm_envs.sim import scene
from dexndm_envs.sim.config import RandomizationConfig


@dataclass(frozen=True)
class RandomizationParams:
    """One episode's draw (multipliers scale the hand's nominal values)."""

    object_mass_kg: float
    object_friction: float
    object_scale: float
    object_com_offset_m: np.ndarray
    actuator_kp_scale: np.ndarray
    joint_damping_scale: np.ndarray
    joint_friction_scale: np.ndarray
    latency_steps: int
    """Physics steps into each control period before new targets take effect."""

    def as_dict(self) -> dict[str, Any]:
        return {
            name: (value.copy() if isinstance(value, np.ndarray) else value)
            for name, value in self.__dict__.items()
        }


class Randomizer:
    """Samples and applies RandomizationParams; owns per-step noise and disturbances.

    Args:
        config: the ranges, and whether randomisation is on.
        sim_dt_s: physics timestep, to quantise latency.
        frame_skip: physics steps per control step (latency stays below one control period).
    """

    def __init__(self, config: RandomizationConfig, sim_dt_s: float, frame_skip: int) -> None:
        self.config = config
        self.sim_dt_s = sim_dt_s
        self.frame_skip = frame_skip
        self.latency_steps = 0
        self._force = np.zeros(3)
        self._mass_kg = 0.0
        self._nominal: dict[str, np.ndarray] | None = None

    def bind(self, model: mujoco.MjModel) -> None:
        """Record the hand's nominal parameters (the same in every scene) from the first model."""
        if self._nominal is None:
            self._nominal = {
                "gain": model.actuator_gainprm[:NUM_JOINTS, 0].copy(),
                "bias": model.actuator_biasprm[:NUM_JOINTS, 1].copy(),
                "damping": model.dof_damping[:NUM_JOINTS].copy(),
                "frictionloss": model.dof_frictionloss[:NUM_JOINTS].copy(),
            }

    def sample(self, rng: np.random.Generator, scale: float) -> RandomizationParams:
        """Draw one episode's parameters (nominal ones when randomisation is off)."""
        cfg = self.config
        if not cfg.enabled:  # the nominal hand: its latency is whole steps (check_config)
            ones = np.ones(NUM_JOINTS)
            return RandomizationParams(
                object_mass_kg=scene.OBJECT_MASS_KG,
                object_friction=scene.OBJECT_FRICTION,
                object_scale=scale,
                object_com_offset_m=np.zeros(3),
                actuator_kp_scale=ones,
                joint_damping_scale=ones,
                joint_friction_scale=ones,
                latency_steps=round(cfg.nominal_action_latency_s / self.sim_dt_s),
            )
        latency_s = rng.uniform(*cfg.action_latency_s)
        return RandomizationParams(
            object_mass_kg=float(rng.uniform(*cfg.object_mass_kg)),
            object_friction=float(rng.uniform(*cfg.object_friction)),
            object_scale=scale,
            object_com_offset_m=rng.uniform(-cfg.object_com_offset_m, cfg.object_com_offset_m, 3),
            actuator_kp_scale=rng.uniform(*cfg.actuator_kp_scale, NUM_JOINTS),
            joint_damping_scale=rng.uniform(*cfg.joint_damping_scale, NUM_JOINTS),
            joint_friction_scale=rng.uniform(*cfg.joint_friction_scale, NUM_JOINTS),
            latency_steps=min(round(latency_s / self.sim_dt_s), self.frame_skip - 1),
        )

    def apply(
        self, model: mujoco.MjModel, physics: scene.ObjectPhysics, params: RandomizationParams
    ) -> None:
        """Write params into model (call mujoco.mj_setConst afterwards)."""
        nominal = self._nominal
        assert nominal is not None, "bind() a model first"
        physics.apply(
            model,
            scale=params.object_scale,
            mass_kg=params.object_mass_kg,
            friction=params.object_friction,
            com_offset_m=params.object_com_offset_m,
        )
        model.actuator_gainprm[:NUM_JOINTS, 0] = nominal["gain"] * params.actuator_kp_scale
        model.actuator_biasprm[:NUM_JOINTS, 1] = nominal["bias"] * params.actuator_kp_scale
        model.dof_damping[:NUM_JOINTS] = nominal["damping"] * params.joint_damping_scale
        model.dof_frictionloss[:NUM_JOINTS] = nominal["frictionloss"] * params.joint_friction_scale
        self.latency_steps = params.latency_steps
        self._force[:] = 0.0
        self._mass_kg = params.object_mass_kg

    def disturb(self, data: mujoco.MjData, body: int, rng: np.random.Generator) -> None:
        """Update the random force on the object (resampled with disturbance_prob, decaying)."""
        cfg = self.config
        if not cfg.enabled or cfg.disturbance_prob <= 0.0:
            return
        self._force *= cfg.disturbance_decay
        if rng.random() < cfg.disturbance_prob:
            direction = rng.normal(size=3)
            self._force = (
                direction / np.linalg.norm(direction) * cfg.disturbance_n_per_kg * self._mass_kg
            )
        data.xfrc_applied[body, :3] = self._force

    def observe(self, joint_pos_rad: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Joint positions as observed: with uniform noise when randomisation is on."""
        cfg = self.config
        if not cfg.enabled or cfg.obs_noise_rad <= 0.0:
            return joint_pos_rad
        return joint_pos_rad + rng.uniform(-cfg.obs_noise_rad, cfg.obs_noise_rad, NUM_JOINTS)
