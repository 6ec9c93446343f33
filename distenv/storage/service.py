"""The HDF5 storage service: every read and write of a trajectory goes through it.

Writes follow one rule (DESIGN §5): a file holding acknowledged data is never modified in
place. Runs go to write-once journal shards; the main file changes only by *compaction*, which
builds a new version of it beside the old one and renames it over the old one. Compaction is
restartable: the shards it incorporated are listed inside the new file, so a crash before the
shards are deleted never counts a run twice.
"""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable, Sequence

import numpy as np
import tables

from distenv.version import __version__
from distenv.errors import ConfigurationError, CorruptFileError
from distenv.storage import chunks, column_tables, handover, journal, layout
from distenv.storage.pending import IncorporatedRows, PendingStore
from distenv.storage.runrows import drop_superseded
from distenv.storage.codecs import Context
from distenv.storage.files import make_filters, open_for_reading

PANDAS_FORMATS = {"fixed": "fixed", "f": "fixed", "table": "table", "t": "table"}


class HDF5StorageService:
    """Stores trajectories in one HDF5 file (PyTables), safely under ``kill -9``.

    Parameters
    ----------
    filename:
        The file; default ``./hdf5/<trajectory>.hdf5``; a folder (``'out/'``) gets
        ``<trajectory>.hdf5`` inside it.
    file_title:
        HDF5 title of a new file (default: the trajectory name).
    overwrite_file:
        Replace an existing file on the first store instead of adding to it.
    encoding:
        Encoding of strings (``'utf8'``).
    complevel, complib, shuffle, fletcher32:
        HDF5 filters (``complib`` in zlib, blosc, lzo, bzip2, blosc2 and ``blosc:<codec>``).
    pandas_format:
        ``'fixed'``/``'f'`` or ``'table'``/``'t'`` for DataFrames and Series.
    purge_duplicate_comments, summary_tables, small_overview_tables, large_overview_tables,
    results_per_run, derived_parameters_per_run:
        As in pypet; overview tables are for eye-balling and hold at most 1000 rows.
    ack_runs, ack_seconds:
        Acknowledge (make durable) finished runs every ``ack_runs`` runs or ``ack_seconds``
        seconds, whichever comes first.
    fsync:
        fsync acknowledged data (survives power loss; ``False`` still survives ``kill -9``).
    """

    def __init__(self, filename: str | os.PathLike | None = None, file_title: str | None = None,
                 overwrite_file: bool = False, encoding: str = "utf8", complevel: int = 9,
                 complib: str = "zlib", shuffle: bool = True, fletcher32: bool = False,
                 pandas_format: str = "fixed", purge_duplicate_comments: bool = True,
                 summary_tables: bool = True, small_overview_tables: bool = True,
                 large_overview_tables: bool = False, results_per_run: int = 0,
                 derived_parameters_per_run: int = 0, ack_runs: int | None = None,
                 ack_seconds: float = 2.0, fsync: bool = True, display_time: int = 20):
        flags = {"overwrite_file": overwrite_file, "shuffle": shuffle, "fletcher32": fletcher32,
                 "purge_duplicate_comments": purge_duplicate_comments,
                 "summary_tables": summary_tables, "small_overview_tables": small_overview_tables,
                 "large_overview_tables": large_overview_tables, "fsync": fsync}
        for name, value in flags.items():
            if not isinstance(value, (bool, np.bool_)):
                raise ConfigurationError("%s must be True or False, not %r" % (name, value))
        if file_title is not None and not isinstance(file_title, str):
            raise ConfigurationError("file_title must be a string, not %r" % (file_title,))
        if filename is not None and not isinstance(filename, (str, os.PathLike)):
            raise ConfigurationError("filename must be a path, not %r" % (filename,))
        if pandas_format not in PANDAS_FORMATS:
            raise ConfigurationError("pandas_format %r is invalid; use one of %s"
                                     % (pandas_format, ", ".join(PANDAS_FORMATS)))
        try:
            "x".encode(encoding)
        except (LookupError, TypeError) as exc:
            raise ConfigurationError("encoding %r is unknown (%s); use 'utf8'" % (encoding, exc))
        for name, value in (("results_per_run", results_per_run),
                            ("derived_parameters_per_run", derived_parameters_per_run)):
            if not isinstance(value, int) or value < 0:
                raise ConfigurationError("%s must be an int >= 0, not %r" % (name, value))
        if ack_runs is not None and (not isinstance(ack_runs, int) or ack_runs < 1):
            raise ConfigurationError("ack_runs must be None or an int >= 1, not %r" % (ack_runs,))
        if not isinstance(ack_seconds, (int, float)) or ack_seconds < 0:
            raise ConfigurationError("ack_seconds must be a number >= 0, not %r" % (ack_seconds,))
        self.filters = make_filters(complevel, complib, shuffle, fletcher32)
        self.filename = None if filename is None else os.fspath(filename)
        self.file_title = file_title
        self.overwrite_file = bool(overwrite_file)
        self.encoding = encoding
        self.pandas_format = PANDAS_FORMATS[pandas_format]
        self.purge_duplicate_comments = bool(purge_duplicate_comments)
        self.summary_tables = bool(summary_tables)
        self.small_overview_tables = bool(small_overview_tables)
        self.large_overview_tables = bool(large_overview_tables)
        self.results_per_run = results_per_run
        self.derived_parameters_per_run = derived_parameters_per_run
        self.ack_runs = ack_runs
        self.ack_seconds = float(ack_seconds)
        self.fsync = bool(fsync)
        self.display_time = display_time
        self.ctx = Context(self.filters, encoding, self.pandas_format)
        # Journal shards live seconds to minutes: fast compression; compaction applies the
        # user's filters to everything that reaches the main file.
        self.shard_ctx = Context(journal.SHARD_FILTERS, encoding, self.pandas_format)
        self._overwritten = False

    # -- files ---------------------------------------------------------------------------------
    def filename_for(self, trajectory_name: str) -> Path:
        """The file a trajectory of this name goes to."""
        if self.filename is None:
            return Path("hdf5") / ("%s.hdf5" % trajectory_name)
        path = Path(self.filename)
        if self.filename.endswith(("/", os.sep)) or path.is_dir():
            return path / ("%s.hdf5" % trajectory_name)
        return path

    def journal_dir(self, trajectory_name: str) -> Path:
        return journal.journal_dir(self.filename_for(trajectory_name), trajectory_name)

    def trajectory_names(self, trajectory_name: str = "") -> list[str]:
        path = self.filename_for(trajectory_name)
        if not path.exists():
            return []
        with open_for_reading(path) as h5:
            return trajectory_names(h5)

    # -- writing ---------------------------------------------------------------------------------
    def run_journal(self, traj: Any, env_hash: str = "") -> journal.RunJournal:
        """A journal to which an executor hands finished runs."""
        return journal.RunJournal(self.journal_dir(traj._name), traj._name, self.shard_ctx,
                                  self.ack_runs, self.ack_seconds, self.fsync, env_hash)

    def store_trajectory(self, traj: Any, only_init: bool = False) -> None:
        """Store what is new in ``traj`` and compact its journal into the main file.

        Only nodes in memory are looked at (per-run data held in columns is stored already),
        and an explored parameter is written again only when its range grew (``f_expand``).
        """
        self._store(traj, [] if only_init else self._new_leaves(traj), only_init)

    @staticmethod
    def _new_leaves(traj: Any) -> list:
        """Leaves not stored yet, and explored parameters whose range grew."""
        stored_lengths = traj._stored_range_lengths
        return [node for node in list(traj._nodes.values()) if node.v_is_leaf and (
            not node._stored or (node._full_name in traj._explored and
                                 stored_lengths.get(node._full_name) !=
                                 len(node._explored_range)))]

    def store_leaves(self, traj: Any, leaves: Iterable) -> None:
        self._store(traj, list(leaves), only_init=False)

    def _store(self, traj: Any, leaves: list, only_init: bool) -> None:
        PendingStore(self, traj, leaves, only_init).write()

    def begin_store_trajectory(self, traj: Any, take_in_journal: bool = True) -> PendingStore:
        """:meth:`store_trajectory` in two steps: this one checks, takes the file's lock and
        marks ``traj`` stored in memory; the returned store's ``write()`` writes the file (or
        ``abort()`` gives up). A sweep forks its workers in between (see
        :mod:`distenv.storage.pending`). ``take_in_journal=False``: the write leaves the
        journal's shards for the next store."""
        return PendingStore(self, traj, self._new_leaves(traj), False, take_in_journal)

    def _attach_columns(self, traj: Any, path: Path, read_run_table: bool = True) -> None:
        """Let ``traj`` read its stored per-run data (lazily) without an explicit load; the
        run table is read again unless ``read_run_table=False`` (it is up to date)."""
        from distenv.storage.loading import LOAD_SKELETON, register_columns
        from distenv.storage.loading import read_run_table as read_table
        with open_for_reading(path) as h5:
            group = h5.root._f_get_child(traj._name)
            if read_run_table and layout.RUN_TABLE in group:  # the file is the truth
                traj._run_table = read_table(path, group, [], traj._name, traj._length)
                traj._run_table.file_rows = layout.run_table_rows(group)
            elif read_run_table:  # no run stored: the table matches if it holds none either
                table = traj._run_table
                table.file_rows = None if table.status.any() else 0
            traj._run_columns = {}
            register_columns(traj, path, group, [], traj._name,
                             {"results": LOAD_SKELETON, "derived_parameters": LOAD_SKELETON,
                              "config": LOAD_SKELETON, "parameters": LOAD_SKELETON})

    def compact(self, traj: Any) -> None:
        """Move acknowledged runs from the journal into the main file."""
        self._store(traj, [], only_init=True)

    def _journal_loose_leaves(self, traj: Any, leaves: list) -> None:
        """Per-run leaves made outside an executor (manual runs) go through the journal too."""
        run_journal = self.run_journal(traj)
        batch = run_journal.batch
        for leaf in leaves:
            key, index = traj._parse_run_path(leaf._full_name)
            batch.add_leaf(key, index, traj._wildcards, leaf)
        batch.count = max(batch.count, 1)
        run_journal.flush()

    def _trajectory_group(self, h5: tables.File, traj: Any) -> tables.Group:
        if traj._name in h5.root:
            group = h5.root._f_get_child(traj._name)
        else:
            group = h5.create_group("/", traj._name, title=traj._comment[:255])
            column_tables.start_column_index(group)
        attrs = group._v_attrs
        attrs[layout.FORMAT_ATTR] = 1
        attrs.NAME = traj._name
        attrs.COMMENT = traj._comment
        attrs.TIMESTAMP = traj._timestamp
        attrs.TIME = traj._time
        attrs.LENGTH = traj._length
        attrs.EXPLORED = list(traj._explored)
        attrs.DISTENV_VERSION = __version__
        attrs.PYTHON = platform.python_version()
        attrs.DEFAULT_RUN_NAMES = bool(traj._default_run_names)
        return group

    def _incorporate_shards(self, h5: tables.File, group: tables.Group, trajectory_name: str,
                            path: Path, wildcards: Any,
                            incorporated: IncorporatedRows | None = None) -> list[Path]:
        directory = journal.journal_dir(path, trajectory_name)
        journal.remove_stale_shard_temporaries(directory)
        shards = journal.list_shards(directory)
        handed = handover.ready(directory, os.getpid())  # this process's pool workers' last runs
        if not shards and not handed:
            return []
        done = layout.read_journal_log(group)
        todo = [shard for shard in shards if shard.name not in done]
        todo_handed = [item for item in handed if item.name not in done]
        copy_shards(h5, group, todo, trajectory_name, self.ctx, wildcards, incorporated,
                    handed=todo_handed)
        layout.append_journal_log(h5, group, [item.name for item in todo + todo_handed])
        if todo or todo_handed:  # a failed run made again: keep only its newest row
            drop_superseded(group)
        return shards + handed

    # -- reading ---------------------------------------------------------------------------------
    def load_trajectory(self, traj: Any, **options: Any) -> None:
        from distenv.storage.loading import load_into
        load_into(self, traj, **options)

    def load_subtree(self, traj: Any, full_name: str, recursive: bool, load_data: int) -> Any:
        from distenv.storage.loading import load_subtree
        return load_subtree(self, traj, full_name, recursive, load_data)

    # -- merging ---------------------------------------------------------------------------------
    def merge(self, traj: Any, others: list, **options: Any) -> Any:
        """Merge stored trajectories into ``traj`` (see :mod:`distenv.storage.merge`)."""
        from distenv.storage.merge import merge_trajectories
        return merge_trajectories(self, traj, others, **options)


def trajectory_names(h5: tables.File) -> list[str]:
    """Trajectories in an open file, in the order they were created."""
    groups = [group for group in h5.root._f_iter_nodes("Group")
              if layout.FORMAT_ATTR in group._v_attrs]
    groups.sort(key=lambda group: float(getattr(group._v_attrs, "TIMESTAMP", 0.0)))
    return [group._v_name for group in groups]


def copy_shards(h5: tables.File, group: tables.Group, shards: list[Path], trajectory_name: str,
                ctx: Context, wildcards: Any, incorporated: IncorporatedRows | None = None,
                guard: Callable[[Path], ContextManager] | None = None,
                handed: Sequence[Path] = ()) -> None:
    """Append the runs of journal ``shards``, then of the files pool workers ``handed`` over
    (:mod:`~distenv.storage.handover`), to a trajectory group of the main file, each table
    once for all of them (their run-table rows and errors also to ``incorporated``).
    ``guard(shard)`` wraps the reading of each shard (a merge names the file in errors)."""
    deferred = column_tables.DeferredAppends()
    for shard in shards:
        with open_for_reading(shard) as source, \
                (guard(shard) if guard is not None else contextlib.nullcontext()):
            if trajectory_name not in source.root:
                raise CorruptFileError("journal shard %s holds no trajectory %r"
                                       % (shard, trajectory_name))
            copy_runs(h5, group, source.root._f_get_child(trajectory_name), ctx, wildcards,
                      deferred, incorporated)
    for path in handed:
        runs, errors, columns = handover.read(path)
        _take_run_rows(h5, group, runs, errors, ctx, deferred, incorporated)
        for entry in columns:
            for due in deferred.add(*entry):
                _write_column(h5, group, *due, ctx, wildcards)
    _write_deferred(h5, group, deferred, ctx, wildcards)


def copy_runs(h5: tables.File, group: tables.Group, source: tables.Group, ctx: Context,
              wildcards: Any, deferred: column_tables.DeferredAppends,
              incorporated: IncorporatedRows | None = None) -> None:
    """Take in what one journal shard holds: its errors, irregular values and other leaves
    are written now, its run-table and column rows kept in ``deferred`` (written by
    :func:`_write_deferred` after the last shard); the run-table rows and errors also go to
    ``incorporated``."""
    runs = source._f_get_child(layout.RUN_TABLE).read() if layout.RUN_TABLE in source else None
    errors = source._f_get_child(layout.ERROR_TABLE).read() \
        if layout.ERROR_TABLE in source else None
    _take_run_rows(h5, group, runs, errors, ctx, deferred, incorporated)
    for table in column_tables.iter_column_tables(source):
        for entry in deferred.add(*column_tables.read_column(table)):
            _write_column(h5, group, *entry, ctx, wildcards)
    irregular = layout.read_irregular_index(source)
    if irregular:
        _copy_irregular(h5, group, source, irregular, ctx)
    for leaf_group in layout.iter_leaf_groups(source):
        relative = leaf_group._v_pathname[len(source._v_pathname) + 1:]
        if relative.split("/")[0] in layout.RESERVED:
            continue
        location, _, name = relative.rpartition("/")
        parent = layout.ensure_group(h5, group, location) if location else group
        if name not in parent:
            leaf_group._f_copy(newparent=parent, newname=name, recursive=True, filters=ctx.filters)


def _take_run_rows(h5: tables.File, group: tables.Group, runs: np.ndarray | None,
                   errors: np.ndarray | None, ctx: Context,
                   deferred: column_tables.DeferredAppends,
                   incorporated: IncorporatedRows | None) -> None:
    """Run-table rows into ``deferred``, error rows into the error table at once (both also
    into ``incorporated``)."""
    if runs is not None and len(runs):
        deferred.run_rows.append(runs)
        if incorporated is not None:
            incorporated.parts.append(runs)
    if errors is not None and len(errors):
        layout.append_error_rows(h5, group, errors, ctx.bookkeeping_filters)
        if incorporated is not None:
            incorporated.errors.update((int(index), text.decode("utf-8", "replace"))
                                       for index, text in errors.tolist())


def _write_column(h5: tables.File, group: tables.Group, meta: dict, run_index: np.ndarray,
                  arrays: dict, ctx: Context, wildcards: Any) -> None:
    if not column_tables.append_column(h5, group, meta["key"], meta["leaf_class"],
                                       meta["comment"], meta["signatures"], run_index, arrays,
                                       ctx):
        _columns_to_irregular(h5, group, meta, run_index, arrays, ctx, wildcards)


def _write_deferred(h5: tables.File, group: tables.Group,
                    deferred: column_tables.DeferredAppends, ctx: Context,
                    wildcards: Any) -> None:
    """Append what :func:`copy_runs` kept in ``deferred``: each table once, the compression
    of one table overlapping the making of the next (:func:`chunks.overlapped`)."""
    with chunks.overlapped():
        if deferred.run_rows:
            parts = deferred.run_rows
            if len(parts) > 1:
                dtype = layout.run_row_dtype(layout.run_string_widths(*(part.dtype
                                                                        for part in parts)))
                parts = [np.concatenate([part.astype(dtype) for part in parts])]
            layout.append_run_table(h5, group, parts[0], ctx.bookkeeping_filters)
        for entry in deferred.columns():
            _write_column(h5, group, *entry, ctx, wildcards)


def _copy_irregular(h5: tables.File, group: tables.Group, source: tables.Group,
                    rows: list[tuple[str, int, str]], ctx: Context) -> None:
    for _, _, path in rows:
        node = source._v_file.get_node(source, path)
        location, _, name = path.rpartition("/")
        parent = layout.ensure_group(h5, group, location)
        if name in parent:
            h5.remove_node(parent, name, recursive=True)
        node._f_copy(newparent=parent, newname=name, recursive=True, filters=ctx.filters)
    layout.append_irregular_index(h5, group, rows, ctx)


def _columns_to_irregular(h5: tables.File, group: tables.Group, meta: dict,
                          run_index: np.ndarray, arrays: dict, ctx: Context,
                          wildcards: Any) -> None:
    """Rows that do not fit the main file's column (another type) are kept per run."""
    from distenv.trajectory.columns import unpack
    values = {item: unpack(meta["signatures"][item], array, meta["encoding"])
              for item, array in arrays.items()}
    for position, index in enumerate(run_index.tolist()):
        items = {item: column[position] for item, column in values.items()}
        layout.write_irregular(h5, group, meta["key"], index, wildcards.run_name(index),
                               wildcards.set_name(index), meta["leaf_class"], meta["comment"],
                               items, ctx)
