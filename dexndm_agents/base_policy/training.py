"""Train any Stable-Baselines3 algorithm on DexNDM-Rotate-v0 (the engine of examples/train.py).

`train(TrainConfig(...))` builds the vectorised env (dexndm_agents.base_policy.vec_env), wraps it in
VecNormalize, and runs the algorithm with TensorBoard logs, a progress bar, periodic
checkpoints, periodic evaluation that keeps the best model, and evaluation videos. A run
directory holds:

    tb/                         TensorBoard logs (reward terms, RotR and TTF of finished episodes)
    checkpoints/<algo>_<steps>_steps.zip (+ _vecnormalize_<steps>_steps.pkl): for --resume
    best_model.zip / .json / .obs_norm.npz    the best evaluation so far (load_policy reads it)
    final_model.zip / .json / .obs_norm.npz   the model at the end of training
    videos/eval_<steps>.mp4     one evaluation episode each time the policy is evaluated
    config.json                 the TrainConfig of the run

With `gait=` the agent learns a bounded offset from a gait's joint targets instead of relative
actions (dexndm_agents.policies.gait_offsets); the saved models then load as gait + offset.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import CallbackList, CheckpointCallback, EvalCallback
from stable_baselines3.common.vec_env import VecNormalize

from dexndm_agents.base_policy.callbacks import (
    EvalVideoCallback,
    RotationMetricsCallback,
    SaveBestPolicy,
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

ENV_ID = "DexNDM-Rotate-v0"


@dataclass
class EnvOptions:
    """Options of DexNDM-Rotate-v0 (see dexndm_envs.sim.rotate.RotateEnv)."""

    object_set: str = "cylinder"
    """A category, "all", or an object name."""
    wrist: str = "palm_up"
    axis: str = "+z"
    obs_mode: str = "proprio"
    """"proprio" (runs on hardware) or "oracle" (privileged state: specialists)."""
    history_len: int = 3
    hardware: str = "ideal"
    hardware_profile: str = "default"
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
        return kwargs


@dataclass
class TrainConfig:
    """One training run."""

    algo: str = "ppo"
    """An SB3 algorithm (ppo, sac, td3, a2c, ddpg; sb3-contrib's where installed)."""
    total_timesteps: int = 3_000_000
    """Env steps to learn for (with --resume: in all, the checkpoint's included)."""
    env: EnvOptions = field(default_factory=EnvOptions)
    n_envs: int = 16
    """Envs stepped together (each seeded seed + i)."""
    vec: str = "auto"
    """auto, threads, dummy or subproc (dexndm_agents.base_policy.vec_env)."""
    seed: int = 0
    out_dir: Path = Path("runs/ppo")
    """The run directory: logs, checkpoints, best and final model, videos."""
    hyperparams: str = ""
    """JSON object of algorithm arguments over the defaults, e.g. '{"learning_rate": 1e-4}'."""
    checkpoint_every: int = 500_000
    """Env steps between checkpoints (0: none)."""
    eval_every: int = 250_000
    """Env steps between evaluations (0: none; then no best model and no videos)."""
    eval_episodes: int = 5
    """Episodes per evaluation (seeded apart from training's envs)."""
    video: bool = True
    """Record one evaluation episode each time the policy is evaluated."""
    resume: Path | None = None
    """A checkpoint .zip to continue from (its _vecnormalize_ .pkl is read when it exists)."""
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
    algo_kwargs(cfg)  # the JSON options parse
    cfg.env.as_kwargs()
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
    """Run one training (module docstring) and return the final model's .zip path."""
    check_config(cfg)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        out / "config.json", json.dumps(dataclasses.asdict(cfg), indent=2, default=str)
    )
    env_kwargs = cfg.env.as_kwargs()
    gait = gait_record(cfg)
    venv = make_vec_env(ENV_ID, cfg.n_envs, cfg.seed, env_kwargs, vec=cfg.vec, **_wrapper(cfg))
    kwargs = algo_kwargs(cfg)
    # returns are normalised at the agent's own horizon
    venv = _normalized(venv, cfg, is_on_policy(cfg.algo), kwargs.get("gamma", 0.99))
    cls = algorithm_class(cfg.algo)
    if cfg.resume is not None:
        model = cls.load(cfg.resume, env=venv, device=cfg.device)
    else:
        model = cls(
            "MlpPolicy",
            venv,
            seed=cfg.seed,
            device=cfg.device,
            tensorboard_log=str(out / "tb"),
            verbose=0,
            **kwargs,
        )
    callbacks = _callbacks(cfg, env_kwargs, out, gait)
    remaining = cfg.total_timesteps - (model.num_timesteps if cfg.resume else 0)
    try:
        model.learn(
            max(remaining, 0),
            callback=callbacks,
            progress_bar=cfg.progress,
            reset_num_timesteps=cfg.resume is None,
            tb_log_name=cfg.algo,
        )
    finally:
        final = save_sb3_policy(model, out / "final_model", cfg.algo, env_kwargs, venv, gait)
        venv.close()
    return final


def _normalized(venv: Any, cfg: TrainConfig, norm_reward: bool, gamma: float) -> VecNormalize:
    stats = _resume_stats_path(cfg.resume) if cfg.resume is not None else None
    if stats is not None and stats.is_file():
        venv = VecNormalize.load(str(stats), venv)
        venv.training = True
        return venv
    return VecNormalize(venv, norm_obs=True, norm_reward=norm_reward, gamma=gamma)


def _resume_stats_path(checkpoint: Path) -> Path:
    """CheckpointCallback's VecNormalize file for a checkpoint: <p>_vecnormalize_<n>_steps.pkl."""
    match = re.fullmatch(r"(.*)_(\d+)_steps", Path(checkpoint).stem)
    if match is None:
        return Path(checkpoint).with_suffix(".vecnormalize.pkl")
    prefix, steps = match.groups()
    return Path(checkpoint).with_name(f"{prefix}_vecnormalize_{steps}_steps.pkl")


def _callbacks(
    cfg: TrainConfig, env_kwargs: dict[str, Any], out: Path, gait: dict[str, Any] | None
) -> CallbackList:
    every = max(cfg.n_envs, 1)  # SB3 counts callback frequencies in vectorised steps
    callbacks: list[Any] = [RotationMetricsCallback()]
    if cfg.checkpoint_every > 0:
        callbacks.append(
            CheckpointCallback(
                max(cfg.checkpoint_every // every, 1),
                str(out / "checkpoints"),
                name_prefix=cfg.algo,
                save_vecnormalize=True,
            )
        )
    if cfg.eval_every > 0:
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
        callbacks.append(
            EvalCallback(
                eval_env,
                n_eval_episodes=cfg.eval_episodes,
                eval_freq=max(cfg.eval_every // every, 1),
                callback_on_new_best=SaveBestPolicy(out / "best_model", cfg.algo, env_kwargs, gait),
                callback_after_eval=CallbackList(after_eval) if after_eval else None,
                log_path=str(out / "eval"),
                deterministic=True,
                verbose=0,
            )
        )
    return CallbackList(callbacks)
