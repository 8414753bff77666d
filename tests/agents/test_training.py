"""SB3 training on DexNDM-Rotate-v0: every algorithm with tiny budgets, saving, resuming (run
directories and interruptions: test_training_runs.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from dexndm_agents.base_policy.checkpoints import checkpoint_timesteps, load_checkpoint
from dexndm_agents.base_policy.training import EnvOptions, TrainConfig, algo_kwargs, train
from dexndm_agents.base_policy.vec_env import ThreadedVecEnv, make_vec_env, resolve_vec_kind
from dexndm_agents.policies.algorithms import algorithm_class, available_algorithms
from dexndm_agents.policies.files import NormalizedPolicy, load_policy

TINY = {"n_envs": 2, "eval_every": 0, "checkpoint_every": 0, "progress": False}


def tiny_config(tmp_path, **overrides) -> TrainConfig:
    fields = {"total_timesteps": 64, "env": EnvOptions(object_set="cube"), **TINY}
    fields.update(overrides)
    return TrainConfig(out_dir=tmp_path / "run", **fields)


@pytest.mark.parametrize("algo", ["ppo", "sac", "td3", "a2c", "ddpg"])
def test_every_algorithm_trains_and_its_saved_policy_acts(tmp_path, algo):
    final = train(tiny_config(tmp_path, algo=algo))
    policy = load_policy(final)
    assert isinstance(policy, NormalizedPolicy)
    assert policy.env_kwargs["object_set"] == "cube"
    obs = np.zeros(policy.normalizer.mean.shape, dtype=np.float32)
    action, _ = policy.predict(obs, deterministic=True)
    assert action.shape == (16,) and np.all(np.abs(action) <= 1.0)


def test_saved_policy_normalises_observations_as_training_did(tmp_path):
    cfg = tiny_config(tmp_path, total_timesteps=256)
    final = train(cfg)
    policy = load_policy(final)
    # the checkpoint written when the run completed holds the same model
    venv = make_vec_env("DexNDM-Rotate-v0", 1, 0, cfg.env.as_kwargs(), vec="dummy")
    model = algorithm_class("ppo")("MlpPolicy", venv, **algo_kwargs(cfg))
    load_checkpoint(model, cfg.out_dir / "checkpoints" / "ppo_256_steps.zip")
    obs = np.random.default_rng(0).normal(size=policy.normalizer.mean.shape).astype(np.float32)
    want, _ = model.predict(policy.normalizer(obs), deterministic=True)
    got, _ = policy.predict(obs, deterministic=True)
    np.testing.assert_array_equal(got, want)
    assert np.any(policy.normalizer.var != 1.0)  # statistics were learnt, not defaults
    venv.close()


def test_checkpoints_resume_with_their_normalisation(tmp_path):
    cfg = tiny_config(tmp_path, total_timesteps=128, checkpoint_every=64)
    train(cfg)
    checkpoint = cfg.out_dir / "checkpoints" / "ppo_128_steps.zip"
    assert checkpoint.is_file()
    assert (cfg.out_dir / "checkpoints" / "ppo_128_steps.vec_normalize.npz").is_file()
    assert not list((cfg.out_dir / "checkpoints").glob("*.pkl"))
    resumed = tiny_config(tmp_path, total_timesteps=256, resume=checkpoint)
    final = train(resumed)
    newest = max((cfg.out_dir / "checkpoints").glob("ppo_*_steps.zip"), key=checkpoint_timesteps)
    assert checkpoint_timesteps(newest) >= 256
    assert json.loads((cfg.out_dir / "status.json").read_text())["num_timesteps"] >= 256
    assert load_policy(final) is not None


def test_evaluation_keeps_the_best_model_and_records_videos(tmp_path):
    cfg = tiny_config(tmp_path, total_timesteps=64, eval_every=64, eval_episodes=1)
    cfg.env.config = '{"drop_distance_m": 0.0}'  # every episode ends at once: a quick evaluation
    train(cfg)
    assert load_policy(cfg.out_dir / "best_model.zip") is not None
    videos = list((cfg.out_dir / "videos").glob("eval_*.mp4"))
    assert videos and videos[0].stat().st_size > 1_000
    assert list((cfg.out_dir / "tb").rglob("events.out.tfevents.*"))


def test_bad_options_fail_before_training(tmp_path):
    with pytest.raises(ValueError, match="unknown algorithm 'nope'"):
        train(tiny_config(tmp_path, algo="nope"))
    with pytest.raises(ValueError, match="--hyperparams is not valid JSON"):
        train(tiny_config(tmp_path, hyperparams="{lr: 1}"))
    with pytest.raises(ValueError, match=r"--env\.config must be a JSON object"):
        train(tiny_config(tmp_path, env=EnvOptions(config="[1]")))
    with pytest.raises(ValueError, match="no such checkpoint"):
        train(tiny_config(tmp_path, resume=tmp_path / "missing.zip"))
    assert not (tmp_path / "run" / "tb").exists()


def test_hyperparams_override_defaults_and_fit_tiny_budgets():
    cfg = TrainConfig(total_timesteps=100, n_envs=4, hyperparams='{"learning_rate": 0.001}')
    kwargs = algo_kwargs(cfg)
    assert kwargs["learning_rate"] == 0.001
    assert kwargs["n_steps"] * 4 <= 2 * 100 and kwargs["batch_size"] <= kwargs["n_steps"] * 4
    assert algo_kwargs(TrainConfig(total_timesteps=10**7))["n_steps"] == 2048 // 16


def test_available_algorithms_include_sb3s():
    assert {"ppo", "sac", "td3", "a2c", "ddpg"} <= set(available_algorithms())


def test_threaded_vec_env_matches_dummy_env_for_env():
    kwargs = {"object_set": "cube"}
    threaded = make_vec_env("DexNDM-Rotate-v0", 3, 5, kwargs, vec="threads")
    dummy = make_vec_env("DexNDM-Rotate-v0", 3, 5, kwargs, vec="dummy")
    assert isinstance(threaded, ThreadedVecEnv) and threaded.num_threads >= 1
    rng = np.random.default_rng(0)
    try:
        np.testing.assert_array_equal(threaded.reset(), dummy.reset())
        for _ in range(30):
            actions = rng.uniform(-1, 1, (3, 16)).astype(np.float32)
            got, want = threaded.step(actions), dummy.step(actions)
            for a, b in zip(got[:3], want[:3], strict=True):
                np.testing.assert_array_equal(a, b)
            assert [i["rot_vel"] for i in got[3]] == [i["rot_vel"] for i in want[3]]
    finally:
        threaded.close()
        dummy.close()


def test_auto_vectorisation_follows_the_core_count():
    assert resolve_vec_kind("auto", cores=2) == "threads"
    assert resolve_vec_kind("auto", cores=16) == "subproc"
    assert resolve_vec_kind("dummy", cores=2) == "dummy"
    with pytest.raises(ValueError, match="unknown vec"):
        resolve_vec_kind("gpu")


def test_train_program_prints_the_model_path_last(tmp_path, repo_root):
    out = tmp_path / "cli"
    result = subprocess.run(
        [sys.executable, str(repo_root / "examples" / "train.py"), "--total-timesteps", "600",
         "--n-envs", "2", "--eval-every", "0", "--no-progress", "--out-dir", str(out),
         "--env.object-set", "cube"],
        capture_output=True, text=True, timeout=300, cwd=repo_root,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    assert last == f"MODEL={out / 'final_model.zip'}"
    meta = json.loads((out / "final_model.json").read_text())
    assert meta["algo"] == "ppo" and meta["env_kwargs"]["object_set"] == "cube"
