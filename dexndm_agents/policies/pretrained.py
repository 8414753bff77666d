"""Policies shipped inside the package, loadable by name.

    import dexndm_agents
    policy = dexndm_agents.load_pretrained()          # the default task: palm up, +z
    action, _ = policy.predict(obs, deterministic=True)

Each entry says what it was trained on; docs/training.md has the recipe that makes the
default one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dexndm_agents.policies.files import Policy, load_policy

PRETRAINED_DIR = Path(__file__).parent / "pretrained"


@dataclass(frozen=True)
class PretrainedEntry:
    """One shipped policy."""

    file: str
    env_kwargs: dict[str, Any]
    """The options of DexNDM-Rotate-v0 it acts under (the file holds them too)."""
    description: str


PRETRAINED: dict[str, PretrainedEntry] = {
    "rotate_palm_up_z": PretrainedEntry(
        file="rotate_palm_up_z.pt",
        env_kwargs={"wrist": "palm_up", "axis": "+z", "object_set": "cylinder"},
        description="proprioceptive generalist (history 10, residual MLP 256 x 3 blocks) "
        "distilled with DART noise, under domain randomisation, from two oracle PPO "
        "specialists by start tilt, each offsetting a periodic gait's targets and trained on "
        "the nominal 0.2.0 hand, then under randomisation: one for cylinders that start flat "
        "(0-60 deg between their axis and the rotation axis), one for cylinders on their side "
        "(60-90 deg); cylinders, palm up, +z",
    ),
}
DEFAULT_PRETRAINED = "rotate_palm_up_z"


def pretrained_path(name: str = DEFAULT_PRETRAINED) -> Path:
    """Where the shipped policy `name` lies.

    Raises:
        KeyError: for a name that is not shipped, listing the ones that are.
    """
    if name not in PRETRAINED:
        raise KeyError(f"no pretrained policy {name!r}; shipped: {', '.join(PRETRAINED)}")
    return PRETRAINED_DIR / PRETRAINED[name].file


def load_pretrained(name: str = DEFAULT_PRETRAINED, device: str = "cpu") -> Policy:
    """Load a shipped policy (the default task's by default) with SB3's predict signature."""
    return load_policy(pretrained_path(name), device=device)


def resolve_policy(name: str, device: str = "cpu") -> Policy:
    """The policy a program's `--policy` names: "pretrained" (the default shipped policy), the
    name of a shipped policy (PRETRAINED), or a policy file (load_policy).

    Raises:
        FileNotFoundError: for anything else, naming what it takes.
    """
    if name == "pretrained":
        return load_pretrained(device=device)
    if name in PRETRAINED:
        return load_pretrained(name, device=device)
    if not Path(name).is_file():
        raise FileNotFoundError(
            f"--policy {name!r}: no such file; give a policy file (.zip, .pt or a gait .json), "
            f"'pretrained' or a shipped policy: {', '.join(PRETRAINED)}"
        )
    return load_policy(name, device=device)
