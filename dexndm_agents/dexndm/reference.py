"""The DexNDM loop's reference: the ideal sim hand the base policy was meant for.

The residual adapter makes a target hand follow the base policy's sim rollouts, so those
rollouts must come from the actuators the policy was trained around, or the adapter removes
what the policy relies on. The shipped policy's last training drew an action latency from
0-20 ms (RandomizationConfig.action_latency_s) and turns faster with a delay in the loop than
on the ideal hand without one (docs/results/index.md, "Where the negative gap comes from").
The reference is the ideal hand, nominal in everything else, with a fixed action latency
(RandomizationConfig.nominal_action_latency_s): it records the sim rollouts, runs the "ideal"
condition, and is the sim value the "reachable" hand puts the virtual hand's latency back to.

Usage:
    overrides = reference_overrides(policy, 0.01)   # the policy's config, with the latency
    env = make_eval_env(policy, config=overrides)
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

from dexndm_agents.policies.files import Policy, policy_env_kwargs
from dexndm_envs.core.checks import SettingError
from dexndm_envs.data.episodes import Episode
from dexndm_envs.sim.config import RotateConfig, default_config, merge_config, resolve_config

REFERENCE_LATENCY_S = 0.01
"""The loop's default reference latency: the middle of the shipped policy's training range
(0-20 ms), one physics step; the measurement that chose it is in docs/dexndm.md."""

_FIELD = "config.randomization.nominal_action_latency_s"


def check_reference_latency(latency_s: float) -> None:
    """Refuse a latency the nominal hand cannot run (the env's own rule, under the loop's name).

    Raises:
        SettingError: negative, not a whole number of physics steps, or past the control period
            of the default config ("reference_latency_s must be a whole number of ...").
    """
    try:
        merge_config(default_config(), {"randomization": {"nominal_action_latency_s": latency_s}})
    except SettingError as err:
        raise type(err)(str(err).replace(_FIELD, "reference_latency_s")) from None


def reference_overrides(policy: Policy, latency_s: float) -> dict[str, Any]:
    """The config overrides of the reference hand: the policy's own config (policy.env_kwargs)
    with the nominal action latency; plain values, so rollouts record them as they are."""
    config = policy_env_kwargs(policy).get("config")
    if isinstance(config, RotateConfig):
        overrides = dataclasses.asdict(config)
    else:
        overrides = copy.deepcopy(dict(config or {}))
    overrides["randomization"] = {
        **overrides.get("randomization", {}),
        "nominal_action_latency_s": latency_s,
    }
    return overrides


def reference_config(policy: Policy, latency_s: float) -> RotateConfig:
    """The reference hand's whole config, checked (what the env builds from the overrides)."""
    kwargs = policy_env_kwargs(policy)
    return resolve_config(
        reference_overrides(policy, latency_s), kwargs.get("domain_randomization")
    )


def stale_reference(
    episodes: list[Episode], policy: Policy, latency_s: float, directory: Path
) -> str | None:
    """What is wrong with policy's sim rollouts in directory if they were recorded on another
    reference hand than the one of latency_s; None when they are of it.

    Each episode records the latency it ran with (its metadata's randomization.latency_steps);
    rollouts from before the reference existed record 0. Under randomisation every episode
    draws its own latency and there is nothing fixed to compare.
    """
    config = reference_config(policy, latency_s)
    if config.randomization.enabled:
        return None
    wanted = round(config.randomization.nominal_action_latency_s / config.sim_dt_s)
    recorded = sorted({int(e.meta["extra"]["randomization"]["latency_steps"]) for e in episodes})
    if recorded == [wanted]:
        return None
    shown = ", ".join(f"{steps * config.sim_dt_s:g} s" for steps in recorded)
    return (
        f"{directory} holds sim rollouts with an action latency of {shown}, not the "
        f"reference_latency_s {latency_s:g} s asked for; the chaos box, bundles and evaluations "
        f"of that run follow from them: use another out_dir, or delete {directory.parent} to "
        "redo the run"
    )
