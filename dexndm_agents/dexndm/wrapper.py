"""NDMResidualWrapper: DexNDM's residual adapter between any policy and the hand.

Whatever acts through the wrapper is unchanged: it sends the same relative actions and sees
observations in the same layout. The wrapper follows the joint targets the policy means
(its base targets a_t), asks the bundle's residual adapter for a correction a_res (rad), and
sends the env the action that puts the hand's targets at a_t + a_res (arXiv 2510.08556,
"Residual policy"). The target history in the observation is the policy's own, as in the
simulator it was trained in; `info["residual"]` holds the correction actually executed (16,
rad) and `info["base_targets"]` the policy's targets.

A correction is executed exactly unless a joint limit stops it. A policy that moves a joint
at full speed (max_delta_rad a step, two thirds of the shipped policy's actions) leaves no room
within that step for a correction in the direction of motion, so the wrapper raises the env's
step limit by twice the adapter's bound, the most a correction can change in a step: the hand
then gets a_t + a_res exactly, and never more than the policy's own step plus that headroom.
The wrapper's own `max_delta_rad` stays the policy's step; closing it restores the env's.

    >>> import gymnasium as gym, dexndm_envs
    >>> from dexndm_agents import NDMResidualWrapper
    >>> env = NDMResidualWrapper(gym.make("DexNDM-Rotate-v0", hardware="virtual"), "default")
    >>> obs, info = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    >>> info["residual"].shape
    (16,)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from dexndm_agents.dexndm.adapters import NumpyAdapter
from dexndm_agents.dexndm.bundle import Bundle
from dexndm_envs.core import interface
from dexndm_envs.core.constants import JOINT_LOWER_RAD, JOINT_UPPER_RAD, NUM_JOINTS


class NDMResidualWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds a DexNDM residual to the joint targets of whatever acts on the env.

    Args:
        env: an env with the shared interface (DexNDM-Rotate-v0, also with hardware="virtual",
            or DexNDM-Real-v0): relative-target actions, `obs_layout` with a "joint_targets"
            block, and `joint_pos` / `joint_targets` in every info.
        bundle: a shipped bundle's name ("default"), a bundle file, or a loaded Bundle.
    """

    def __init__(self, env: gym.Env, bundle: str | Path | Bundle = "default") -> None:
        gym.utils.RecordConstructorArgs.__init__(self, bundle=bundle)
        gym.Wrapper.__init__(self, env)
        self.bundle = bundle if isinstance(bundle, Bundle) else Bundle.load(bundle)
        space = env.action_space
        if not isinstance(space, gym.spaces.Box) or space.shape != (NUM_JOINTS,):
            raise ValueError(
                f"NDMResidualWrapper needs the hand's Box action space of shape ({NUM_JOINTS},); "
                f"got {space}"
            )
        try:
            layout = env.get_wrapper_attr("obs_layout")
            self.max_delta_rad = float(env.get_wrapper_attr("max_delta_rad"))
        except AttributeError as err:
            raise ValueError(
                f"NDMResidualWrapper needs an env with the shared interface (obs_layout, "
                f"max_delta_rad): {err}"
            ) from None
        if "joint_targets" not in layout:
            raise ValueError("the env's observation has no 'joint_targets' block to keep")
        self._targets_slice = layout["joint_targets"]
        # the policy's step stays ours; the env's grows by the most a correction can change
        self._env_max_delta_rad = self.max_delta_rad
        self._send_max_delta_rad = self.max_delta_rad + 2.0 * self.bundle.residual.bound_rad
        self.env.unwrapped.max_delta_rad = self._send_max_delta_rad
        obs_history = (self._targets_slice.stop - self._targets_slice.start) // NUM_JOINTS
        self.adapter = NumpyAdapter(self.bundle.residual)
        self._length = max(self.adapter.history, obs_history)
        self._obs_history = obs_history
        self._joint_pos = np.zeros((self._length, NUM_JOINTS))
        self._base_targets = np.zeros((self._length, NUM_JOINTS))
        self._sent_targets = np.zeros(NUM_JOINTS)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._joint_pos[:] = info["joint_pos"]
        self._sent_targets = np.array(info["joint_targets"], dtype=np.float64)
        self._base_targets[:] = self._sent_targets
        info["residual"] = np.zeros(NUM_JOINTS)
        info["base_targets"] = self._sent_targets.copy()
        return obs, info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        action = interface.check_action(action)
        base = interface.next_targets(self._base_targets[-1], action, self.max_delta_rad)
        self._base_targets[:-1] = self._base_targets[1:]
        self._base_targets[-1] = base
        history = self.adapter.history
        correction = self.adapter(self._joint_pos[-history:], self._base_targets[-history:])
        wanted = np.clip(base + correction, JOINT_LOWER_RAD, JOINT_UPPER_RAD)
        sent_action = np.clip((wanted - self._sent_targets) / self._send_max_delta_rad, -1.0, 1.0)
        obs, reward, terminated, truncated, info = self.env.step(sent_action)
        self._sent_targets = np.array(info["joint_targets"], dtype=np.float64)
        self._joint_pos[:-1] = self._joint_pos[1:]
        self._joint_pos[-1] = info["joint_pos"]
        info["residual"] = self._sent_targets - base
        info["base_targets"] = base.copy()
        return self._with_base_targets(obs), reward, terminated, truncated, info

    def close(self) -> None:
        self.env.unwrapped.max_delta_rad = self._env_max_delta_rad
        super().close()

    def _with_base_targets(self, obs: np.ndarray) -> np.ndarray:
        """The observation with the policy's own target history in place of the sent one."""
        obs = obs.copy()
        own = interface.normalize_joints(self._base_targets[-self._obs_history :])
        obs[self._targets_slice] = own.ravel()
        return obs
