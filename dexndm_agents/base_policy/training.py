"""Train any Stable-Baselines3 algorithm on DexNDM-Rotate-v0 (the engine of examples/train.py).

`train(TrainConfig(...))` builds the vectorised env (dexndm_agents.base_policy.vec_env), wraps it in
VecNormalize, and runs the algorithm with TensorBoard logs, a progress bar, periodic
checkpoints, periodic evaluation that keeps the best model, and evaluation videos. A run
directory holds one run (dexndm_agents.base_policy.run_dir):

    config.json                 the TrainConfig of the run (another run's settings are refused)
    status.json                 running, complete, interrupted or failed; steps trained
    tb/                         TensorBoard logs (reward terms, RotR and TTF of finished episodes)
    checkpoints/<algo>_<steps>_steps.zip + .vec_normalize.npz: periodic, and when the run
                                completes or is interrupted; a run continues from its newest
    best_model.zip / .json / .obs_norm.npz    the best evaluation so far (load_policy reads it)
    final_model.zip / .json / .obs_norm.npz   the model when the run completed its steps
    interrupted_model.zip / ...  the model when it was stopped (Ctrl-C) or failed, until it
                                completes
    eval/evaluations.npz        every evaluation's episode rewards
    videos/eval_<steps>.mp4     one evaluation episode each time the policy is evaluated

Training into the directory again with the same settings continues the run (and returns at
once when it has completed the steps asked for); nothing is unpickled on the way
(dexndm_agents.base_policy.checkpoints).

With `gait=` the agent learns a bounded offset from a gait's joint targets instead of relative
actions (dexndm_agents.policies.gait_offsets); the saved models then load as gait + offset.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from stable_baselines3.common.callbacks import CallbackList, EvalCallback
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from dexndm_agents.base_policy.callbacks import (
    EvalVideoCallback,
    PeriodicCheckpoints,
    RotationMetricsCallback,
    SaveBestPolicy,
    resume_evaluations,
)
from dexndm_agents.base_policy.checkpoints import (
    check_resumable,
    load_checkpoint,
    load_vec_normalize,
    save_checkpoint,
    stats_path,
)
from dexndm_agents.base_policy.run_dir import (
    BEST_MODEL,
    CHECKPOINT_DIR,
    CONFIG_FILE,
    FINAL_MODEL,
    INTERRUPTED_MODEL,
    RunStart,
    RunStatus,
    config_record,
    plan_run,
)
from dexndm_agents.base_policy.vec_env import make_vec_env
from dexndm_agents.policies.algorithms import algorithm_class, is_on_policy
from dexndm_agents.policies.files import save_sb3_policy
from dexndm_agents.policies.gait import PeriodicGait
from dexndm_agents.policies.gait_offsets import (
    DEFAULT_RESIDUAL_RAD,
    GaitOffsetPolicy,
    GaitOffsetWrapper,
    check_residual_rad,
    target_space_gait,
)
from dexndm_envs.core.atomic import atomic_write_text
from dexndm_envs.core.cli import AxisName
from dexndm_envs.core.interface import DEFAULT_HISTORY_LEN
from dexndm_envs.engines.world import load_world
from dexndm_envs.hand.config import load_hand_config

ENV_ID = "DexNDM-Rotate-v0"


@dataclass
class EnvOptions:
    """Options of DexNDM-Rotate-v0 (see dexndm_envs.sim.rotate.RotateEnv)."""

    object_set: str = "cylinder"
    """A category, "all", or an object name."""
    wrist: str = "palm_up"
    axis: AxisName = "+z"
    """The rotation axis (world frame; random: one of the six per episode)."""
    obs_mode: str = "proprio"
    """"proprio" (runs on hardware) or "oracle" (privileged state: specialists)."""
    history_len: int = DEFAULT_HISTORY_LEN
    """T, the (joint position, target) pairs observed: the env's default (the shipped policy's)."""
    hardware: str = "ideal"
    """"ideal" (the nominal actuators) or "virtual" (the virtual LEAP hand of the profile)."""
    hardware_profile: str = "default"
    """The virtual hand's profile: a preset name or a YAML/JSON file of HardwareProfile fields."""
    hardware_seed: int = 0
    """Which virtual hand: its per-motor spread is drawn from this seed."""
    engine: Literal["mujoco", "physx"] = "mujoco"
    """The physics: MuJoCo, or PhysX (a world nobody here wrote; dexndm_envs.engines)."""
    world_profile: str = "default"
    """How PhysX runs the scene: a preset (default, coarse, fine) or a YAML/JSON file of
    WorldProfile fields."""
    hand_config: Path | None = None
    """The hand's servo settings (gains, Goal Current) as a YAML/JSON hand config
    (real/leap_hand.yaml); the public LEAP defaults when unset."""
    domain_randomization: bool = False
    config: str = ""
    """JSON object of RotateConfig overrides, e.g. '{"reward": {"work": 1.0}}' (config.py)."""
    start_tilt_deg: tuple[float, float] | None = None
    """Start only from grasps whose object z axis makes an angle in [low, high] deg with the
    rotation axis (a specialist's share of the grasps); all grasps when unset."""

    def as_kwargs(self) -> dict[str, Any]:
        """The env's keyword arguments (config parsed from its JSON)."""
        kwargs = dataclasses.asdict(self)
        kwargs["config"] = _json_object(self.config, "--env.config") if self.config else None
        kwargs["hand_config"] = None if self.hand_config is None else str(self.hand_config)
        return kwargs


@dataclass
class TrainConfig:
    """One training run."""

    algo: str = "ppo"
    """An SB3 algorithm (ppo, sac, td3, a2c, ddpg; sb3-contrib's where installed)."""
    total_timesteps: int = 3_000_000
    """Env steps to learn for, in all: a run that continues counts the steps it has done."""
    env: EnvOptions = field(default_factory=EnvOptions)
    n_envs: int = 16
    """Envs stepped together (each seeded seed + i)."""
    vec: str = "auto"
    """auto, threads, dummy or subproc (dexndm_agents.base_policy.vec_env)."""
    seed: int = 0
    out_dir: Path = Path("runs/ppo")
    """The run directory: one run's logs, checkpoints, best and final model, videos. Training
    into it again with the same settings continues the run; other settings are refused."""
    hyperparams: str = ""
    """JSON object of algorithm arguments over the defaults, e.g. '{"learning_rate": 1e-4}'."""
    checkpoint_every: int = 500_000
    """Env steps between periodic checkpoints (0: none); one is also written when the run
    completes or is interrupted."""
    eval_every: int = 250_000
    """Env steps between evaluations (0: none; then no best model and no videos)."""
    eval_episodes: int = 5
    """Episodes per evaluation (seeded apart from training's envs)."""
    video: bool = True
    """Record one evaluation episode each time the policy is evaluated."""
    resume: Path | None = None
    """A checkpoint .zip to start from (with its .vec_normalize.npz): another run's, to go on
    from it with these settings in a new --out-dir, or one of this run's own. Unset, a run
    continues from its newest checkpoint."""
    progress: bool = True
    """A progress bar over env steps."""
    device: str = "cpu"
    """Torch device of the networks ("cuda" where there is one)."""
    gait: Path | None = None
    """A target-space gait .json: learn a bounded offset from its targets instead of relative
    actions (dexndm_agents.policies.gait_offsets); the saved model then acts as gait + offset."""
    gait_residual_rad: float = DEFAULT_RESIDUAL_RAD
    """With --gait: the largest offset from the gait's targets (rad)."""


def default_hyperparams(algo: str, n_envs: int) -> dict[str, Any]:
    """Our defaults for an algorithm on this env (tuned for PPO; SB3's own for the rest).

    PPO: short rollouts from many envs and large minibatches, as in-hand rotation work does
    (HORA: horizon 8 x thousands of envs); a 256-256-128 ELU network; a small initial action
    noise, because the pose and work penalties punish flailing fingers before anything turns.
    """
    import torch

    key = algo.lower()
    if key == "ppo":
        return {
            "n_steps": max(8, 2048 // n_envs),
            "batch_size": 1024,
            "n_epochs": 5,
            "learning_rate": 5e-4,
            "gamma": 0.99,
            "gae_lambda": 0.95,
            "max_grad_norm": 1.0,
            "policy_kwargs": {
                "net_arch": {"pi": [256, 256, 128], "vf": [256, 256, 128]},
                "activation_fn": torch.nn.ELU,
                "log_std_init": -1.2,
            },
        }
    if key in ("sac", "td3", "ddpg"):
        return {"learning_starts": 1_000, "train_freq": 1, "gradient_steps": 1}
    return {}


def algo_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    kwargs = default_hyperparams(cfg.algo, cfg.n_envs)
    if cfg.hyperparams:
        kwargs.update(_json_object(cfg.hyperparams, "--hyperparams"))
    if is_on_policy(cfg.algo):  # tiny budgets: one rollout need not outgrow the whole budget
        n_steps = kwargs.get("n_steps", 2048)
        kwargs["n_steps"] = min(n_steps, max(8, -(-cfg.total_timesteps // cfg.n_envs)))
        if "batch_size" in kwargs:
            kwargs["batch_size"] = min(kwargs["batch_size"], kwargs["n_steps"] * cfg.n_envs)
    return kwargs


def _json_object(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{option} is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{option} must be a JSON object, got {text!r}")
    return value


def check_config(cfg: TrainConfig) -> None:
    """Raise ValueError for a config that cannot run, before any env is made."""
    algorithm_class(cfg.algo)  # names the available algorithms when unknown
    if cfg.total_timesteps < 1:
        raise ValueError(f"total_timesteps must be >= 1, got {cfg.total_timesteps}")
    if cfg.n_envs < 1:
        raise ValueError(f"n_envs must be >= 1, got {cfg.n_envs}")
    if cfg.resume is not None and not Path(cfg.resume).is_file():
        raise ValueError(f"--resume {cfg.resume}: no such checkpoint")
    if cfg.resume is not None and Path(cfg.resume).suffix != ".zip":
        raise ValueError(f"--resume {cfg.resume}: give a checkpoint .zip (checkpoints/)")
    algo_kwargs(cfg)  # the JSON options parse
    cfg.env.as_kwargs()
    load_hand_config(cfg.env.hand_config)  # names a bad file or value now, not in a worker
    load_world(cfg.env.world_profile)
    if cfg.gait is not None:
        if not Path(cfg.gait).is_file():
            raise ValueError(f"--gait {cfg.gait}: no such file")
        gait_record(cfg)  # a target-space gait, and a valid offset


def gait_record(cfg: TrainConfig) -> dict[str, Any] | None:
    """What a saved model records of its gait (save_sb3_policy's `gait`), or None."""
    if cfg.gait is None:
        return None
    gait = target_space_gait(PeriodicGait.load(cfg.gait))
    return {"gait": gait.to_record(), "residual_rad": check_residual_rad(cfg.gait_residual_rad)}


def _wrapper(cfg: TrainConfig) -> dict[str, Any]:
    """make_vec_env's wrapper arguments for the run (none without a gait)."""
    if cfg.gait is None:
        return {}
    return {
        "wrapper_class": GaitOffsetWrapper,
        "wrapper_kwargs": {"gait": str(cfg.gait), "residual_rad": cfg.gait_residual_rad},
    }


def train(cfg: TrainConfig) -> Path:
    """Run one training (module docstring) and return the final model's .zip path.

    Raises:
        ValueError: a config that cannot run; RunDirectoryError: out_dir holds another run;
            CheckpointError: the checkpoint to continue from cannot be read without pickle or
            has trained more than total_timesteps; all before anything is written.
        KeyboardInterrupt, or whatever stopped the training: re-raised once the run is
            recorded as interrupted (or failed) and its model saved (a note says where).
    """
    check_config(cfg)
    out = Path(cfg.out_dir)
    start = plan_run(cfg)
    if start.complete:
        return out / f"{FINAL_MODEL}.zip"
    start_steps = 0 if start.checkpoint is None else check_resumable(start.checkpoint)
    if start_steps > cfg.total_timesteps:
        raise ValueError(
            f"--total-timesteps {cfg.total_timesteps} is below the {start_steps} steps "
            f"{start.checkpoint} has trained; ask for more, or choose another --out-dir"
        )
    venv = make_vec_env(
        ENV_ID, cfg.n_envs, cfg.seed, cfg.env.as_kwargs(), vec=cfg.vec, **_wrapper(cfg)
    )
    try:
        venv = _normalized(venv, cfg, start)
        model = _model(cfg, venv, start, out)  # a checkpoint that does not fit fails here
        out.mkdir(parents=True, exist_ok=True)
        record = {**config_record(cfg), "resume": start.origin}
        atomic_write_text(out / CONFIG_FILE, json.dumps(record, indent=2))
        RunStatus("running", start_steps, cfg.total_timesteps).write(out)
        final = _learn(model, cfg, start, out)
    except BaseException:
        _close_quietly(venv)
        raise
    venv.close()
    return final


def _normalized(venv: VecEnv, cfg: TrainConfig, start: RunStart) -> VecNormalize:
    if start.checkpoint is not None:
        return load_vec_normalize(stats_path(start.checkpoint), venv)
    # returns are normalised at the agent's own horizon
    gamma = algo_kwargs(cfg).get("gamma", 0.99)
    return VecNormalize(venv, norm_obs=True, norm_reward=is_on_policy(cfg.algo), gamma=gamma)


def _model(cfg: TrainConfig, venv: VecNormalize, start: RunStart, out: Path) -> Any:
    """The algorithm built from the run's settings, with the checkpoint's state in it."""
    model = algorithm_class(cfg.algo)(
        "MlpPolicy",
        venv,
        seed=cfg.seed,
        device=cfg.device,
        tensorboard_log=str(out / "tb"),
        verbose=0,
        **algo_kwargs(cfg),
    )
    if start.checkpoint is not None:
        load_checkpoint(model, start.checkpoint)
    return model


def _learn(model: Any, cfg: TrainConfig, start: RunStart, out: Path) -> Path:
    """Train to total_timesteps; record the run as complete, or as interrupted or failed."""
    env_kwargs, gait = cfg.env.as_kwargs(), gait_record(cfg)

    def save_policy(name: str) -> Path:
        venv = model.get_vec_normalize_env()
        return save_sb3_policy(model, out / name, cfg.algo, env_kwargs, venv, gait)

    try:
        model.learn(
            cfg.total_timesteps - model.num_timesteps,
            callback=_callbacks(cfg, env_kwargs, out, gait, model.num_timesteps),
            progress_bar=cfg.progress,
            reset_num_timesteps=start.checkpoint is None,
            tb_log_name=cfg.algo,
        )
    except BaseException as err:
        _record_stop(model, cfg, out, err, save_policy)
        raise
    save_checkpoint(model, out / CHECKPOINT_DIR, cfg.algo)
    final = save_policy(FINAL_MODEL)
    RunStatus("complete", model.num_timesteps, cfg.total_timesteps).write(out)
    for suffix in (".zip", ".json", ".obs_norm.npz"):  # superseded by the final model
        (out / f"{INTERRUPTED_MODEL}{suffix}").unlink(missing_ok=True)
    return final


def _record_stop(
    model: Any,
    cfg: TrainConfig,
    out: Path,
    err: BaseException,
    save_policy: Callable[[str], Path],
) -> None:
    """Save what a stopped run has and mark it so; a Ctrl-C also checkpoints it to resume.

    A run that failed with an error is not checkpointed (its state may be what failed): it
    continues from its last checkpoint.
    """
    interrupted = isinstance(err, KeyboardInterrupt | SystemExit)
    state = "interrupted" if interrupted else "failed"
    try:
        if interrupted:
            save_checkpoint(model, out / CHECKPOINT_DIR, cfg.algo)
        path = save_policy(INTERRUPTED_MODEL)
        message = f"{type(err).__name__}: {err}".rstrip(": ")
        RunStatus(state, model.num_timesteps, cfg.total_timesteps, message).write(out)
    except Exception as save_err:
        err.add_note(f"saving the stopped run failed as well: {save_err!r}")
        return
    err.add_note(
        f"training {state} at {model.num_timesteps} steps; the model so far is {path}; run the "
        "same command again to continue"
    )


def _close_quietly(venv: VecEnv) -> None:
    """Close envs while another error propagates (subprocess workers may be gone already)."""
    with contextlib.suppress(Exception):
        venv.close()


def _callbacks(
    cfg: TrainConfig,
    env_kwargs: dict[str, Any],
    out: Path,
    gait: dict[str, Any] | None,
    start_steps: int,
) -> CallbackList:
    callbacks: list[Any] = [RotationMetricsCallback()]
    if cfg.checkpoint_every > 0:
        callbacks.append(PeriodicCheckpoints(cfg.checkpoint_every, out / CHECKPOINT_DIR, cfg.algo))
    if cfg.eval_every > 0:
        callbacks.append(_evaluation(cfg, env_kwargs, out, gait, start_steps))
    return CallbackList(callbacks)


def _evaluation(
    cfg: TrainConfig,
    env_kwargs: dict[str, Any],
    out: Path,
    gait: dict[str, Any] | None,
    start_steps: int,
) -> EvalCallback:
    """Periodic evaluation that keeps the best model, carrying on a continued run's record."""
    every = max(cfg.n_envs, 1)  # SB3 counts callback frequencies in vectorised steps
    eval_env = VecNormalize(
        make_vec_env(ENV_ID, 1, cfg.seed + 10_000, env_kwargs, vec="dummy", **_wrapper(cfg)),
        training=False,
        norm_reward=False,
    )
    after_eval: list[Any] = []
    if cfg.video:
        as_policy = None
        if gait is not None:
            loaded = PeriodicGait.from_record(gait["gait"])

            def as_policy(agent: Any) -> GaitOffsetPolicy:
                return GaitOffsetPolicy(agent, loaded, gait["residual_rad"], env_kwargs)

        after_eval.append(
            EvalVideoCallback(env_kwargs, out / "videos", seed=cfg.seed, as_policy=as_policy)
        )
    evaluation = EvalCallback(
        eval_env,
        n_eval_episodes=cfg.eval_episodes,
        eval_freq=max(cfg.eval_every // every, 1),
        callback_on_new_best=SaveBestPolicy(out / BEST_MODEL, cfg.algo, env_kwargs, gait),
        callback_after_eval=CallbackList(after_eval) if after_eval else None,
        log_path=str(out / "eval"),
        deterministic=True,
        verbose=0,
    )
    resume_evaluations(evaluation, out / BEST_MODEL, start_steps)
    return evaluation
