"""The whole DexNDM loop on the virtual LEAP hand, stage by stage, and the paper's comparison.

The loop (docs/dexndm.md): (1) a base policy, (2) its sim rollouts, (3) chaos-box data on
the hand, (4) the joint-wise NDM and the whole-hand baseline, (5) a residual adapter through
each, (7) the same metrics on the ideal sim, and on the virtual hand with direct transfer, with
the whole-hand residual and with DexNDM, on the same seeds. The hand of stages 3 and 7 is the
loop's target (dexndm_agents.dexndm.loop_target): MuJoCo's virtual hand by default, or a hand
in PhysX (LoopConfig.engine, world_profile, target_hardware). And, for reference, direct transfer
on the "reachable" hand (dexndm_agents.dexndm.hands: the virtual hand with every difference a target
residual can offset put back to the sim's value), what a residual that made every joint follow
its targets as in the sim would regain. Every stage writes its result
under one run directory and a rerun reuses what is there (the chaos box resumes mid-way), so
a long run that is killed loses at most the stage it was in.

The results' table, shares of the loss and plots are in dexndm_agents.dexndm.loop_report.

Usage:
    cfg = LoopConfig(out_dir=Path("runs/sim2real"), **PRESETS["quick"])
    results = run_loop(load_pretrained(), cfg)   # LoopResults: results.conditions["direct"].rotr
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

from dexndm_agents.dexndm import reference
from dexndm_agents.dexndm.adapters import (
    ADAPTER_KINDS,
    DEFAULT_KIND,
    Adapter,
    build_adapter,
    fit_adapter,
)
from dexndm_agents.dexndm.bundle import Bundle
from dexndm_agents.dexndm.data import (
    make_windows,
    split_episodes,
    split_windows,
    usable_episodes,
)
from dexndm_agents.dexndm.fitting import fit, prediction_error
from dexndm_agents.dexndm.hands import SimNominal, hands
from dexndm_agents.dexndm.loop_target import (
    StaleRunError,
    check_target,
    claim_run_dir,
    evaluated_conditions,
    target_env_kwargs,
    target_record,
)
from dexndm_agents.dexndm.model_study import model_study
from dexndm_agents.dexndm.models import NDM, JointWiseNDM, WholeHandNDM
from dexndm_agents.dexndm.results import REACHABLE_HAND, LoopResults
from dexndm_agents.dexndm.rollouts import ACTIONS_FILE, record_rollouts
from dexndm_agents.dexndm.wrapper import NDMResidualWrapper
from dexndm_agents.evaluation.harness import make_eval_env, run_episode, summarize
from dexndm_agents.evaluation.summary import ConditionSummary
from dexndm_agents.policies.files import Policy, policy_env_kwargs
from dexndm_envs.chaos.actions import ActionFile
from dexndm_envs.chaos.virtual_env import collect_virtual_chaos_box
from dexndm_envs.core.atomic import atomic_write_text
from dexndm_envs.data.episodes import Episode, load_episodes
from dexndm_envs.hand.config import load_hand_config

MODEL_KINDS = {"whole_hand": WholeHandNDM, "dexndm": JointWiseNDM}
"""The condition each dynamics model serves."""


@dataclass
class LoopConfig:
    """Settings of one run of the loop (PRESETS holds the quick and the full one)."""

    out_dir: Path
    hardware_profile: str = "default"
    hardware_seed: int = 0
    hand_config: str | None = None
    """The virtual hand's servo settings (gains, Goal Current): a hand config file as
    DexNDM-Real-v0 takes; the public LEAP defaults when None."""
    reference_latency_s: float = reference.REFERENCE_LATENCY_S
    """The action latency (whole physics steps) of the reference hand, the ideal sim hand that
    records the sim rollouts and runs the "ideal" condition (dexndm_agents.dexndm.reference)."""
    sim_episodes: int = 60
    chaos_episodes: int = 80
    num_balls: int = 100
    chaos_target_noise_rad: float = 0.05
    """Target excitation in the chaos box (chaos.collection): without it the replayed policy
    actions, mostly at the action bound, leave the model unable to tell the newest target's
    effect from the older ones', and the adapter corrects the wrong way
    (docs/results/2026-11_dexndm_0.1.0.md)."""
    window: int = 10
    residual_kind: str = DEFAULT_KIND
    """The adapter (adapters.ADAPTER_KINDS): "lead", joint-wise and feed-forward, or "mlp", the
    paper's network on all joints' readings and targets."""
    residual_history: int | None = None
    """Readings and targets the adapter sees (None: the kind's default)."""
    ndm_epochs: int = 20
    residual_epochs: int = 30
    eval_episodes: int = 50
    eval_seed: int = 1000
    episode_steps: int = 400
    """Steps of every rollout, chaos-box episode and evaluation episode (the paper: 400)."""
    study_sizes: tuple[int, ...] = (1_000, 3_000, 10_000, 30_000)
    """Chaos-box transitions the model study fits on (capped at what there is)."""
    seed: int = 0
    progress: bool = True
    engine: str = "mujoco"
    """The target's world: "mujoco" (the training world) or "physx" (dexndm_envs.engines);
    the sim rollouts, the reference and the "ideal" condition stay in MuJoCo."""
    world_profile: str = "default"
    """How PhysX runs the target (a preset of engines.world.WORLDS or a YAML/JSON file)."""
    target_hardware: str = "virtual"
    """The target hand: "virtual" (the servo model of hardware_profile, hardware_seed) or
    "ideal" (the nominal position actuators; on PhysX its joint drives). loop_target."""

    def __post_init__(self) -> None:
        reference.check_reference_latency(self.reference_latency_s)
        if self.residual_kind not in ADAPTER_KINDS:
            raise ValueError(
                f"unknown residual_kind {self.residual_kind!r}; known: {', '.join(ADAPTER_KINDS)}"
            )
        check_target(self.engine, self.world_profile, self.target_hardware)

    def as_dict(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"sim_episodes": 30, "chaos_episodes": 30, "eval_episodes": 30},
    "full": {},
    "smoke": {  # every stage in seconds, for tests: the figures mean nothing
        "sim_episodes": 3,
        "chaos_episodes": 2,
        "num_balls": 20,
        "window": 4,
        "ndm_epochs": 2,
        "residual_epochs": 2,
        "eval_episodes": 1,
        "episode_steps": 30,
        "study_sizes": (50, 100),
    },
}


@dataclass
class LoopData:
    """The episodes of a run: sim rollouts of the base policy and the hand's chaos box."""

    sim: list[Episode]
    chaos: list[Episode]
    direct: list[Episode]
    """The base policy's rollouts on the target (direct transfer), as many as `sim`."""


def _rollouts(
    policy: Policy, cfg: LoopConfig, name: str, hardware: str, seed: int
) -> list[Episode]:
    """The base policy's rollouts on one hardware ("ideal": the reference hand, "target": the
    loop's target), recorded once per run directory; sim rollouts of another reference are
    refused (StaleRunError)."""
    directory = cfg.out_dir / name
    if not (directory / ACTIONS_FILE).is_file():  # actions.npz is written last: a whole set
        if directory.exists():
            for stale in directory.glob("episode_*.npz"):
                stale.unlink()
        env_kwargs = {
            "hardware": hardware,
            "hardware_profile": cfg.hardware_profile,
            "hardware_seed": cfg.hardware_seed,
            "hand_config": cfg.hand_config,
        }
        if hardware == "ideal":
            env_kwargs["config"] = reference.reference_overrides(policy, cfg.reference_latency_s)
        if hardware == "target":
            env_kwargs = target_env_kwargs(cfg)
        record_rollouts(
            policy,
            env_kwargs,
            cfg.sim_episodes,
            seed,
            directory,
            progress=cfg.progress,
            max_steps=cfg.episode_steps,
        )
    episodes = load_episodes(directory)
    if hardware == "ideal":  # rollouts of another reference hand are of another run
        stale = reference.stale_reference(episodes, policy, cfg.reference_latency_s, directory)
        if stale:
            raise StaleRunError(stale)
    return episodes


def collect_data(policy: Policy, cfg: LoopConfig) -> LoopData:
    """Stages 2-3: the base policy's sim rollouts, and the chaos box replaying their actions
    on the target hand (with the paper's noise); plus direct-transfer rollouts on the target,
    the model study's out-of-distribution set (the task's object instead of balls)."""
    sim = _rollouts(policy, cfg, "sim_rollouts", "ideal", cfg.seed)
    source = ActionFile.load(cfg.out_dir / "sim_rollouts" / ACTIONS_FILE, steps=cfg.episode_steps)
    collect_virtual_chaos_box(
        cfg.out_dir / "chaos_box",
        source,
        cfg.chaos_episodes,
        wrist=policy_env_kwargs(policy).get("wrist", "palm_up"),
        hardware_profile=cfg.hardware_profile,
        hardware_seed=cfg.hardware_seed,
        num_balls=cfg.num_balls,
        seed=cfg.seed,
        progress=cfg.progress,
        target_noise_rad=cfg.chaos_target_noise_rad,
        hand_config=cfg.hand_config,
        engine=cfg.engine,
        world_profile=cfg.world_profile,
        hardware=cfg.target_hardware,
    )
    chaos = load_episodes(cfg.out_dir / "chaos_box")
    direct = _rollouts(policy, cfg, "direct_rollouts", "target", cfg.seed + 500)
    return LoopData(sim, chaos, direct)


def fit_dynamics(kind: str, data: LoopData, cfg: LoopConfig) -> tuple[NDM, dict[str, float]]:
    """Stage 4: pretrain on the sim rollouts, fine-tune on the chaos box; eval errors (rad)."""
    torch.manual_seed(cfg.seed)
    model = MODEL_KINDS[kind](window=cfg.window)
    sim_train, sim_eval = split_windows(data.sim, cfg.window, seed=cfg.seed)
    fit(model, sim_train, sim_eval, epochs=cfg.ndm_epochs, seed=cfg.seed, progress=cfg.progress)
    train, evaluation = split_windows(data.chaos, cfg.window, seed=cfg.seed)
    result = fit(
        model, train, evaluation, epochs=cfg.ndm_epochs, seed=cfg.seed, progress=cfg.progress
    )
    errors = {
        "chaos_eval_error_rad": prediction_error(model, evaluation),
        "task_error_rad": prediction_error(
            model, make_windows(usable_episodes(data.direct, cfg.window), cfg.window)
        ),
        "fit_seconds": result.seconds,
    }
    return model, errors


def train_adapter(ndm: NDM, data: LoopData, cfg: LoopConfig) -> tuple[Adapter, dict]:
    """Stage 5: the residual through the frozen model, on the sim rollouts."""
    return fit_adapter(
        ndm,
        data.sim,
        kind=cfg.residual_kind,
        history=cfg.residual_history,
        epochs=cfg.residual_epochs,
        seed=cfg.seed,
        progress=cfg.progress,
    )


UNRECORDED = ("out_dir", "progress", "world_profile")
"""Loop settings a bundle does not record: where the run was and whether it drew progress bars
say nothing of the bundle, and a path of the machine it ran on would ship with it (a world
profile may be a file: the bundle's "target" records its values)."""


def make_bundles(policy: Policy, data: LoopData, cfg: LoopConfig) -> dict[str, Path]:
    """Stages 4-5 for both models; a bundle per condition, reused when already written."""
    paths = {}
    for condition in MODEL_KINDS:
        path = cfg.out_dir / "bundles" / f"{condition}.pt"
        if path.is_file():
            _check_reusable(path, cfg)
        else:
            ndm, fit_figures = fit_dynamics(condition, data, cfg)
            adapter, residual_figures = train_adapter(ndm, data, cfg)
            config = {
                "task": policy_env_kwargs(policy),
                "hardware": {
                    "profile": cfg.hardware_profile,
                    "seed": cfg.hardware_seed,
                    "hand_config": load_hand_config(cfg.hand_config).as_dict(),
                },
                "target": target_record(cfg),
                "loop": {k: v for k, v in cfg.as_dict().items() if k not in UNRECORDED},
                "figures": {**fit_figures, **residual_figures},
            }
            Bundle(ndm, adapter, _plain(config)).save(path)
        paths[condition] = path
    return paths


BUNDLE_SETTINGS = ("window", "ndm_epochs", "residual_epochs", "reference_latency_s")
"""Loop settings a bundle depends on besides its adapter's kind and history."""


def _check_reusable(path: Path, cfg: LoopConfig) -> None:
    """Refuse to reuse a bundle written with other model or adapter settings."""
    bundle = Bundle.load(path)
    written = dict(bundle.config.get("loop", {}))
    written["residual_kind"] = bundle.residual.config()["kind"]
    written["residual_history"] = bundle.residual.history
    wanted = cfg.as_dict()
    wanted["residual_history"] = (
        cfg.residual_history or build_adapter({"kind": cfg.residual_kind}).history
    )
    keys = (*BUNDLE_SETTINGS, "residual_kind", "residual_history")
    stale = [k for k in keys if k in written and written[k] != wanted[k]]
    if stale:
        changes = ", ".join(f"{k} {written[k]!r} -> {wanted[k]!r}" for k in stale)
        raise StaleRunError(
            f"{path} was trained with other settings ({changes}); delete {path.parent} and "
            f"{cfg.out_dir / 'eval'} to retrain, or use another out_dir"
        )


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _condition_env(
    policy: Policy, condition: str, bundles: dict[str, Path], cfg: LoopConfig
) -> gym.Env:
    """The env a condition runs on: the reference hand (the ideal sim), or the target (the
    reachable virtual hand for REACHABLE_HAND), wrapped with the condition's bundle if it has
    one."""
    profile, hand = cfg.hardware_profile, cfg.hand_config
    ideal_config = reference.reference_overrides(policy, cfg.reference_latency_s)
    if condition == REACHABLE_HAND:
        ideal = make_eval_env(policy, config=ideal_config)
        profile, hand = hands(profile, hand, SimNominal.of_env(ideal))[REACHABLE_HAND]
        ideal.close()
    if condition == "ideal":
        env = make_eval_env(policy, hand_config=hand, config=ideal_config)
    else:
        env = make_eval_env(
            policy,
            profile if cfg.target_hardware == "virtual" else None,
            hardware_seed=cfg.hardware_seed,
            hand_config=hand,
            engine=cfg.engine,
            world_profile=cfg.world_profile,
        )
    return NDMResidualWrapper(env, bundles[condition]) if condition in bundles else env


def _same_seeds(summary: ConditionSummary, cfg: LoopConfig) -> bool:
    """Whether a kept summary is of the seeds cfg evaluates, with each episode's start."""
    return (
        summary.first_seed == cfg.eval_seed
        and summary.episodes == cfg.eval_episodes
        and summary.starts is not None
    )


def evaluate_condition(
    policy: Policy, condition: str, bundles: dict[str, Path], cfg: LoopConfig
) -> ConditionSummary:
    """Stage 7 for one condition, on seeds eval_seed .. eval_seed + eval_episodes - 1."""
    env = _condition_env(policy, condition, bundles, cfg)
    seeds = range(cfg.eval_seed, cfg.eval_seed + cfg.eval_episodes)
    try:
        results = [
            run_episode(env, policy, seed, max_steps=cfg.episode_steps)
            for seed in tqdm(seeds, f"eval {condition}", disable=not cfg.progress)
        ]
    finally:
        env.close()
    return summarize(results, cfg.eval_seed)


def replay_tracking_error(
    policy: Policy, condition: str, bundles: dict[str, Path], cfg: LoopConfig, sim: list[Episode]
) -> float:
    """What the adapter is trained for, measured on the hand: the sim rollouts' targets
    replayed open loop (same reset seeds) through the condition, and the mean |q_hand - q_sim|
    (rad) over every step the object stays in hand. Unlike RotR, this barely depends on which
    episodes turn and which stall, so it separates conditions with a few episodes.

    Args:
        sim: the sim rollouts to replay (the adapter's eval episodes: it never trained on them).
    """
    env = _condition_env(policy, condition, bundles, cfg)
    step_rad = float(env.get_wrapper_attr("max_delta_rad"))  # the policy's step, as recorded
    errors = []
    try:
        for episode in sim:
            _, info = env.reset(seed=int(episode.meta["extra"]["seed"]))
            previous = np.asarray(info["joint_targets"], dtype=np.float64)
            for t in range(episode.num_steps - 1):
                target = episode.joint_targets[t]
                action = np.clip((target - previous) / step_rad, -1.0, 1.0)
                _, _, terminated, truncated, info = env.step(action)
                previous = target
                errors.append(np.abs(info["joint_pos"] - episode.joint_pos[t + 1]).mean())
                if terminated or truncated:
                    break
    finally:
        env.close()
    return float(np.mean(errors))


def run_loop(policy: Policy, cfg: LoopConfig) -> LoopResults:
    """Every stage; returns the comparison (each condition's summary is also kept under
    out_dir/eval/, so a rerun evaluates only what is missing).

    Raises:
        StaleRunError: out_dir holds a run made for another target (loop_target), or bundles
            trained with other model or adapter settings.
    """
    claim_run_dir(cfg)  # before any stage: another target's run is refused untouched
    data = collect_data(policy, cfg)
    bundles = make_bundles(policy, data, cfg)
    conditions: dict[str, ConditionSummary] = {}
    # the rollouts the adapters held out: fit_adapter's split of the usable episodes
    segment = cfg.window + Bundle.load(bundles["dexndm"]).residual.history - 1
    replayed = split_episodes(usable_episodes(data.sim, segment), seed=cfg.seed)[1]
    for condition in evaluated_conditions(cfg):
        cached = cfg.out_dir / "eval" / f"{condition}.json"
        summary = (
            ConditionSummary.from_json(json.loads(cached.read_text())) if cached.is_file() else None
        )
        if summary is None or not _same_seeds(summary, cfg):
            # none yet, of other seeds (--eval-episodes changed) or without starts: afresh
            summary = evaluate_condition(policy, condition, bundles, cfg)
        if condition != "ideal" and summary.tracking_error_rad is None:
            summary.tracking_error_rad = replay_tracking_error(
                policy, condition, bundles, cfg, replayed
            )
        atomic_write_text(cached, json.dumps(summary.to_json(), indent=2))
        conditions[condition] = summary
    study = cfg.out_dir / "model_study.json"
    if not study.is_file():
        figures = model_study(
            data.chaos,
            data.direct,
            window=cfg.window,
            sizes=cfg.study_sizes,
            min_epochs=cfg.ndm_epochs,
            seed=cfg.seed,
        )
        atomic_write_text(study, json.dumps(figures, indent=2))
    return LoopResults(
        conditions=conditions,
        bundles={k: Bundle.load(p).config["figures"] for k, p in bundles.items()},
        model_study=json.loads(study.read_text()),
        config=cfg.as_dict(),
    )
