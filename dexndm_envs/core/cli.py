"""The command line of the package's programs: one way to parse it, one way to fail.

Every program (examples/, real/, and the grasp cache builder dexndm_envs.sim.grasps.synthesis)
ends with

    if __name__ == "__main__":
        run(main, Args)

`run` parses the command line into `Args` (a dataclass; its field docstrings are --help) with
tyro and calls `main(args)`; what main returns (an int, or None for 0) is the exit status.

User errors and bugs. A mistake in the input (an unknown name, a number out of range, a file
that is not there) prints one line, `error: <message>`, on stderr and exits with status 2, as
real/calibrate.py and real/collect_chaos_box.py do; nothing else is printed. A program marks
which errors are the user's:

- its own checks raise `UsageError` ("--episodes must be at least 1, got 0");
- it calls the package's checks and loaders inside `with checking_input():`, where a
  ValueError (the package's error types derive from it: HandConfigError, ProfileError,
  EpisodeDataError, ...), KeyError or OSError becomes a UsageError.

Anything else that escapes main is a bug and keeps its traceback. That is why a program
checks its input first, inside checking_input, and only then starts the work: the same
ValueError from deep inside a training run is the program's fault, not the user's. Ctrl-C
prints "interrupted" (and any notes the work added to the KeyboardInterrupt, such as where
train.py kept the interrupted model) and exits with status 130, without a traceback. A
command line tyro cannot parse (an unknown option, a value that is not a choice) gets tyro's
own message, also with status 2.

Axis names. Three rotation axes, "-x", "-y" and "-z", start with a dash. tyro's own parser
(tyro >= 1.0; not the argparse one that PYTHON_TYRO_BACKEND=argparse selects) takes a dash-led
token after an option as its value only when it is one of the option's choices, so every axis
option is typed `AxisName`: `--axis -z`, `--env.axis -z` and `--axes +z -z` then parse as
written, and --help lists the valid axes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Literal, NoReturn, TypeVar

import tyro

from dexndm_envs.core.task import AXIS_CHOICES

AxisName = Literal[AXIS_CHOICES]  # one source of truth: the task's own list of axis names
"""A rotation axis on the command line: +x, -x, +y, -y, +z, -z, random or general."""

USAGE_STATUS = 2
"""Exit status of a user error (tyro's own for a command line it cannot parse)."""
INTERRUPTED_STATUS = 130
"""Exit status after Ctrl-C (128 + SIGINT), as the shell reports it."""
INPUT_ERRORS: tuple[type[Exception], ...] = (ValueError, KeyError, OSError)
"""What checking_input turns into a UsageError."""

ArgsT = TypeVar("ArgsT")


class UsageError(Exception):
    """A mistake in a program's input: `run` prints it as one `error:` line, exit status 2."""


def describe(err: BaseException) -> str:
    """One line a person can act on: KeyError without its quotes, "path: reason" for OSError."""
    if isinstance(err, KeyError) and len(err.args) == 1:
        text = str(err.args[0])
    elif isinstance(err, OSError) and err.strerror and err.filename is not None:
        text = f"{err.filename}: {err.strerror}"
    else:
        text = str(err)
    return text.strip() or type(err).__name__


def check_at_least(bounds: Mapping[str, tuple[float | None, float]]) -> None:
    """A UsageError for the first option below its least value.

    Args:
        bounds: option (as typed, e.g. "--episodes") -> (its value, or None when unset, the
            least value it may take).
    """
    for option, (value, least) in bounds.items():
        if value is not None and value < least:
            raise UsageError(f"{option} must be at least {least:g}, got {value:g}")


@contextmanager
def checking_input(option: str | None = None) -> Iterator[None]:
    """Errors of the input: a ValueError, KeyError or OSError raised here is a UsageError.

    Args:
        option: the flag the checked value came from (e.g. "--policy"); it leads the message
            unless the message starts with it already.
    """
    try:
        yield
    except UsageError:
        raise
    except INPUT_ERRORS as err:
        message = describe(err)
        named = option is None or message.startswith(option)  # the package's own may name it
        raise UsageError(message if named else f"{option}: {message}") from err


def parse(args_type: type[ArgsT], argv: Sequence[str] | None = None) -> ArgsT:
    """The command line (sys.argv[1:] by default) as an `args_type`; tyro exits on errors."""
    return tyro.cli(args_type, args=None if argv is None else list(argv))


def call(main: Callable[[ArgsT], int | None], args: ArgsT) -> int:
    """Run main(args); the exit status, with user errors and Ctrl-C reported (module docstring)."""
    try:
        status = main(args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return USAGE_STATUS
    except KeyboardInterrupt as err:
        # what was kept, when the work says so (train.py: where the interrupted model is)
        notes = "".join(f"\n{note}" for note in getattr(err, "__notes__", ()))
        print(f"\ninterrupted{notes}", file=sys.stderr, flush=True)
        return INTERRUPTED_STATUS
    return 0 if status is None else int(status)


def run(
    main: Callable[[ArgsT], int | None],
    args_type: type[ArgsT],
    argv: Sequence[str] | None = None,
) -> NoReturn:
    """A program's entry point: parse, run main, exit with its status (module docstring)."""
    sys.exit(call(main, parse(args_type, argv)))
