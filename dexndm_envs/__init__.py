"""dexndm_envs: the LEAP hand in MuJoCo and the DexNDM environments.

Importing the package registers the Gymnasium environments:
    DexNDM-Rotate-v0  in-hand rotation about an axis (dexndm_envs.sim.rotate.RotateEnv), on the
                      ideal or the virtual LEAP hand (hardware=)
    DexNDM-Real-v0    the same interface on a LEAP hand's Dynamixel bus
                      (dexndm_envs.real.env.RealHandEnv)
    DexNDM-ChaosBox-v0  the virtual LEAP hand in the chaos box of soft balls, in process
                      (dexndm_envs.chaos.virtual_env.VirtualChaosBoxEnv)
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from dexndm_envs.core.constants import JOINT_NAMES, NUM_JOINTS
from dexndm_envs.core.version import __version__

__all__ = ["JOINT_NAMES", "NUM_JOINTS", "__version__"]

EPISODE_STEPS = 400
"""20 s at 20 Hz, as in the paper."""

if "DexNDM-Rotate-v0" not in registry:
    register(
        id="DexNDM-Rotate-v0",
        entry_point="dexndm_envs.sim.rotate:RotateEnv",
        max_episode_steps=EPISODE_STEPS,
    )

if "DexNDM-Real-v0" not in registry:
    register(
        id="DexNDM-Real-v0",
        entry_point="dexndm_envs.real.env:RealHandEnv",
        max_episode_steps=EPISODE_STEPS,
        disable_env_checker=True,  # the checker would step the hardware with random actions
    )

if "DexNDM-ChaosBox-v0" not in registry:
    register(
        id="DexNDM-ChaosBox-v0",
        entry_point="dexndm_envs.chaos.virtual_env:VirtualChaosBoxEnv",
        max_episode_steps=EPISODE_STEPS,  # the box never ends an episode; a collector goes on
    )
