"""One crash-safe write: the file is complete under its name or not there, never half."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dexndm_envs.core.atomic import atomic_write, atomic_write_text


def test_a_write_lands_complete_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "deep" / "arrays.npz"
    with atomic_write(path) as file:
        np.savez(file, q=np.arange(3))
    with np.load(path) as npz:
        assert npz["q"].tolist() == [0, 1, 2]
    assert [p.name for p in path.parent.iterdir()] == ["arrays.npz"]


def test_a_write_that_fails_midway_keeps_the_old_file_and_cleans_up(tmp_path):
    path = atomic_write_text(tmp_path / "settings.json", json.dumps({"seed": 1}))
    with pytest.raises(RuntimeError, match="killed"), atomic_write(path) as file:
        file.write(b'{"seed": 2, "trunc')
        raise RuntimeError("killed mid-write")
    assert json.loads(path.read_text()) == {"seed": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_written_files_are_readable_as_open_would_make_them_and_keep_their_mode(tmp_path):
    """mkstemp makes its file owner-only; results, caches and policies must not end up so."""
    fresh = atomic_write_text(tmp_path / "results.json", "{}")
    assert fresh.stat().st_mode & 0o777 == 0o644
    kept = tmp_path / "script.sh"
    kept.write_text("old")
    kept.chmod(0o750)
    atomic_write_text(kept, "new")
    assert kept.stat().st_mode & 0o777 == 0o750 and kept.read_text() == "new"
