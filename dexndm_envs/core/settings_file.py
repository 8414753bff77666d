"""Read a YAML or JSON file of a dataclass's fields, with errors that say what is wrong.

Hand configs and hardware profiles are both such files; `read_fields` does the reading and
the key check once, and each caller builds (and validates) its own dataclass from the result.
Hardware and world profiles also come as named presets: `load_named` takes a name, a file or
an instance.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml


def read_fields(
    path: Path, cls: type, error: type[Exception], what: str, noun: str = "fields"
) -> dict[str, Any]:
    """The mapping in path, whose keys must all be fields of the dataclass cls.

    Args:
        path: a .json file, or YAML for any other suffix.
        cls: the dataclass the keys must belong to.
        error: the exception type to raise.
        what: what the file is, for messages ("hand config").
        noun: what its entries are called in messages ("keys", "fields").

    Raises:
        error: for an unreadable or unparsable file, a non-mapping, or unknown keys.
    """
    try:
        text = path.read_text()
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, json.JSONDecodeError, yaml.YAMLError) as err:
        raise error(f"cannot read {what} {path}: {err}") from None
    if not isinstance(raw, dict):
        raise error(f"{what} {path} must hold a mapping of {noun}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise error(
            f"unknown {noun} in {path}: {', '.join(unknown)}; valid: {', '.join(sorted(names))}"
        )
    return raw


Settings = TypeVar("Settings")


def load_named(
    value: Any,
    presets: Mapping[str, Settings],
    cls: type[Settings],
    error: type[Exception],
    what: str,
    option: str,
) -> Settings:
    """A preset by name, a YAML/JSON file of cls's fields, or an instance of cls as is.

    Fields a file leaves out keep cls's defaults; its `name` field defaults to the file's stem.

    Args:
        what: what the settings are, for messages ("world profile").
        option: the option that takes them, for messages ("world_profile").

    Raises:
        error: for an unknown name, an unreadable file, unknown fields or bad values.
    """
    if isinstance(value, cls):
        return value
    if not isinstance(value, str | os.PathLike):
        raise error(
            f"{option} must be a preset name, the path of a .yaml/.json file or a "
            f"{cls.__name__}, got {value!r} ({type(value).__name__})"
        )
    text = str(value)
    if text in presets:
        return presets[text]
    path = Path(text)
    if path.suffix not in (".yaml", ".yml", ".json"):
        raise error(
            f"unknown {what} {text!r}; presets: {', '.join(presets)}, "
            "or the path of a .yaml/.json file"
        )
    raw = read_fields(path, cls, error, what)
    raw.setdefault("name", path.stem)
    try:
        return cls(**raw)
    except (error, TypeError) as err:
        raise error(f"{path}: {err}") from None
