"""Finished runs not yet written: the buffer of a run journal (:mod:`~distenv.storage.journal`).

A :class:`RunBatch` keeps run-table rows (one tuple per run), per-run values that fit a
column (:class:`ColumnBuffer`: one list per item, checked against the column's signature at
the cost of a few type checks), irregular values and other leaves, until a shard, a
compaction or a hand-over (:mod:`~distenv.storage.handover`) writes them.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import tables

from distenv.constants import default_run_name
from distenv.storage import column_tables, layout
from distenv.storage.codecs import Context, check_storable
from distenv.trajectory.columns import pack, signature


class ColumnBuffer:
    """Buffered per-run values of one key with one fixed signature per item.

    ``leaf_type`` is the class of the leaves that made the column: :meth:`take` accepts
    further leaves of that very class at the cost of a few type checks per item.
    """

    __slots__ = ("leaf_class", "comment", "signatures", "run_index", "values", "_leaf_type",
                 "_checks")

    def __init__(self, leaf_class: str, comment: str, signatures: dict,
                 leaf_type: type | None = None):
        self.leaf_class = leaf_class
        self.comment = comment
        self.signatures = signatures
        self.run_index: list[int] = []
        self.values: dict[str, list] = {item: [] for item in signatures}
        self._leaf_type = leaf_type
        #: per item: (name, its values, the check of a new value, see :class:`_Check`)
        self._checks = [(item, self.values[item], _Check(sig))
                        for item, sig in signatures.items()]

    def accepts(self, leaf_class: str, comment: str, items: dict) -> bool:
        if leaf_class != self.leaf_class or comment != self.comment or \
                len(items) != len(self._checks):
            return False
        return all(check.matches(items.get(item, _MISSING)) for item, _, check in self._checks)

    def append(self, run_index: int, items: dict) -> None:
        self.run_index.append(run_index)
        values = self.values
        for item, value in items.items():
            values[item].append(value)

    def take(self, run_index: int, leaf: Any) -> bool:
        """Append ``leaf``'s items if it is of the kind this column holds (the per-run hot
        path: no dict, no signature tuple per item); ``False`` otherwise."""
        if type(leaf) is not self._leaf_type or leaf._comment != self.comment:
            return False
        checks = self._checks
        if leaf._is_parameter:
            if len(checks) != 1:
                return False
            item, values, check = checks[0]
            value = leaf._data
            if item != leaf._name or not check.matches(value):
                return False
            values.append(value)
        else:
            data = leaf._data
            if len(data) != len(checks):
                return False
            if len(checks) == 1:  # the usual result: one item
                item, values, check = checks[0]
                value = data.get(item, _MISSING)
                if not check.matches(value):
                    return False
                values.append(value)
            else:
                get = data.get
                for item, _, check in checks:
                    if not check.matches(get(item, _MISSING)):
                        return False
                for item, values, _ in checks:
                    values.append(data[item])
        self.run_index.append(run_index)
        return True


_MISSING = object()


class _Check:
    """Whether a value has signature ``sig`` (``matches(value)``): a type test for Python
    floats, bools and complex numbers, type, dtype and shape for arrays, :func:`signature` for
    the rest (ints have a range, strings must not end in NUL, sequences hold elements)."""

    __slots__ = ("sig", "kind", "dtype", "shape", "matches")

    _SCALARS = {"float": float, "bool": bool, "complex": complex}

    def __init__(self, sig: tuple):
        self.sig = sig
        self.kind: type | None = self._SCALARS.get(sig[0])
        self.dtype = self.shape = None
        self.matches = self._of_type if self.kind is not None else self._of_signature
        if sig[0] == "array":
            self.kind, self.dtype, self.shape = np.ndarray, np.dtype(sig[1]), tuple(sig[2])
            self.matches = self._array

    def _of_type(self, value: Any) -> bool:
        return type(value) is self.kind

    def _array(self, value: Any) -> bool:
        return type(value) is np.ndarray and value.shape == self.shape and \
            (value.dtype is self.dtype or value.dtype == self.dtype)

    def _of_signature(self, value: Any) -> bool:
        return signature(value) == self.sig


class RunBatch:
    """Finished runs not yet written: run-table rows, columns, irregular values, others.

    The run-table rows are kept column-wise: run index, status, start and finish of every
    run in lists, the error text of failed runs by position, and the process that made the
    runs (pid, host, environment hash) once as :attr:`origin`, with the exceptions (a writer
    that stores the runs of other processes) by position. Appending four values per run and
    making arrays of the lists at the end cost half of a tuple per run turned into columns
    (the last batch of a pool worker is packed in its exit, while the main process waits).
    """

    def __init__(self, run_name: Callable[[int], str] | None = None,
                 origin: tuple[int, str, str] | None = None) -> None:
        #: The trajectory's run names (``traj._wildcards.run_name``), default ``run_%08d``.
        self.run_name = run_name
        #: ``(pid, host, env_hash)`` of the runs, but those in :attr:`origins`.
        self.origin = origin
        self.index: list[int] = []
        self.status: list[int] = []
        self.start: list[float] = []
        self.finish: list[float] = []
        #: position -> error text of a failed run
        self.errors: dict[int, str] = {}
        #: position -> ``(pid, host, env_hash)`` of a run made elsewhere than :attr:`origin`
        self.origins: dict[int, tuple[int, str, str]] = {}
        self.columns: dict[str, ColumnBuffer] = {}
        self.irregular: list[tuple] = []
        self.static: list[Any] = []
        self.count = 0

    def __len__(self) -> int:
        return self.count

    @property
    def rows(self) -> dict[str, Sequence]:
        """The run-table rows, column-wise (``runtime`` computed)."""
        count = len(self.index)
        rows: dict[str, Any] = {"index": self.index, "status": self.status,
                                "start": self.start, "finish": self.finish}
        pid, host, env_hash = self.origin or (0, "", "")
        if self.origins:
            origins = [self.origins.get(position, (pid, host, env_hash))
                       for position in range(count)]
            rows["pid"], rows["host"], rows["env_hash"] = (list(column) for column in
                                                           zip(*origins))
        else:
            rows["pid"] = np.full(count, pid, dtype=np.int64)
            rows["host"], rows["env_hash"] = [host] * count, [env_hash] * count
        error = [""] * count
        for position, text in self.errors.items():
            error[position] = text
        rows["error"] = error
        rows["name"] = layout.run_names(self.index, self.run_name or default_run_name)
        rows["runtime"] = np.subtract(self.finish, self.start, dtype=np.float64)
        return rows

    def add_run(self, index: int, status: int, start: float, finish: float, error: str = "",
                origin: tuple[int, str, str] | None = None) -> None:
        """One run's row; ``origin`` ``(pid, host, env_hash)`` when another process than
        :attr:`origin` made it (the first run's becomes the batch's if it has none)."""
        position = len(self.index)
        self.index.append(index)
        self.status.append(status)
        self.start.append(start)
        self.finish.append(finish)
        if error:
            self.errors[position] = error
        if origin is not None:
            if self.origin is None:
                self.origin = origin
            elif origin != self.origin:
                self.origins[position] = origin
        self.count += 1

    def add_leaf(self, key: str, run_index: int, wildcards: Any, leaf: Any) -> None:
        """A per-run leaf: into its column if it fits, else kept as an irregular value."""
        buffer = self.columns.get(key)
        if buffer is not None and buffer.take(run_index, leaf):
            return
        leaf_class = type(leaf).__name__
        items = {leaf._name: leaf._data} if leaf._is_parameter else leaf._data
        if buffer is None:
            signatures = {}
            regular = not leaf_class.startswith("Pickle") and layout.INDEX_COLUMN not in items
            if regular:
                for item, value in items.items():
                    sig = signature(value)
                    if sig is None:
                        regular = False
                        break
                    signatures[item] = sig
            if regular and signatures:
                buffer = self.columns[key] = ColumnBuffer(leaf_class, leaf._comment, signatures,
                                                          type(leaf))
        if buffer is not None and buffer.accepts(leaf_class, leaf._comment, items):
            buffer.append(run_index, items)
        else:
            for item, value in items.items():  # fail now, not in a later flush of other runs
                check_storable(item, value, leaf_class.startswith("Pickle"))
            self.irregular.append((key, run_index, wildcards.run_name(run_index),
                                   wildcards.set_name(run_index), leaf_class, leaf._comment,
                                   dict(items)))

    def discard_run(self, run_index: int, static_count: int) -> None:
        """Forget what a failed ``store_run`` buffered for ``run_index`` (nothing half-stored)."""
        for buffer in self.columns.values():
            while buffer.run_index and buffer.run_index[-1] == run_index:
                buffer.run_index.pop()
                for values in buffer.values.values():
                    values.pop()
        self.irregular = [entry for entry in self.irregular if entry[1] != run_index]
        del self.static[static_count:]

    def write(self, h5: tables.File, traj_group: tables.Group, ctx: Context) -> None:
        """Write everything into ``traj_group`` (of a shard or of the main file)."""
        layout.append_run_rows(h5, traj_group, self.rows, ctx)
        for key, buffer in self.columns.items():
            if not buffer.run_index:
                continue
            arrays = {item: pack(buffer.signatures[item], values, ctx.encoding)
                      for item, values in buffer.values.items()}
            column_tables.append_column(h5, traj_group, key, buffer.leaf_class, buffer.comment,
                                 buffer.signatures, np.array(buffer.run_index, dtype=np.int64),
                                 arrays, ctx)
        for key, index, run_name, set_name, leaf_class, comment, items in self.irregular:
            layout.write_irregular(h5, traj_group, key, index, run_name, set_name, leaf_class,
                                   comment, items, ctx)
        for leaf in self.static:
            layout.write_leaf(h5, traj_group, leaf, ctx, replace=True)
