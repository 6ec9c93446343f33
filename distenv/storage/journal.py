"""The run journal: completed runs, batched, written to write-once shard files.

A writer buffers finished runs in memory (:class:`RunBatch`). Every ``ack_runs`` runs or
``ack_seconds`` seconds it writes them to a new shard file under
``<file>-journal/<trajectory>/`` -- to a temporary name, fsynced, then renamed. A run is
*acknowledged* once its shard has that final name: from then on a ``kill -9`` of anything
cannot lose it. Shards are later compacted into the main file (see ``service.py``); a run in
the buffer when the process dies was never acknowledged and is computed again on resume.

Shards have the main file's layout, so the same code reads both.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import tables

from distenv.errors import StorageError
from distenv.storage import column_tables, layout
from distenv.storage.codecs import Context, check_storable
from distenv.storage.files import commit_temporary, fsync_dir, hdf5_section, written
from distenv.trajectory.columns import pack, signature

SHARD_SUFFIX = ".h5"
HOST = socket.gethostname()
SHARD_FILTERS = tables.Filters(complevel=1, complib="blosc:lz4", shuffle=True) \
    if tables.which_lib_version("blosc") else tables.Filters(complevel=1, complib="zlib")


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
    """Whether a value has signature ``sig``: a type test for Python floats, bools and
    complex numbers, type, dtype and shape for arrays, :func:`signature` for the rest (ints
    have a range, strings must not end in NUL, sequences hold elements)."""

    __slots__ = ("sig", "kind", "dtype", "shape")

    _SCALARS = {"float": float, "bool": bool, "complex": complex}

    def __init__(self, sig: tuple):
        self.sig = sig
        self.kind: type | None = self._SCALARS.get(sig[0])
        self.dtype = self.shape = None
        if sig[0] == "array":
            self.kind, self.dtype, self.shape = np.ndarray, np.dtype(sig[1]), tuple(sig[2])

    def matches(self, value: Any) -> bool:
        kind = self.kind
        if kind is None:
            return signature(value) == self.sig
        if type(value) is not kind:
            return False
        return self.shape is None or (value.shape == self.shape and value.dtype == self.dtype)


class RunBatch:
    """Finished runs not yet written: run-table rows, columns, irregular values, others."""

    #: Columns of :attr:`runs` (one tuple per run).
    ROW_FIELDS = ("index", "name", "status", "start", "finish", "pid", "host", "env_hash",
                  "error")

    def __init__(self) -> None:
        self.runs: list[tuple] = []
        self.columns: dict[str, ColumnBuffer] = {}
        self.irregular: list[tuple] = []
        self.static: list[Any] = []
        self.count = 0

    def __len__(self) -> int:
        return self.count

    @property
    def rows(self) -> dict[str, Sequence]:
        """The run-table rows, column-wise (tuples; ``runtime`` computed, an array)."""
        columns = list(zip(*self.runs)) if self.runs else [()] * len(self.ROW_FIELDS)
        rows = dict(zip(self.ROW_FIELDS, columns))
        rows["runtime"] = np.subtract(rows["finish"], rows["start"], dtype=np.float64)
        return rows

    def add_run(self, index: int, name: str, status: int, start: float, finish: float, pid: int,
                host: str, env_hash: str, error: str) -> None:
        self.runs.append((index, name, status, start, finish, pid, host, env_hash, error))
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


def journal_dir(filename: Path, trajectory_name: str) -> Path:
    return filename.with_name(filename.name + "-journal") / trajectory_name


def list_shards(directory: Path) -> list[Path]:
    """Acknowledged shards, oldest first (names start with a nanosecond timestamp)."""
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir()
                  if path.name.endswith(SHARD_SUFFIX) and not path.name.startswith("."))


class RunJournal:
    """Buffers finished runs of one trajectory in one process and acknowledges them in shards.

    Parameters
    ----------
    directory:
        The trajectory's journal folder.
    trajectory_name:
        Name of the trajectory group inside each shard.
    ctx:
        Filters and encoding.
    ack_runs, ack_seconds:
        Write a shard after this many runs or this many seconds, whichever comes first
        (``ack_runs=1`` acknowledges every run on its own).
    fsync:
        fsync shards before renaming them (durable against power loss, not only kills).
    """

    def __init__(self, directory: Path, trajectory_name: str, ctx: Context,
                 ack_runs: int | None = None, ack_seconds: float = 2.0, fsync: bool = True,
                 env_hash: str = ""):
        self.directory = directory
        self.trajectory_name = trajectory_name
        self.ctx = ctx
        self.ack_runs = ack_runs
        self.ack_seconds = ack_seconds
        self.fsync = fsync
        self.env_hash = env_hash
        self.pid = os.getpid()
        self.batch = RunBatch()
        self.sequence = 0
        self.last_ack = time.monotonic()
        self.written: list[Path] = []
        #: Held while a shard is written (LOCK mode: one writer at a time); buffering is free.
        self.write_lock: Any = None

    def store_run(self, traj: Any, index: int, leaves: list, status: int, start: float,
                  finish: float, error: str = "", run_keys: list | None = None,
                  host: str | None = None, pid: int | None = None) -> None:
        """Buffer one finished run (its new leaves and its run-table row).

        ``run_keys`` (or ``leaves.run_keys`` as ``traj._leave_run()`` returns them) give each
        leaf's ``(column key, run index)``; without them the names are parsed. ``host`` and
        ``pid`` name the process that made the run (default: this one).
        """
        batch = self.batch
        keys = run_keys if run_keys is not None else getattr(leaves, "run_keys", None)
        static_count = len(batch.static)
        try:
            for position, leaf in enumerate(leaves):
                parsed = keys[position] if keys is not None else \
                    traj._parse_run_path(leaf._full_name)
                if parsed is None:
                    for item, value in ({leaf._name: leaf._data} if leaf._is_parameter
                                        else leaf._data).items():
                        check_storable(item, value, type(leaf).__name__.startswith("Pickle"))
                    batch.static.append(leaf)
                else:
                    batch.add_leaf(parsed[0], parsed[1], traj._wildcards, leaf)
                leaf._stored = True
        except Exception:
            batch.discard_run(index, static_count)
            raise
        batch.add_run(index, traj._wildcards.run_name(index), status, start, finish,
                      self.pid if pid is None else pid, HOST if host is None else host,
                      self.env_hash, error)
        if (self.ack_runs is not None and batch.count >= self.ack_runs) or \
                time.monotonic() - self.last_ack >= self.ack_seconds:
            self.flush()

    def flush(self) -> Path | None:
        """Write the buffered runs as one acknowledged shard; returns its path."""
        batch = self.batch
        self.last_ack = time.monotonic()
        if not batch.count and not batch.static:
            return None
        name = "%019d-%s-%d-%06d%s" % (time.time_ns(), HOST.replace("-", "_"), self.pid,
                                       self.sequence, SHARD_SUFFIX)
        self.sequence += 1
        final = self.directory / name
        temporary = self.directory / ("." + name + ".tmp")
        with self.write_lock if self.write_lock is not None else contextlib.nullcontext():
            try:
                reserve(temporary)
                write_shard(temporary, self.trajectory_name, batch, self.ctx)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
            commit_temporary(temporary, final, self.fsync)
        self.batch = RunBatch()
        self.written.append(final)
        return final

    def close(self) -> None:
        self.flush()


#: Attempts of :func:`reserve` (each one loses only to a compaction that emptied the folder).
RESERVE_ATTEMPTS = 100


def reserve(temporary: Path) -> None:
    """Create the (empty) file ``temporary``, and its folders if needed.

    A compaction removes the journal folders once it has taken in their last shards
    (:func:`remove_shards`), possibly while a worker is about to write its next shard: between
    the worker's ``mkdir`` and its ``open`` the folder can vanish. A folder that holds a file
    cannot be removed, so once this returns the shard has a place; a folder removed in between
    is made again.
    """
    for _ in range(RESERVE_ATTEMPTS):
        temporary.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(temporary, os.O_CREAT | os.O_WRONLY, 0o644))
            return
        except FileNotFoundError:
            continue  # removed by a compaction right after the mkdir: again
    raise StorageError("cannot create journal shard %s: its folder %s keeps disappearing"
                       % (temporary.name, temporary.parent))


def write_shard(path: Path, trajectory_name: str, batch: Any, ctx: Context) -> None:
    """A shard file holding ``batch`` (a :class:`RunBatch`, or what has its ``write``)."""
    with hdf5_section(), written(tables.open_file(str(path), mode="w",
                                                  filters=ctx.filters)) as h5:
        group = h5.create_group("/", trajectory_name)
        group._v_attrs[layout.FORMAT_ATTR] = 1
        group._v_attrs.SHARD = True
        column_tables.start_column_index(group)
        batch.write(h5, group, ctx)


def remove_stale_shard_temporaries(directory: Path) -> None:
    """Remove half-written shards of writers on this host that died (never acknowledged)."""
    from distenv.storage.files import _alive
    if not directory.is_dir():
        return
    marker = "-%s-" % HOST.replace("-", "_")
    for path in directory.iterdir():
        name = path.name
        if name.startswith(".") and name.endswith(".tmp") and marker in name:
            pid = name.split(marker, 1)[1].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                try:
                    path.unlink()
                except OSError:
                    pass


def set_aside(directory: Path) -> None:
    """Rename the journal folder of a trajectory that is no longer in its file (the file was
    overwritten or deleted) so its shards are never taken into a new trajectory of that name."""
    if directory.is_dir():
        directory.rename(directory.with_name("%s.stale-%d" % (directory.name, time.time_ns())))


def remove_shards(paths: list[Path]) -> None:
    directories = set()
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        directories.add(path.parent)
    for directory in directories:
        fsync_dir(directory)
        try:
            directory.rmdir()
            directory.parent.rmdir()
        except OSError:
            pass
