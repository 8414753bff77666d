"""A closed-loop teacher: a learned, bounded joint-target offset on top of a periodic gait.

An open-loop gait (dexndm_agents.policies.gait) turns some objects well and drops or reverses
others, because it cannot see what the object does. Reinforcement learning can close that loop, but
with relative actions (target += action / 24) every bias of an exploring policy integrates
over 400 steps, and at the batch sizes two cores afford PPO spends its first million steps
undoing the drift (docs/training.md). Here the agent instead chooses where the targets
should be, relative to where the gait would put them:

    q*(t + 1) = q0 + g(t + 1) - g(0) + residual_rad * clip(a_t, -1, 1)

(q0: the targets the episode started from, g: the gait's target wave), and the env's relative
action steers the targets toward q*(t + 1) as fast as its rate limit allows. Exploration noise
then jitters the targets about the gait's path instead of random-walking them away, and the
agent starts from the gait's behaviour (a = 0). Its observation is the env's plus the gait's
phase (sin, cos).

`GaitOffsetWrapper` is the training env (examples/train.py --gait); `GaitOffsetPolicy`
runs a trained agent on the plain env's observations with SB3's predict signature, so
evaluation, the distillation into a proprioceptive generalist and the DexNDM loop take it
like any other policy. `load_policy` returns one for an SB3 model saved with a gait.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from dexndm_agents.policies.gait import PeriodicGait, episode_state, relative_action
from dexndm_envs.core.constants import NUM_JOINTS

DEFAULT_RESIDUAL_RAD = 0.15
"""Largest offset from the gait's targets (rad): about a third of a typical gait amplitude."""

PHASE_FEATURES = 2
"""sin and cos of the gait's phase, appended to the observation."""


def check_residual_rad(residual_rad: float) -> float:
    if not 0.0 < residual_rad <= 1.0:
        raise ValueError(f"residual_rad must be in (0, 1] rad, got {residual_rad}")
    return float(residual_rad)


class GaitOffsetWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Actions are bounded offsets from a gait's targets; the observation gains its phase.

    Args:
        env: DexNDM-Rotate-v0 (any obs_mode) whose history_len is the gait's.
        gait: a target-space PeriodicGait, its record (to_record) or the path of its .json.
        residual_rad: the offset at action +-1 (rad).
    """

    def __init__(
        self,
        env: gym.Env,
        gait: PeriodicGait | dict[str, Any] | str | Path,
        residual_rad: float = DEFAULT_RESIDUAL_RAD,
    ) -> None:
        self.gait = target_space_gait(gait)
        gym.utils.RecordConstructorArgs.__init__(
            self, gait=self.gait.to_record(), residual_rad=residual_rad
        )
        gym.Wrapper.__init__(self, env)
        self.residual_rad = check_residual_rad(residual_rad)
        self.max_delta_rad = float(env.get_wrapper_attr("max_delta_rad"))
        block = env.get_wrapper_attr("obs_layout")["joint_targets"]
        history_len = (block.stop - block.start) // NUM_JOINTS
        if history_len != self.gait.history_len:
            raise ValueError(
                f"the env's history_len is {history_len} but the gait reads observations of "
                f"history_len {self.gait.history_len}"
            )
        low, high = env.observation_space.low, env.observation_space.high
        self.observation_space = gym.spaces.Box(
            np.concatenate([low, -np.ones(PHASE_FEATURES)]).astype(np.float32),
            np.concatenate([high, np.ones(PHASE_FEATURES)]).astype(np.float32),
            dtype=np.float32,
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, (NUM_JOINTS,), dtype=np.float32)
        self._step = 0
        self._start = self._targets = np.zeros(NUM_JOINTS)

    def _observe(self, obs: np.ndarray) -> np.ndarray:
        self._targets = self.gait.targets_of(obs)
        return np.concatenate([obs, self.gait.phase_features(self._step)]).astype(np.float32)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._step = 0
        self._start = self.gait.targets_of(obs)
        return self._observe(obs), info

    def step(self, action: np.ndarray):
        offset = self.residual_rad * np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        goal = self.gait.target_goal(self._step + 1, self._start) + offset
        obs, reward, terminated, truncated, info = self.env.step(
            relative_action(goal, self._targets, self.max_delta_rad)
        )
        self._step += 1
        return self._observe(obs), reward, terminated, truncated, info


class GaitOffsetPolicy:
    """A trained residual agent and its gait as one policy on the plain env's observations.

    Args:
        agent: the residual agent (predict on wrapped observations: env obs + phase), e.g. a
            NormalizedPolicy.
        gait: the target-space gait it was trained on.
        residual_rad: the offset at action +-1 it was trained with.
        env_kwargs: the env options it was trained on.

    State, per env: (step counter, starting targets), restarted where episode_start is true.
    Like a gait, it turns its goals into actions at the hand's standard step (MAX_DELTA_RAD);
    an env whose config changes max_delta_rad needs a policy trained on that step.
    """

    def __init__(
        self,
        agent: Any,
        gait: PeriodicGait,
        residual_rad: float,
        env_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.agent = agent
        self.gait = target_space_gait(gait)
        self.residual_rad = check_residual_rad(residual_rad)
        self.env_kwargs = dict(env_kwargs or {})

    def predict(
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        batched = np.ndim(observation) == 2
        obs = np.asarray(observation, dtype=np.float32).reshape(-1, np.shape(observation)[-1])
        targets = self.gait.targets_of(obs)
        steps, start = episode_state(targets, state, episode_start)
        phases = np.stack([self.gait.phase_features(int(s)) for s in steps])
        offsets, _ = self.agent.predict(
            np.concatenate([obs, phases], axis=1), deterministic=deterministic
        )
        offsets = self.residual_rad * np.clip(np.asarray(offsets, dtype=np.float64), -1.0, 1.0)
        actions = np.stack(
            [
                relative_action(self.gait.target_goal(int(s) + 1, q0) + o, q)
                for s, q0, o, q in zip(steps, start, offsets, targets, strict=True)
            ]
        )
        return (actions if batched else actions[0]), (steps + 1, start)


def target_space_gait(gait: PeriodicGait | dict[str, Any] | str | Path) -> PeriodicGait:
    """The gait (loaded from its record or file), checked to be a target-space one."""
    if isinstance(gait, dict):
        gait = PeriodicGait.from_record(gait)
    elif not isinstance(gait, PeriodicGait):
        gait = PeriodicGait.load(gait)
    if gait.space != "target":
        raise ValueError(
            "a gait residual needs a target-space gait (search_gait.py --space target), "
            f"got space {gait.space!r}"
        )
    return gait
