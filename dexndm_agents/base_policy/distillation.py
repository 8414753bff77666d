"""Specialists to generalist: collect the teachers' successful rollouts, behaviour-clone them.

DexNDM (arXiv 2510.08556), Sec. "Generalist": the oracle specialists' rollouts that hold the
object for the whole 400-step episode are distilled by plain behaviour cloning (MSE on the
actions; DAgger was tried and failed) into one proprioceptive policy. Each teacher acts in its
own env on its own (oracle) observations; beside it, the STUDENT's observation is built with a
separate ProprioHistory from exactly what the env observed (the newest joint readings and
targets in the teacher's observation, noise and virtual-hand readings included), so the
generalist trains on what DexNDM-Rotate-v0 with obs_mode="proprio", or DexNDM-Real-v0, shows it.

Usage:
    from dexndm_agents.base_policy.distillation import behaviour_clone, collect_rollouts

    dataset = collect_rollouts({"cylinder": (policy, policy.env_kwargs)}, episodes=100, seed=0)
    generalist, history = behaviour_clone(dataset, epochs=50)
    generalist.save("runs/generalist/generalist.pt")
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

import dexndm_envs
from dexndm_agents.evaluation.splits import split_episode_ids
from dexndm_agents.policies.files import Policy
from dexndm_agents.policies.generalist import Generalist, SkipMLP, observation_stats
from dexndm_envs.core import interface
from dexndm_envs.core.atomic import atomic_write
from dexndm_envs.core.constants import NUM_JOINTS

ENV_ID = "DexNDM-Rotate-v0"
DATASET_VERSION = 1


@dataclass(frozen=True, eq=False)
class BCDataset:
    """Student observations and teacher actions of the kept episodes.

    Attributes:
        obs: student (proprio) observations, float32 (N, D), D = proprio size for history_len.
        actions: the teachers' executed actions, clipped to [-1, 1], float32 (N, 16).
        episode_ids: int64 (N,); episode e ran from reset(seed=seed + e).
        teacher_index: int64 (N,), indices into teacher_names.
        teacher_names: one name per teacher (e.g. its object category).
        episodes_kept, episodes_total: per teacher, int64 (len(teacher_names),).
        history_len: the student's T.
        seed: the first episode's seed.
        episode_steps: steps an episode had to last to be kept (400: the env's time limit).
    """

    obs: np.ndarray
    actions: np.ndarray
    episode_ids: np.ndarray
    teacher_index: np.ndarray
    teacher_names: tuple[str, ...]
    episodes_kept: np.ndarray
    episodes_total: np.ndarray
    history_len: int
    seed: int = 0
    episode_steps: int = dexndm_envs.EPISODE_STEPS

    def __post_init__(self) -> None:
        size = interface.ObsLayout(interface.proprio_blocks(self.history_len)).size
        n = len(self.obs)
        if self.obs.shape != (n, size) or self.actions.shape != (n, NUM_JOINTS):
            raise ValueError(
                f"dataset shapes obs {self.obs.shape}, actions {self.actions.shape}; expected "
                f"({n}, {size}) (proprio, history_len {self.history_len}) and ({n}, {NUM_JOINTS})"
            )
        if len(self.episode_ids) != n or len(self.teacher_index) != n:
            raise ValueError("episode_ids and teacher_index need one entry per sample")

    def summary(self) -> str:
        """One line per teacher: kept / total episodes."""
        return "\n".join(
            f"{name}: kept {kept}/{total} episodes"
            for name, kept, total in zip(
                self.teacher_names, self.episodes_kept, self.episodes_total, strict=True
            )
        )

    def save(self, path: str | Path) -> Path:
        """Write a compressed .npz (the suffix is set to .npz) and return its path."""
        path = Path(path).with_suffix(".npz")
        arrays = {k: np.asarray(v) for k, v in vars(self).items()}
        with atomic_write(path) as file:
            np.savez_compressed(file, version=DATASET_VERSION, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> BCDataset:
        """Read a file written by save().

        Raises:
            FileNotFoundError: no file at path.
            ValueError: the file is not a BCDataset of a version this code reads.
        """
        if not Path(path).is_file():
            raise FileNotFoundError(f"no BC dataset at {path}")
        try:
            with np.load(path) as f:
                data = {k: f[k] for k in f.files}
        except (OSError, ValueError) as err:
            raise ValueError(f"{path} is not a BCDataset .npz ({err})") from None
        version = int(data.pop("version", 0))
        missing = {f.name for f in fields(cls)} - set(data)
        if version < 1 or missing:
            raise ValueError(f"{path} is an .npz but not a BCDataset saved by BCDataset.save")
        if version > DATASET_VERSION:
            raise ValueError(
                f"{path} is BCDataset version {version}; this code reads up to "
                f"{DATASET_VERSION}: update dexndm"
            )
        data["teacher_names"] = tuple(str(n) for n in data["teacher_names"])
        for key in ("history_len", "seed", "episode_steps"):
            data[key] = int(data[key])
        return cls(**data)


def collect_rollouts(
    teachers: Mapping[str, tuple[Policy, dict[str, Any]]],
    episodes: int,
    seed: int,
    student_history_len: int = 10,
    env_kwargs: dict[str, Any] | None = None,
    success_only: bool = True,
    deterministic: bool = True,
    progress: bool = True,
    episode_steps: int | None = None,
    action_noise_std: float = 0.0,
) -> BCDataset:
    """Run every teacher for `episodes` episodes and record (student obs, teacher action).

    Teacher k's episode e (e < episodes) has id k * episodes + e and runs from
    reset(seed=seed + id), in DexNDM-Rotate-v0 made with the teacher's env_kwargs updated by
    `env_kwargs`.

    Args:
        teachers: name -> (policy, the env options it acts under, usually obs_mode "oracle").
        episodes: episodes per teacher.
        seed: seed of the first episode.
        student_history_len: T of the student's proprio observation.
        env_kwargs: env options over every teacher's (hardware, domain_randomization, ...).
        success_only: keep only episodes that ran to the end without a drop (the paper).
        deterministic: passed to the teachers' predict.
        progress: a progress bar over episodes.
        episode_steps: cap on steps per episode (the 400-step time limit otherwise); with a cap,
            an episode "succeeds" when it does not drop within the cap. For smoke tests.
        action_noise_std: Gaussian noise added to the executed action while the label stays
            the teacher's own (DART, Laskey et al. 2017): the student sees states off the
            teacher's path together with the teacher's way back. 0 records the plain path.

    Returns:
        The kept episodes (possibly none: behaviour_clone then says so), with per-teacher counts.

    Raises:
        ValueError: no teachers, episodes < 1, student_history_len < 1, episode_steps < 1 or
            a negative action_noise_std.
    """
    if action_noise_std < 0:
        raise ValueError(f"action_noise_std must be >= 0, got {action_noise_std}")
    if episodes < 1 or not teachers:
        raise ValueError(
            f"need at least one teacher and episodes >= 1; got {len(teachers)}, {episodes}"
        )
    if student_history_len < 1:
        raise ValueError(f"student_history_len must be >= 1, got {student_history_len}")
    if episode_steps is not None and episode_steps < 1:
        raise ValueError(f"episode_steps must be >= 1 (or None: 400), got {episode_steps}")
    limit = min(episode_steps or dexndm_envs.EPISODE_STEPS, dexndm_envs.EPISODE_STEPS)
    names = tuple(teachers)
    obs, actions, ids, index = [], [], [], []
    kept = np.zeros(len(names), dtype=np.int64)
    with tqdm(total=len(names) * episodes, desc="collect", disable=not progress) as bar:
        for k, name in enumerate(names):
            policy, teacher_kwargs = teachers[name]
            env = gym.make(ENV_ID, **{**teacher_kwargs, **(env_kwargs or {})})
            try:
                for e in range(episodes):
                    episode_id = k * episodes + e
                    ep_obs, ep_actions, held = _rollout(
                        env,
                        policy,
                        seed + episode_id,
                        student_history_len,
                        limit,
                        deterministic,
                        action_noise_std,
                    )
                    if held or not success_only:
                        kept[k] += 1
                        obs += ep_obs
                        actions += ep_actions
                        ids += [episode_id] * len(ep_obs)
                        index += [k] * len(ep_obs)
                    bar.update()
                    bar.set_postfix_str(f"{name} kept {kept[k]}/{e + 1}")
            finally:
                env.close()
    size = interface.ObsLayout(interface.proprio_blocks(student_history_len)).size
    return BCDataset(
        obs=np.asarray(obs, dtype=np.float32).reshape(-1, size),
        actions=np.asarray(actions, dtype=np.float32).reshape(-1, NUM_JOINTS),
        episode_ids=np.asarray(ids, dtype=np.int64),
        teacher_index=np.asarray(index, dtype=np.int64),
        teacher_names=names,
        episodes_kept=kept,
        episodes_total=np.full(len(names), episodes, dtype=np.int64),
        history_len=student_history_len,
        seed=seed,
        episode_steps=limit,
    )


def _rollout(
    env: gym.Env,
    policy: Policy,
    seed: int,
    history_len: int,
    steps: int,
    deterministic: bool,
    action_noise_std: float = 0.0,
) -> tuple[list[np.ndarray], list[np.ndarray], bool]:
    """One teacher episode: the student's observations, the teacher's actions, and no drop."""
    noise_rng = np.random.default_rng(seed) if action_noise_std > 0 else None
    if not deterministic:
        torch.manual_seed(seed)  # stochastic teachers repeat from run to run
    layout = env.unwrapped.obs_layout
    student = interface.ProprioHistory(history_len)
    observation, _ = env.reset(seed=seed)
    joint_pos, targets = _newest_reading(observation, layout)
    student.reset(
        joint_pos, targets, observation[layout["wrist_quat"]], observation[layout["axis"]]
    )
    student_obs, labels = [], []
    state, episode_start = None, np.ones(1, dtype=bool)
    for _ in range(steps):
        student_obs.append(student.observation())
        # state and episode_start as SB3 passes them: recurrent teachers and gaits keep theirs
        action, state = policy.predict(
            observation, state=state, episode_start=episode_start, deterministic=deterministic
        )
        episode_start = np.zeros(1, dtype=bool)
        action = np.clip(np.asarray(action, dtype=np.float32).reshape(NUM_JOINTS), -1.0, 1.0)
        labels.append(action)
        if noise_rng is not None:  # DART: act off the teacher's path, label its correction
            action = action + noise_rng.normal(0.0, action_noise_std, NUM_JOINTS)
            action = np.clip(action, -1.0, 1.0).astype(np.float32)
        observation, _, terminated, truncated, _ = env.step(action)
        student.push(*_newest_reading(observation, layout))
        if terminated:
            return student_obs, labels, False
        if truncated:
            break
    return student_obs, labels, True


def _newest_reading(
    observation: np.ndarray, layout: interface.ObsLayout
) -> tuple[np.ndarray, np.ndarray]:
    """The joint positions and targets (rad) the env observed last, read from its observation."""
    q = observation[layout["joint_pos"]].reshape(-1, NUM_JOINTS)[-1]
    targets = observation[layout["joint_targets"]].reshape(-1, NUM_JOINTS)[-1]
    return (
        interface.unnormalize_joints(q.astype(np.float64)),
        interface.unnormalize_joints(targets.astype(np.float64)),
    )


def generalist_env_kwargs(teacher_kwargs: list[dict[str, Any]]) -> dict[str, Any]:
    """The env options a generalist distilled from these teachers acts under.

    The options every teacher shares, on all their object sets; a reward override in their
    `config` is left out (how a teacher was rewarded says nothing about where the generalist
    acts), physics overrides stay.
    """
    if not teacher_kwargs:
        raise ValueError("no teachers")
    first = teacher_kwargs[0]
    shared = {k: v for k, v in first.items() if all(kw.get(k) == v for kw in teacher_kwargs)}
    shared["object_set"] = list(dict.fromkeys(kw["object_set"] for kw in teacher_kwargs))
    if "config" in shared:
        config = {k: v for k, v in (shared["config"] or {}).items() if k != "reward"}
        shared["config"] = config or None
    return shared


def behaviour_clone(
    dataset: BCDataset,
    width: int = 1024,
    blocks: int = 5,
    epochs: int = 50,
    batch_size: int = 1024,
    lr: float = 3e-4,
    val_fraction: float = 0.1,
    seed: int = 0,
    device: str = "cpu",
    progress: bool = True,
    env_kwargs: dict[str, Any] | None = None,
) -> tuple[Generalist, dict[str, Any]]:
    """Fit a Generalist to the dataset: MSE on actions, Adam, best validation weights kept.

    Episodes (not samples) are split train/val (1 - val_fraction : val_fraction), so the
    validation loss is measured on whole unseen episodes. The normaliser comes from the
    training split. With val_fraction=0 the last epoch's weights are kept.

    Args:
        dataset: from collect_rollouts.
        width, blocks: the SkipMLP's size (paper: 1024 and 5).
        epochs, batch_size, lr: Adam's schedule.
        val_fraction: share of episodes held out for validation.
        seed: seeds the split, the initial weights and the minibatch order.
        device: torch device.
        progress: a progress bar over epochs.
        env_kwargs: env options the generalist acts under; obs_mode "proprio" and the
            dataset's history_len are set here.

    Returns:
        The generalist and the history: "train_loss" and "val_loss" per epoch, "best_epoch"
        (0-based), "train_episodes", "val_episodes".

    Raises:
        ValueError: an empty dataset, too few episodes to split, or bad sizes.
    """
    train_idx, val_idx = split_by_episode(dataset, val_fraction, seed)
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1; got {epochs}, {batch_size}")
    torch.manual_seed(seed)
    kwargs = {**(env_kwargs or {}), "obs_mode": "proprio", "history_len": dataset.history_len}
    mean, std = observation_stats(dataset.obs[train_idx])
    net = SkipMLP(dataset.obs.shape[1], NUM_JOINTS, width, blocks)
    generalist = Generalist(net, mean, std, kwargs, device)
    obs = torch.as_tensor(dataset.obs, device=generalist.device)
    actions = torch.as_tensor(dataset.actions, device=generalist.device)
    train_t = torch.as_tensor(train_idx, device=generalist.device)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    history: dict[str, Any] = {"train_loss": [], "val_loss": [], "best_epoch": epochs - 1}
    history["train_episodes"] = len(np.unique(dataset.episode_ids[train_idx]))
    history["val_episodes"] = len(np.unique(dataset.episode_ids[val_idx]))
    best_loss, best_state = float("inf"), None
    generator = torch.Generator().manual_seed(seed)
    bar = tqdm(range(epochs), desc="behaviour cloning", disable=not progress)
    for epoch in bar:
        order = train_t[torch.randperm(len(train_t), generator=generator).to(generalist.device)]
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            loss = torch.nn.functional.mse_loss(generalist.forward(obs[batch]), actions[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        history["train_loss"].append(total / len(order))
        if len(val_idx):
            val_loss = _mean_loss(generalist, obs[val_idx], actions[val_idx], batch_size)
            history["val_loss"].append(val_loss)
            if val_loss < best_loss:
                best_loss, history["best_epoch"] = val_loss, epoch
                best_state = copy.deepcopy(net.state_dict())
            bar.set_postfix(train=f"{history['train_loss'][-1]:.4g}", val=f"{val_loss:.4g}")
    if best_state is not None:
        net.load_state_dict(best_state)
    return generalist, history


def split_by_episode(
    dataset: BCDataset, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sample indices of the training and the validation episodes (behaviour_clone's split).

    Raises:
        ValueError: an empty dataset, or too few episodes for val_fraction.
    """
    total = int(dataset.episodes_total.sum())
    if len(dataset.obs) == 0:
        raise ValueError(
            f"no successful rollouts: all {total} episodes dropped the object; check the "
            "teachers or pass success_only=False"
        )
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    try:
        _, val_eps = split_episode_ids(dataset.episode_ids, val_fraction, seed)
    except ValueError:
        raise ValueError(
            f"{len(np.unique(dataset.episode_ids))} kept episode(s) cannot be split by episode "
            f"with val_fraction {val_fraction}; collect more episodes or pass val_fraction=0"
        ) from None
    is_val = np.isin(dataset.episode_ids, val_eps)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


@torch.no_grad()
def _mean_loss(
    generalist: Generalist, obs: torch.Tensor, actions: torch.Tensor, batch_size: int
) -> float:
    total = 0.0
    for start in range(0, len(obs), batch_size):
        pred = generalist.forward(obs[start : start + batch_size])
        target = actions[start : start + batch_size]
        total += torch.nn.functional.mse_loss(pred, target, reduction="sum").item() / NUM_JOINTS
    return total / len(obs)
