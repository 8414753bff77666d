"""The target of the DexNDM loop: the world and the hand whose gap to the sim it closes.

The loop trains and records its reference in the training world (MuJoCo, the ideal hand). Its
target is where the chaos box, direct transfer, both residual conditions and their replayed
tracking errors run: a world (`engine`, `world_profile`: dexndm_envs.engines) and a hand on it
(`target_hardware`):

- MuJoCo's virtual hand (the default): the reality-gap stand-in, a servo model on the
  training world's physics.
- PhysX with the ideal hand: the paper's sim-to-sim test (arXiv 2510.08556, Table 1: a policy
  trained in one simulator deployed in another). PhysX's own joint drives run with the
  nominal gains of the hand config; the whole gap is the other engine's physics.
- PhysX with the virtual hand: the servo model on PhysX, both gaps at once.

The MuJoCo ideal hand is the training world itself, so it is no target. The "reachable" hand
(dexndm_agents.dexndm.hands) puts a virtual hand's servo differences back to the sim's; a
world's differences have no such factors, so on PhysX the loop leaves it out.

A run directory records its target (`RUN_RECORD`) when the loop first runs there; a run asked
for another target is refused (`StaleRunError`), since every stage after the sim rollouts
(chaos box, bundles, kept evaluations) belongs to the target it was made on.

Usage:
    check_target("physx", "fine", "ideal")      # ValueError for a bad combination
    kwargs = target_env_kwargs(cfg)             # DexNDM-Rotate-v0 / the chaos box on the target
    claim_run_dir(cfg)                          # StaleRunError for another target's run
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from dexndm_agents.dexndm.results import CONDITIONS, EVALUATED
from dexndm_envs.core.atomic import atomic_write_text
from dexndm_envs.engines.world import ENGINES, load_world
from dexndm_envs.hand.config import load_hand_config
from dexndm_envs.sim.options import HARDWARE
from dexndm_envs.virtual.profiles import load_profile

RUN_RECORD = "target.json"
"""The file under a run directory that records its target (target_record)."""

STAGE_DIRS = ("chaos_box", "direct_rollouts", "bundles", "eval")
"""The target's stages under a run directory (dexndm_agents.dexndm.loop writes them)."""

LEGACY_TARGET = {"engine": "mujoco", "hardware": "virtual"}
"""The target of a run directory written before targets were recorded: MuJoCo's virtual hand
(its chaos box still refuses another profile, hand seed or hand config by itself)."""


class TargetSettings(Protocol):
    """The settings of a loop run that say what its target is (LoopConfig has them)."""

    out_dir: Path
    engine: str
    world_profile: str
    target_hardware: str
    hardware_profile: str
    hardware_seed: int
    hand_config: str | None


class StaleRunError(ValueError):
    """A run directory holds stages made with other settings than those asked for."""


def check_target(engine: str, world_profile: str, target_hardware: str) -> None:
    """Refuse an unknown engine, world profile or hardware, or the training world as a target.

    Raises:
        ValueError: naming the setting, its value and what is valid (WorldProfileError for
            the world profile).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; valid: {', '.join(ENGINES)}")
    if target_hardware not in HARDWARE:
        raise ValueError(
            f"unknown target_hardware {target_hardware!r}; valid: {', '.join(HARDWARE)}"
        )
    load_world(world_profile)  # checked on MuJoCo too, so that a typo never goes unseen
    if engine == "mujoco" and target_hardware == "ideal":
        raise ValueError(
            "target_hardware 'ideal' on engine 'mujoco' is the training world itself, no "
            "target: use target_hardware 'virtual', or engine 'physx'"
        )


def target_env_kwargs(cfg: TargetSettings) -> dict[str, Any]:
    """DexNDM-Rotate-v0's (and the chaos box's) options for the target hand and world."""
    return {
        "hardware": cfg.target_hardware,
        "hardware_profile": cfg.hardware_profile,
        "hardware_seed": cfg.hardware_seed,
        "hand_config": cfg.hand_config,
        "engine": cfg.engine,
        "world_profile": cfg.world_profile,
    }


def evaluated_conditions(cfg: TargetSettings) -> tuple[str, ...]:
    """The conditions the loop evaluates: the comparison, and the reachable hand on MuJoCo's
    virtual hand only (module docstring)."""
    if cfg.engine == "mujoco" and cfg.target_hardware == "virtual":
        return EVALUATED
    return CONDITIONS


def target_record(cfg: TargetSettings) -> dict[str, Any]:
    """What makes the target: the engine and world profile's values (PhysX), the hardware, the
    virtual hand's profile values and seed (virtual), and the hand config's values. Values,
    not names or paths: an edited profile file is another target, a moved one is not."""
    virtual = cfg.target_hardware == "virtual"
    record = {
        "engine": cfg.engine,
        "world_profile": load_world(cfg.world_profile).as_dict() if cfg.engine == "physx" else None,
        "hardware": cfg.target_hardware,
        "hardware_profile": load_profile(cfg.hardware_profile).as_dict() if virtual else None,
        "hardware_seed": cfg.hardware_seed if virtual else None,
        "hand_config": load_hand_config(cfg.hand_config).as_dict(),
    }
    return json.loads(json.dumps(record))  # as the file holds it: lists, not tuples


def claim_run_dir(cfg: TargetSettings) -> None:
    """Record cfg's target under cfg.out_dir, or refuse a directory made for another one.

    Call before any stage: nothing is written or run when it raises.

    Raises:
        StaleRunError: the directory's target differs, naming each setting that does.
    """
    path = cfg.out_dir / RUN_RECORD
    wanted = target_record(cfg)
    if path.is_file():
        written = json.loads(path.read_text())
    elif any((cfg.out_dir / stage).exists() for stage in STAGE_DIRS):
        written = LEGACY_TARGET
    else:
        written = None
    if written is not None:
        stale = [key for key in wanted if key in written and written[key] != wanted[key]]
        if stale:
            changes = ", ".join(_change(key, written[key], wanted[key]) for key in stale)
            raise StaleRunError(
                f"{cfg.out_dir} was made for another target ({changes}); delete it to start "
                "afresh, or use another out_dir"
            )
    if written != wanted:
        cfg.out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(wanted, indent=2))


def _change(key: str, written: Any, wanted: Any) -> str:
    """One changed setting; a profile by its name, or "with other values" when only they
    differ (a hand config, or an edited profile file)."""
    old, new = _label(written), _label(wanted)
    if old == new:
        return f"{key} with other values" if new is None else f"{key} {new} with other values"
    return f"{key} {old} -> {new}"


def _label(value: Any) -> str | None:
    if isinstance(value, dict):
        return repr(value["name"]) if "name" in value else None
    return repr(value)
