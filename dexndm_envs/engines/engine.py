"""The engine interface: advance a scene's MuJoCo state by physics steps, as mj_step does.

An engine owns no state of its own that the environment reads: `data` (a `mujoco.MjData`) is
the world's state on every engine. After `step`, data.qpos, data.qvel and data.time are the new
state and the derived quantities (body poses, contacts, actuator forces) those of the state the
step started from, as after `mujoco.mj_step`. Whoever writes the state or the model outside
`step` (a reset, a randomiser) calls `reset` before the next step.
"""

from __future__ import annotations

import os
from typing import Protocol

import mujoco

from dexndm_envs.engines.world import ENGINES, WorldProfile, WorldProfileError, load_world


class Engine(Protocol):
    """What the environments need of a physics engine (see the module docstring)."""

    name: str

    def reset(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        """Take model's parameters and data's state as they are now (data after mj_forward)."""

    def step(self, model: mujoco.MjModel, data: mujoco.MjData, nstep: int = 1) -> None:
        """Advance nstep physics steps of model.opt.timestep, the controls in data held."""


class MujocoEngine:
    """MuJoCo itself: `mujoco.mj_step`."""

    name = "mujoco"

    def reset(self, model: mujoco.MjModel, data: mujoco.MjData) -> None:
        """Nothing to take: MuJoCo steps data itself."""

    def step(self, model: mujoco.MjModel, data: mujoco.MjData, nstep: int = 1) -> None:
        mujoco.mj_step(model, data, nstep=nstep)


def make_engine(engine: str, world_profile: str | os.PathLike | WorldProfile = "default") -> Engine:
    """The engine named `engine` ("mujoco" or "physx"), PhysX run as world_profile says.

    The profile is loaded and checked for either engine, so that a typo never goes unseen.

    Raises:
        WorldProfileError: for an unknown engine or a bad world profile.
        ImportError: for "physx" without SAPIEN installed.
    """
    world = load_world(world_profile)
    if engine == "mujoco":
        return MujocoEngine()
    if engine == "physx":
        from dexndm_envs.engines.physx import PhysxEngine  # imports SAPIEN: only when asked

        return PhysxEngine(world)
    raise WorldProfileError(f"engine must be one of: {', '.join(ENGINES)}, got {engine!r}")
