"""Read Stable-Baselines3's `.zip` files without running code from them.

SB3's own loader (`PPO.load`) rebuilds a model from the zip's `data` record, whose entries
marked `":serialized:"` (the spaces, schedules, buffer and policy classes) are base64
cloudpickle: unpickling them runs whatever code the file's author put there. This module
never decodes such an entry. It reads from a zip only

- its `.pth` members, with `torch.load(weights_only=True)` (plain tensors and containers:
  a member that holds anything else is refused), and
- the plain JSON entries of `data` (numbers such as `num_timesteps`),

and rebuilds the network from a record the package writes itself (`network_record`, kept in
the `.json` beside a policy's zip): the policy's name, its observation and action spaces, and
its constructor arguments, classes by name from allow-lists.

Usage:
    record = network_record(model)                       # when saving
    policy = rebuild_policy("ppo", record, read_state_dicts(zip_path, ["policy"])["policy"])
    action, _ = policy.predict(obs, deterministic=True)
"""

from __future__ import annotations

import inspect
import io
import json
import math
import pickle
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.torch_layers import FlattenExtractor
from stable_baselines3.common.utils import ConstantSchedule

from dexndm_agents.policies.algorithms import algorithm_class

REBUILT_ALGOS = ("a2c", "ddpg", "ppo", "sac", "td3")
"""Algorithms whose MlpPolicy load_policy rebuilds from a network record (their policies
act on Box observations and Box actions, as every env of this package has)."""

REBUILT_POLICY = "MlpPolicy"

ACTIVATIONS: dict[str, type[torch.nn.Module]] = {
    cls.__name__: cls
    for cls in (
        torch.nn.ELU,
        torch.nn.GELU,
        torch.nn.Identity,
        torch.nn.LeakyReLU,
        torch.nn.Mish,
        torch.nn.ReLU,
        torch.nn.SELU,
        torch.nn.SiLU,
        torch.nn.Sigmoid,
        torch.nn.Softplus,
        torch.nn.Tanh,
    )
}
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    cls.__name__: cls
    for cls in (torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop, torch.optim.SGD)
}
FEATURE_EXTRACTORS: dict[str, type] = {"FlattenExtractor": FlattenExtractor}
CLASS_ARGUMENTS = {
    "activation_fn": ACTIVATIONS,
    "optimizer_class": OPTIMIZERS,
    "features_extractor_class": FEATURE_EXTRACTORS,
}
"""Constructor arguments that take a class: recorded by name, rebuilt from these lists only."""

_SPACES_AND_SCHEDULE = ("observation_space", "action_space", "lr_schedule")
SPACE_DTYPES = ("float32", "float64")


class PolicyFileError(ValueError):
    """A policy file that cannot be loaded without trusting code in it, or is not one at all."""


# ----------------------------------------------------------------------------- writing
def network_record(model: Any) -> dict[str, Any]:
    """What `rebuild_policy` needs to rebuild `model`'s policy network, as plain JSON.

    Raises:
        PolicyFileError: the policy has a space or a constructor argument that cannot be
            recorded (not a Box, a class outside the allow-lists, a non-JSON value).
    """
    policy = model.policy
    aliases = type(model).policy_aliases
    name = next((a for a, cls in aliases.items() if cls is type(policy)), None)
    if name is None:
        name = f"{type(policy).__module__}.{type(policy).__qualname__}"
    arguments = policy._get_constructor_parameters()
    return {
        "policy": name,
        "observation_space": space_record(policy.observation_space, "observation_space"),
        "action_space": space_record(policy.action_space, "action_space"),
        "policy_kwargs": policy_kwargs_record(
            {k: v for k, v in arguments.items() if k not in _SPACES_AND_SCHEDULE}
        ),
    }


def policy_kwargs_record(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Policy constructor arguments as JSON: classes by name (CLASS_ARGUMENTS), tuples as lists.

    Raises:
        PolicyFileError: naming an argument whose value cannot be recorded.
    """
    record = {}
    for key, value in kwargs.items():
        if key in CLASS_ARGUMENTS and not isinstance(value, str):
            allowed = CLASS_ARGUMENTS[key]
            if allowed.get(getattr(value, "__name__", "")) is not value:
                raise PolicyFileError(
                    f"policy_kwargs[{key!r}] = {value!r} cannot be recorded; load_policy "
                    f"rebuilds only {', '.join(allowed)}"
                )
            value = value.__name__
        record[key] = _plain(value, f"policy_kwargs[{key!r}]")
    return record


def space_record(space: gym.Space, what: str) -> dict[str, Any]:
    """A Box as JSON: shape, dtype and bounds (one number when all agree; "inf" for infinity)."""
    if not isinstance(space, gym.spaces.Box) or str(space.dtype) not in SPACE_DTYPES:
        raise PolicyFileError(
            f"{what} {space} cannot be recorded: load_policy rebuilds policies on float Box "
            "spaces only"
        )
    return {
        "type": "Box",
        "shape": [int(n) for n in space.shape],
        "dtype": str(space.dtype),
        "low": _bounds_record(space.low),
        "high": _bounds_record(space.high),
    }


def _bounds_record(bounds: np.ndarray) -> Any:
    values = [_number_record(float(v)) for v in np.ravel(bounds)]
    return values[0] if values and all(v == values[0] for v in values) else values


def _number_record(value: float) -> float | str:
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _plain(value: Any, what: str) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return _number_record(value)
    if isinstance(value, list | tuple):
        return [_plain(v, f"{what}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, f"{what}[{k!r}]") for k, v in value.items()}
    raise PolicyFileError(f"{what} = {value!r} cannot be recorded as JSON")


# ----------------------------------------------------------------------------- reading
def read_state_dicts(path: Path, names: list[str], device: str = "cpu") -> dict[str, Any]:
    """The zip's `<name>.pth` members, read with weights_only=True (plain tensors only).

    Raises:
        PolicyFileError: not a zip, a member missing, or a member that is not plain tensors.
    """
    with _open_zip(path) as archive:
        members = set(archive.namelist())
        state_dicts = {}
        for name in names:
            member = f"{name}.pth"
            if member not in members:
                raise PolicyFileError(f"{path} has no {member}: not an SB3 model file")
            state_dicts[name] = _load_tensors(archive.read(member), f"{path}:{member}", device)
    return state_dicts


def read_plain_data(path: Path) -> dict[str, Any]:
    """The zip's `data` record without its pickled entries, which are never decoded.

    Raises:
        PolicyFileError: not a zip, or no JSON `data` record in it.
    """
    with _open_zip(path) as archive:
        try:
            data = json.loads(archive.read("data"))
        except (KeyError, ValueError) as err:
            raise PolicyFileError(f"{path}: no readable SB3 data record ({err})") from None
    if not isinstance(data, dict):
        raise PolicyFileError(f"{path}: its SB3 data record is not a JSON object")
    return {k: v for k, v in data.items() if not (isinstance(v, dict) and ":serialized:" in v)}


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as err:
        raise PolicyFileError(f"{path} is not a readable SB3 .zip ({err})") from None


def _load_tensors(raw: bytes, what: str, device: str) -> Any:
    try:
        return torch.load(io.BytesIO(raw), map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PolicyFileError(
            f"refusing {what}: it holds more than plain tensors, and loading it could run "
            f"code ({first_line})"
        ) from None


def rebuild_policy(
    algo: str, record: dict[str, Any], state_dict: dict[str, Any], device: str = "cpu"
) -> Any:
    """The SB3 policy network `record` describes, with `state_dict`'s weights, in eval mode.

    It has SB3's `predict(obs, state, episode_start, deterministic)`, as the algorithm has.

    Raises:
        PolicyFileError: an algorithm or policy outside REBUILT_ALGOS / REBUILT_POLICY, a
            malformed record, or weights that do not fit the recorded network.
    """
    key = algo.lower()
    if key not in REBUILT_ALGOS:
        raise PolicyFileError(
            f"load_policy rebuilds {', '.join(REBUILT_ALGOS)} policies, not {algo!r}; a file "
            "you made yourself loads with its SB3 class's own load()"
        )
    if not isinstance(record, dict) or record.get("policy") != REBUILT_POLICY:
        raise PolicyFileError(
            f"load_policy rebuilds {REBUILT_POLICY} networks, not {record.get('policy')!r}"
        )
    policy_cls = algorithm_class(key).policy_aliases[REBUILT_POLICY]
    spaces = [_space(record.get(name), name) for name in ("observation_space", "action_space")]
    kwargs = _policy_kwargs(record.get("policy_kwargs", {}), policy_cls)
    try:
        policy = policy_cls(*spaces, ConstantSchedule(0.0), **kwargs)
    except (TypeError, ValueError, KeyError, AssertionError) as err:
        raise PolicyFileError(f"cannot build the recorded {key} network: {err}") from None
    try:
        policy.load_state_dict(state_dict, strict=True)
    except (RuntimeError, TypeError, AttributeError) as err:
        raise PolicyFileError(
            f"the weights do not fit the recorded {key} network: {str(err).splitlines()[0]}"
        ) from None
    policy.set_training_mode(False)
    return policy.to(device)


def _policy_kwargs(record: Any, policy_cls: type) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise PolicyFileError(f"policy_kwargs must be a JSON object, got {record!r}")
    accepted = set(inspect.signature(policy_cls.__init__).parameters) - {"self"}
    kwargs = {}
    for key, value in record.items():
        if key not in accepted or key in _SPACES_AND_SCHEDULE:
            raise PolicyFileError(f"policy_kwargs[{key!r}] is not an argument of {policy_cls}")
        if key in CLASS_ARGUMENTS:
            allowed = CLASS_ARGUMENTS[key]
            if value not in allowed:
                raise PolicyFileError(
                    f"policy_kwargs[{key!r}] = {value!r}; valid: {', '.join(allowed)}"
                )
            value = allowed[value]
        kwargs[key] = value
    return kwargs


def _space(record: Any, what: str) -> gym.spaces.Box:
    try:
        if record["type"] != "Box" or record["dtype"] not in SPACE_DTYPES:
            raise ValueError(f"type {record['type']!r}, dtype {record['dtype']!r}")
        shape, dtype = tuple(int(n) for n in record["shape"]), np.dtype(record["dtype"])
        low, high = (_bounds(record[key], shape, dtype) for key in ("low", "high"))
        return gym.spaces.Box(low, high, shape, dtype)
    except (KeyError, TypeError, ValueError) as err:
        raise PolicyFileError(
            f"{what} record {record!r} is not a float Box of shape, dtype, low and high ({err})"
        ) from None


def _bounds(value: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    values = value if isinstance(value, list) else [value]
    for v in values:
        number = isinstance(v, int | float) and not isinstance(v, bool)
        if not (number or v in ("inf", "-inf")):
            raise ValueError(f"bound {v!r} is not a number, 'inf' or '-inf'")
    array = np.array([float(v) for v in values], dtype=dtype)
    return np.broadcast_to(array, shape).copy() if array.size == 1 else array.reshape(shape)
