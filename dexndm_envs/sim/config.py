"""Configuration of DexNDM-Rotate-v0: reward weights, domain randomisation, physics.

Every number has its source next to it. `default_config()` returns a fresh, mutable config; the
env takes one (or a nested dict of overrides) through its `config=` option.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RewardConfig:
    """Weights of the rotation reward (HORA / RotateIt form, DexNDM base-policy details).

    r = w_rot * clip(omega . k, -rot_clip, rot_clip) + r_goal
        - w_axis(resets) * ||omega x k||_1 - w_obj_vel * ||v_obj||^2
        - w_pose * ||q - q_init||^2 - w_work * |tau . qdot| - w_torque * ||tau||^2
        - w_drop * [the object dropped this step]
    """

    rot: float = 1.0
    rot_clip_rad_s: float = 0.5
    axis_dev_max: float = 0.1
    """Axis-deviation weight after the ramp (paper: 0 -> 0.1)."""
    axis_dev_ramp_resets: tuple[int, int] = (10, 100)
    """The axis-deviation weight ramps linearly from 0 to axis_dev_max over these resets."""
    obj_vel: float = 0.3
    pose: float = 0.3
    work: float = 2.0
    """Applied to |tau . qdot|: the paper writes tau^T qdot; we take the magnitude so that
    negative work (the object driving a finger) is not rewarded."""
    torque: float = 0.1
    drop: float = 0.0
    """Penalty on the step the object leaves the hand. Not in the paper (0 keeps its reward):
    under its penalties a moving hand can earn less than zero per step, and then a drop, which
    ends the episode, pays. A penalty above what the rest of an episode would cost removes
    that incentive (docs/training.md)."""
    goal_bonus: float = 0.0
    """Bonus for reaching a goal waypoint; 0 switches waypoints off (they are optional)."""
    goal_step_rad: float = 1.5707963267948966
    """Each waypoint is 90 degrees ahead about the axis (paper)."""
    goal_tolerance_rad: float = 0.2617993877991494
    """A waypoint counts as reached within 15 degrees (paper)."""


@dataclass
class RandomizationConfig:
    """Domain randomisation, resampled every reset (disturbances: every step).

    Ranges are from the DexNDM paper (object mass, friction, disturbances, observation noise)
    and the public LEAP sim work (scale, gains, joint friction/damping, latency). A range
    (lo, hi) is sampled uniformly; a multiplier range scales the nominal value.
    """

    enabled: bool = False
    object_mass_kg: tuple[float, float] = (0.01, 0.05)
    object_friction: tuple[float, float] = (0.3, 3.0)
    object_scale: tuple[float, float] = (0.92, 1.08)
    """Multiplier on the object's nominal size (which sits mid-range of the paper's scales)."""
    object_com_offset_m: float = 0.005
    """Centre of mass moved by up to this much along each object axis."""
    actuator_kp_scale: tuple[float, float] = (0.51, 1.61)
    """Per-joint multiplier on the hand config's stiffness: the nominal 3.0 N m/rad spans the
    paper's identified per-joint gains, 1.53-4.82 N m/rad."""
    joint_damping_scale: tuple[float, float] = (0.7, 1.3)
    joint_friction_scale: tuple[float, float] = (0.5, 2.0)
    obs_noise_rad: float = 0.005
    """Joint observation noise U(-a, a) (paper: U(0, 0.005))."""
    action_latency_s: tuple[float, float] = (0.0, 0.02)
    """New targets take effect this long into the control period."""
    disturbance_prob: float = 0.25
    """Per-step probability of drawing a new random force on the object (paper: p = 0.25)."""
    disturbance_n_per_kg: float = 2.0
    """Force magnitude per kg of object mass (public in-hand rotation sim work: force scale 2,
    about a fifth of the object's weight)."""
    disturbance_decay: float = 0.9
    """Per-step decay of the current disturbance force."""


@dataclass
class RotateConfig:
    """Everything that is not a task input: physics, episode, reward, randomisation."""

    sim_dt_s: float = 0.01
    """Physics timestep (public LEAP sim models use 0.002-0.01 s with implicitfast)."""
    frame_skip: int = 5
    """Physics steps per control step: 5 x 0.01 s = the hardware's 20 Hz."""
    max_delta_rad: float = 1.0 / 24.0
    drop_distance_m: float = 0.08
    """The object counts as dropped once its centre is this far from the grasp centre."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    randomization: RandomizationConfig = field(default_factory=RandomizationConfig)


def default_config() -> RotateConfig:
    """A fresh default configuration."""
    return RotateConfig()


def merge_config(
    base: RotateConfig, overrides: dict[str, Any] | RotateConfig | None
) -> RotateConfig:
    """Apply a nested dict of overrides (or take a whole config) on a copy of base.

    >>> merge_config(default_config(), {"reward": {"rot": 2.0}}).reward.rot
    2.0

    Raises:
        ValueError: for a key that is not a config field, naming the valid ones.
    """
    if overrides is None:
        return copy.deepcopy(base)
    if isinstance(overrides, RotateConfig):
        return copy.deepcopy(overrides)  # the env may adjust its copy; the caller's stays
    if not isinstance(overrides, dict):
        raise ValueError(f"config must be a RotateConfig or a dict, got {type(overrides).__name__}")
    return _merge(copy.deepcopy(base), overrides, "config")


def _merge(obj: Any, overrides: dict[str, Any], where: str) -> Any:
    names = {f.name for f in dataclasses.fields(obj)}
    changes = {}
    for key, value in overrides.items():
        if key not in names:
            raise ValueError(f"unknown {where} key {key!r}; valid: {', '.join(sorted(names))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            value = _merge(current, value, f"{where}.{key}")
        elif isinstance(current, tuple):
            value = tuple(value)
        changes[key] = value
    return dataclasses.replace(obj, **changes)
