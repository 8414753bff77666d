"""The gap breakdown: each factor puts one difference of the virtual hand back to the sim's
value, and the program reports them on the same seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import run_program

from dexndm_agents.dexndm.hands import (
    FACTORS,
    REACHABLE,
    SimNominal,
    breakdown,
    format_breakdown,
    hands,
)
from dexndm_agents.evaluation.harness import ZeroPolicy
from dexndm_envs.hand.config import default_hand_config
from dexndm_envs.virtual.profiles import PROFILES

SIM = SimNominal(torque_limit_nm=0.3, frictionloss_nm=0.01, armature_kgm2=1.5e-3)


def test_each_factor_changes_its_own_difference_and_all_changes_every_one():
    built = hands("worn", None, SIM)
    profile, hand = built["virtual"]
    assert profile == PROFILES["worn"] and hand == default_hand_config()
    assert set(built) == {"virtual", "reachable", "all", *FACTORS}
    # the torque limit: Goal Current up to where the servo gives the sim's torque
    _, matched = built["torque_limit"]
    torque_nm = np.asarray(matched.goal_current_ma) * 1e-3 * profile.torque_constant_nm_per_a
    assert np.all(torque_nm >= SIM.torque_limit_nm) and np.all(
        torque_nm < SIM.torque_limit_nm + 1e-3
    )
    assert matched.current_limit_ma >= max(matched.goal_current_ma)  # still a valid config
    assert built["latency"][0].command_latency_s == built["latency"][0].read_latency_s == 0.0
    assert built["friction"][0].coulomb_friction_nm == SIM.frictionloss_nm
    assert built["inertia"][0].rotor_inertia_kgm2 == SIM.armature_kgm2
    assert built["mounting"][0].zero_offset_rad == 0.0
    # one factor touches nothing else
    assert built["backlash"][0].command_latency_s == profile.command_latency_s
    assert built["latency"][1] == hand
    everything, all_hand = built["all"]
    assert everything.backlash_rad == 0.0 and everything.gain_spread == 0.0
    assert everything.coulomb_friction_nm == SIM.frictionloss_nm
    assert all_hand == matched
    # reachable: every factor a residual can offset, and neither of the two it cannot
    reachable, reachable_hand = built["reachable"]
    assert reachable.backlash_rad == 0.0 and reachable.command_latency_s == 0.0
    assert reachable.zero_offset_rad == profile.zero_offset_rad and reachable_hand == hand
    assert set(REACHABLE) < set(FACTORS)


def test_sim_nominal_is_read_from_the_ideal_model():
    import gymnasium as gym

    env = gym.make("DexNDM-Rotate-v0")
    model = env.unwrapped.model
    model.actuator_forcerange[:, 1] *= 2  # the reading follows the model, not a constant
    doubled = SimNominal.of_env(env)
    env.close()
    fresh = gym.make("DexNDM-Rotate-v0")
    assert doubled.torque_limit_nm == pytest.approx(2 * SimNominal.of_env(fresh).torque_limit_nm)
    fresh.close()


def test_breakdown_runs_every_hand_on_the_same_seeds():
    result = breakdown(
        ZeroPolicy(), "default", factors=("latency",), episodes=2, max_steps=5, progress=False
    )
    assert set(result["conditions"]) == {"ideal", "virtual", "latency", "reachable", "all"}
    assert all(len(v) == 2 for v in result["rotr"].values())
    virtual = result["conditions"]["virtual"]
    assert virtual["paired_gain"] == 0.0 and virtual["paired_gain_se"] == 0.0
    gain = np.mean(np.subtract(result["rotr"]["latency"], result["rotr"]["virtual"]))
    assert result["conditions"]["latency"]["paired_gain"] == pytest.approx(gain)
    assert "sim latency" in format_breakdown(result)


def test_bad_factors_and_episode_counts_are_refused():
    with pytest.raises(ValueError, match=r"unknown factors.*known: torque_limit"):
        breakdown(ZeroPolicy(), factors=("gravity",), episodes=2)
    with pytest.raises(ValueError, match="at least 2"):
        breakdown(ZeroPolicy(), episodes=1)


def test_the_program_writes_the_table_json_and_plot(tmp_path):
    out = run_program(
        "examples/gap_breakdown.py",
        "--episodes",
        "2",
        "--max-steps",
        "5",
        "--factors",
        "torque_limit",
        "--out-dir",
        str(tmp_path),
    )
    assert "sim torque_limit" in out
    result = json.loads((tmp_path / "breakdown.json").read_text())
    assert set(result["conditions"]) == {"ideal", "virtual", "torque_limit", "reachable", "all"}
    assert (tmp_path / "breakdown.png").is_file()
    bad = run_program(
        "examples/gap_breakdown.py",
        "--factors",
        "gravity",
        "--out-dir",
        str(tmp_path / "x"),
        expect_failure=True,
    )
    assert "unknown factors ['gravity']" in bad and not (tmp_path / "x").exists()
