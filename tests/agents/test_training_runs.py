"""One run per directory: resuming without pickle, refusing another run's settings, and runs
that were interrupted or failed, which must never look finished."""

from __future__ import annotations

import json
import os
import pickle
import subprocess

import numpy as np
import pytest
import torch
import tyro
from untrusted_files import RunsCode, poison_sb3_zip, rewrite_zip, torch_file_that_runs_code

from dexndm_agents.base_policy.callbacks import RotationMetricsCallback
from dexndm_agents.base_policy.checkpoints import (
    CheckpointError,
    load_checkpoint,
    load_vec_normalize,
    save_vec_normalize,
)
from dexndm_agents.base_policy.run_dir import RunDirectoryError, plan_run
from dexndm_agents.base_policy.training import EnvOptions, TrainConfig, algo_kwargs, train
from dexndm_agents.base_policy.vec_env import make_vec_env
from dexndm_agents.policies.algorithms import algorithm_class
from dexndm_agents.policies.files import load_policy
from dexndm_agents.policies.sb3_zip import PolicyFileError, read_state_dicts
from dexndm_envs.core.interface import DEFAULT_HISTORY_LEN

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SAC_TINY = '{"learning_starts": 16, "batch_size": 16, "buffer_size": 1000}'


def tiny(tmp_path, name: str = "run", **overrides) -> TrainConfig:
    fields = {
        "total_timesteps": 64,
        "env": EnvOptions(object_set="cube", history_len=3),
        "n_envs": 2,
        "eval_every": 0,
        "checkpoint_every": 0,
        "progress": False,
        "out_dir": tmp_path / name,
        **overrides,
    }
    return TrainConfig(**fields)


def status(cfg: TrainConfig) -> dict:
    return json.loads((cfg.out_dir / "status.json").read_text())


def stop_at(monkeypatch, steps: int, error: BaseException) -> None:
    """Make training raise `error` once it has taken `steps` env steps."""
    original = RotationMetricsCallback._on_step

    def on_step(self):
        if self.num_timesteps >= steps:
            raise error
        return original(self)

    monkeypatch.setattr(RotationMetricsCallback, "_on_step", on_step)


def fresh_model(cfg: TrainConfig):
    venv = make_vec_env("DexNDM-Rotate-v0", 1, 0, cfg.env.as_kwargs(), vec="dummy")
    return algorithm_class(cfg.algo)("MlpPolicy", venv, seed=5, **algo_kwargs(cfg)), venv


# ----------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize(("algo", "hyperparams"), [("ppo", ""), ("sac", SAC_TINY)])
def test_resuming_puts_the_checkpoints_state_into_the_model(tmp_path, algo, hyperparams):
    cfg = tiny(tmp_path, algo=algo, hyperparams=hyperparams)
    train(cfg)
    checkpoint = cfg.out_dir / "checkpoints" / f"{algo}_64_steps.zip"
    model, venv = fresh_model(cfg)
    saved = read_state_dicts(checkpoint, ["policy", "pytorch_variables"])
    before = model.policy.state_dict()
    assert any(not torch.equal(before[k], v) for k, v in saved["policy"].items())
    load_checkpoint(model, checkpoint)
    after = model.policy.state_dict()
    assert all(torch.equal(after[k], v) for k, v in saved["policy"].items())
    assert model.num_timesteps == 64
    optimizer = "policy.optimizer" if algo == "ppo" else "actor.optimizer"
    stored = read_state_dicts(checkpoint, [optimizer])[optimizer]["state"]
    loaded = model.policy.optimizer if algo == "ppo" else model.actor.optimizer
    assert stored and all(
        torch.equal(loaded.state_dict()["state"][i]["exp_avg"], s["exp_avg"])
        for i, s in stored.items()
    )
    for name, tensor in saved["pytorch_variables"].items():  # SAC's entropy coefficient
        assert torch.equal(getattr(model, name).detach(), tensor)
    venv.close()


def test_normalisation_statistics_round_trip_without_pickle(tmp_path):
    venv = make_vec_env("DexNDM-Rotate-v0", 2, 0, {"object_set": "cube", "history_len": 3})
    from stable_baselines3.common.vec_env import VecNormalize

    source = VecNormalize(venv, gamma=0.95, clip_obs=5.0)
    source.reset()
    for _ in range(5):
        source.step(np.zeros((2, 16), np.float32))
    save_vec_normalize(source, tmp_path / "stats.npz")
    loaded = load_vec_normalize(tmp_path / "stats.npz", venv)
    for a, b in ((source.obs_rms, loaded.obs_rms), (source.ret_rms, loaded.ret_rms)):
        np.testing.assert_array_equal(a.mean, b.mean)
        np.testing.assert_array_equal(a.var, b.var)
        assert a.count == b.count
    assert (loaded.gamma, loaded.clip_obs, loaded.training) == (0.95, 5.0, True)
    other = make_vec_env("DexNDM-Rotate-v0", 1, 0, {"object_set": "cube", "history_len": 4})
    with pytest.raises(CheckpointError, match="observations of shape"):
        load_vec_normalize(tmp_path / "stats.npz", other)
    venv.close()
    other.close()


@pytest.mark.parametrize("pickle_name", ["ppo_64_steps.pkl", "ppo_vecnormalize_64_steps.pkl"])
def test_pickled_normalisation_is_refused(tmp_path, pickle_name):
    cfg = tiny(tmp_path)
    train(cfg)
    checkpoints = cfg.out_dir / "checkpoints"
    (checkpoints / "ppo_64_steps.vec_normalize.npz").unlink()
    marker = tmp_path / "ran"
    (checkpoints / pickle_name).write_bytes(pickle.dumps(RunsCode(marker)))
    later = tiny(tmp_path, "later", total_timesteps=128, resume=checkpoints / "ppo_64_steps.zip")
    with pytest.raises(CheckpointError, match=f"{pickle_name} holds .* as a pickle"):
        train(later)
    assert not marker.exists() and not later.out_dir.exists()
    with pytest.raises(ValueError, match=r"give a checkpoint \.zip"):
        train(tiny(tmp_path, "later", resume=checkpoints / pickle_name))


def test_a_checkpoint_resumes_without_running_its_pickles(tmp_path):
    cfg = tiny(tmp_path)
    train(cfg)
    checkpoint = cfg.out_dir / "checkpoints" / "ppo_64_steps.zip"
    marker = tmp_path / "ran"
    poison_sb3_zip(checkpoint, marker)
    train(tiny(tmp_path, "later", total_timesteps=128, resume=checkpoint))
    assert not marker.exists() and status(tiny(tmp_path, "later"))["state"] == "complete"
    rewrite_zip(checkpoint, members={"policy.optimizer.pth": torch_file_that_runs_code(marker)})
    with pytest.raises(PolicyFileError, match="could run code"):
        train(tiny(tmp_path, "third", total_timesteps=128, resume=checkpoint))
    assert not marker.exists()


def test_a_checkpoint_of_another_network_is_refused_before_anything_is_written(tmp_path):
    cfg = tiny(tmp_path)
    train(cfg)
    other = tiny(tmp_path, "narrow", total_timesteps=128,
                 resume=cfg.out_dir / "checkpoints" / "ppo_64_steps.zip",
                 hyperparams='{"policy_kwargs": {"net_arch": [8]}}')  # fmt: skip
    with pytest.raises(CheckpointError, match="does not fit the PPO the run's settings build"):
        train(other)
    assert not other.out_dir.exists()


# ----------------------------------------------------------------------------- run directories
def test_another_runs_settings_are_refused_naming_each_field(tmp_path):
    cfg = tiny(tmp_path)
    train(cfg)
    written = {p: p.stat().st_mtime_ns for p in cfg.out_dir.rglob("*") if p.is_file()}
    other = tiny(
        tmp_path, seed=1, env=EnvOptions(object_set="cube", history_len=3, wrist="palm_down")
    )
    with pytest.raises(RunDirectoryError) as err:
        train(other)
    assert "seed: 0 on disk, 1 now" in str(err.value)
    assert "env.wrist: 'palm_up' on disk, 'palm_down' now" in str(err.value)
    assert {p: p.stat().st_mtime_ns for p in cfg.out_dir.rglob("*") if p.is_file()} == written


def test_a_completed_run_returns_at_once_and_refuses_fewer_steps(tmp_path, monkeypatch):
    cfg = tiny(tmp_path)
    final = train(cfg)
    before = final.stat().st_mtime_ns
    stop_at(monkeypatch, 0, AssertionError("trained again"))
    assert train(tiny(tmp_path)) == final and final.stat().st_mtime_ns == before
    with pytest.raises(ValueError, match="below the 64 steps"):
        train(tiny(tmp_path, total_timesteps=32))


def test_an_interrupted_run_is_not_finished_and_continues(tmp_path, monkeypatch):
    cfg = tiny(tmp_path, total_timesteps=256)
    stop_at(monkeypatch, 64, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt) as err:
        train(cfg)
    assert "training interrupted at 64 steps" in "".join(err.value.__notes__)
    assert not (cfg.out_dir / "final_model.zip").exists()
    assert status(cfg) | {"error": None} == {
        "state": "interrupted", "num_timesteps": 64, "total_timesteps": 256, "error": None
    }  # fmt: skip
    assert load_policy(cfg.out_dir / "interrupted_model.zip") is not None
    assert (cfg.out_dir / "checkpoints" / "ppo_64_steps.zip").is_file()
    monkeypatch.undo()
    assert plan_run(cfg).checkpoint == cfg.out_dir / "checkpoints" / "ppo_64_steps.zip"
    train(cfg)
    assert status(cfg)["state"] == "complete" and status(cfg)["num_timesteps"] >= 256
    assert (cfg.out_dir / "final_model.zip").is_file()
    assert not (cfg.out_dir / "interrupted_model.zip").exists()


def test_a_failed_run_is_marked_so_and_continues_from_its_last_checkpoint(tmp_path, monkeypatch):
    cfg = tiny(tmp_path, total_timesteps=256, checkpoint_every=64)
    stop_at(monkeypatch, 192, RuntimeError("the env broke"))
    with pytest.raises(RuntimeError, match="the env broke"):
        train(cfg)
    assert status(cfg)["state"] == "failed" and "the env broke" in status(cfg)["error"]
    assert not (cfg.out_dir / "final_model.zip").exists()
    assert (cfg.out_dir / "interrupted_model.zip").is_file()
    # the state that failed is not a checkpoint: the run goes on from the last good one
    assert plan_run(cfg).checkpoint == cfg.out_dir / "checkpoints" / "ppo_128_steps.zip"


def test_a_directory_with_a_run_of_an_earlier_version_is_refused(tmp_path):
    out = tmp_path / "old"
    (out / "checkpoints").mkdir(parents=True)
    (out / "final_model.zip").write_bytes(b"")
    (out / "config.json").write_text("{}")
    with pytest.raises(
        RunDirectoryError, match=r"holds checkpoints, final_model\.zip but no status"
    ):
        train(tiny(tmp_path, "old"))
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoints",
        "config.json",
        "final_model.zip",
    ]


def test_a_run_keeps_the_checkpoint_it_started_from_and_refuses_another(tmp_path, monkeypatch):
    nominal = tiny(tmp_path, "nominal")
    train(nominal)
    start = nominal.out_dir / "checkpoints" / "ppo_64_steps.zip"
    randomised = EnvOptions(object_set="cube", history_len=3, domain_randomization=True)
    cfg = tiny(tmp_path, "randomised", total_timesteps=256, env=randomised, resume=start)
    stop_at(monkeypatch, 100, RuntimeError("stopped before its own first checkpoint"))
    with pytest.raises(RuntimeError):
        train(cfg)
    monkeypatch.undo()
    again = tiny(tmp_path, "randomised", total_timesteps=256, env=randomised)
    assert plan_run(again).checkpoint == start  # not from scratch
    other = tiny(tmp_path, "other")
    train(other)
    with pytest.raises(RunDirectoryError, match="would mix the two"):
        train(tiny(tmp_path, "nominal", total_timesteps=128,
                   resume=other.out_dir / "checkpoints" / "ppo_64_steps.zip"))  # fmt: skip


def test_a_continued_run_keeps_its_best_model_and_evaluations(tmp_path):
    settings = {"eval_every": 64, "eval_episodes": 1, "video": False}
    env = EnvOptions(object_set="cube", history_len=3, config='{"drop_distance_m": 0.0}')
    cfg = tiny(tmp_path, env=env, **settings)
    train(cfg)
    best = cfg.out_dir / "best_model.json"
    record = json.loads(best.read_text())
    assert record["evaluation"]["num_timesteps"] == 64
    record["evaluation"]["mean_reward"] = 1e9  # a best no later evaluation beats
    best.write_text(json.dumps(record))
    train(tiny(tmp_path, env=env, total_timesteps=256, **settings))
    assert json.loads(best.read_text())["evaluation"] == record["evaluation"]
    with np.load(cfg.out_dir / "eval" / "evaluations.npz") as f:
        assert f["timesteps"][0] == 64 and len(f["timesteps"]) >= 2


# ----------------------------------------------------------------------------- options
def test_env_options_are_the_envs_with_its_history_length(tmp_path):
    assert EnvOptions().history_len == DEFAULT_HISTORY_LEN
    cfg = tyro.cli(TrainConfig, args=["--env.hand-config", "real/leap_hand.yaml",
                                      "--env.hardware-seed", "3"])  # fmt: skip
    kwargs = cfg.env.as_kwargs()
    assert kwargs["hand_config"] == "real/leap_hand.yaml" and kwargs["hardware_seed"] == 3
    missing = tiny(tmp_path, env=EnvOptions(hand_config=tmp_path / "nope.yaml"))
    with pytest.raises(ValueError, match=r"nope\.yaml"):
        train(missing)
    assert not missing.out_dir.exists()


def test_the_recipe_passes_the_history_it_relies_on_and_lets_train_py_resume(repo_root, tmp_path):
    """The recipe with a stand-in for python that logs each program's arguments."""
    stub = tmp_path / "bin" / "python"
    stub.parent.mkdir()
    stub.write_text(STUB_PYTHON)
    stub.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{stub.parent}:{os.environ['PATH']}",
        "LOG": str(tmp_path / "log"),
    }
    runs = tmp_path / "runs"
    result = subprocess.run(["bash", str(repo_root / "examples/recipes/base_policy.sh"), str(runs)],
                            env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    calls = [line.split() for line in (tmp_path / "log").read_text().splitlines()]
    searches = [c for c in calls if c[0] == "examples/search_gait.py"]
    trainings = [c for c in calls if c[0] == "examples/train.py"]
    assert len(searches) == 2 and len(trainings) == 4
    for call in searches + trainings:
        assert call[call.index("--env.history-len") + 1] == "3"
    resumes = [c[c.index("--resume") + 1] for c in trainings if "--resume" in c]
    assert resumes == [f"{runs}/flat_nominal/checkpoints/ppo_3000000_steps.zip",
                       f"{runs}/side_nominal/checkpoints/ppo_2000000_steps.zip"]  # fmt: skip
    assert not any("--resume" in c for c in trainings if "nominal" in c[c.index("--out-dir") + 1])
    # run again: every step is done or continues its own run, none starts over
    (tmp_path / "log").unlink()
    subprocess.run(["bash", str(repo_root / "examples/recipes/base_policy.sh"), str(runs)],
                   env=env, check=True, capture_output=True, timeout=60)  # fmt: skip
    calls = [line.split() for line in (tmp_path / "log").read_text().splitlines()]
    assert [c[0] for c in calls] == ["examples/train.py"] * 4
    assert not any("--resume" in c for c in calls)


STUB_PYTHON = """#!/usr/bin/env bash
echo "$@" >> "$LOG"
out=$(echo "$@" | sed -n 's/.*--out-dir \\([^ ]*\\).*/\\1/p')
case "$1" in
  examples/search_gait.py) mkdir -p "$out"; touch "$out/gait.json" ;;
  examples/train.py) mkdir -p "$out/checkpoints"; touch "$out/config.json" \\
      "$out/final_model.zip" ;;
  examples/distill.py) mkdir -p "$out"; touch "$out/generalist.pt" ;;
esac
"""
