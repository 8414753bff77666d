"""The loop's target: which settings make one, and a run directory refusing another's."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from dexndm_agents.dexndm.loop import LoopConfig
from dexndm_agents.dexndm.loop_target import (
    RUN_RECORD,
    StaleRunError,
    claim_run_dir,
    evaluated_conditions,
    target_env_kwargs,
)
from dexndm_agents.dexndm.results import CONDITIONS, EVALUATED
from dexndm_envs.hand.config import default_hand_config, save_hand_config


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"engine": "bullet"}, "unknown engine 'bullet'; valid: mujoco, physx"),
        ({"target_hardware": "real"}, "unknown target_hardware 'real'; valid: ideal, virtual"),
        ({"engine": "physx", "world_profile": "wet"}, "unknown world profile 'wet'"),
        ({"world_profile": "wet"}, "unknown world profile 'wet'"),  # checked on MuJoCo too
        ({"target_hardware": "ideal"}, "target_hardware 'ideal' on engine 'mujoco' is the"),
    ],
)
def test_a_bad_target_is_refused_by_name(tmp_path, settings, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        LoopConfig(out_dir=tmp_path, **settings)


def test_the_default_target_is_mujocos_virtual_hand_with_the_reachable_hand(tmp_path):
    cfg = LoopConfig(out_dir=tmp_path, hardware_profile="worn", hardware_seed=3)
    assert target_env_kwargs(cfg) == {
        "hardware": "virtual",
        "hardware_profile": "worn",
        "hardware_seed": 3,
        "hand_config": None,
        "engine": "mujoco",
        "world_profile": "default",
    }
    assert evaluated_conditions(cfg) == EVALUATED
    for hardware in ("ideal", "virtual"):  # no reachable hand for a world's differences
        physx = LoopConfig(out_dir=tmp_path, engine="physx", target_hardware=hardware)
        assert evaluated_conditions(physx) == CONDITIONS


def physx(tmp_path, **settings) -> LoopConfig:
    return LoopConfig(out_dir=tmp_path / "run", engine="physx", target_hardware="ideal", **settings)


def test_a_run_directory_keeps_its_target(tmp_path):
    claim_run_dir(physx(tmp_path))
    record = json.loads((tmp_path / "run" / RUN_RECORD).read_text())
    assert record["engine"] == "physx" and record["world_profile"]["name"] == "default"
    assert record["hardware_profile"] is None  # the ideal hand has none
    claim_run_dir(physx(tmp_path, hardware_profile="worn"))  # the ideal hand ignores it
    for cfg, change in [
        (physx(tmp_path, world_profile="fine"), "world_profile 'default' -> 'fine'"),
        (
            dataclasses.replace(physx(tmp_path), target_hardware="virtual"),
            "hardware 'ideal' -> 'virtual', hardware_profile None -> 'default'",
        ),
        (LoopConfig(out_dir=tmp_path / "run"), "engine 'physx' -> 'mujoco'"),
    ]:
        with pytest.raises(StaleRunError, match=re.escape(change)):
            claim_run_dir(cfg)
    assert json.loads((tmp_path / "run" / RUN_RECORD).read_text()) == record


def test_an_edited_world_or_hand_file_is_another_target(tmp_path):
    world = tmp_path / "wet.yaml"
    world.write_text("base_friction: 0.5\n")
    claim_run_dir(physx(tmp_path, world_profile=str(world)))
    world.write_text("base_friction: 0.9\n")
    with pytest.raises(StaleRunError, match="world_profile 'wet' with other values"):
        claim_run_dir(physx(tmp_path, world_profile=str(world)))
    hand = dataclasses.replace(default_hand_config(), goal_current_ma=(500,) * 16)
    save_hand_config(hand, tmp_path / "hand.yaml")
    world.write_text("base_friction: 0.5\n")
    cfg = physx(tmp_path, world_profile=str(world), hand_config=str(tmp_path / "hand.yaml"))
    with pytest.raises(StaleRunError, match=r"\(hand_config with other values\)"):
        claim_run_dir(cfg)


def test_a_run_from_before_targets_were_recorded_is_mujocos_virtual_hand(tmp_path):
    (tmp_path / "run" / "chaos_box").mkdir(parents=True)
    with pytest.raises(StaleRunError, match=re.escape("engine 'mujoco' -> 'physx'")):
        claim_run_dir(physx(tmp_path))
    assert not (tmp_path / "run" / RUN_RECORD).exists()
    claim_run_dir(LoopConfig(out_dir=tmp_path / "run"))  # taken as it was, and recorded
    assert json.loads((tmp_path / "run" / RUN_RECORD).read_text())["engine"] == "mujoco"
