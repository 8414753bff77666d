"""The hands the loop compares: each factor puts one difference of the virtual hand back to the
sim's value, and the reachable and all-factor hands combine them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dexndm_agents.dexndm.hands import (
    FACTORS,
    REACHABLE,
    SimNominal,
    hands,
)
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
    # a sim hand with an action latency (the loop's reference): the commands wait as long
    latent = hands("worn", None, dataclasses.replace(SIM, action_latency_s=0.01))["latency"][0]
    assert latent.command_latency_s == 0.01 and latent.read_latency_s == 0.0
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
    assert SimNominal.of_env(fresh).action_latency_s == 0.0
    late = gym.make(
        "DexNDM-Rotate-v0", config={"randomization": {"nominal_action_latency_s": 0.03}}
    )
    assert SimNominal.of_env(late).action_latency_s == 0.03
    fresh.close()
    late.close()
