"""The options of DexNDM-Rotate-v0 (constructor and reset), and what each may be.

`OPTION_RULES` states the type and the valid values of every constructor option that no
resolver of its own checks: wrist, axis and start_tilt_deg are checked by
dexndm_envs.core.task, hardware_profile by dexndm_envs.virtual.profiles.load_profile,
world_profile's value by dexndm_envs.engines.world.load_world, config and domain_randomization
by dexndm_envs.sim.config.resolve_config. `check_options` runs the
table before the env builds anything, so a wrong option is named with its value and what is
valid (`gym.make("DexNDM-Rotate-v0", history_len=True)`: "history_len must be an integer >= 1,
got True (bool)").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dexndm_envs.core import checks
from dexndm_envs.core.checks import Choice, Instance, Integer, Names
from dexndm_envs.engines.world import ENGINES, WorldProfile
from dexndm_envs.hand.config import HandConfig
from dexndm_envs.sim.grasps.cache import GraspCache

ENV_ID = "DexNDM-Rotate-v0"
OBS_MODES = ("proprio", "oracle")
HARDWARE = ("ideal", "virtual")
RENDER_MODES = ("human", "rgb_array")
RESET_OPTIONS: tuple[str, ...] = ()
"""The keys reset(options=...) takes: none, and an unknown key is refused, not ignored."""

_PATH = (str, os.PathLike, type(None))
FRAME_SIZE = Integer(1, 4096)
"""Rendered frame width or height (pixels)."""

OPTION_RULES: dict[str, checks.Rule] = {
    "object_set": Names(),
    "obs_mode": Choice(OBS_MODES),
    "history_len": Integer(low=1),
    "hardware": Choice(HARDWARE),
    "hardware_seed": Integer(low=0),
    "engine": Choice(ENGINES),
    "world_profile": Instance(
        (WorldProfile, str, os.PathLike),
        "a preset name, the path of a YAML/JSON file, or a WorldProfile",
    ),
    "hand_config": Instance(
        (HandConfig, *_PATH), "a HandConfig, the path of a YAML/JSON hand config, or None"
    ),
    "grasp_cache": Instance((GraspCache, *_PATH), "a GraspCache, the path of one, or None"),
    "render_mode": Choice((None, *RENDER_MODES)),
    "width": FRAME_SIZE,
    "height": FRAME_SIZE,
}
"""The constructor options checked here, each with its rule."""


def check_options(arguments: Mapping[str, Any]) -> None:
    """Check the constructor's arguments (by name) against OPTION_RULES.

    Raises:
        SettingError (a ValueError), SettingTypeError (also a TypeError): naming the option,
            its value and what is valid.
    """
    checks.check_options(OPTION_RULES, arguments)


def check_reset_options(options: Any) -> dict[str, Any]:
    """reset()'s options as a dict: an unknown key is an error naming RESET_OPTIONS."""
    return checks.check_reset_options(options, RESET_OPTIONS, ENV_ID)
