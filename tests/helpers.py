"""Helper functions of the tests (fixtures are in conftest.py): run a program of the repository,
speak to a bus through the official SDK as third-party clients do."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from collections.abc import Mapping

import dynamixel_sdk as sdk

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


def sync_write(port: object, handler: object, address: int, size: int, values: Mapping) -> None:
    """A GroupSyncWrite, as third-party clients send them: no status comes back."""
    writer = sdk.GroupSyncWrite(port, handler, address, size)
    for dxl_id, value in values.items():
        writer.addParam(dxl_id, list(int(value).to_bytes(size, "little", signed=value < 0)))
    assert writer.txPacket() == sdk.COMM_SUCCESS


def signed(value: int, size: int) -> int:
    """A register's unsigned value read back as the signed number it holds."""
    return int.from_bytes(value.to_bytes(size, "little"), "little", signed=True)
