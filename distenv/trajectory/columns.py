"""Per-run data held column-wise: one array per item, one row per run.

A value that repeats by name across runs with a scalar or fixed-shape value has a
*signature*; values of one signature are packed into one numpy column. Values without a
signature (dicts, DataFrames, ragged arrays, objects...) are *irregular* and kept per run.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

#: Arrays larger than this (elements) are irregular: a row of a table should stay small.
MAX_COLUMN_ELEMENTS = 4096
#: Fixed-length tuples/lists longer than this are irregular.
MAX_SEQUENCE_LENGTH = 1024

_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_SCALAR_SIGNATURES = {bool: ("bool",), float: ("float",), complex: ("complex",),
                      str: ("str",), bytes: ("bytes",)}
_NUMERIC_ELEMENT = {bool: "bool", int: "int", float: "float", complex: "complex"}
_DTYPE_OF = {"bool": np.bool_, "int": np.int64, "float": np.float64, "complex": np.complex128}


def signature(value: Any) -> tuple | None:
    """The column signature of ``value``, or ``None`` if it must be stored per run."""
    kind = type(value)
    sig = _SCALAR_SIGNATURES.get(kind)
    if sig is not None:
        if (kind is str or kind is bytes) and value.endswith("\x00" if kind is str else b"\x00"):
            return None  # numpy's fixed-width strings would drop the trailing NULs
        return sig
    if kind is int:
        return ("int",) if _INT64_MIN <= value <= _INT64_MAX else None
    if kind is np.ndarray:
        if value.dtype.kind in "biufcSUMm" and value.ndim and 0 < value.size <= MAX_COLUMN_ELEMENTS:
            return ("array", value.dtype.str, value.shape)
        return None
    if isinstance(value, np.generic):
        return ("np", value.dtype.str) if value.dtype.kind in "biufcSUMm" else None
    if kind is tuple or kind is list:
        if not value or len(value) > MAX_SEQUENCE_LENGTH:
            return None
        element = type(value[0])
        name = _NUMERIC_ELEMENT.get(element)
        if name is None:
            return None
        for item in value:
            if type(item) is not element:
                return None
        if name == "int" and not all(_INT64_MIN <= item <= _INT64_MAX for item in value):
            return None
        return (kind.__name__, name, len(value))
    return None


def pack(sig: tuple, values: list, encoding: str = "utf-8") -> np.ndarray:
    """Values sharing ``sig`` as one numpy column (strings as encoded bytes)."""
    kind = sig[0]
    if kind in _DTYPE_OF:
        return np.array(values, dtype=_DTYPE_OF[kind])
    if kind == "str":
        encoded = [value.encode(encoding) for value in values]
        return np.array(encoded, dtype="S%d" % max(1, max(map(len, encoded), default=1)))
    if kind == "bytes":
        return np.array(values, dtype="S%d" % max(1, max(map(len, values), default=1)))
    if kind == "np":
        return np.array(values, dtype=np.dtype(sig[1]))
    if kind == "array":
        return _pack_arrays(np.dtype(sig[1]), tuple(sig[2]), values)
    if kind in ("tuple", "list"):
        return np.array(values, dtype=_DTYPE_OF[sig[1]]).reshape(len(values), sig[2])
    raise ValueError("unknown column signature %r" % (sig,))


def unpack(sig: tuple, column: np.ndarray, encoding: str = "utf-8") -> list:
    """The Python values of a whole column (inverse of :func:`pack`)."""
    kind = sig[0]
    if kind in _DTYPE_OF:
        return column.tolist()
    if kind == "str":
        return [item.decode(encoding) for item in column.tolist()]
    if kind == "bytes":
        return column.tolist()
    if kind == "np":
        return list(column)
    if kind == "array":
        return [row.copy() for row in column]
    if kind == "tuple":
        return [tuple(row) for row in column.tolist()]
    if kind == "list":
        return column.tolist()
    raise ValueError("unknown column signature %r" % (sig,))


def unpack_one(sig: tuple, column: np.ndarray, position: int, encoding: str = "utf-8") -> Any:
    """One Python value of a column."""
    kind = sig[0]
    item = column[position]
    if kind in _DTYPE_OF:
        return item.item()
    if kind == "str":
        return item.decode(encoding)
    if kind == "bytes":
        return bytes(item)
    if kind == "np":
        return item
    if kind == "array":
        return item.copy()
    if kind == "tuple":
        return tuple(item.tolist())
    if kind == "list":
        return item.tolist()
    raise ValueError("unknown column signature %r" % (sig,))


def is_scalar_signature(sig: tuple) -> bool:
    """Whether a column of this signature fits one cell of a DataFrame."""
    return sig[0] in _DTYPE_OF or sig[0] in ("str", "bytes", "np")


class RunColumn:
    """All per-run values of one leaf key (e.g. ``results.runs.$.z``).

    ``run_index`` (sorted) and one array per item hold the regular runs; ``irregular`` maps a run
    index to ``(comment, {item: value})`` for runs whose values did not fit the column.
    The data may be read lazily: ``loader`` fills the column on first use.
    """

    def __init__(self, key: str, leaf_class: str, comment: str = "",
                 signatures: dict | None = None, encoding: str = "utf-8",
                 loader: Callable[["RunColumn"], None] | None = None):
        self.key = key
        self.segments = key.split(".")
        self.leaf_class = leaf_class
        self.comment = comment
        self.signatures: dict[str, tuple] = dict(signatures or {})
        self.encoding = encoding
        self.run_index = np.empty(0, dtype=np.int64)
        self.arrays: dict[str, np.ndarray] = {}
        self.irregular: dict[int, tuple[str, dict]] = {}
        self._loader = loader
        self._position: dict[int, int] | None = None
        self._all_indices: np.ndarray | None = None
        self.set_names: set | None = None  # cache of natural naming

    # -- filling -------------------------------------------------------------------------
    def ensure_loaded(self) -> None:
        loader, self._loader = self._loader, None
        if loader is not None:
            loader(self)

    @property
    def loaded(self) -> bool:
        return self._loader is None

    def extend(self, run_index: np.ndarray, arrays: dict[str, np.ndarray]) -> None:
        """Append regular rows (any order; the column re-sorts itself)."""
        if not len(run_index):
            return
        if len(self.run_index):
            run_index = np.concatenate([self.run_index, run_index])
            arrays = {item: _concat(self.arrays[item], arrays[item]) for item in arrays}
        order = np.argsort(run_index, kind="stable")
        if not np.all(order == np.arange(len(order))):
            run_index = run_index[order]
            arrays = {item: array[order] for item, array in arrays.items()}
        self.run_index = run_index
        self.arrays = arrays
        self._position = None
        self._all_indices = None
        self.set_names = None

    def add_irregular(self, run_index: int, comment: str, items: dict) -> None:
        self.irregular[int(run_index)] = (comment, items)
        self._all_indices = None
        self.set_names = None

    # -- reading -------------------------------------------------------------------------
    def position(self, run_index: int) -> int | None:
        self.ensure_loaded()
        if self._position is None:
            self._position = dict(zip(self.run_index.tolist(), range(len(self.run_index))))
        return self._position.get(run_index)

    def has(self, run_index: int) -> bool:
        return self.position(run_index) is not None or run_index in self.irregular

    def indices(self) -> np.ndarray:
        """Sorted run indices that hold this key."""
        self.ensure_loaded()
        if self._all_indices is None:
            if self.irregular:
                extra = np.fromiter(self.irregular, dtype=np.int64, count=len(self.irregular))
                self._all_indices = np.unique(np.concatenate([self.run_index, extra]))
            else:
                self._all_indices = self.run_index
        return self._all_indices

    def items_of(self, run_index: int) -> tuple[str, dict] | None:
        """``(comment, {item: value})`` of one run, or ``None``."""
        position = self.position(run_index)
        if position is not None:
            return self.comment, {item: unpack_one(self.signatures[item], array, position,
                                                   self.encoding)
                                  for item, array in self.arrays.items()}
        return self.irregular.get(run_index)

    def values_of(self, item: str) -> dict[int, Any]:
        """``{run_index: value}`` of one item over all runs, in run order."""
        self.ensure_loaded()
        result: dict[int, Any] = {}
        if item in self.arrays:
            result = dict(zip(self.run_index.tolist(),
                              unpack(self.signatures[item], self.arrays[item], self.encoding)))
        if self.irregular:
            for index, (_, items) in self.irregular.items():
                if item in items:
                    result[index] = items[item]
            result = dict(sorted(result.items()))
        return result

    def item_names(self) -> list[str]:
        self.ensure_loaded()
        names = list(self.arrays) or list(self.signatures)
        for _, items in self.irregular.values():
            names.extend(name for name in items if name not in names)
        return names


def _concat(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    if first.dtype.kind == "S" and second.dtype.kind == "S" and first.dtype != second.dtype:
        width = max(first.dtype.itemsize, second.dtype.itemsize)
        return np.concatenate([first.astype("S%d" % width), second.astype("S%d" % width)])
    return np.concatenate([first, second])


def common_signature(values: Sequence[Any]) -> tuple | None:
    """The signature all of ``values`` share, or ``None`` (none, or they differ).

    A long list of plain floats, bools or in-range ints (an explored range) is checked by type
    in C, not value by value (a store of a 20k-run range took 12 ms in :func:`signature`).
    """
    if not len(values):
        return None
    first = signature(values[0])
    if first is None:
        return None
    kind = type(values[0])
    if kind in (float, bool, complex, int) and set(map(type, values)) == {kind}:
        if kind is not int or (_INT64_MIN <= min(values) and max(values) <= _INT64_MAX):
            return first
        return None
    for value in values:
        if signature(value) != first:
            return None
    return first


def _pack_arrays(dtype: np.dtype, shape: tuple, values: list) -> np.ndarray:
    """Arrays of one dtype and shape as one ``(len(values),) + shape`` column: their bytes
    joined (~10x faster than ``np.stack`` for small arrays), ``np.stack`` for the arrays
    whose memory is not one C-ordered block (views, Fortran order) or cannot be exported
    (datetimes)."""
    if not values:
        return np.empty((0,) + shape, dtype=dtype)
    try:
        joined = bytearray().join(values)
    except (TypeError, ValueError, BufferError):
        return np.stack(values)
    column = np.frombuffer(joined, dtype=dtype)
    if column.size != len(values) * int(np.prod(shape, dtype=np.int64)):
        return np.stack(values)  # not all of ``shape``: let numpy say which
    return column.reshape((len(values),) + shape)
