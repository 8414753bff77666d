"""Training checkpoints that resume without unpickling anything.

A run's `checkpoints/` directory holds, for each checkpoint,

    <algo>_<steps>_steps.zip                 SB3's model file (weights, optimiser state, counters)
    <algo>_<steps>_steps.vec_normalize.npz   VecNormalize's running statistics (plain arrays)

SB3's own CheckpointCallback keeps VecNormalize as a pickle, and SB3's `load` unpickles the
zip's data record: both can run code from the file. Here nothing is rebuilt from a checkpoint:
the caller builds the model from the run's own settings, and `load_checkpoint` puts into it the
state dicts (read with `torch.load(weights_only=True)`) and the step counters (plain JSON
entries of the zip); `load_vec_normalize` reads the statistics with `np.load` without pickle. A
checkpoint whose statistics exist only as a `.pkl` (written by an earlier dexndm) is refused.

Usage:
    save_checkpoint(model, run_dir / "checkpoints", "ppo")
    venv = load_vec_normalize(stats_path(checkpoint), venv)
    load_checkpoint(model, checkpoint)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from dexndm_agents.policies.sb3_zip import read_plain_data, read_state_dicts
from dexndm_envs.core.atomic import atomic_write

CHECKPOINT_NAME = re.compile(r"(?P<algo>.+)_(?P<steps>\d+)_steps")
STATS_SUFFIX = ".vec_normalize.npz"
VARIABLES_MEMBER = "pytorch_variables"
"""SB3's zip member for tensors that are not in a module (SAC's log entropy coefficient)."""
COUNTERS = ("num_timesteps", "_episode_num", "_n_updates")
"""The plain step counters of SB3's data record that a resumed run continues from."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed from (missing, pickled statistics, other network)."""


def checkpoint_path(directory: Path, algo: str, steps: int) -> Path:
    return Path(directory) / f"{algo}_{steps}_steps.zip"


def stats_path(checkpoint: Path) -> Path:
    """The normalisation statistics saved with a checkpoint: <name>.vec_normalize.npz."""
    return Path(checkpoint).with_suffix(STATS_SUFFIX)


def newest_checkpoint(directory: Path, algo: str) -> Path | None:
    """The checkpoint of `algo` with the most steps in directory, or None."""
    found = []
    for path in Path(directory).glob(f"{algo}_*_steps.zip"):
        match = CHECKPOINT_NAME.fullmatch(path.stem)
        if match is not None and match["algo"] == algo:
            found.append((int(match["steps"]), path))
    return max(found)[1] if found else None


def save_checkpoint(model: Any, directory: Path, algo: str) -> Path:
    """Write the model and its VecNormalize statistics; the zip last, so that a checkpoint
    whose zip exists is complete."""
    path = checkpoint_path(directory, algo, model.num_timesteps)
    vec_normalize = model.get_vec_normalize_env()
    if vec_normalize is not None:
        save_vec_normalize(vec_normalize, stats_path(path))
    with atomic_write(path) as file:
        model.save(file)
    return path


def checkpoint_timesteps(checkpoint: Path) -> int:
    """The env steps a checkpoint was trained for (its zip's plain num_timesteps entry)."""
    return _counter(read_plain_data(Path(checkpoint)), "num_timesteps", checkpoint)


def check_resumable(checkpoint: Path) -> int:
    """The steps a checkpoint has trained, once its zip and statistics are known to be there.

    Raises:
        CheckpointError: no statistics beside it (a .pkl is named and refused).
        PolicyFileError: not an SB3 zip with a plain step count.
    """
    stats = stats_path(checkpoint)
    if not stats.is_file():
        raise CheckpointError(_missing_stats_message(stats))
    return checkpoint_timesteps(checkpoint)


def load_checkpoint(model: Any, checkpoint: Path) -> None:
    """Put a checkpoint's weights, optimiser state and step counters into `model`, which the
    caller built from the run's own settings.

    Raises:
        CheckpointError: the checkpoint does not fit the model (another algorithm, network
            or optimiser), or its counters are not plain numbers.
        PolicyFileError: a member holds more than plain tensors.
    """
    checkpoint = Path(checkpoint)
    names, variables = model._get_torch_save_params()
    state_dicts = read_state_dicts(checkpoint, names, str(model.device))
    try:
        model.set_parameters(state_dicts, exact_match=True, device=model.device)
    except (RuntimeError, ValueError, KeyError) as err:
        raise CheckpointError(
            f"{checkpoint} does not fit the {type(model).__name__} the run's settings build: "
            f"{str(err).strip().splitlines()[0]}"
        ) from None
    if variables:
        stored = read_state_dicts(checkpoint, [VARIABLES_MEMBER], str(model.device))
        _set_variables(model, variables, stored[VARIABLES_MEMBER], checkpoint)
    data = read_plain_data(checkpoint)
    for name in COUNTERS:
        if name in data or name == "num_timesteps":
            setattr(model, name, _counter(data, name, checkpoint))


def _set_variables(model: Any, names: list[str], stored: Any, checkpoint: Path) -> None:
    if not isinstance(stored, dict) or not set(names) <= set(stored):
        raise CheckpointError(f"{checkpoint} lacks the tensors {', '.join(names)} of the model")
    for name in names:
        target = getattr(model, name)
        if tuple(stored[name].shape) != tuple(target.shape):
            raise CheckpointError(f"{checkpoint}: {name} has shape {tuple(stored[name].shape)}")
        target.data.copy_(stored[name])


def _counter(data: dict[str, Any], name: str, checkpoint: Path) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CheckpointError(f"{checkpoint}: {name} {value!r} is not a step count")
    return value


# ----------------------------------------------------------------------------- VecNormalize
def save_vec_normalize(vec_normalize: VecNormalize, path: Path) -> None:
    """VecNormalize's statistics and settings as plain arrays (no pickle)."""
    obs_rms, ret_rms = vec_normalize.obs_rms, vec_normalize.ret_rms
    if isinstance(obs_rms, dict):
        raise CheckpointError("observations of several parts (a Dict space) are not supported")
    with atomic_write(path) as file:
        np.savez(
            file,
            **{f"obs_{k}": np.asarray(getattr(obs_rms, k)) for k in ("mean", "var", "count")},
            **{f"ret_{k}": np.asarray(getattr(ret_rms, k)) for k in ("mean", "var", "count")},
            norm_obs=vec_normalize.norm_obs,
            norm_reward=vec_normalize.norm_reward,
            clip_obs=vec_normalize.clip_obs,
            clip_reward=vec_normalize.clip_reward,
            gamma=vec_normalize.gamma,
            epsilon=vec_normalize.epsilon,
        )


def load_vec_normalize(path: Path, venv: VecEnv) -> VecNormalize:
    """`venv` normalised with the statistics `save_vec_normalize` wrote, still learning them.

    Raises:
        CheckpointError: no such file (naming a `.pkl` beside it, which is refused), an
            unreadable one, or statistics for observations of another shape.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(_missing_stats_message(path))
    try:
        with np.load(path, allow_pickle=False) as f:
            stats = {key: f[key] for key in f.files}
        vec_normalize = VecNormalize(
            venv,
            training=True,
            norm_obs=bool(stats["norm_obs"]),
            norm_reward=bool(stats["norm_reward"]),
            clip_obs=float(stats["clip_obs"]),
            clip_reward=float(stats["clip_reward"]),
            gamma=float(stats["gamma"]),
            epsilon=float(stats["epsilon"]),
        )
    except (OSError, KeyError, ValueError) as err:
        raise CheckpointError(f"cannot read normalisation statistics {path}: {err}") from None
    if stats["obs_mean"].shape != venv.observation_space.shape:
        raise CheckpointError(
            f"{path} normalises observations of shape {stats['obs_mean'].shape}, but the env "
            f"gives {venv.observation_space.shape}"
        )
    for prefix, rms in (("obs", vec_normalize.obs_rms), ("ret", vec_normalize.ret_rms)):
        rms.mean = stats[f"{prefix}_mean"].astype(np.float64)
        rms.var = stats[f"{prefix}_var"].astype(np.float64)
        rms.count = float(stats[f"{prefix}_count"])
    return vec_normalize


def _missing_stats_message(path: Path) -> str:
    name = path.name.removesuffix(STATS_SUFFIX)
    match = CHECKPOINT_NAME.fullmatch(name)
    pickles = [path.with_name(f"{name}.pkl")]
    if match is not None:
        pickles.append(path.with_name(f"{match['algo']}_vecnormalize_{match['steps']}_steps.pkl"))
    pickled = [p for p in pickles if p.is_file()]
    if pickled:
        return (
            f"{pickled[0].name} holds this checkpoint's normalisation as a pickle (written by an "
            "earlier dexndm); --resume does not unpickle it, since that can run code. Start a "
            "new run, or resume from a checkpoint that has its "
            f"{STATS_SUFFIX} file"
        )
    return (
        f"no normalisation statistics {path} beside this checkpoint; --resume takes a "
        "checkpoint of a run's checkpoints/ (a saved policy keeps only its observation "
        "statistics, not the training's)"
    )
