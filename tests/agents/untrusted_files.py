"""Files an attacker could hand a user: pickles that run code when loaded (shared by the tests of
policy files and training runs). The code they run makes a marker directory, so a test sees
whether it ran."""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch


class RunsCode:
    """Unpickling this calls os.mkdir(marker): what any code in a pickle could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def serialized_entry(marker: Path) -> dict[str, str]:
    """An entry of SB3's data record as SB3 writes pickled ones (base64 cloudpickle)."""
    return {":type:": "<class 'type'>", ":serialized:": base64.b64encode(
        pickle.dumps(RunsCode(marker))).decode()}  # fmt: skip


def torch_file_that_runs_code(marker: Path) -> bytes:
    """A torch.save file whose pickle runs code unless read with weights_only=True."""
    buffer = io.BytesIO()
    torch.save({"weight": RunsCode(marker)}, buffer)
    return buffer.getvalue()


def rewrite_zip(
    path: Path, data: dict[str, Any] | None = None, members: dict[str, bytes] | None = None
) -> None:
    """Rewrite an SB3 zip with entries of its data record and whole members replaced."""
    with zipfile.ZipFile(path) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    if data:
        contents["data"] = json.dumps({**json.loads(contents["data"]), **data}).encode()
    contents.update(members or {})
    with zipfile.ZipFile(path, "w") as archive:
        for name, raw in contents.items():
            archive.writestr(name, raw)


def poison_sb3_zip(path: Path, marker: Path) -> None:
    """Every pickled entry SB3 writes, and one more, replaced by code that makes marker."""
    with zipfile.ZipFile(path) as archive:
        data = json.loads(archive.read("data"))
    pickled = [key for key, value in data.items() if isinstance(value, dict) and ":serialized:"
               in value]  # fmt: skip
    assert "policy_class" in pickled and "observation_space" in pickled
    rewrite_zip(path, {key: serialized_entry(marker) for key in [*pickled, "extra"]})
