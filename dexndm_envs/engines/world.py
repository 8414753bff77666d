"""World profiles: the settings of a physics engine that a scene's MJCF does not say.

A MuJoCo scene carries its own physics (timestep, solver, contact softness). Another engine
reading the same compiled model must choose what MuJoCo's model cannot tell it: PhysX's solver
and its iterations, contact offsets, how per-geom friction becomes PhysX's averaged material
friction, and how MuJoCo's passive joint terms (damping, dry friction), which act outside the
actuator's clamp and have no PhysX 5.3 counterpart, are applied. A `WorldProfile` holds those
choices; presets are named (`WORLDS`), and a YAML/JSON file of the same fields passes in a
world nobody tuned on (`load_world`).

The "default" preset runs TGS at 2 substeps of 0.005 s with 20 position and 2 velocity
iterations, contact offset 2 mm, rest offset 0, no sleeping: the coarsest setting whose
figures stay near those of a finer one (WORLDS says how it was chosen). PhysX is stable at
one step of 0.01 s and 10 iterations too ("coarse"), but its contacts are then far from
converged, and a policy's figures with them.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from dexndm_envs.core.checks import (
    Choice,
    Flag,
    Integer,
    Number,
    SettingError,
    Text,
    check_fields,
    setting,
)
from dexndm_envs.core.settings_file import load_named

ENGINES = ("mujoco", "physx")
"""The physics engines a scene can run on (engine= of the sim environments)."""


class WorldProfileError(SettingError):
    """An unknown world profile name, or a profile (file) with unusable values."""


@dataclass(frozen=True)
class WorldProfile:
    """How PhysX runs a scene compiled for MuJoCo (see the module docstring).

    Each field's rule leaves room well beyond the presets; a profile outside it is refused when
    it is made.
    """

    name: str = setting("default", Text())
    substeps: int = setting(2, Integer(1, 20))
    """PhysX steps per physics step of the scene (its MuJoCo timestep, 0.01 s in the task)."""
    solver: str = setting("tgs", Choice(("tgs", "pgs")))
    """PhysX's solver: temporal Gauss-Seidel (its articulation default) or projected G-S."""
    position_iterations: int = setting(20, Integer(1, 255))
    """Solver position iterations per step, for every body."""
    velocity_iterations: int = setting(2, Integer(0, 255))
    """Solver velocity iterations per step, for every body."""
    contact_offset_m: float = setting(0.002, Number(0.0, 0.05, low_open=True))
    """Distance at which PhysX starts generating contacts for a pair of shapes."""
    rest_offset_m: float = setting(0.0, Number(-0.01, 0.01))
    """Separation at which shapes come to rest (0: touching; MuJoCo's soft contacts rest a
    fraction of a millimetre inside)."""
    friction_mapping: str = setting("pair", Choice(("pair", "raw")))
    """How MuJoCo's per-geom sliding friction becomes PhysX materials, whose friction PhysX
    averages over a contact's two shapes. "pair": every geom of priority 0 (the hand, static
    walls) takes base_friction and a geom of higher priority (the object, chaos-box balls)
    2 mu - base_friction, so that each contact it makes has MuJoCo's friction (MuJoCo takes the
    higher-priority geom's); contacts among priority-0 geoms then have base_friction. "raw":
    every geom keeps its own MuJoCo friction and PhysX averages them."""
    base_friction: float = setting(0.5, Number(0.0, 5.0))
    """The friction of priority-0 geoms under friction_mapping="pair" (the hand's links)."""
    static_friction_ratio: float = setting(1.0, Number(1.0, 3.0))
    """Static friction over dynamic friction (MuJoCo has one coefficient)."""
    restitution: float = setting(0.0, Number(0.0, 1.0))
    """Coefficient of restitution of every material (MuJoCo's task contacts do not bounce)."""
    passive_joint_forces: bool = setting(True, Flag())
    """Apply the joints' MuJoCo damping and frictionloss as explicit joint torques every PhysX
    step (without them the fingers track 0.4-0.5 rad off MuJoCo's)."""
    frictionloss_velocity_rad_s: float = setting(0.1, Number(0.0, 10.0, low_open=True))
    """Joint speed at which the explicit dry friction reaches frictionloss: below it the torque
    grows linearly with speed, so that an explicit step cannot flip a slow joint's motion
    (0.1 rad/s keeps the step's added damping below the stable bound at 0.01 s)."""
    max_depenetration_velocity_m_s: float = setting(0.5, Number(0.0, 100.0, low_open=True))
    """The fastest PhysX pushes overlapping shapes apart (grasps settled in MuJoCo start a
    fraction of a millimetre inside one another)."""
    angular_damping: float = setting(0.0, Number(0.0, 10.0))
    """Velocity damping of free bodies' spin (PhysX's default is 0.05 1/s; MuJoCo has none)."""
    linear_damping: float = setting(0.0, Number(0.0, 10.0))
    """Velocity damping of free bodies' motion (PhysX's default and MuJoCo: none)."""
    enable_pcm: bool = setting(True, Flag())
    """PhysX's persistent contact manifolds (its default)."""

    def __post_init__(self) -> None:
        check_fields(self, f"world profile {self.name!r}: field ", WorldProfileError)
        if self.rest_offset_m >= self.contact_offset_m:
            raise WorldProfileError(
                f"world profile {self.name!r}: rest_offset_m ({self.rest_offset_m:g}) must be "
                f"below contact_offset_m ({self.contact_offset_m:g})"
            )

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


WORLDS: dict[str, WorldProfile] = {
    "default": WorldProfile(),
    "coarse": WorldProfile(
        name="coarse", substeps=1, position_iterations=10, velocity_iterations=1
    ),
    "fine": WorldProfile(name="fine", substeps=4, position_iterations=40, velocity_iterations=4),
}
"""Named presets: "default" (the PhysX world every figure is measured in: 2 substeps of
0.005 s, 20 position and 2 velocity iterations), "coarse" (one step of 0.01 s and 10
iterations: stable, twice as fast, and far from converged) and "fine" (half default's step,
twice its iterations: the check of its convergence). The default was chosen by convergence,
on seeds the DexNDM loop does not use (the shipped policy, 400 starts from seeds 5000-5399,
docs/results/2026-12_physx_0.2.0.md): coarse turns at RotR 156, default at 67, fine at 53."""


def load_world(profile: str | os.PathLike | WorldProfile) -> WorldProfile:
    """A preset by name, a YAML/JSON file of WorldProfile fields, or a profile as is.

    Fields a file leaves out keep the "default" preset's values; its name defaults to the
    file's stem.

    Raises:
        WorldProfileError: for an unknown name, an unreadable file, unknown fields or bad values.
    """
    return load_named(
        profile, WORLDS, WorldProfile, WorldProfileError, "world profile", "world_profile"
    )
