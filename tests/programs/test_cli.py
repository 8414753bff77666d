"""The programs' entry point (dexndm_envs.core.cli): axis names that start with a dash parse as
values, a user error is one `error:` line and exit status 2, a bug keeps its traceback."""

from __future__ import annotations

import typing
from dataclasses import dataclass, field

import pytest

from dexndm_envs.core import cli
from dexndm_envs.core.task import AXIS_CHOICES


@dataclass
class EnvArgs:
    axis: cli.AxisName = "+z"
    wrist: str = "palm_up"


@dataclass
class Args:
    axes: list[cli.AxisName] = field(default_factory=lambda: ["+z"])
    axis: cli.AxisName | None = None
    env: EnvArgs = field(default_factory=EnvArgs)
    offset: float = 0.0
    episodes: int = 1


def test_axis_names_are_the_tasks_own():
    assert typing.get_args(cli.AxisName) == AXIS_CHOICES


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--axes", "+z", "-z"], {"axes": ["+z", "-z"]}),
        (["--axes", "-x", "-y", "-z", "--episodes", "2"], {"axes": ["-x", "-y", "-z"]}),
        (["--axis", "-x"], {"axis": "-x"}),
        (["--env.axis", "-z", "--env.wrist", "palm_down"], {"env": EnvArgs("-z", "palm_down")}),
        (["--env.axis=-y", "--offset", "-0.5"], {"env": EnvArgs("-y"), "offset": -0.5}),
    ],
)
def test_axes_that_start_with_a_dash_are_values(argv, expected):
    args = cli.parse(Args, argv)
    assert {name: getattr(args, name) for name in expected} == expected


def test_an_unknown_axis_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.parse(Args, ["--axis", "-w"])
    assert exit_info.value.code == cli.USAGE_STATUS
    with pytest.raises(SystemExit):
        cli.parse(Args, ["--axes", "+z", "up"])
    assert "up" in capsys.readouterr().err


def _fails_with(error: BaseException):
    def main(args: Args) -> None:
        raise error

    return main


def test_a_usage_error_is_one_line_and_status_2(capsys):
    status = cli.call(_fails_with(cli.UsageError("--episodes must be at least 1, got 0")), Args())
    assert status == 2
    assert capsys.readouterr().err == "error: --episodes must be at least 1, got 0\n"


@pytest.mark.parametrize(
    ("error", "option", "message"),
    [
        (ValueError("unknown wrist 'up'"), "--wrists", "--wrists: unknown wrist 'up'"),
        (KeyError("no grasps for 'cube'"), None, "no grasps for 'cube'"),  # no repr quotes
        (FileNotFoundError(2, "No such file or directory", "a.zip"), "--policy",
         "--policy: a.zip: No such file or directory"),
        (ValueError("--policy 'x': no such file"), "--policy", "--policy 'x': no such file"),
    ],
)  # fmt: skip
def test_checking_input_makes_the_input_errors_usage_errors(capsys, error, option, message):
    def main(args: Args) -> None:
        with cli.checking_input(option):
            raise error

    assert cli.call(main, Args()) == 2
    assert capsys.readouterr().err == f"error: {message}\n"


def test_a_bug_keeps_its_traceback():
    """The same ValueError outside checking_input is the program's fault, not the user's."""
    with pytest.raises(ValueError, match="shapes"):
        cli.call(_fails_with(ValueError("shapes do not match")), Args())

    def main(args: Args) -> None:
        with cli.checking_input():
            raise TypeError("not an input error")

    with pytest.raises(TypeError):
        cli.call(main, Args())


def test_the_exit_status_is_mains_and_ctrl_c_is_130(capsys):
    assert cli.call(lambda args: None, Args()) == 0
    assert cli.call(lambda args: 1, Args()) == 1
    assert cli.call(_fails_with(KeyboardInterrupt()), Args()) == 130
    assert capsys.readouterr().err == "\ninterrupted\n"
    interrupt = KeyboardInterrupt()
    interrupt.add_note("the model so far: runs/ppo/interrupted_model.zip")
    assert cli.call(_fails_with(interrupt), Args()) == 130
    assert capsys.readouterr().err == (
        "\ninterrupted\nthe model so far: runs/ppo/interrupted_model.zip\n"
    )


def test_run_exits_with_the_status(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.run(lambda args: 3 if args.axes == ["-z"] else 0, Args, ["--axes", "-z"])
    assert exit_info.value.code == 3


def test_check_at_least_names_the_option_and_skips_unset_values():
    cli.check_at_least({"--episodes": (1, 1), "--max-steps": (None, 1), "--noise": (0.0, 0)})
    with pytest.raises(cli.UsageError, match=r"^--max-steps must be at least 1, got 0$"):
        cli.check_at_least({"--episodes": (3, 1), "--max-steps": (0, 1)})
