"""Evaluate a policy over a grid of object sets x wrists x axes, with the paper's metrics.

Every cell of the grid runs the same fixed seeds (seed, seed + 1, ...), so the same policy
gives the same table on every run. Metrics come from `info["rot_vel"]` (and `rot_perp`,
`dropped`) through dexndm_envs.core.metrics.MetricsTracker, the one place they are computed
(DexNDM, Metrics: RotR, TTF, RotP, and the radians turned about the axis).

Tables, files, plots and the paired difference of two conditions are in
dexndm_agents.evaluation.reports.

Usage:
    from dexndm_agents.evaluation.harness import evaluate_grid
    from dexndm_agents.policies.baselines import ZeroPolicy
    from dexndm_agents.evaluation.reports import format_table, format_tilt_summary, save_table

    rows = evaluate_grid(ZeroPolicy(), ["cylinder"], ["palm_up", "palm_down"], ["+z"])
    print(format_table(rows))
    save_table(rows, "outputs/evaluation")

    episodes = []  # every episode too, to see where a policy fails
    evaluate_grid(policy, ["cylinder"], ["palm_up"], ["+z"], episode_rows=episodes)
    print(format_tilt_summary(episodes))
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

import dexndm_envs  # registers the environments
from dexndm_agents.evaluation.summary import ConditionSummary
from dexndm_agents.policies.files import Policy, policy_env_kwargs
from dexndm_envs.core import geometry, task
from dexndm_envs.core.constants import NUM_JOINTS
from dexndm_envs.core.metrics import EpisodeMetrics, MetricsTracker
from dexndm_envs.engines.world import WorldProfile
from dexndm_envs.hand.config import HandConfig
from dexndm_envs.sim.objects.catalog import resolve_object_set
from dexndm_envs.virtual.profiles import HardwareProfile


# eq=False: the generated __eq__ would compare arrays and raise; compare .metrics instead
@dataclass(frozen=True, eq=False)
class EpisodeResult:
    """One evaluated episode.

    Attributes:
        metrics: the paper's metrics of the episode.
        object: the object the env drew.
        wrist: the wrist orientation's name ("free" for a quaternion).
        axis: the rotation axis (world frame, unit).
        start: where the episode started (reset's info["start"]: "<object>/<wrist>/<grasp>"),
            "" from an env that does not say.
        rotation_curve_rad: cumulative radians turned about the axis after each step, (steps,);
            the last entry is metrics.rotation_rad.
        start_object_quat: the object's orientation after the reset (world frame, wxyz).
        frames: rendered frames (after the reset, then after each step) when recorded.
    """

    metrics: EpisodeMetrics
    object: str
    wrist: str
    axis: list[float]
    start: str
    rotation_curve_rad: np.ndarray
    start_object_quat: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0, 0.0])
    frames: list[np.ndarray] = field(default_factory=list)

    @property
    def start_tilt_deg(self) -> float:
        """Angle between the rotation axis and the object's own z axis at the start, 0-90 deg.

        The object's z axis is the symmetry axis of cylinders and small cylinders, so 0 means
        a cylinder spun flat about its own axis (a coin turned on a table) and 90 one rolled
        about its side (a wheel).
        """
        return float(geometry.tilt_deg(geometry.z_axis(self.start_object_quat), self.axis))


@dataclass(frozen=True)
class GridRow:
    """One grid cell and the summary of its episodes (std is the population std, ddof=0; se
    the standard error over distinct starts)."""

    object_set: str
    wrist: str
    axis: str
    summary: ConditionSummary

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "object_set", "wrist", "axis", "episodes", "distinct_starts", "RotR", "RotR_se",
        "RotR_std", "TTF", "TTF_se", "TTF_std", "RotP", "rotation_rad", "drops", "first_seed",
    )  # fmt: skip
    """What save_table writes per cell (each episode's RotR is in the episodes file)."""

    def as_dict(self) -> dict[str, Any]:
        record = {"object_set": self.object_set, "wrist": self.wrist, "axis": self.axis}
        record |= self.summary.to_json()
        return {key: record[key] for key in self.COLUMNS}


@dataclass(frozen=True)
class EpisodeRow:
    """One episode of a grid cell: its seed, what it drew, its metrics and how it started.

    `start` is the cached grasp it started from (EpisodeResult.start); `start_tilt_deg` is
    EpisodeResult.start_tilt_deg: how the object sat against the axis.
    """

    object_set: str
    wrist: str
    axis: str
    seed: int
    object: str
    start: str
    rotr: float
    ttf: float
    rotp: float
    rotation_rad: float
    dropped: bool
    start_tilt_deg: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_eval_env(
    policy: Policy,
    hardware_profile: HardwareProfile | str | Path | None = None,
    *,
    hardware_seed: int = 0,
    hand_config: HandConfig | str | Path | None = None,
    config: dict[str, Any] | None = None,
    engine: str = "mujoco",
    world_profile: WorldProfile | str | Path = "default",
) -> gym.Env:
    """DexNDM-Rotate-v0 on the policy's own task options (policy.env_kwargs), on the ideal hand
    (hardware_profile None) or on the virtual hand of that profile and seed; hand_config is the
    hand's servo settings either way, config, when given, the env's config in place of the
    policy's (the DexNDM loop's reference hand), engine and world_profile the world it runs in
    (MuJoCo, the training world, by default). The one place a comparison builds its envs."""
    kwargs = {
        **policy_env_kwargs(policy),
        "hand_config": hand_config,
        "engine": engine,
        "world_profile": world_profile,
    }
    if config is not None:
        kwargs["config"] = config
    if hardware_profile is not None:
        kwargs |= {
            "hardware": "virtual",
            "hardware_profile": hardware_profile,
            "hardware_seed": hardware_seed,
        }
    return gym.make("DexNDM-Rotate-v0", **kwargs)


StepHook = Callable[[dict[str, Any], np.ndarray, dict[str, Any]], None]
"""Called by run_episode after every step with (the info before the step, the action sent,
the step's info); the info before the first step is reset's."""


def run_episode(
    env: gym.Env,
    policy: Policy,
    seed: int,
    deterministic: bool = True,
    max_steps: int | None = None,
    record: bool = False,
    on_step: StepHook | None = None,
) -> EpisodeResult:
    """Run one episode of a DexNDM-Rotate-v0 env (or one wrapping it) from reset(seed=seed).

    The policy sees one observation at a time; its recurrent state and episode_start go back
    into the next predict call, so recurrent policies work too. With deterministic=False and
    torch loaded, torch's global generator is seeded with `seed` first, so stochastic SB3
    actions repeat from run to run as well.

    Args:
        env: the environment (render_mode="rgb_array" when record).
        policy: anything with SB3's predict (dexndm_agents.policies.files.Policy).
        seed: the reset seed: it fixes object, grasp, randomisation and any random wrist/axis.
        deterministic: passed to predict.
        max_steps: stop after this many steps (the env's time limit otherwise, 400 steps).
            TTF is relative to the steps the episode could last, min(max_steps, time limit),
            so an object held to the end always has TTF 1.
        record: keep rendered frames.
        on_step: a StepHook, e.g. to record the episode's readings and targets.

    Raises:
        ValueError: record without render_mode="rgb_array", or max_steps < 1.
    """
    if record and env.render_mode != "rgb_array":
        raise ValueError(
            f"record=True needs an env made with render_mode='rgb_array', not {env.render_mode!r}"
        )
    episode_steps = _episode_steps(env, max_steps)
    if not deterministic and "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    observation, info = env.reset(seed=seed)
    dt_s = env.unwrapped.dt
    tracker = MetricsTracker(dt_s, episode_steps)
    frames = [env.render()] if record else []
    rot_vel = []
    state, episode_start = None, np.ones((1,), dtype=bool)
    step_info = info
    for _ in range(episode_steps):
        action, state = policy.predict(
            observation, state=state, episode_start=episode_start, deterministic=deterministic
        )
        episode_start = np.zeros((1,), dtype=bool)
        action, previous_info = _single_action(action), step_info
        observation, _, terminated, truncated, step_info = env.step(action)
        if on_step is not None:
            on_step(previous_info, action, step_info)
        tracker.add(step_info)
        rot_vel.append(step_info["rot_vel"])
        if record:
            frames.append(env.render())
        if terminated or truncated:
            break
    return EpisodeResult(
        metrics=tracker.result(),
        object=info["object"],
        wrist=info["wrist"],
        axis=[float(k) for k in info["axis"]],
        start=str(info.get("start", "")),
        rotation_curve_rad=np.cumsum(np.asarray(rot_vel, dtype=np.float64) * dt_s),
        start_object_quat=[float(v) for v in info["object_quat"]],
        frames=frames,
    )


def summarize(results: Sequence[EpisodeResult], first_seed: int) -> ConditionSummary:
    """The summary of episodes run on seeds first_seed, first_seed + 1, ..., in that order,
    with the start of each (so that its standard errors count distinct starts)."""
    metrics = [result.metrics for result in results]
    return ConditionSummary.of(metrics, first_seed, [result.start for result in results])


def _episode_steps(env: gym.Env, max_steps: int | None) -> int:
    _check_max_steps(max_steps)
    spec = env.spec
    limit = spec.max_episode_steps if spec and spec.max_episode_steps else dexndm_envs.EPISODE_STEPS
    return limit if max_steps is None else min(max_steps, limit)


def _check_max_steps(max_steps: int | None) -> None:
    if max_steps is not None and max_steps < 1:
        raise ValueError(
            f"max_steps must be at least 1 (or None for the time limit), got {max_steps}"
        )


def _single_action(action: Any) -> np.ndarray:
    """One env's action: a (1, 16) batch of one, as some predict calls return, becomes (16,)."""
    action = np.asarray(action)
    return action.reshape(NUM_JOINTS) if action.size == NUM_JOINTS else action


def evaluate_grid(
    policy: Policy,
    object_sets: Sequence[str],
    wrists: Sequence[str],
    axes: Sequence[str],
    episodes: int = 10,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    deterministic: bool = True,
    video_dir: str | Path | None = None,
    progress: bool = True,
    max_steps: int | None = None,
    episode_rows: list[EpisodeRow] | None = None,
) -> list[GridRow]:
    """Evaluate a policy on every (object_set, wrist, axis) cell, seeds seed .. seed+episodes-1.

    Each cell gets its own DexNDM-Rotate-v0. Its options are the policy's training options
    (policy_env_kwargs: obs_mode, history_len, ...), updated by env_kwargs (hardware,
    hardware_profile, domain_randomization, ...), with the cell's object_set, wrist and axis.

    Args:
        policy: anything with SB3's predict.
        object_sets, wrists, axes: the grid (names, as RotateEnv takes them).
        episodes: episodes per cell.
        seed: the first episode's seed.
        env_kwargs: env options over the policy's.
        deterministic: passed to predict.
        video_dir: record each cell's first episode to `<video_dir>/<object_set>_<wrist>_<axis>.mp4`
            ("+z" is written "pz", "-z" "mz").
        progress: show a progress bar over all episodes of the grid.
        max_steps: steps per episode at most (the 400-step time limit otherwise); small
            budgets are for smoke tests. TTF is relative to it (see run_episode).
        episode_rows: when given, every episode's EpisodeRow is appended to it, in grid order
            (for save_episodes, format_tilt_summary, plot_episodes).

    Returns:
        One row per cell, in grid order (object sets outermost, axes innermost).

    Raises:
        ValueError: an empty grid, episodes < 1, max_steps < 1, or an unknown object set,
            wrist or axis; all before any env is made.
    """
    _check_grid(object_sets, wrists, axes, episodes, max_steps)
    base_kwargs = {**policy_env_kwargs(policy), **(env_kwargs or {})}
    if video_dir is not None:
        video_dir = Path(video_dir)
        video_dir.mkdir(parents=True, exist_ok=True)
        base_kwargs["render_mode"] = "rgb_array"
    cells = list(itertools.product(object_sets, wrists, axes))
    rows = []
    with tqdm(total=len(cells) * episodes, desc="evaluate", disable=not progress) as bar:
        for object_set, wrist, axis in cells:
            bar.set_postfix_str(f"{object_set} {wrist} {axis}")
            cell_kwargs = {**base_kwargs, "object_set": object_set, "wrist": wrist, "axis": axis}
            results = _run_cell(
                policy, cell_kwargs, episodes, seed, deterministic, max_steps, video_dir, bar
            )
            summary = summarize(results, seed)
            rows.append(GridRow(object_set, wrist, axis, summary))
            if episode_rows is not None:
                cell = (object_set, wrist, axis)
                episode_rows.extend(_episode_row(cell, seed + i, r) for i, r in enumerate(results))
    return rows


def _episode_row(cell: tuple[str, str, str], seed: int, result: EpisodeResult) -> EpisodeRow:
    m = result.metrics
    return EpisodeRow(
        *cell,
        seed=seed,
        object=result.object,
        start=result.start,
        rotr=m.rotr,
        ttf=m.ttf,
        rotp=m.rotp,
        rotation_rad=m.rotation_rad,
        dropped=bool(m.dropped),
        start_tilt_deg=result.start_tilt_deg,
    )


def _run_cell(
    policy: Policy,
    env_kwargs: dict[str, Any],
    episodes: int,
    seed: int,
    deterministic: bool,
    max_steps: int | None,
    video_dir: Path | None,
    bar: tqdm,
) -> list[EpisodeResult]:
    """The episodes of one cell, in one env; the first one recorded when video_dir is set."""
    env = gym.make("DexNDM-Rotate-v0", **env_kwargs)
    try:
        results = []
        for episode in range(episodes):
            record = video_dir is not None and episode == 0
            results.append(
                run_episode(env, policy, seed + episode, deterministic, max_steps, record)
            )
            bar.update()
        fps = round(1 / env.unwrapped.dt)
    finally:
        env.close()
    if video_dir is not None:
        import imageio.v2 as imageio

        stem = _file_stem(env_kwargs["object_set"], env_kwargs["wrist"], env_kwargs["axis"])
        # macro_block_size=8 as in quickstart: imageio keeps frame sizes that are multiples of 8
        imageio.mimwrite(video_dir / f"{stem}.mp4", results[0].frames, fps=fps, macro_block_size=8)
    return results


def _check_grid(
    object_sets: Sequence[str],
    wrists: Sequence[str],
    axes: Sequence[str],
    episodes: int,
    max_steps: int | None,
) -> None:
    for what, values in (("object_sets", object_sets), ("wrists", wrists), ("axes", axes)):
        if isinstance(values, str):
            raise ValueError(f"{what} must be a list of names, got the string {values!r}")
        if len(values) == 0:
            raise ValueError(f"empty grid: {what} is empty; give at least one")
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    _check_max_steps(max_steps)
    for object_set in object_sets:
        resolve_object_set(object_set)
    for wrist in wrists:
        task.resolve_wrist(wrist)
    for axis in axes:
        task.resolve_axis(axis)


def _file_stem(*parts: str) -> str:
    """A file name from grid names: "+z" -> "pz", "-x" -> "mx", anything odd -> "_"."""
    names = [re.sub(r"[^A-Za-z0-9_]", "_", p.replace("+", "p").replace("-", "m")) for p in parts]
    return "_".join(names)
