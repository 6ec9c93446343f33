"""The run journal: completed runs, batched, written to write-once shard files.

A writer buffers finished runs in memory (:class:`~distenv.storage.batch.RunBatch`). Every
``ack_runs`` runs or ``ack_seconds`` seconds it writes them to a new shard file under
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
from typing import Any

import tables

from distenv.errors import StorageError
from distenv.storage import column_tables, layout
from distenv.storage.batch import RunBatch
from distenv.storage.codecs import Context, check_storable
from distenv.storage.files import commit_temporary, fsync_dir, hdf5_section, written

SHARD_SUFFIX = ".h5"
HOST = socket.gethostname()
HOST_TAG = HOST.replace("-", "_")  # as file names carry it (they are split on "-")
SHARD_FILTERS = tables.Filters(complevel=1, complib="blosc:lz4", shuffle=True) \
    if tables.which_lib_version("blosc") else tables.Filters(complevel=1, complib="zlib")


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
        if batch.run_name is None:
            batch.run_name = traj._wildcards.run_name
            batch.origin = (self.pid, HOST, self.env_hash)
        if leaves:
            self._buffer_leaves(traj, batch, index, leaves,
                                run_keys if run_keys is not None else
                                getattr(leaves, "run_keys", None))
        batch.add_run(index, status, start, finish, error,
                      None if pid is None and host is None else
                      (self.pid if pid is None else pid, HOST if host is None else host,
                       self.env_hash))
        if (self.ack_runs is not None and batch.count >= self.ack_runs) or \
                time.monotonic() - self.last_ack >= self.ack_seconds:
            self.flush()

    @staticmethod
    def _buffer_leaves(traj: Any, batch: RunBatch, index: int, leaves: list,
                       keys: list | None) -> None:
        """Buffer the leaves of run ``index``: all of them, or none if one cannot be stored."""
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

    def flush(self) -> Path | None:
        """Write the buffered runs as one acknowledged shard; returns its path."""
        batch = self.batch
        self.last_ack = time.monotonic()
        if not batch.count and not batch.static:
            return None
        tag = "%06d" % self.sequence
        self.sequence += 1
        with self.write_lock if self.write_lock is not None else contextlib.nullcontext():
            final = commit_shard(self.directory, self.pid, tag, self.trajectory_name, batch,
                                 self.ctx, self.fsync)
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


def new_paths(directory: Path, pid: int, tag: str, suffix: str = SHARD_SUFFIX) -> tuple:
    """``(final, temporary)`` of a new file of writer ``pid`` (time, host, pid, ``tag``: no two
    writers collide); readers skip the temporary, stale ones are removed when ``pid`` is gone."""
    name = "%019d-%s-%d-%s%s" % (time.time_ns(), HOST_TAG, pid, tag, suffix)
    return directory / name, directory / ("." + name + ".tmp")


def commit_shard(directory: Path, pid: int, tag: str, trajectory_name: str, batch: Any,
                 ctx: Context, fsync: bool) -> Path:
    """Write ``batch`` as an acknowledged shard of writer ``pid`` (see :func:`new_paths`): to
    a temporary name, fsynced, renamed. Returns its path."""
    final, temporary = new_paths(directory, pid, tag)
    try:
        reserve(temporary)
        write_shard(temporary, trajectory_name, batch, ctx)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    commit_temporary(temporary, final, fsync)
    return final


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
    marker = "-%s-" % HOST_TAG
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
