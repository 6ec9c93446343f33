"""Validators for Environment keywords: each names the keyword, the value and what is allowed.

A validator is a function ``check(name, value) -> normalised value`` that raises
:class:`~distenv.errors.ConfigurationError`. The factories here build the common ones; the
keyword table (:mod:`distenv.environment.keywords`) picks one per keyword.
"""

from __future__ import annotations

import logging
import numbers
import os
from typing import Any, Callable, Iterable

import numpy as np

from distenv.errors import ConfigurationError

Check = Callable[[str, Any], Any]


def invalid(name: str, value: Any, allowed: str) -> ConfigurationError:
    """The error for ``name=value``: ``"cpu_cap=0 is invalid: must be in (0, 100]"``."""
    text = repr(value)
    if len(text) > 120:
        text = text[:117] + "..."
    return ConfigurationError("%s=%s is invalid: %s" % (name, text, allowed))


def boolean(name: str, value: Any) -> bool:
    """``True``/``False`` (numpy booleans and the ints 0/1 are accepted too)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and value in (0, 1):
        return bool(value)
    raise invalid(name, value, "must be True or False")


def text(name: str, value: Any) -> str:
    """A string."""
    if not isinstance(value, str):
        raise invalid(name, value, "must be a string")
    return value


def optional(check: Check) -> Check:
    """``None`` or whatever ``check`` accepts."""
    def check_optional(name: str, value: Any) -> Any:
        return None if value is None else check(name, value)
    check_optional.__doc__ = "None, or " + (check.__doc__ or check.__name__)
    return check_optional


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def number_in(low: float, high: float, low_open: bool = True, high_open: bool = False) -> Check:
    """A real number in an interval; ``number_in(0, 100)`` is ``(0, 100]``."""
    interval = "%s%g, %g%s" % ("(" if low_open else "[", low, high, ")" if high_open else "]")

    def check_number(name: str, value: Any) -> float:
        if not _is_real(value) or not np.isfinite(value):
            raise invalid(name, value, "must be a number in %s" % interval)
        number = float(value)
        if number < low or number > high or (low_open and number == low) or \
                (high_open and number == high):
            raise invalid(name, value, "must be in %s" % interval)
        return number
    return check_number


def positive_number(name: str, value: Any) -> float:
    """A real number > 0 (seconds, megabytes)."""
    if not _is_real(value) or not value > 0 or not np.isfinite(value):
        raise invalid(name, value, "must be a number > 0")
    return float(value)


def integer(minimum: int | None = None, maximum: int | None = None) -> Check:
    """An int (not a bool) in ``[minimum, maximum]``."""
    if minimum is not None and maximum is not None:
        allowed = "an int from %d to %d" % (minimum, maximum)
    elif minimum is not None:
        allowed = "an int >= %d" % minimum
    else:
        allowed = "an int"

    def check_integer(name: str, value: Any) -> int:
        if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
            raise invalid(name, value, "must be %s" % allowed)
        number = int(value)
        if (minimum is not None and number < minimum) or \
                (maximum is not None and number > maximum):
            raise invalid(name, value, "must be %s" % allowed)
        return number
    return check_integer


def choice(values: Iterable[str], normalise: Callable[[str], str] = str.upper) -> Check:
    """One of ``values`` (compared after ``normalise``); the error lists them all."""
    valid = tuple(values)

    def check_choice(name: str, value: Any) -> str:
        if isinstance(value, str) and normalise(value) in valid:
            return normalise(value)
        raise invalid(name, value, "choose one of %s" % ", ".join(repr(v) for v in valid))
    return check_choice


def path(kind: str | None = None) -> Check:
    """A path (``str`` or ``os.PathLike``); ``kind='file'``/``'dir'`` must exist as such."""
    def check_path(name: str, value: Any) -> str:
        if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
            raise invalid(name, value, "must be a path (str or os.PathLike)")
        result = os.fspath(value)
        if kind == "file" and not os.path.isfile(result):
            raise invalid(name, value, "no such file (from %s)" % os.getcwd())
        if kind == "dir" and not os.path.isdir(result):
            raise invalid(name, value, "no such folder (from %s)" % os.getcwd())
        return result
    return check_path


def log_level(name: str, value: Any) -> int:
    """A logging level: an int or a name such as ``'INFO'``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, str):
        level = logging.getLevelName(value.upper())
        if isinstance(level, int):
            return level
    raise invalid(name, value, "must be a logging level (an int such as logging.INFO, or a name "
                               "such as 'INFO')")


def names(name: str, value: Any) -> tuple[str, ...]:
    """A string or a sequence of strings."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise invalid(name, value, "must be a string or a list/tuple of strings")


def levels(name: str, value: Any) -> tuple[int, ...]:
    """A logging level or a sequence of them."""
    if isinstance(value, (list, tuple)):
        return tuple(log_level(name, item) for item in value)
    return (log_level(name, value),)


def function(name: str, value: Any) -> Any:
    """Anything callable."""
    if not callable(value):
        raise invalid(name, value, "must be callable")
    return value
