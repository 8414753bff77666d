"""Stable-Baselines3 algorithms by name, sb3-contrib's included where it is installed."""

from __future__ import annotations

import importlib
from typing import Any

SB3_ALGOS = ("a2c", "ddpg", "dqn", "ppo", "sac", "td3")
CONTRIB_ALGOS = ("ars", "crossq", "qrdqn", "recurrentppo", "tqc", "trpo")
"""sb3-contrib's algorithms (lower-cased class names), available when sb3-contrib is installed."""

_CLASS_NAMES = {"recurrentppo": "RecurrentPPO", "crossq": "CrossQ", "qrdqn": "QRDQN"}


def available_algorithms() -> list[str]:
    """Names `algorithm_class` accepts on this machine."""
    names = list(SB3_ALGOS)
    if importlib.util.find_spec("sb3_contrib") is not None:
        names += [name for name in CONTRIB_ALGOS if _contrib_class(name) is not None]
    return names


def algorithm_class(name: str) -> Any:
    """The SB3 (or sb3-contrib) algorithm class called `name` (case-insensitive).

    Raises:
        ValueError: for an unknown name, listing the ones available here.
    """
    key = name.lower()
    if key in SB3_ALGOS:
        module = importlib.import_module("stable_baselines3")
        return getattr(module, key.upper())
    if key in CONTRIB_ALGOS:
        cls = _contrib_class(key)
        if cls is None:
            raise ValueError(f"algorithm {name!r} needs sb3-contrib: pip install sb3-contrib")
        return cls
    raise ValueError(
        f"unknown algorithm {name!r}; available here: {', '.join(available_algorithms())}"
    )


def is_on_policy(name: str) -> bool:
    """True for the algorithms that learn from fresh rollouts (PPO, A2C, TRPO, ...)."""
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    return issubclass(algorithm_class(name), OnPolicyAlgorithm)


def _contrib_class(key: str) -> Any | None:
    try:
        module = importlib.import_module("sb3_contrib")
    except ImportError:
        return None
    return getattr(module, _CLASS_NAMES.get(key, key.upper()), None)
