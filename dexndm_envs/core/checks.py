"""Checks of settings: what an option or a field may be, said once, and errors that say it.

A *rule* (`Number`, `Integer`, `Flag`, `Pair`, `Text`, `Choice`, `Names`, `Instance`,
`Section`) states what one setting may be. `setting(default, rule)` declares a dataclass field
with its rule beside it, in the field's metadata (a nested section of settings:
`field(default_factory=cls, metadata={RULE: Section(cls)})`), and `check_fields` runs the rules
of every field in one pass, naming each field by its path ("config.randomization.object_mass_kg");
`check_options` does the same for an env's arguments from a table of rules. The checks that
every environment needs (reset options, use after close) are at the end, so each is written
once.

Bad values raise SettingError, a ValueError; values of the wrong type raise SettingTypeError,
which is a TypeError and a SettingError both, so code that catches ValueError for any bad
setting still does.

Usage:
    frame_skip: int = setting(5, Integer(low=1, high=100))
    check_value("hardware_seed", seed, Integer(low=0))
    # -> SettingError: hardware_seed must be an integer >= 0, got -1
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

RULE = "rule"
"""The key of a field's rule in its metadata."""


class SettingError(ValueError):
    """A setting outside what is valid; the message names it, its value and what is valid."""


class SettingTypeError(SettingError, TypeError):
    """A setting of the wrong type: a bool where a number belongs, a string for a flag."""


class EnvClosedError(RuntimeError):
    """step() or reset() on an environment after its close()."""


def is_int(value: Any) -> bool:
    """A Python or NumPy integer, not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A Python or NumPy real number (int or float), not a bool; it may be NaN or infinite."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _within(value: float, low: float | None, high: float | None, low_open: bool, high_open: bool):
    above = low is None or (value > low if low_open else value >= low)
    below = high is None or (value < high if high_open else value <= high)
    return above and below


class Rule(Protocol):
    """What one setting may be: a type test, a value test and the words for both."""

    def describe(self) -> str: ...
    def fits_type(self, value: Any) -> bool: ...
    def fits(self, value: Any) -> bool: ...


@dataclass(frozen=True)
class Number:
    """A finite real number (an int or a float, never a bool), within optional bounds."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    """True: low itself is excluded (a number > low)."""
    high_open: bool = False

    def describe(self) -> str:
        low, high = self.low, self.high
        if low is None and high is None:
            return "a finite number"
        if high is None:
            return f"a finite number {'>' if self.low_open else '>='} {low:g}"
        if low is None:
            return f"a finite number {'<' if self.high_open else '<='} {high:g}"
        opening, closing = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"a number in {opening}{low:g}, {high:g}{closing}"

    def fits_type(self, value: Any) -> bool:
        return is_number(value)

    def fits(self, value: Any) -> bool:
        return math.isfinite(value) and _within(
            value, self.low, self.high, self.low_open, self.high_open
        )


@dataclass(frozen=True)
class Integer:
    """An integer (a Python or NumPy int, never a bool), within optional bounds."""

    low: int | None = None
    high: int | None = None

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"an integer in {self.low} .. {self.high}"
        if self.low is not None:
            return f"an integer >= {self.low}"
        return "an integer" if self.high is None else f"an integer <= {self.high}"

    def fits_type(self, value: Any) -> bool:
        return is_int(value)

    def fits(self, value: Any) -> bool:
        return _within(value, self.low, self.high, False, False)


@dataclass(frozen=True)
class Flag:
    """A bool (Python or NumPy): "false", 0 or 1 are not flags; with optional, None too."""

    optional: bool = False

    def describe(self) -> str:
        return "True, False or None" if self.optional else "True or False"

    def fits_type(self, value: Any) -> bool:
        return isinstance(value, bool | np.bool_) or (self.optional and value is None)

    def fits(self, value: Any) -> bool:
        return True


@dataclass(frozen=True)
class Pair:
    """A range (low, high): two finite numbers (integers if integer) in order, within bounds.

    The bounds apply to low (`low`, `low_open`) and to high (`high`, `high_open`); strict asks
    for low < high rather than low <= high.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    strict: bool = False
    integer: bool = False
    names: tuple[str, str] = ("low", "high")

    def describe(self) -> str:
        first, second = self.names
        kind = "integers" if self.integer else "finite numbers"
        order = f"{first} {'<' if self.strict else '<='} {second}"
        if self.low is not None:
            order = f"{self.low:g} {'<' if self.low_open else '<='} {order}"
        if self.high is not None:
            order = f"{order} {'<' if self.high_open else '<='} {self.high:g}"
        return f"a ({first}, {second}) pair of {kind} with {order}"

    def fits_type(self, value: Any) -> bool:
        if not isinstance(value, tuple | list | np.ndarray) or len(value) != 2:
            return False
        return all((is_int if self.integer else is_number)(v) for v in value)

    def fits(self, value: Any) -> bool:
        first, second = value
        ordered = first < second if self.strict else first <= second
        return (
            math.isfinite(first)
            and math.isfinite(second)
            and ordered
            and _within(first, self.low, None, self.low_open, False)
            and _within(second, None, self.high, False, self.high_open)
        )


@dataclass(frozen=True)
class Text:
    """A non-empty string."""

    def describe(self) -> str:
        return "a non-empty string"

    def fits_type(self, value: Any) -> bool:
        return isinstance(value, str)

    def fits(self, value: Any) -> bool:
        return bool(value)


@dataclass(frozen=True)
class Choice:
    """One of a few names (strings; None too where it is one of them)."""

    choices: tuple[str | None, ...]

    def describe(self) -> str:
        return f"one of: {', '.join(str(c) for c in self.choices)}"

    def fits_type(self, value: Any) -> bool:
        return isinstance(value, str) or (value is None and None in self.choices)

    def fits(self, value: Any) -> bool:
        return value in self.choices


@dataclass(frozen=True)
class Names:
    """A name, or a non-empty list or tuple of names."""

    def describe(self) -> str:
        return "a name or a non-empty list of names"

    def fits_type(self, value: Any) -> bool:
        names = [value] if isinstance(value, str) else value
        return isinstance(names, list | tuple) and all(isinstance(n, str) for n in names)

    def fits(self, value: Any) -> bool:
        return len(value) > 0


@dataclass(frozen=True)
class Instance:
    """An instance of one of a few types (a path, a loaded object, None ...)."""

    types: tuple[type, ...]
    wanted: str
    """What the types are, in words ("a HandConfig, a path or None")."""

    def describe(self) -> str:
        return self.wanted

    def fits_type(self, value: Any) -> bool:
        return isinstance(value, self.types)

    def fits(self, value: Any) -> bool:
        return True


@dataclass(frozen=True)
class Section:
    """A nested settings dataclass, whose own fields check_fields checks in turn."""

    cls: type

    def describe(self) -> str:
        return f"a {self.cls.__name__} (or a dict of overrides of its fields)"

    def fits_type(self, value: Any) -> bool:
        return isinstance(value, self.cls)

    def fits(self, value: Any) -> bool:
        return True


def setting(default: Any = dataclasses.MISSING, rule: Rule | None = None, **kwargs: Any) -> Any:
    """A dataclass field whose metadata holds its rule (kwargs go to dataclasses.field)."""
    assert rule is not None, "every setting declares its rule"
    return dataclasses.field(default=default, metadata={RULE: rule}, **kwargs)


def _show(value: Any) -> str:
    return repr(tuple(value.tolist())) if isinstance(value, np.ndarray) else repr(value)


def check_value(name: str, value: Any, rule: Rule, error: type[Exception] | None = None) -> None:
    """Raise an error that names the setting, its value and what is valid, unless value fits.

    Args:
        error: the exception type; SettingTypeError (wrong type) or SettingError by default.
    """
    if not rule.fits_type(value):
        message = f"{name} must be {rule.describe()}, got {_show(value)} ({type(value).__name__})"
        raise (error or SettingTypeError)(message)
    if not rule.fits(value):
        raise (error or SettingError)(f"{name} must be {rule.describe()}, got {_show(value)}")


def check_fields(obj: Any, prefix: str = "", error: type[Exception] | None = None) -> None:
    """Check every field of the dataclass obj against its rule, nested sections included.

    Fields are named prefix + field name ("config." + "sim_dt_s").

    Raises:
        TypeError: for a field that declares no rule (a programming error, not a bad value).
        error: as check_value, for the first field that does not fit.
    """
    for f in dataclasses.fields(obj):
        rule = f.metadata.get(RULE)
        if rule is None:
            raise TypeError(f"{type(obj).__name__}.{f.name} declares no rule: use setting()")
        value = getattr(obj, f.name)
        check_value(f"{prefix}{f.name}", value, rule, error)
        if isinstance(rule, Section):
            check_fields(value, f"{prefix}{f.name}.", error)


def check_options(rules: Mapping[str, Rule], values: Mapping[str, Any]) -> None:
    """Check each option that rules names (an env's arguments, by name) against its rule."""
    for name, rule in rules.items():
        check_value(name, values[name], rule)


def check_reset_options(options: Any, taken: Collection[str], env_id: str) -> dict[str, Any]:
    """The reset options as a dict ({} for None), or an error naming the keys env_id takes."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise SettingTypeError(
            f"reset options of {env_id} must be a dict or None, got {type(options).__name__}"
        )
    unknown = [key for key in options if key not in taken]
    if unknown:
        keys = ", ".join(repr(k) for k in unknown)
        takes = f"it takes {', '.join(taken)}" if taken else "it takes none"
        raise SettingError(f"unknown reset option {keys} for {env_id}; {takes}")
    return dict(options)


def closed_error(env_id: str, call: str) -> EnvClosedError:
    """The error for call (step, reset) on a closed environment, to raise."""
    return EnvClosedError(f"{env_id} is closed: {call}() after close(); make a new env")
