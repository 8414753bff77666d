"""Helper functions of the tests (fixtures are in conftest.py): run a program of the repository."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def run_program(
    script: str, *args: str, timeout_s: float = 300, expect_failure: bool = False
) -> str:
    """Run a program of the repository (path relative to its top level); return its stdout
    (with expect_failure: assert it fails, and return its stderr).

    The program gets one torch thread, as the tests' own process does (one_torch_thread): on
    a 2-core machine more only contend with the env.
    """
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=REPO_ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    if expect_failure:
        assert result.returncode != 0, result.stdout[-3000:]
        return result.stderr
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout
