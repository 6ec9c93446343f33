"""Building exploration dictionaries: :func:`cartesian_product` and input checks."""

from __future__ import annotations

import itertools
from typing import Any, Iterable, Sequence

from distenv.errors import ExplorationError


def cartesian_product(parameter_dict: dict[str, Sequence],
                      combined_parameters: Iterable | None = None) -> dict[str, list]:
    """All combinations of the given ranges, the first parameter varying fastest.

    Parameters
    ----------
    parameter_dict:
        ``{'x': [1, 2], 'y': [3, 4]}``.
    combined_parameters:
        Order of the product and groups that vary together: ``(('x', 'z'), 'y')`` zips ``x``
        and ``z`` (equal lengths) and combines them with every ``y``. Default: the order of
        ``parameter_dict``, each parameter on its own.

    Returns
    -------
    dict
        ``{'x': [1, 2, 1, 2], 'y': [3, 3, 4, 4]}`` -- ready for ``traj.f_explore``.

    Example
    -------
    >>> cartesian_product({'x': [1, 2], 'y': ['a', 'b']})
    {'x': [1, 2, 1, 2], 'y': ['a', 'a', 'b', 'b']}
    """
    if not isinstance(parameter_dict, dict):
        raise ExplorationError("cartesian_product needs a dict of name -> list, not %r"
                               % type(parameter_dict).__name__)
    ranges = {name: _as_list(name, values) for name, values in parameter_dict.items()}
    if combined_parameters is None:
        groups = [(name,) for name in ranges]
    else:
        groups = [(group,) if isinstance(group, str) else tuple(group)
                  for group in combined_parameters]
        named = [name for group in groups for name in group]
        unknown = [name for name in named if name not in ranges]
        if unknown:
            raise ExplorationError("combined_parameters names %s, which are not in the "
                                   "parameter dict (it has %s)" % (unknown, sorted(ranges)))
        missing = [name for name in ranges if name not in named]
        if missing:
            raise ExplorationError("combined_parameters leaves out %s; list every parameter of "
                                   "the dict exactly once" % missing)
        if len(named) != len(set(named)):
            raise ExplorationError("combined_parameters lists a parameter twice: %s" % named)
    zipped = []
    for group in groups:
        lengths = {name: len(ranges[name]) for name in group}
        if len(set(lengths.values())) > 1:
            raise ExplorationError("combined parameters %s must have equal lengths, got %s"
                                   % (list(group), lengths))
        zipped.append(list(zip(*(ranges[name] for name in group))))
    result: dict[str, list] = {name: [] for name in ranges}
    # itertools.product varies the last factor fastest; reverse so the first varies fastest.
    for combination in itertools.product(*reversed(zipped)):
        for group, values in zip(reversed(groups), combination):
            for name, value in zip(group, values):
                result[name].append(value)
    return result


def _as_list(name: str, values: Any) -> list:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ExplorationError("the range of %r must be a list (or other iterable) of values, "
                               "not %r" % (name, values))
    return list(values)


def check_equal_lengths(ranges: dict[str, list]) -> int:
    """Length shared by all ranges; raises naming every length if they differ."""
    lengths = {name: len(values) for name, values in ranges.items()}
    if not lengths:
        raise ExplorationError("nothing to explore: the dict is empty")
    if len(set(lengths.values())) > 1:
        raise ExplorationError("explored ranges must have equal lengths, got %s; use "
                               "cartesian_product(...) for all combinations" % lengths)
    length = next(iter(lengths.values()))
    if length == 0:
        raise ExplorationError("explored ranges are empty: %s" % sorted(lengths))
    return length

