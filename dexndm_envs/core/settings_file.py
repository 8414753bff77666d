"""Read a YAML or JSON file of a dataclass's fields, with errors that say what is wrong.

Hand configs and hardware profiles are both such files; `read_fields` does the reading and
the key check once, and each caller builds (and validates) its own dataclass from the result.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

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
