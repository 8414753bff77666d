"""Parameters of the virtual LEAP hand: what the physical hand does differently from the sim.

A `HardwareProfile` holds nominal values for one XC330-M288 servo and its gear train plus how
much motors spread around them; `sample_motors` draws one hand's 16 motors from it for a seed
(a fixed seed is a fixed physical hand). Profiles are named presets (`PROFILES`) or YAML/JSON
files of the same fields; `load_profile` takes either.

Sources, field by field, are in the docstrings: the ROBOTIS e-Manual's XC330-M288-T page
(stall torque 0.93 N m at 1.80 A and 5 V, no-load speed 81 rpm at 5 V, 288.35:1 gears, 12-bit
output encoder), shared facts on the LEAP hand, and the DexNDM paper's sysID ranges. Where no
public number exists the value is ours, and says so. Each field also declares the values it may
take (dexndm_envs.core.checks): a profile outside them is refused when it is made, and
latencies that no whole number of physics steps represents when a model is bound
(`HardwareProfile.latency_steps`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dexndm_envs.core.checks import Number, SettingError, Text, check_fields, setting
from dexndm_envs.core.constants import NUM_JOINTS
from dexndm_envs.core.settings_file import load_named


class ProfileError(SettingError):
    """An unknown profile name, or a profile (file) with unusable values."""


LATENCY = Number(0.0, 1.0)
"""A latency (s): a whole number of physics steps when bound (latency_steps), at most 1 s."""
SPREAD = Number(0.0, 1.0)
"""A relative standard deviation of the motors around a nominal value."""


@dataclass(frozen=True)
class HardwareProfile:
    """Nominal servo and gear-train physics of the virtual LEAP hand (see the module doc).

    Each field's bounds (its rule) leave wide room around an XC330 and its gear train; beyond
    them the model describes no servo of its class, and the profile is refused.
    """

    name: str = setting("default", Text())
    torque_constant_nm_per_a: float = setting(0.517, Number(0.0, 5.0, low_open=True))
    """Output torque per ampere, gears included: 0.93 N m / 1.80 A at stall (e-Manual)."""
    stall_current_a: float = setting(1.80, Number(0.0, 10.0, low_open=True))
    """Stall current at 5 V (e-Manual): with the torque constant, the stall torque."""
    loop_gain_ma: float = setting(1.42, Number(0.0, 100.0, low_open=True))
    """Current (mA) the position loop asks for per unit of K_P * error_ticks. The e-Manual does
    not publish this scale; ours makes the LEAP default P = 800 a 3.0 N m/rad spring, the
    stiffness of public LEAP sim models and the middle of the paper's sysID (1.53-4.82)."""
    firmware_period_s: float = setting(0.001, Number(0.0, 0.1, low_open=True))
    """Period of the servo's position loop: the I term sums the error once per period (ours)."""
    derivative_time_s: float = setting(0.01, Number(0.0, 1.0, low_open=True))
    """Time base of the D term: u_D = K_D * (change of the reading over this time). Not
    published; 0.01 s makes the LEAP default D = 200 about 0.06 N m s/rad of damping (within
    the current limit), inside the paper's sysID range 0.027-0.199."""
    no_load_speed_rad_s: float = setting(8.48, Number(0.0, 100.0, low_open=True))
    """81 rpm at 5 V (e-Manual): available torque falls linearly to 0 at this speed."""
    rotor_inertia_kgm2: float = setting(1.8e-3, Number(0.0, 0.1))
    """Reflected rotor inertia at the joint (MuJoCo armature); public models use 1.5e-3."""
    coulomb_friction_nm: float = setting(0.03, Number(0.0, 2.0))
    """Gear-train dry friction (MuJoCo frictionloss); public models use 0.001-0.02, a worn
    288:1 train is stickier than any of them."""
    viscous_friction_nm_s: float = setting(0.04, Number(0.0, 1.0))
    """Gear-train viscous friction (MuJoCo damping), on top of the servo's D term."""
    backlash_rad: float = setting(0.012, Number(0.0, 0.5))
    """Gear play: torque is not transmitted while the motor crosses it (about 0.7 degrees)."""
    zero_offset_rad: float = setting(0.01, Number(0.0, 0.5))
    """Standard deviation of each motor's horn mounting error: the reading and the target both
    carry it, the finger does not."""
    command_latency_s: float = setting(0.01, LATENCY)
    """From the goal-position write to the servo acting on it (USB latency timer, bus): a whole
    number of physics steps (0.01 s in every env here), at most 1 s."""
    read_latency_s: float = setting(0.01, LATENCY)
    """Age of a present-state reading when it arrives (whole physics steps, as the above)."""
    gain_spread: float = setting(0.1, SPREAD)
    """Relative standard deviation of each motor's torque constant and loop gain."""
    friction_spread: float = setting(0.3, SPREAD)
    """Relative standard deviation of each motor's friction and backlash."""
    inertia_spread: float = setting(0.1, SPREAD)
    """Relative standard deviation of each motor's reflected inertia."""

    def __post_init__(self) -> None:
        check_fields(self, f"hardware profile {self.name!r}: field ", ProfileError)

    def latency_steps(self, sim_dt_s: float) -> tuple[int, int]:
        """The command and read latencies as whole numbers of physics steps of sim_dt_s.

        The servo model acts once per physics step, so a latency must be a whole number of
        steps: one that is not (0.004 s at 0.01 s steps would round to none at all) is
        refused, not rounded.

        Raises:
            ProfileError: naming the latency, the step and the nearest latencies that fit.
        """
        return self._steps("command_latency_s", sim_dt_s), self._steps("read_latency_s", sim_dt_s)

    def _steps(self, name: str, sim_dt_s: float) -> int:
        latency_s = getattr(self, name)
        steps = latency_s / sim_dt_s
        if abs(steps - round(steps)) > 1e-6:
            below, above = math.floor(steps) * sim_dt_s, math.ceil(steps) * sim_dt_s
            raise ProfileError(
                f"hardware profile {self.name!r}: {name} = {latency_s:g} s is not a whole "
                f"number of physics steps of {sim_dt_s:g} s (the servo model acts once a "
                f"step); use {below:g} or {above:g} s"
            )
        return round(steps)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PROFILES: dict[str, HardwareProfile] = {
    "default": HardwareProfile(),
    "gentle": HardwareProfile(
        name="gentle",
        rotor_inertia_kgm2=1.5e-3,
        coulomb_friction_nm=0.015,
        viscous_friction_nm_s=0.05,
        backlash_rad=0.005,
        zero_offset_rad=0.005,
        command_latency_s=0.0,
        read_latency_s=0.0,
    ),
    "worn": HardwareProfile(
        name="worn",
        torque_constant_nm_per_a=0.45,
        rotor_inertia_kgm2=2.2e-3,
        coulomb_friction_nm=0.045,
        viscous_friction_nm_s=0.03,
        backlash_rad=0.025,
        zero_offset_rad=0.02,
        command_latency_s=0.02,
        read_latency_s=0.01,
        friction_spread=0.4,
    ),
}
"""Named presets: "default" (the reality gap every result is measured on), "gentle" (a
well-made hand: closer to the sim), "worn" (weaker, stickier, more play and latency)."""


def load_profile(profile: str | Path | HardwareProfile) -> HardwareProfile:
    """A preset by name, a YAML/JSON file of HardwareProfile fields, or a profile as is.

    Fields a file leaves out keep the "default" preset's values.

    Raises:
        ProfileError: for an unknown name, an unreadable file, unknown fields or bad values.
    """
    return load_named(
        profile, PROFILES, HardwareProfile, ProfileError, "hardware profile", "hardware_profile"
    )


@dataclass(frozen=True)
class MotorParams:
    """One hand's 16 motors, drawn from a profile (arrays in JOINT_NAMES order)."""

    torque_constant_nm_per_ma: np.ndarray
    loop_gain_ma: np.ndarray
    rotor_inertia_kgm2: np.ndarray
    coulomb_friction_nm: np.ndarray
    viscous_friction_nm_s: np.ndarray
    backlash_rad: np.ndarray
    zero_offset_rad: np.ndarray


def sample_motors(profile: HardwareProfile, seed: int) -> MotorParams:
    """Draw a hand's motors: log-normal spread around the profile's values, seeded."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1EAF]))

    def spread(value: float, rel: float) -> np.ndarray:
        return value * np.exp(rng.normal(0.0, rel, NUM_JOINTS) - rel**2 / 2)

    p = profile
    return MotorParams(
        torque_constant_nm_per_ma=spread(p.torque_constant_nm_per_a * 1e-3, p.gain_spread),
        loop_gain_ma=spread(p.loop_gain_ma, p.gain_spread),
        rotor_inertia_kgm2=spread(p.rotor_inertia_kgm2, p.inertia_spread),
        coulomb_friction_nm=spread(p.coulomb_friction_nm, p.friction_spread),
        viscous_friction_nm_s=spread(p.viscous_friction_nm_s, p.friction_spread),
        backlash_rad=spread(p.backlash_rad, p.friction_spread),
        zero_offset_rad=rng.normal(0.0, p.zero_offset_rad, NUM_JOINTS),
    )
