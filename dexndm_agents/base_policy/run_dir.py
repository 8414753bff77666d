"""One run per directory: a training run's settings and state on disk, resumed or refused.

    config.json   the run's settings (TrainConfig), written when it starts
    status.json   {"state": "running" | "complete" | "interrupted" | "failed",
                   "num_timesteps": steps trained, "total_timesteps": steps asked for,
                   "error": what stopped it, or null}

`plan_run` decides, before anything is written, what a training into a directory does:

- a directory whose config.json holds other settings is refused, with one line per differing
  field (RUN_ONLY_FIELDS may differ: they say how long a run goes and how it is watched, not
  what it learns), as the chaos-box collection and the DexNDM loop refuse theirs;
- a directory that holds a run's files without this version's config.json and status.json
  (another program's, or an earlier dexndm's, whose checkpoints resume only by unpickling) is
  refused;
- a run with the same settings continues: from `--resume` when given (one of the run's own
  checkpoints, or the one it started from), else from its newest checkpoint, else from the
  checkpoint it started from; with none of these it starts from scratch;
- a run whose status says it completed the `--total-timesteps` asked for is done.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dexndm_agents.base_policy.checkpoints import newest_checkpoint
from dexndm_envs.core.atomic import atomic_write_text

CONFIG_FILE = "config.json"
STATUS_FILE = "status.json"
FINAL_MODEL = "final_model"
INTERRUPTED_MODEL = "interrupted_model"
BEST_MODEL = "best_model"
CHECKPOINT_DIR = "checkpoints"
STATES = ("running", "complete", "interrupted", "failed")

RUN_ONLY_FIELDS = (
    "total_timesteps",
    "resume",
    "progress",
    "device",
    "vec",
    "out_dir",
    "checkpoint_every",
    "eval_every",
    "video",
)
"""TrainConfig fields a run may change when it continues; every other one must match."""

ADDED_FIELDS: dict[str, Any] = {
    "env.hand_config": None,
    "env.hardware_seed": 0,
    "env.engine": "mujoco",
    "env.world_profile": "default",
}
"""Settings newer than some config.json files, with the value those runs had."""

RUN_FILES = (CHECKPOINT_DIR, f"{BEST_MODEL}.zip", f"{FINAL_MODEL}.zip", f"{INTERRUPTED_MODEL}.zip")


class RunDirectoryError(ValueError):
    """A run directory that a training cannot go into without mixing two runs."""


@dataclass(frozen=True)
class RunStatus:
    """status.json: how far a run got and why it stopped."""

    state: str
    num_timesteps: int
    total_timesteps: int
    error: str | None = None

    def write(self, out_dir: Path) -> None:
        atomic_write_text(Path(out_dir) / STATUS_FILE, json.dumps(dataclasses.asdict(self)))


@dataclass(frozen=True)
class RunStart:
    """What a training into a directory does (plan_run)."""

    checkpoint: Path | None
    """The checkpoint to continue from; None: from scratch."""
    origin: str | None
    """The checkpoint the run started from (config.json's resume), kept across continuations."""
    complete: bool
    """The run already completed the steps asked for: nothing to train."""


def config_record(cfg: Any) -> dict[str, Any]:
    """A TrainConfig as config.json holds it (plain JSON: paths as strings)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def settings_differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """One line per setting outside RUN_ONLY_FIELDS that differs (nested ones dotted)."""
    old, new = _flatten(recorded), _flatten(current)
    lines = []
    for key in sorted(set(old) | set(new)):
        default = ADDED_FIELDS.get(key)
        before, after = old.get(key, default), new.get(key, default)
        if key.split(".")[0] not in RUN_ONLY_FIELDS and before != after:
            lines.append(f"{key}: {before!r} on disk, {after!r} now")
    return lines


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def read_status(out_dir: Path) -> RunStatus | None:
    """The run's status.json, or None where there is none.

    Raises:
        RunDirectoryError: a status.json that is not one.
    """
    path = Path(out_dir) / STATUS_FILE
    record = _read_json(path)
    if record is None:
        return None
    try:
        status = RunStatus(**record)
    except TypeError as err:
        raise RunDirectoryError(f"{path} is not a run status ({err})") from None
    if status.state not in STATES:
        raise RunDirectoryError(f"{path}: unknown state {status.state!r}; valid: {STATES}")
    return status


def plan_run(cfg: Any) -> RunStart:
    """Where a training of `cfg` (a TrainConfig) into cfg.out_dir starts (module docstring).

    Raises:
        RunDirectoryError: the directory holds another run, or one of an earlier dexndm, or
            --resume names a checkpoint of another run.
    """
    out = Path(cfg.out_dir)
    recorded = _read_json(out / CONFIG_FILE)
    status = read_status(out)
    if recorded is None or status is None:
        found = [name for name in RUN_FILES if (out / name).exists()]
        if found:
            lacking = CONFIG_FILE if recorded is None else STATUS_FILE
            raise RunDirectoryError(
                f"refusing to train into {out}: it holds {', '.join(found)} but no {lacking} "
                "(a run of another program or of an earlier dexndm, whose checkpoints resume "
                "only by unpickling them); choose another --out-dir"
            )
        origin = None if cfg.resume is None else str(cfg.resume)
        return RunStart(None if cfg.resume is None else Path(cfg.resume), origin, False)
    differences = settings_differences(recorded, config_record(cfg))
    if differences:
        raise RunDirectoryError(
            f"refusing to train into {out}: its {CONFIG_FILE} was written with other "
            "settings:\n  " + "\n  ".join(differences) + "\nrerun with the recorded settings "
            "to continue that run, or choose another --out-dir"
        )
    origin = recorded.get("resume")
    done = status.state == "complete" and status.total_timesteps == cfg.total_timesteps
    if done and (out / f"{FINAL_MODEL}.zip").is_file():
        return RunStart(None, origin, True)
    own = newest_checkpoint(out / CHECKPOINT_DIR, cfg.algo)
    if cfg.resume is None:
        return RunStart(own or (None if origin is None else Path(origin)), origin, False)
    _check_same_run(out, Path(cfg.resume), origin)
    return RunStart(Path(cfg.resume), origin, False)


def _check_same_run(out: Path, resume: Path, origin: str | None) -> None:
    """Refuse a --resume that would continue this directory's run from another run."""
    own = resume.resolve().parent == (out / CHECKPOINT_DIR).resolve()
    if own or (origin is not None and Path(origin).resolve() == resume.resolve()):
        return
    started = "from scratch" if origin is None else f"from {origin}"
    raise RunDirectoryError(
        f"refusing --resume {resume}: {out} holds a run started {started}, and continuing it "
        "from another run's checkpoint would mix the two; give one of its own checkpoints "
        f"({out / CHECKPOINT_DIR}), none (its newest), or another --out-dir"
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise RunDirectoryError(
            f"cannot read {path} ({err}); restore it or choose another --out-dir"
        ) from None
    if not isinstance(record, dict):
        raise RunDirectoryError(f"{path} must hold a JSON object")
    return record
