"""The hands the DexNDM loop compares: the virtual hand, and the virtual hand with some of its
differences from the sim put back to the sim's value.

The virtual LEAP hand differs from the ideal sim hand in several ways at once (a HardwareProfile
and the hand's servo settings). FACTORS says how to put each one back to the sim's own value;
`hands` builds the virtual hand, one hand per factor, the "reachable" hand and the hand with
all of them back.

Latency, backlash, friction, inertia and the per-motor spread change how a joint follows its
target: a target correction can compensate them (REACHABLE), and the "reachable" hand is what a
residual that made every joint follow its targets as in the sim would leave. The torque limit
cannot be lifted by any target (the servo's current is capped at Goal Current whatever it is
asked for), and the mounting offsets are invisible to every joint reading the model and the
adapter see. The study that runs the base policy on each of these hands is
examples/studies/gap_breakdown.py (docs/studies/gap_breakdown.md).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

from dexndm_envs.core.constants import JOINT_NAMES
from dexndm_envs.hand.config import HandConfig, load_hand_config
from dexndm_envs.virtual.profiles import HardwareProfile, load_profile


@dataclasses.dataclass(frozen=True)
class SimNominal:
    """The ideal hand's joint physics (the medians over its 16 joints) and action latency."""

    torque_limit_nm: float
    frictionloss_nm: float
    armature_kgm2: float
    action_latency_s: float = 0.0
    """How long new targets wait (the nominal hand's, RandomizationConfig.nominal_action_latency_s):
    0 for the ideal hand as modelled, the reference latency for the DexNDM loop's."""

    @classmethod
    def of_env(cls, env: gym.Env) -> SimNominal:
        model = env.unwrapped.model
        dofs = [model.jnt_dofadr[model.joint(name).id] for name in JOINT_NAMES]
        acts = [model.actuator(name).id for name in JOINT_NAMES]
        return cls(
            torque_limit_nm=float(np.median(model.actuator_forcerange[acts, 1])),
            frictionloss_nm=float(np.median(model.dof_frictionloss[dofs])),
            armature_kgm2=float(np.median(model.dof_armature[dofs])),
            action_latency_s=env.unwrapped.config.randomization.nominal_action_latency_s,
        )


Hand = tuple[HardwareProfile, HandConfig]
Factor = Callable[[HardwareProfile, HandConfig, SimNominal], Hand]


def _sim_torque_limit(profile: HardwareProfile, hand: HandConfig, sim: SimNominal) -> Hand:
    current = math.ceil(sim.torque_limit_nm / profile.torque_constant_nm_per_a * 1e3)
    limit = max(hand.current_limit_ma, current)
    matched = dataclasses.replace(
        hand, current_limit_ma=limit, goal_current_ma=(current,) * len(JOINT_NAMES)
    )
    return profile, matched


def _profile_change(**fields: Callable[[SimNominal], float] | float) -> Factor:
    def apply(profile: HardwareProfile, hand: HandConfig, sim: SimNominal) -> Hand:
        values = {k: v(sim) if callable(v) else v for k, v in fields.items()}
        return dataclasses.replace(profile, **values), hand

    return apply


FACTORS: dict[str, Factor] = {
    "torque_limit": _sim_torque_limit,
    "latency": _profile_change(
        command_latency_s=lambda sim: sim.action_latency_s, read_latency_s=0.0
    ),
    "backlash": _profile_change(backlash_rad=0.0),
    "friction": _profile_change(coulomb_friction_nm=lambda sim: sim.frictionloss_nm),
    "inertia": _profile_change(rotor_inertia_kgm2=lambda sim: sim.armature_kgm2),
    "mounting": _profile_change(zero_offset_rad=0.0),
    "spread": _profile_change(gain_spread=0.0, friction_spread=0.0, inertia_spread=0.0),
}
"""Each difference of the virtual hand from the sim, as the change that puts it back to the
sim's value: torque_limit (Goal Current raised until the servo's torque limit is the sim's
actuator forcerange), latency (command latency at the sim's action latency, 0 unless it is a
reference hand with one, and no read latency: the sim reads at once), backlash (none),
friction (gear Coulomb friction at the sim's frictionloss), inertia (rotor inertia at the sim's
armature), mounting (no horn mounting offsets), spread (every motor at the profile's nominal
values)."""

REACHABLE = ("latency", "backlash", "friction", "inertia", "spread")
"""Factors that change how joints follow their targets: a target residual can offset them.
The torque limit (no target raises a current cap) and the mounting offsets (no joint reading
shows them) are out of its reach."""


def hands(
    profile: str | Path | HardwareProfile,
    hand_config: HandConfig | str | Path | None,
    sim: SimNominal,
) -> dict[str, Hand]:
    """The virtual hands of a breakdown: "virtual" (as given), one per factor, "reachable"
    (every REACHABLE factor at the sim's value: the hand a residual that made each joint follow
    its targets as in the sim would leave) and "all"."""
    base = (load_profile(profile), load_hand_config(hand_config))
    result = {"virtual": base}
    for name, factor in FACTORS.items():
        result[name] = factor(*base, sim)
    for name, group in (("reachable", REACHABLE), ("all", tuple(FACTORS))):
        hand = base
        for factor in group:
            hand = FACTORS[factor](*hand, sim)
        result[name] = hand
    return result
