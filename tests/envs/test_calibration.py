"""real/calibrate.py against the virtual LEAP hand served on a pty, and its checks in process."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from helpers import REPO_ROOT

from dexndm_envs.core.constants import JOINT_NAMES
from dexndm_envs.dynamixel.process import served_port
from dexndm_envs.dynamixel.server import VirtualDynamixelServer
from dexndm_envs.hand.config import default_hand_config
from dexndm_envs.real import calibration

ROOT = REPO_ROOT


@pytest.fixture
def virtual_hand(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start `real/virtual_hand.py --lockstep [flags]` in a subprocess; returns its port."""
    with contextlib.ExitStack() as servers:

        def start(*flags: str) -> str:
            command = [sys.executable, str(ROOT / "real" / "virtual_hand.py"), "--lockstep"]
            log = servers.enter_context((tmp_path / "virtual_hand.err").open("a"))
            return servers.enter_context(
                served_port([*command, *flags], stderr=log, cwd=ROOT, timeout_s=30.0)
            )

        yield start


def calibrate(port: str, *flags: str) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Run real/calibrate.py --check; return the process and, from the report it writes,
    joint -> its result (PASS, FAIL, skip)."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        command = [sys.executable, str(ROOT / "real" / "calibrate.py"), "--port", port]
        result = subprocess.run(
            [*command, "--check", "--period-s", "0", "--report", str(report), *flags],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        record = json.loads(report.read_text()) if report.is_file() else {"joints": []}
    return result, {joint["joint"]: joint["result"] for joint in record["joints"]}


def test_check_passes_on_the_virtual_hand(virtual_hand: Callable[..., str]) -> None:
    result, rows = calibrate(virtual_hand())
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(rows.values()) == {"PASS"} and list(rows) == list(JOINT_NAMES)
    assert result.stdout.strip().endswith("PASS")


def test_check_fails_naming_a_joint_with_flipped_direction(
    virtual_hand: Callable[..., str], tmp_path: Path
) -> None:
    config = yaml.safe_load((ROOT / "real" / "leap_hand.yaml").read_text())
    config["direction"][config["joint_names"].index("mf_pip")] = -1  # bent in the start grasp
    path = tmp_path / "flipped.yaml"
    path.write_text(yaml.safe_dump(config))
    result, rows = calibrate(virtual_hand(), "--hand-config", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert rows.pop("mf_pip") == "FAIL"
    assert set(rows.values()) == {"PASS"}
    assert "motor 6 (mf_pip): reads" in result.stdout
    assert result.stdout.strip().endswith("FAIL")


def test_check_fails_naming_a_dead_motor(virtual_hand: Callable[..., str]) -> None:
    result, rows = calibrate(virtual_hand("--dead-motor", "5"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert rows["mf_mcp"] == "FAIL"
    assert "motor 5 (mf_mcp): does not answer" in result.stdout


def test_person_saying_no_fails_that_joint_only() -> None:
    hand = default_hand_config()
    asked: list[str] = []

    def ask(question: str) -> bool:
        asked.append(question)
        return "ring finger tip joint" not in question

    with VirtualDynamixelServer(lockstep=True) as server:  # flat hand, simple follower physics
        bus = calibration.open_bus(server.port_path, hand)
        try:
            reports = calibration.survey(bus, hand)
            settings = calibration.CheckSettings(period_s=0.0)
            calibration.check_motion(bus, hand, reports, settings, ask=ask)
        finally:
            bus.close()
    assert len(asked) == 16
    failed = [report.joint for report in reports if not report.passed]
    assert failed == ["rf_dip"]
    assert all(report.moved_rad and report.moved_rad > 0.1 for report in reports)
    assert not calibration.all_passed(reports)
    table = calibration.format_table(reports)
    assert "motor 11 (rf_dip): the person saw" in table
