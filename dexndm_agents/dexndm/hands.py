"""Where a virtual hand's reality gap comes from, and how much of it a residual can reach.

The virtual LEAP hand differs from the ideal sim hand in several ways at once (a HardwareProfile
and the hand's servo settings). `breakdown` runs the base policy with direct transfer on the
virtual hand as it is, then with one difference at a time put back to the sim's own value
(FACTORS), then with the reachable ones together, then with all of them, all on the same seeds,
and reports what each one costs in RotR.

This tells what a residual on the joint targets can hope for. Latency, backlash, friction,
inertia and the per-motor spread change how a joint follows its target: a target correction can
compensate them (REACHABLE), and the "reachable" hand is what a residual that made every joint
follow its targets as in the sim would leave. The
torque limit cannot be lifted by any target (the servo's current is capped at Goal Current
whatever it is asked for), and the mounting offsets are invisible to every joint reading the
model and the adapter see.

Usage:
    from dexndm_agents import load_pretrained
    from dexndm_agents.dexndm.hands import breakdown, format_breakdown

    result = breakdown(load_pretrained(), "default", episodes=100)
    print(format_breakdown(result))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from dexndm_agents.evaluation.harness import run_episode
from dexndm_agents.evaluation.reports import paired_difference
from dexndm_agents.policies.files import Policy, policy_env_kwargs
from dexndm_envs.core.constants import JOINT_NAMES
from dexndm_envs.hand.config import HandConfig, load_hand_config
from dexndm_envs.virtual.profiles import HardwareProfile, load_profile


@dataclasses.dataclass(frozen=True)
class SimNominal:
    """The ideal hand's joint physics (the medians over its 16 joints)."""

    torque_limit_nm: float
    frictionloss_nm: float
    armature_kgm2: float

    @classmethod
    def of_env(cls, env: gym.Env) -> SimNominal:
        model = env.unwrapped.model
        dofs = [model.jnt_dofadr[model.joint(name).id] for name in JOINT_NAMES]
        acts = [model.actuator(name).id for name in JOINT_NAMES]
        return cls(
            torque_limit_nm=float(np.median(model.actuator_forcerange[acts, 1])),
            frictionloss_nm=float(np.median(model.dof_frictionloss[dofs])),
            armature_kgm2=float(np.median(model.dof_armature[dofs])),
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
    "latency": _profile_change(command_latency_s=0.0, read_latency_s=0.0),
    "backlash": _profile_change(backlash_rad=0.0),
    "friction": _profile_change(coulomb_friction_nm=lambda sim: sim.frictionloss_nm),
    "inertia": _profile_change(rotor_inertia_kgm2=lambda sim: sim.armature_kgm2),
    "mounting": _profile_change(zero_offset_rad=0.0),
    "spread": _profile_change(gain_spread=0.0, friction_spread=0.0, inertia_spread=0.0),
}
"""Each difference of the virtual hand from the sim, as the change that puts it back to the
sim's value: torque_limit (Goal Current raised until the servo's torque limit is the sim's
actuator forcerange), latency (command and read latency 0), backlash (none), friction (gear
Coulomb friction at the sim's frictionloss), inertia (rotor inertia at the sim's armature),
mounting (no horn mounting offsets), spread (every motor at the profile's nominal values)."""

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


def _rotr(
    policy: Policy,
    env_kwargs: dict,
    seeds: range,
    max_steps: int | None,
    progress: bool,
    label: str,
) -> list[float]:
    env = gym.make("DexNDM-Rotate-v0", **env_kwargs)
    try:
        return [
            run_episode(env, policy, seed, max_steps=max_steps).metrics.rotr
            for seed in tqdm(seeds, label, disable=not progress)
        ]
    finally:
        env.close()


def breakdown(
    policy: Policy,
    profile: str | Path | HardwareProfile = "default",
    hand_config: HandConfig | str | Path | None = None,
    *,
    hardware_seed: int = 0,
    episodes: int = 100,
    seed: int = 1000,
    factors: tuple[str, ...] | None = None,
    max_steps: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Direct-transfer RotR on the ideal hand, the virtual hand, and the virtual hand with each
    factor, the reachable ones, or all of them at the sim's value; the same seeds everywhere.

    Args:
        policy: the base policy (its own task options are used).
        profile, hand_config, hardware_seed: the virtual hand.
        episodes, seed: seeds seed .. seed + episodes - 1 for every hand.
        factors: which FACTORS to run one at a time (None: all); "reachable" (the REACHABLE
            ones together) and "all" always run.
        max_steps: cut episodes short (tests); None: the env's 400 steps.

    Returns:
        {"conditions": {name: {"RotR", "paired_gain", "paired_gain_se", "share_of_loss"}},
        "rotr": {name: per-episode RotR}, "sim": SimNominal fields, "seeds": [seed, episodes]}.
        paired_gain is the mean RotR over "virtual" on the same seeds; share_of_loss is that
        gain over the loss from ideal to virtual.

    Raises:
        ValueError: an unknown factor name or fewer than 2 episodes.
    """
    names = tuple(FACTORS) if factors is None else tuple(factors)
    unknown = [n for n in names if n not in FACTORS]
    if unknown:
        raise ValueError(f"unknown factors {unknown}; known: {', '.join(FACTORS)}")
    if episodes < 2:
        raise ValueError(f"episodes must be at least 2 (for a standard error), got {episodes}")
    task = policy_env_kwargs(policy)
    ideal_env = gym.make("DexNDM-Rotate-v0", **task)
    sim = SimNominal.of_env(ideal_env)
    ideal_env.close()
    seeds = range(seed, seed + episodes)
    rotr = {"ideal": _rotr(policy, task, seeds, max_steps, progress, "ideal")}
    for name, (hw_profile, hand) in hands(profile, hand_config, sim).items():
        if name not in ("virtual", "reachable", "all", *names):
            continue
        kwargs = {
            **task,
            "hardware": "virtual",
            "hardware_profile": hw_profile,
            "hardware_seed": hardware_seed,
            "hand_config": hand,
        }
        rotr[name] = _rotr(policy, kwargs, seeds, max_steps, progress, name)
    base = np.asarray(rotr["virtual"])
    loss = float(np.mean(rotr["ideal"]) - base.mean())
    conditions = {}
    for name, values in rotr.items():
        gain, gain_se = paired_difference(values, base)
        conditions[name] = {
            "RotR": float(np.mean(values)),
            "paired_gain": gain,
            "paired_gain_se": gain_se,
            "share_of_loss": gain / loss if loss > 0 else float("nan"),
        }
    return {
        "conditions": conditions,
        "rotr": rotr,
        "sim": dataclasses.asdict(sim),
        "seeds": [seed, episodes],
    }


def format_breakdown(result: dict[str, Any]) -> str:
    """The breakdown as a plain-text table."""
    lines = [
        f"{'hand':<22}{'RotR':>8}{'gain over virtual':>22}{'share of the loss':>20}",
    ]
    for name, row in result["conditions"].items():
        label = name if name in ("ideal", "virtual", "reachable", "all") else f"sim {name}"
        reach = "  (residual can reach)" if name in REACHABLE else ""
        share = "-" if math.isnan(row["share_of_loss"]) else f"{row['share_of_loss']:.0%}"
        lines.append(
            f"{label:<22}{row['RotR']:>8.1f}"
            f"{row['paired_gain']:>+14.1f} ± {row['paired_gain_se']:<5.1f}"
            f"{share:>19}{reach}"
        )
    return "\n".join(lines)


def plot_breakdown(result: dict[str, Any], path: Path, title: str = "") -> Path:
    """A bar per factor: the RotR it costs (its paired gain when put back to the sim's value),
    coloured by whether a target residual can reach it; "reachable", "all" and the whole loss
    for scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["conditions"]
    names = [n for n in rows if n not in ("ideal", "virtual")]
    gains = [rows[n]["paired_gain"] for n in names]
    errors = [rows[n]["paired_gain_se"] for n in names]
    together = ("reachable", "all")
    colors = [
        "grey" if n in together else "tab:blue" if n in REACHABLE else "tab:red" for n in names
    ]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2))
    ax.barh(names, gains, xerr=errors, color=colors)
    ax.axvline(rows["ideal"]["paired_gain"], color="black", linestyle="--", label="ideal - virtual")
    ax.invert_yaxis()
    ax.set_xlabel("RotR regained with the factor at the sim's value (mean +- s.e.)")
    ax.set_title(title or "the reality gap, factor by factor (blue: a residual can reach it)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
