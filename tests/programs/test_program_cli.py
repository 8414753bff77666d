"""Every program's command line: one entry point, the documented command lines parse, axes
parse as written, a bad input is one `error:` line before anything is written, and defaults
write outside the installed package."""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from helpers import REPO_ROOT, run_program

from dexndm_envs.core import cli
from dexndm_envs.core.interface import DEFAULT_HISTORY_LEN

SYNTHESIS = "dexndm_envs.sim.grasps.synthesis"
PROGRAMS = sorted(
    str(path.relative_to(REPO_ROOT))
    for folder in ("examples", "real")
    for path in (REPO_ROOT / folder).rglob("*.py")
)
ENTRY = re.compile(r"^    run\(main, (\w+)\)$", re.MULTILINE)


@functools.cache
def program(name: str) -> tuple[ModuleType, type]:
    """A program's module (a script under examples/ or real/, or a -m module), its Args type."""
    if name.endswith(".py"):
        path = REPO_ROOT / name
        spec = importlib.util.spec_from_file_location(f"program_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses and tyro look their module up
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(name)
        path = Path(module.__file__)
    entries = ENTRY.findall(path.read_text())
    assert len(entries) == 1, f"{name}: its entry point is not `run(main, Args)`"
    return module, getattr(module, entries[0])


@pytest.mark.parametrize("name", [*PROGRAMS, SYNTHESIS])
def test_every_program_enters_through_run(name):
    _, args_type = program(name)
    assert dataclasses.is_dataclass(args_type)


def _one_line_each(text: str) -> str:
    """Commands continued with a backslash, or inline code wrapped in prose, on one line."""
    parts = text.replace("\\\n", " ").split("```")
    for i in range(0, len(parts), 2):  # outside fenced blocks
        parts[i] = re.sub(r"`[^`]+`", lambda code: code.group().replace("\n", " "), parts[i])
    return "```".join(parts)


def _documented_commands() -> list[tuple[str, str, list[str]]]:
    """(where, program, argv) of every `python <program> ...` in the docs and docstrings."""
    pages = [REPO_ROOT / "README.md", REPO_ROOT / "real" / "README.md"]
    pages += sorted((REPO_ROOT / "docs").rglob("*.md"))
    texts = [(p, p.read_text()) for p in pages]
    for folder in ("examples", "real", "dexndm_envs", "dexndm_agents"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            texts.append((path, ast.get_docstring(ast.parse(path.read_text())) or ""))
    command = re.compile(r"python (-m [\w.]+|[\w/]+\.py)([^`\n#|;)]*)")
    found = []
    for path, text in texts:
        for target, rest in command.findall(_one_line_each(text)):
            name = target.removeprefix("-m ")
            if name in PROGRAMS or name == SYNTHESIS:
                found.append((str(path.relative_to(REPO_ROOT)), name, shlex.split(rest)))
    return found


DOCUMENTED = _documented_commands()
PLACEHOLDER = re.compile(r"^[A-Z]+$|\$|<\w+>")  # N, PATH, $GAIT, <policy>


def test_the_docs_name_commands_with_negative_axes():
    negative = [argv for _, _, argv in DOCUMENTED if {"-x", "-y", "-z"} & set(argv)]
    assert len(DOCUMENTED) > 50 and len(negative) >= 4


@pytest.mark.parametrize(
    ("where", "name", "argv"), DOCUMENTED, ids=[f"{w}: {n} {' '.join(a)}" for w, n, a in DOCUMENTED]
)
def test_every_documented_command_line_parses(where, name, argv):
    _, args_type = program(name)
    if any(PLACEHOLDER.search(token) for token in argv):
        return  # a template, e.g. --episodes N: what it stands for is checked elsewhere
    args = cli.parse(args_type, argv)
    for token in {"-x", "-y", "-z"} & set(argv):  # an axis reaches the program as written
        assert token in repr(args)


@pytest.mark.parametrize(
    ("name", "argv", "where", "value"),
    [
        ("examples/evaluate.py", ["--policy", "zero", "--axes", "+z", "-z"], "axes", ["+z", "-z"]),
        ("examples/train.py", ["--env.axis", "-z", "--n-envs", "4"], "env.axis", "-z"),
        ("examples/train_specialists.py", ["--axis", "-x", "--wrist", "palm_down"], "axis", "-x"),
        ("examples/search_gait.py", ["--env.axis", "-y"], "env.axis", "-y"),
        ("examples/quickstart.py", ["--env.axis", "-x", "--episodes", "2"], "env.axis", "-x"),
    ],
)
def test_axis_options_take_negative_axes(name, argv, where, value):
    args = cli.parse(program(name)[1], argv)
    assert functools.reduce(getattr, where.split("."), args) == value


def test_evaluate_runs_the_documented_axes(tmp_path):
    run_program(
        "examples/evaluate.py",
        *("--policy", "zero", "--object-sets", "cube", "--axes", "+z", "-z"),
        *("--episodes", "1", "--max-steps", "2", "--out-dir", str(tmp_path)),
    )
    rows = json.loads((tmp_path / "evaluation.json").read_text())
    assert [row["axis"] for row in rows] == ["+z", "-z"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--algo", "nonsense"], "error: unknown algorithm 'nonsense'; available here: "),
        (["--total-timesteps", "0"], "error: total_timesteps must be >= 1, got 0"),
    ],
)
def test_train_refuses_bad_options_in_one_line(tmp_path, argv, message):
    result = subprocess.run(
        [sys.executable, "examples/train.py", *argv, "--out-dir", str(tmp_path / "run")],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert not (tmp_path / "run").exists()


MISSING = "missing/nothing_here"
UNKNOWN_WORLD = ["--target", "physx", "--world-profile", "wet"]
BAD_INPUT = [
    ("examples/train.py", ["--env.wrist", "sideways"], "unknown wrist 'sideways'"),
    ("examples/train.py", ["--gait", MISSING], f"--gait {MISSING}: no such file"),
    ("examples/train_specialists.py", ["--algo", "nonsense"], "unknown algorithm 'nonsense'"),
    ("examples/train_specialists.py", ["--categories", "cube"], "--categories: unknown"),
    ("examples/evaluate.py", ["--policy", MISSING], f"--policy '{MISSING}': no such file"),
    ("examples/evaluate.py", ["--policy", "zero", "--wrists", "up"], "--wrists: unknown wrist"),
    ("examples/evaluate.py", ["--policy", "zero", "--episodes", "0"], "--episodes must be at"),
    ("examples/evaluate.py", ["--policy", "zero", "--world-profile", "x"], "--world-profile: unk"),
    ("examples/train.py", ["--env.world-profile", MISSING], "unknown world profile"),
    ("examples/quickstart.py", ["--episodes", "0"], "--episodes must be at least 1, got 0"),
    ("examples/quickstart.py", ["--env.object-set", "blob"], "unknown object set 'blob'"),
    ("examples/search_gait.py", ["--elite", "30"], "--elite (30) must not exceed --population"),
    ("examples/search_gait.py", ["--init", MISSING], f"--init: {MISSING}: No such file"),
    ("examples/distill.py", ["--specialists", MISSING], "--specialists: no policy file at"),
    ("examples/distill.py", ["--specialists", MISSING, "--epochs", "0"], "--epochs must be at"),
    ("examples/sim2real_gap.py", ["--hardware-profile", "new"], "--hardware-profile: unknown"),
    ("examples/sim2real_gap.py", ["--policy", MISSING], f"--policy '{MISSING}': no such"),
    ("examples/sim2real_gap.py", UNKNOWN_WORLD, "--world-profile: unknown world profile 'wet'"),
    ("examples/sim2real_gap.py", ["--world-profile", "fine"], "--world-profile applies to"),
    ("examples/sim2real_gap.py", ["--target-hardware", "ideal"], "--target-hardware ideal"),
    ("examples/train_ndm.py", ["--data", MISSING], f"--data: {MISSING} is not a directory"),
    ("examples/train_residual.py", ["--ndm", MISSING, "--sim", MISSING], "--ndm: no dynamics"),
    ("examples/gallery.py", ["--object-set", "blob"], "--object-set: unknown object set"),
    ("examples/benchmarks/grasp_hold.py", ["--resets", "0"], "--resets must be at least 1"),
    ("examples/benchmarks/env_speed.py", ["--object-set", "blob"], "--object-set: unknown"),
    ("examples/benchmarks/learning_speed.py", ["--algos", "x"], "--algos: unknown algorithm"),
    ("examples/benchmarks/ndm_speed.py", ["--data", MISSING], f"--data: {MISSING} is not a"),
    ("examples/benchmarks/wrapper_overhead.py", ["--bundle", MISSING], "--bundle: no bundle"),
    ("examples/benchmarks/bus_speed.py", ["--cycles", "0"], "--cycles must be at least 1"),
    ("examples/studies/push_sweep.py", ["--bundle", MISSING], "--bundle: no bundle"),
    ("examples/studies/engine_transfer.py", ["--world-profile", "x.yaml"], "--world-profile: can"),
    ("examples/benchmarks/engine_speed.py", ["--steps", "0"], "--steps must be at least 1"),
    ("examples/studies/gap_breakdown.py", ["--policy", MISSING], f"--policy '{MISSING}'"),
    (SYNTHESIS, ["--out", MISSING, "--top-up"], f"--out: no grasp cache at {MISSING}"),
    (SYNTHESIS, ["--out", MISSING, "--per-key", "0"], "--per-key must be at least 1, got 0"),
    ("real/collect_chaos_box.py", ["--out", MISSING, "--episodes", "0"], "--episodes and"),
    ("real/calibrate.py", ["--hand-config", MISSING], f"cannot read hand config {MISSING}"),
]


@pytest.mark.parametrize(("name", "argv", "message"), BAD_INPUT)
def test_bad_input_is_one_error_line_before_anything_is_written(
    tmp_path, monkeypatch, capsys, name, argv, message
):
    monkeypatch.chdir(tmp_path)  # every default output directory is under here
    module, args_type = program(name)
    status = cli.call(module.main, cli.parse(args_type, argv))
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    assert captured.err.startswith(f"error: {message}") and captured.err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


OUTPUT_FIELDS = ("out", "out_dir", "report")


@pytest.mark.parametrize("name", [*PROGRAMS, SYNTHESIS])
def test_programs_write_under_runs_or_outputs_by_default(name):
    """Nothing lands in the installed package or the repository's images unless named."""
    _, args_type = program(name)
    for spec in dataclasses.fields(args_type):
        if spec.name not in OUTPUT_FIELDS:
            continue
        default = spec.default
        assert (
            default is dataclasses.MISSING
            or default is None
            or (not Path(default).is_absolute() and Path(default).parts[0] in ("runs", "outputs"))
        ), f"{name} --{spec.name.replace('_', '-')} defaults to {default}"


def test_grasp_synthesis_writes_only_where_told(capsys):
    """Without --out it does not start (the shipped cache is overwritten only when named)."""
    with pytest.raises(SystemExit) as exit_info:
        cli.parse(program(SYNTHESIS)[1], ["--objects", "cube", "--per-key", "1"])
    assert exit_info.value.code == 2 and "--out" in capsys.readouterr().err


def test_history_defaults_are_the_envs():
    assert program("examples/train_specialists.py")[1]().history_len == DEFAULT_HISTORY_LEN
    assert program("examples/search_gait.py")[1]().env.history_len == DEFAULT_HISTORY_LEN
    assert program("examples/distill.py")[1].history_len == DEFAULT_HISTORY_LEN


def test_a_gait_search_records_the_envs_history_by_default():
    from dexndm_agents.base_policy.gait_search import search_gait

    kwargs = {"object_set": "cube", "config": {"drop_distance_m": 0.0}}  # 1-step episodes
    result = search_gait(kwargs, generations=1, population=2, elite=1, progress=False)
    assert result.gait.history_len == DEFAULT_HISTORY_LEN
