"""Configuration of DexNDM-Rotate-v0: reward weights, domain randomisation, physics.

Every number has its source next to it, and every field the values it may take (its rule,
dexndm_envs.core.checks). `default_config()` returns a fresh, mutable config; the env takes one
(or a nested dict of overrides) through its `config=` option, and `merge_config` checks every
field before the env builds anything.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dexndm_envs.core.checks import (
    RULE,
    Flag,
    Integer,
    Number,
    Pair,
    Section,
    SettingError,
    SettingTypeError,
    check_fields,
    check_value,
    setting,
)

PENALTY = Number(0.0)
"""A penalty weight: the reward subtracts it times a non-negative quantity, so a negative one
would pay for what it penalises."""
ANGLE = Number(0.0, math.pi, low_open=True)
POSITIVE_RANGE = Pair(0.0, low_open=True)
"""A range of a quantity that cannot be 0 or less (mass, size, stiffness)."""
RESET_RANGE = Pair(0, integer=True, names=("start", "end"))
MAX_SIM_DT_S = 0.02
"""The longest physics timestep allowed: twice the largest of public LEAP sim models."""
MAX_FRAME_SKIP = 100
MAX_DELTA_RULE = Number(0.0, 1.0, low_open=True)
"""A full action's target change (rad per step): the paper's 1/24 rad, at most 1 rad."""


@dataclass
class RewardConfig:
    """Weights of the rotation reward (HORA / RotateIt form, DexNDM base-policy details).

    r = w_rot * clip(omega . k, -rot_clip, rot_clip) + r_goal
        - w_axis(resets) * ||omega x k||_1 - w_obj_vel * ||v_obj||^2
        - w_pose * ||q - q_init||^2 - w_work * |tau . qdot| - w_torque * ||tau||^2
        - w_drop * [the object dropped this step]
    """

    rot: float = setting(1.0, Number(0.0))
    rot_clip_rad_s: float = setting(0.5, Number(0.0, low_open=True))
    axis_dev_max: float = setting(0.1, PENALTY)
    """Axis-deviation weight after the ramp (paper: 0 -> 0.1)."""
    axis_dev_ramp_resets: tuple[int, int] = setting((10, 100), RESET_RANGE)
    """The axis-deviation weight ramps linearly from 0 to axis_dev_max over these resets."""
    obj_vel: float = setting(0.3, PENALTY)
    pose: float = setting(0.3, PENALTY)
    work: float = setting(2.0, PENALTY)
    """Applied to |tau . qdot|: the paper writes tau^T qdot; we take the magnitude so that
    negative work (the object driving a finger) is not rewarded."""
    torque: float = setting(0.1, PENALTY)
    drop: float = setting(0.0, PENALTY)
    """Penalty on the step the object leaves the hand. Not in the paper (0 keeps its reward):
    under its penalties a moving hand can earn less than zero per step, and then a drop, which
    ends the episode, pays. A penalty above what the rest of an episode would cost removes
    that incentive (docs/training.md)."""
    goal_bonus: float = setting(0.0, Number(0.0))
    """Bonus for reaching a goal waypoint; 0 switches waypoints off (they are optional)."""
    goal_step_rad: float = setting(1.5707963267948966, ANGLE)
    """Each waypoint is 90 degrees ahead about the axis (paper)."""
    goal_tolerance_rad: float = setting(0.2617993877991494, ANGLE)
    """A waypoint counts as reached within 15 degrees (paper)."""


@dataclass
class RandomizationConfig:
    """Domain randomisation, resampled every reset (disturbances: every step).

    Ranges are from the DexNDM paper (object mass, friction, disturbances, observation noise)
    and the public LEAP sim work (scale, gains, joint friction/damping, latency). A range
    (lo, hi) is sampled uniformly; a multiplier range scales the nominal value.
    """

    enabled: bool = setting(False, Flag())
    object_mass_kg: tuple[float, float] = setting((0.01, 0.05), POSITIVE_RANGE)
    object_friction: tuple[float, float] = setting((0.3, 3.0), Pair(0.0))
    object_scale: tuple[float, float] = setting((0.92, 1.08), POSITIVE_RANGE)
    """Multiplier on the object's nominal size (which sits mid-range of the paper's scales)."""
    object_com_offset_m: float = setting(0.005, Number(0.0))
    """Centre of mass moved by up to this much along each object axis."""
    actuator_kp_scale: tuple[float, float] = setting((0.51, 1.61), POSITIVE_RANGE)
    """Per-joint multiplier on the hand config's stiffness: the nominal 3.0 N m/rad spans the
    paper's identified per-joint gains, 1.53-4.82 N m/rad."""
    joint_damping_scale: tuple[float, float] = setting((0.7, 1.3), Pair(0.0))
    joint_friction_scale: tuple[float, float] = setting((0.5, 2.0), Pair(0.0))
    obs_noise_rad: float = setting(0.005, Number(0.0))
    """Joint observation noise U(-a, a) (paper: U(0, 0.005))."""
    action_latency_s: tuple[float, float] = setting((0.0, 0.02), Pair(0.0))
    """New targets take effect this long into the control period."""
    nominal_action_latency_s: float = setting(0.0, Number(0.0))
    """The action latency with randomisation off, as a whole number of physics steps within
    the control period: 0 is the sim hand as modelled; a value inside action_latency_s is the
    hand a policy trained under randomisation was meant for (the DexNDM loop's reference)."""
    disturbance_prob: float = setting(0.25, Number(0.0, 1.0))
    """Per-step probability of drawing a new random force on the object (paper: p = 0.25)."""
    disturbance_n_per_kg: float = setting(2.0, Number(0.0))
    """Force magnitude per kg of object mass (public in-hand rotation sim work: force scale 2,
    about a fifth of the object's weight)."""
    disturbance_decay: float = setting(0.9, Number(0.0, 1.0))
    """Per-step decay of the current disturbance force."""


@dataclass
class RotateConfig:
    """Everything that is not a task input: physics, episode, reward, randomisation."""

    sim_dt_s: float = setting(0.01, Number(0.0, MAX_SIM_DT_S, low_open=True))
    """Physics timestep (public LEAP sim models use 0.002-0.01 s with implicitfast), at most
    MAX_SIM_DT_S."""
    frame_skip: int = setting(5, Integer(1, MAX_FRAME_SKIP))
    """Physics steps per control step: 5 x 0.01 s = the hardware's 20 Hz."""
    max_delta_rad: float = setting(1.0 / 24.0, MAX_DELTA_RULE)
    drop_distance_m: float = setting(0.08, Number(0.0, 1.0))
    """The object counts as dropped once its centre is this far from the grasp centre (0 ends
    every episode after one step: quick evaluations in tests)."""
    reward: RewardConfig = field(
        default_factory=RewardConfig, metadata={RULE: Section(RewardConfig)}
    )
    randomization: RandomizationConfig = field(
        default_factory=RandomizationConfig, metadata={RULE: Section(RandomizationConfig)}
    )


def default_config() -> RotateConfig:
    """A fresh default configuration."""
    return RotateConfig()


def merge_config(
    base: RotateConfig, overrides: dict[str, Any] | RotateConfig | None
) -> RotateConfig:
    """Apply a nested dict of overrides (or take a whole config) on a copy of base; check it.

    >>> merge_config(default_config(), {"reward": {"rot": 2.0}}).reward.rot
    2.0

    Raises:
        SettingError (a ValueError): for a key that is not a config field, naming the valid
            ones, or a value outside its field's range (check_config).
        SettingTypeError (a TypeError and a SettingError): for a value of the wrong type.
    """
    if overrides is None:
        merged = copy.deepcopy(base)
    elif isinstance(overrides, RotateConfig):
        merged = copy.deepcopy(overrides)  # the env may adjust its copy; the caller's stays
    elif isinstance(overrides, dict):
        merged = _merge(copy.deepcopy(base), overrides, "config")
    else:
        raise SettingTypeError(
            "config must be a RotateConfig or a dict of overrides, "
            f"got {overrides!r} ({type(overrides).__name__})"
        )
    check_config(merged)
    return merged


def resolve_config(
    config: dict[str, Any] | RotateConfig | None, domain_randomization: bool | None = None
) -> RotateConfig:
    """The env's config: default_config() under config's overrides, randomisation switched by
    domain_randomization (True or False; None keeps the config's flag), checked (merge_config).
    """
    check_value("domain_randomization", domain_randomization, Flag(optional=True))
    merged = merge_config(default_config(), config)
    if domain_randomization is None:
        return merged
    return merge_config(merged, {"randomization": {"enabled": bool(domain_randomization)}})


def check_config(config: RotateConfig) -> None:
    """Check every field against its rule, then what fields ask of each other.

    The action latency must end within the control period (new targets act at the latest
    on its last physics step): the range drawn from with randomisation on, the nominal one,
    also a whole number of physics steps, with it off.

    Raises:
        SettingError, SettingTypeError: naming the first field that does not fit
            ("config.randomization.object_mass_kg must be ...").
    """
    check_fields(config, "config.")
    latest_s = (config.frame_skip - 1) * config.sim_dt_s
    latency = config.randomization.action_latency_s
    if config.randomization.enabled and latency[1] > latest_s + 1e-12:
        raise SettingError(
            "config.randomization.action_latency_s must end within the control period, at "
            f"(frame_skip - 1) x sim_dt_s = {latest_s:g} s, got {tuple(latency)}"
        )
    nominal_s = config.randomization.nominal_action_latency_s
    steps = nominal_s / config.sim_dt_s
    if nominal_s > latest_s + 1e-12 or abs(steps - round(steps)) > 1e-6:
        raise SettingError(
            "config.randomization.nominal_action_latency_s must be a whole number of physics "
            f"steps of sim_dt_s = {config.sim_dt_s:g} s, at most (frame_skip - 1) x sim_dt_s = "
            f"{latest_s:g} s, got {nominal_s:g}"
        )


def _merge(obj: Any, overrides: dict[str, Any], where: str) -> Any:
    names = {f.name for f in dataclasses.fields(obj)}
    changes = {}
    for key, value in overrides.items():
        if key not in names:
            raise SettingError(f"unknown {where} key {key!r}; valid: {', '.join(sorted(names))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            value = _merge(current, value, f"{where}.{key}")
        elif isinstance(current, tuple) and isinstance(value, list | tuple | np.ndarray):
            # JSON and YAML give lists; anything else check_config refuses
            value = tuple(value.tolist() if isinstance(value, np.ndarray) else value)
        changes[key] = value
    return dataclasses.replace(obj, **changes)
