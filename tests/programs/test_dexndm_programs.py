"""The DexNDM programs end to end with tiny budgets: the loop, then the NDM and residual
trainers on its data, and the bundle they write deployed through the wrapper."""

from __future__ import annotations

import dataclasses
import json

import gymnasium as gym
import numpy as np
import pytest
from helpers import run_program

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_agents import NDMResidualWrapper
from dexndm_agents.dexndm.bundle import Bundle
from dexndm_agents.dexndm.loop import LoopConfig, _condition_env
from dexndm_agents.dexndm.loop_target import RUN_RECORD
from dexndm_agents.dexndm.results import CONDITIONS
from dexndm_agents.policies.baselines import ZeroPolicy
from dexndm_envs.data.episodes import load_episodes
from dexndm_envs.hand.config import default_hand_config, save_hand_config


def test_the_loop_then_the_trainers_make_a_deployable_bundle(tmp_path):
    run_dir = tmp_path / "loop"
    out = run_program(
        "examples/sim2real_gap.py",
        "--preset",
        "smoke",
        "--out-dir",
        str(run_dir),
        "--out",
        str(tmp_path / "results.json"),
    )
    results = json.loads((tmp_path / "results.json").read_text())
    for condition in (*CONDITIONS, "reachable"):
        assert set(results[condition]) >= {"RotR", "TTF", "RotP"}
        assert condition in out
        if condition != "ideal":  # the replayed sim targets: errors of a few mrad at least
            assert 1e-3 < results[condition]["tracking_error_rad"] < 0.2
    sizes = [row["transitions"] for row in results["model_study"]["rows"]]
    assert sizes == sorted(sizes) and {r["model"] for r in results["model_study"]["rows"]} == {
        "joint_wise",
        "whole_hand",
    }
    assert (run_dir / "comparison.png").is_file() and (run_dir / "model_study.png").is_file()
    # a bundle ships where it is deployed: it names nothing of the machine it was made on
    written = json.dumps(Bundle.load(run_dir / "bundles" / "dexndm.pt").config)
    assert str(tmp_path) not in written and "out_dir" not in written

    # the bundles of this run hold lead adapters: a rerun asking for another kind must not
    # quietly reuse them
    stale = run_program(
        "examples/sim2real_gap.py",
        "--preset",
        "smoke",
        "--adapter",
        "mlp",
        "--out-dir",
        str(run_dir),
        expect_failure=True,
    )
    assert "error: " in stale and "Traceback" not in stale
    assert "trained with other settings (residual_kind 'lead' -> 'mlp'" in stale

    model_out = run_program(
        "examples/train_ndm.py",
        "--data",
        str(run_dir / "chaos_box"),
        "--sim",
        str(run_dir / "sim_rollouts"),
        "--window",
        "4",
        "--epochs",
        "2",
        "--out",
        str(tmp_path / "ndm.pt"),
    )
    assert model_out.strip().splitlines()[-1] == f"MODEL={tmp_path / 'ndm.pt'}"
    bundle_out = run_program(
        "examples/train_residual.py",
        "--ndm",
        str(tmp_path / "ndm.pt"),
        "--sim",
        str(run_dir / "sim_rollouts"),
        "--epochs",
        "2",
        "--out",
        str(tmp_path / "bundle.pt"),
    )
    assert bundle_out.strip().splitlines()[-1] == f"BUNDLE={tmp_path / 'bundle.pt'}"
    env = NDMResidualWrapper(
        gym.make("DexNDM-Rotate-v0", hardware="virtual", history_len=3), tmp_path / "bundle.pt"
    )
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.zeros(16))
    assert info["residual"].shape == (16,)


def test_the_loop_against_physx_runs_every_stage_with_the_target_in_physx(tmp_path):
    run_dir = tmp_path / "loop"
    out = run_program(
        "examples/sim2real_gap.py",
        "--preset",
        "smoke",
        "--target",
        "physx",
        "--out-dir",
        str(run_dir),
        "--out",
        str(tmp_path / "results.json"),
    )
    assert "target: PhysX (world default), ideal hand" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert [c for c in (*CONDITIONS, "reachable") if c in results] == list(CONDITIONS)
    for condition in CONDITIONS:
        assert set(results[condition]) >= {"RotR", "TTF", "RotP"}
        if condition != "ideal":
            assert 1e-3 < results[condition]["tracking_error_rad"] < 0.2
    assert (results["config"]["engine"], results["config"]["target_hardware"]) == (
        "physx",
        "ideal",
    )
    # the reference in MuJoCo; the chaos box and direct transfer on PhysX's ideal hand
    for episode in load_episodes(run_dir / "chaos_box"):
        assert episode.meta["hardware"]["kind"] == "ideal"
        assert episode.meta["hardware"]["engine"] == "physx"
        assert episode.meta["hardware"]["world_profile"] == "default"
    sim = load_episodes(run_dir / "sim_rollouts")[0].meta["extra"]["env_kwargs"]
    direct = load_episodes(run_dir / "direct_rollouts")[0].meta["extra"]["env_kwargs"]
    assert sim.get("engine", "mujoco") == "mujoco" and direct["engine"] == "physx"
    assert direct["hardware"] == "ideal"
    bundle = Bundle.load(run_dir / "bundles" / "dexndm.pt").config
    assert bundle["target"]["engine"] == "physx" and "world_profile" not in bundle["loop"]

    # a rerun for another PhysX world must not reuse this one's chaos box and evaluations
    record = (run_dir / RUN_RECORD).read_text()
    stale = run_program(
        "examples/sim2real_gap.py",
        "--preset",
        "smoke",
        "--target",
        "physx",
        "--world-profile",
        "fine",
        "--out-dir",
        str(run_dir),
        expect_failure=True,
    )
    assert stale.startswith("error: ") and stale.count("\n") == 1
    assert "made for another target (world_profile 'default' -> 'fine')" in stale
    assert (run_dir / RUN_RECORD).read_text() == record


def test_every_target_condition_runs_in_the_target_world(tmp_path):
    for hardware in ("ideal", "virtual"):
        cfg = LoopConfig(
            out_dir=tmp_path, engine="physx", world_profile="fine", target_hardware=hardware
        )
        ideal = _condition_env(ZeroPolicy(), "ideal", {}, cfg).unwrapped
        assert ideal.engine.name == "mujoco" and ideal.motors is None
        for condition in CONDITIONS[1:]:
            env = _condition_env(ZeroPolicy(), condition, {}, cfg).unwrapped
            assert (env.engine.name, env.engine.world.name) == ("physx", "fine")
            assert (env.motors is None) == (hardware == "ideal")
            env.close()
        ideal.close()


def test_an_unknown_adapter_kind_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="unknown residual_kind 'gru'; known: lead, mlp"):
        LoopConfig(out_dir=tmp_path, residual_kind="gru")


def test_the_loop_drives_every_virtual_hand_with_its_hand_config(tmp_path):
    hand = dataclasses.replace(default_hand_config(), goal_current_ma=(500,) * 16)
    save_hand_config(hand, tmp_path / "hand.yaml")
    cfg = LoopConfig(out_dir=tmp_path, hand_config=str(tmp_path / "hand.yaml"))
    for condition in ("ideal", "direct"):
        env = _condition_env(ZeroPolicy(), condition, {}, cfg)
        motors = env.unwrapped.motors
        assert (motors is None) == (condition == "ideal")
        if motors is not None:
            assert motors.hand == hand
        env.close()


def test_the_reachable_hand_is_the_virtual_one_with_the_sims_joint_physics(tmp_path):
    cfg = LoopConfig(out_dir=tmp_path, hardware_profile="worn")
    direct = _condition_env(ZeroPolicy(), "direct", {}, cfg).unwrapped
    reachable = _condition_env(ZeroPolicy(), "reachable", {}, cfg).unwrapped
    as_is, matched = direct.motors.profile, reachable.motors.profile
    assert as_is.name == matched.name == "worn"
    # the latency of the reference hand, the sim hand the policy was meant for
    assert as_is.command_latency_s > matched.command_latency_s == cfg.reference_latency_s
    assert as_is.read_latency_s > 0 and matched.read_latency_s == 0
    assert as_is.backlash_rad > 0 and matched.backlash_rad == 0
    assert matched.coulomb_friction_nm < as_is.coulomb_friction_nm
    # out of a residual's reach, so left as they are: the torque limit and mounting offsets
    assert reachable.motors.hand == direct.motors.hand
    assert matched.zero_offset_rad == as_is.zero_offset_rad
    direct.close()
    reachable.close()


def test_a_bad_hand_config_fails_before_any_work(tmp_path):
    (tmp_path / "hand.yaml").write_text("goal_current_ma: [5000]\n")
    out = run_program(
        "examples/sim2real_gap.py",
        "--hand-config",
        str(tmp_path / "hand.yaml"),
        "--out-dir",
        str(tmp_path / "loop"),
        expect_failure=True,
    )
    assert "goal_current_ma must be 16 integers" in out
    assert not (tmp_path / "loop").exists()


def test_a_bad_reference_latency_fails_before_any_work(tmp_path):
    out = run_program(
        "examples/sim2real_gap.py",
        "--reference-latency-s",
        "0.015",
        "--out-dir",
        str(tmp_path / "loop"),
        expect_failure=True,
    )
    assert "error: --reference-latency-s: reference_latency_s must be a whole number" in out
    assert "got 0.015" in out and not (tmp_path / "loop").exists()


def test_a_bad_profile_fails_before_any_work(tmp_path):
    out = run_program(
        "examples/sim2real_gap.py",
        "--hardware-profile",
        "no-such-profile",
        "--out-dir",
        str(tmp_path / "loop"),
        expect_failure=True,
    )
    assert "unknown hardware profile 'no-such-profile'" in out
    assert not (tmp_path / "loop").exists()
