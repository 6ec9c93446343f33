"""Leaves of the trajectory tree: parameters and results.

A :class:`Parameter` holds one value (and, once explored, a range of values, one per run).
A :class:`Result` holds any number of named items. Custom classes subclass these; they are
found again at load time by their unique class name (``dynamic_imports``).
"""

from __future__ import annotations

import pickle
from typing import Any, Iterable

from distenv.errors import (ExplorationError, NodeNotFoundError, ParameterLockedError,
                            UnsupportedTypeError)
from distenv.trajectory.values import parameter_kind, same_family, short_repr


_FAST_SCALARS = frozenset((bool, int, float, complex, str, bytes))


class BaseLeaf:
    """Common part of every leaf: names, comment, and the trajectory it lives in."""

    __slots__ = ("_name", "_full_name", "_comment", "_traj", "_stored", "__weakref__")

    v_is_leaf = True
    v_is_group = False
    _is_parameter = False

    def __init__(self, full_name: str, comment: str = ""):
        self._full_name = full_name
        self._name = full_name.rpartition(".")[2]
        self._comment = comment
        self._traj = None
        self._stored = False

    # -- names ---------------------------------------------------------------------------
    @property
    def v_name(self) -> str:
        return self._name

    @property
    def v_full_name(self) -> str:
        return self._full_name

    @property
    def v_location(self) -> str:
        return self._full_name.rpartition(".")[0]

    @property
    def v_depth(self) -> int:
        return self._full_name.count(".") + 1

    @property
    def v_branch(self) -> str:
        return self._full_name.partition(".")[0]

    @property
    def v_comment(self) -> str:
        return self._comment

    @v_comment.setter
    def v_comment(self, comment: str) -> None:
        self._comment = str(comment)

    @property
    def v_stored(self) -> bool:
        return self._stored

    @property
    def v_class_name(self) -> str:
        return type(self).__name__

    def f_supports_fast_access(self) -> bool:
        return not self.f_is_empty()

    def __repr__(self) -> str:
        return "<%s %s: %s>" % (type(self).__name__, self._full_name, self.f_val_to_str())

    # A leaf travels between processes without the trajectory it lives in.
    def __getstate__(self) -> dict:
        return {slot: getattr(self, slot) for cls in type(self).__mro__
                for slot in getattr(cls, "__slots__", ()) if slot not in ("_traj", "__weakref__")}

    def __setstate__(self, state: dict) -> None:
        self._traj = None
        for slot, value in state.items():
            setattr(self, slot, value)


class Parameter(BaseLeaf):
    """A parameter: one value of a supported type, optionally explored over a range.

    Parameters
    ----------
    full_name:
        Dotted name, e.g. ``'parameters.poker.ncards'``.
    data:
        The default value (int, float, bool, complex, str, bytes, numpy scalar/array,
        tuple/list of one scalar type, scipy sparse matrix).
    comment:
        Free text stored with the parameter.

    Example
    -------
    >>> traj.f_add_parameter('poker.ncards', 7, comment='Usually we play 7-card-stud')
    """

    __slots__ = ("_data", "_explored_range", "_locked")
    _is_parameter = True

    def __init__(self, full_name: str, data: Any = None, comment: str = ""):
        super().__init__(full_name, comment)
        self._data = None
        self._explored_range: list | None = None
        self._locked = False
        if data is not None:
            self.f_set(data)

    # -- value -------------------------------------------------------------------------
    def f_supports(self, data: Any) -> bool:
        """Whether this parameter class can hold ``data``."""
        try:
            self._check_value(data)
        except UnsupportedTypeError:
            return False
        return True

    def _check_value(self, data: Any) -> None:
        parameter_kind(data)

    def f_set(self, data: Any) -> None:
        """Set the default value. Raises :class:`ParameterLockedError` while locked."""
        if self._locked:
            raise ParameterLockedError(
                "parameter %r is locked (a run is using it); call f_unlock() first if you really "
                "mean to change it" % self._full_name)
        if self._explored_range is not None:
            raise ParameterLockedError(
                "parameter %r is explored; its default cannot change. Use traj.f_shrink() to "
                "drop the exploration first" % self._full_name)
        self._check_value(data)
        self._data = data

    def f_get(self) -> Any:
        """The value for the current run (``traj.v_idx``), or the default outside runs."""
        explored = self._explored_range
        if explored is not None:
            traj = self._traj
            if traj is not None and traj._idx >= 0:
                return explored[traj._idx]
        return self._data

    def f_get_default(self) -> Any:
        return self._data

    def f_is_empty(self) -> bool:
        return self._data is None

    def f_empty(self) -> None:
        if self._locked:
            raise ParameterLockedError("parameter %r is locked; cannot empty it" % self._full_name)
        self._data = None
        self._explored_range = None

    # -- exploration ---------------------------------------------------------------------
    def f_has_range(self) -> bool:
        return self._explored_range is not None

    @property
    def v_explored(self) -> bool:
        return self._explored_range is not None

    def f_get_range(self, copy: bool = True) -> tuple:
        """All explored values in run order. Raises TypeError if not explored."""
        if self._explored_range is None:
            raise TypeError("parameter %r is not explored; it has no range" % self._full_name)
        return tuple(self._explored_range)

    def _validated_range(self, values: Iterable) -> list:
        values = list(values)
        if self._data is None:
            raise ExplorationError(
                "parameter %r has no default value; give it one before exploring" % self._full_name)
        default_type = type(self._data)
        if default_type in _FAST_SCALARS and set(map(type, values)) <= {default_type}:
            return values  # the common case, checked in one pass for a million values
        for value in values:
            self._check_value(value)
            if not same_family(self._data, value):
                raise ExplorationError(
                    "explored value %s for parameter %r is of type %s, but its default %s is of "
                    "type %s; explore values of the default's type"
                    % (short_repr(value), self._full_name, type(value).__name__,
                       short_repr(self._data), type(self._data).__name__))
        return values

    def _explore(self, values: Iterable) -> None:
        if self._locked:
            raise ParameterLockedError("parameter %r is locked; cannot explore it" % self._full_name)
        self._explored_range = self._validated_range(values)

    def _expand(self, values: Iterable, old_length: int) -> None:
        if self._locked:
            raise ParameterLockedError("parameter %r is locked; cannot expand it" % self._full_name)
        new = self._validated_range(values)
        if self._explored_range is None:
            self._explored_range = [self._data] * old_length
        self._explored_range.extend(new)

    def _shrink(self) -> None:
        self._explored_range = None

    # -- locking -------------------------------------------------------------------------
    @property
    def v_locked(self) -> bool:
        return self._locked

    def f_lock(self) -> None:
        self._locked = True

    def f_unlock(self) -> None:
        self._locked = False

    def f_val_to_str(self) -> str:
        return short_repr(self.f_get(), 60)


class ArrayParameter(Parameter):
    """Kept for pypet scripts: a :class:`Parameter` that holds numpy arrays (as they all can)."""

    __slots__ = ()


class SparseParameter(Parameter):
    """Kept for pypet scripts: a :class:`Parameter` holding scipy sparse matrices."""

    __slots__ = ()


class PickleParameter(Parameter):
    """A parameter for any picklable value (stored pickled)."""

    __slots__ = ()

    def _check_value(self, data: Any) -> None:
        try:
            pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise UnsupportedTypeError(
                "value %s of PickleParameter %r cannot be pickled: %s"
                % (short_repr(data), self._full_name, exc)) from exc

    def _validated_range(self, values: Iterable) -> list:
        values = list(values)
        for value in values:
            self._check_value(value)
        return values


class Result(BaseLeaf):
    """A result: named items (scalars, strings, arrays, lists, dicts, pandas objects, or any
    picklable object).

    ``f_add_result('z', 42)`` stores item ``z``; ``f_add_result('r', a=1, b=arr)`` stores items
    ``a`` and ``b``. Further positional values are named ``<name>_1``, ``<name>_2``, ...
    """

    __slots__ = ("_data",)

    def __init__(self, full_name: str, *args: Any, comment: str = "", **kwargs: Any):
        super().__init__(full_name, comment)
        self._data: dict[str, Any] = {}
        if args or kwargs:
            self.f_set(*args, **kwargs)

    def f_set(self, *args: Any, **kwargs: Any) -> None:
        """Store positional items under the result's name (``name``, ``name_1``, ...) and
        keyword items under their keyword."""
        data = self._data
        for position, item in enumerate(args):
            data[self._name if position == 0 else "%s_%d" % (self._name, position)] = item
        for item_name, item in kwargs.items():
            if item_name.startswith("_"):
                raise UnsupportedTypeError(
                    "result item name %r of %r starts with '_'; such names are reserved"
                    % (item_name, self._full_name))
            data[item_name] = item

    def f_set_single(self, name: str, item: Any) -> None:
        self.f_set(**{name: item})

    def f_get(self, *items: str) -> Any:
        """No argument: the only item (error if several). Names: that item or a tuple."""
        data = self._data
        if not items:
            if len(data) == 1:
                return next(iter(data.values()))
            if not data:
                raise ValueError("result %r is empty" % self._full_name)
            raise ValueError("result %r holds several items %s; name the one you want: "
                             "f_get('%s')" % (self._full_name, sorted(data), next(iter(data))))
        if len(items) == 1:
            return self._item(items[0])
        return tuple(self._item(name) for name in items)

    def _item(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise NodeNotFoundError("result %r has no item %r; it has %s"
                                    % (self._full_name, name, sorted(self._data))) from None

    def f_to_dict(self, copy: bool = True) -> dict:
        return dict(self._data) if copy else self._data

    def f_is_empty(self) -> bool:
        return not self._data

    def f_empty(self) -> None:
        self._data.clear()

    def f_remove(self, *items: str) -> None:
        for name in items:
            self._item(name)
            del self._data[name]

    def f_supports(self, item: Any) -> bool:
        return True

    def f_supports_fast_access(self) -> bool:
        return len(self._data) == 1

    def f_val_to_str(self) -> str:
        return ", ".join("%s=%s" % (key, short_repr(value, 40)) for key, value in self._data.items())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise NodeNotFoundError("result %r has no item %r; it has %s"
                                    % (self._full_name, name, sorted(self._data))) from None

    def __getitem__(self, name: str) -> Any:
        return self._item(name)

    def __setitem__(self, name: str, item: Any) -> None:
        self.f_set(**{name: item})

    def __contains__(self, name: str) -> bool:
        return name in self._data

    def __dir__(self) -> list:
        return sorted(set(super().__dir__()) | set(self._data))

    def __setstate__(self, state: dict) -> None:  # __getattr__ must not see a half-built result
        object.__setattr__(self, "_data", {})
        BaseLeaf.__setstate__(self, state)


class PickleResult(Result):
    """A result whose items are always stored pickled."""

    __slots__ = ()


class SparseResult(Result):
    """Kept for pypet scripts: a :class:`Result` holding scipy sparse matrices."""

    __slots__ = ()


#: Classes the loader knows without ``dynamic_imports``.
BUILTIN_LEAF_CLASSES = {cls.__name__: cls for cls in (
    Parameter, ArrayParameter, SparseParameter, PickleParameter,
    Result, PickleResult, SparseResult)}
