"""Names: validation, branch prefixes, wildcards.

A full name is dotted (``results.runs.run_00000003.z``). Segments are identifiers; a segment
may be a wildcard (``$`` = ``crun`` = current run, ``$set`` = ``crunset`` = its bucket of 1000
runs, or a user wildcard from ``wildcard_functions``).
"""

from __future__ import annotations

import re
from typing import Callable

from distenv.constants import (BRANCHES, RUN_WILDCARD, SET_WILDCARD, default_run_name,
                               default_set_name)
from distenv.errors import InvalidNameError

_SEGMENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_RESERVED_PREFIXES = ("f_", "v_")

BRANCH_OF_KIND = {
    "parameter": "parameters",
    "derived_parameter": "derived_parameters",
    "result": "results",
    "config": "config",
}
#: Branches whose items added during a run go below ``runs.$``.
RUN_BRANCHES = ("results", "derived_parameters")


def check_segment(segment: str, full_name: str) -> None:
    """Raise :class:`InvalidNameError` unless ``segment`` may name a node."""
    if segment.startswith("$"):
        return
    if not _SEGMENT.match(segment):
        raise InvalidNameError(
            "name %r has the invalid part %r: use letters, digits and '_', starting with a "
            "letter" % (full_name, segment))
    if segment.startswith(_RESERVED_PREFIXES):
        raise InvalidNameError(
            "name %r has the part %r, but names starting with 'f_' or 'v_' are reserved for "
            "methods and properties" % (full_name, segment))


class Wildcards:
    """The wildcard table of one trajectory (``wildcard_functions`` of the seeds).

    Maps each wildcard (``$``, ``crun``, ``$set``, ``crunset``, user ones) to a function
    ``run_index -> name``; every function must give a dummy name for index ``-1``.
    """

    def __init__(self, functions: dict | None = None):
        self._functions: dict[str, Callable[[int], str]] = {}
        self._canonical: dict[str, str] = {}
        self.add({RUN_WILDCARD: default_run_name, SET_WILDCARD: default_set_name})
        if functions:
            self.add(functions)

    def add(self, functions: dict) -> None:
        for names, function in functions.items():
            names = (names,) if isinstance(names, str) else tuple(names)
            if not callable(function):
                raise InvalidNameError("wildcard function for %r is not callable: %r"
                                       % (names, function))
            try:
                dummy = function(-1)
            except Exception as exc:
                raise InvalidNameError(
                    "wildcard function for %r failed for the dummy run index -1 (%s); every "
                    "wildcard function must return a name for -1" % (names, exc)) from exc
            if not isinstance(dummy, str):
                raise InvalidNameError("wildcard function for %r returned %r for index -1; it must "
                                       "return a str" % (names, dummy))
            canonical = names[0]
            for name in names:
                self._functions[name] = function
                self._canonical[name] = canonical

    def is_wildcard(self, segment: str) -> bool:
        return segment in self._functions

    def canonical(self, segment: str) -> str:
        return self._canonical[segment]

    def is_run_wildcard(self, segment: str) -> bool:
        return self._canonical.get(segment) == RUN_WILDCARD[0]

    def is_set_wildcard(self, segment: str) -> bool:
        return self._canonical.get(segment) == SET_WILDCARD[0]

    def resolve(self, segment: str, run_index: int) -> str:
        return self._functions[segment](run_index)

    @property
    def run_name(self) -> Callable[[int], str]:
        return self._functions[RUN_WILDCARD[0]]

    @property
    def set_name(self) -> Callable[[int], str]:
        return self._functions[SET_WILDCARD[0]]

    @property
    def functions(self) -> dict:
        return dict(self._functions)


def split_name(name: str) -> list[str]:
    if not isinstance(name, str) or not name:
        raise InvalidNameError("a node name must be a non-empty string, not %r" % (name,))
    return name.split(".")


def add_branch_prefix(segments: list[str], branch: str, in_run: bool,
                      run_segment: str) -> list[str]:
    """Full segments for an item added at the trajectory root.

    ``('poker', 'ncards')`` for a parameter gives ``parameters.poker.ncards``; a result added
    during a run without an explicit run part goes below ``results.runs.<run>``.
    """
    if segments[0] == branch:
        segments = segments[1:]
    if in_run and branch in RUN_BRANCHES and "runs" not in segments and not any(
            seg.startswith("$") or seg in ("crun", "crunset") for seg in segments):
        segments = ["runs", run_segment] + segments
    return [branch] + segments


__all__ = ["BRANCHES", "BRANCH_OF_KIND", "RUN_BRANCHES", "Wildcards", "add_branch_prefix",
           "check_segment", "split_name"]
