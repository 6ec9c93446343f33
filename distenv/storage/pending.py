"""A store in two steps: claim it (decide, check, lock), then write the file.

Every store of :class:`~distenv.storage.service.HDF5StorageService` goes through
:class:`PendingStore`. Usually both steps follow each other at once. A sweep on a pool splits
them so that the first store overlaps the first runs:

1. :meth:`HDF5StorageService.begin_store_trajectory` makes every decision and check that
   could refuse the store (:class:`~distenv.errors.TrajectoryExistsError`, an old namesake's
   journal set aside), takes the file's lock and marks the trajectory in memory as stored;
2. the workers are forked: they inherit a trajectory that is already "stored", so a run that
   stores in the worker (``traj.f_store()``) never recreates the file or sets the journal
   aside, and it waits on the file's lock until step 3 is done;
3. :meth:`PendingStore.write` writes the file while the workers run, then releases the lock.
   It leaves the journal alone (``take_in_journal=False``): the shards the workers write
   meanwhile -- a worker that is done may flush before this store writes -- are taken in by
   the sweep's last store, with every other shard, so the first store's cost does not depend
   on how far the runs got, and the runs the main process records all land in one store.

If step 3 fails, :meth:`PendingStore.abort` (called by ``write`` itself) puts the marks back,
so the trajectory is as if the store never happened; shards the workers wrote meanwhile hold
completed runs and are taken in by the next store (or set aside with the trajectory if it was
never stored). No fork happens while this process has the file open
(:func:`~distenv.storage.files.hdf5_section`).
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import tables

from distenv.errors import TrajectoryExistsError
from distenv.storage import journal, layout, overview
from distenv.storage.files import (file_lock, hdf5_section, remove_stale_temporaries,
                                   replacing)
from distenv.storage.runrows import newest_rows


class PendingStore:
    """A claimed store of ``leaves`` of ``traj``: the file's lock is held and the trajectory
    is marked stored in memory; :meth:`write` writes, :meth:`abort` gives up.

    Made by :meth:`~distenv.storage.service.HDF5StorageService.begin_store_trajectory` (and by
    every store, which writes at once); use each one exactly once.
    """

    def __init__(self, service: Any, traj: Any, leaves: list, only_init: bool,
                 take_in_journal: bool = True):
        self.service, self.traj, self.only_init = service, traj, only_init
        self.take_in_journal = take_in_journal
        path = self.path = service.filename_for(traj._name)
        self.run_leaves, self.static_leaves = [], []
        for leaf in leaves:
            (self.run_leaves if traj._parse_run_path(leaf._full_name)
             else self.static_leaves).append(leaf)
        self.fresh = service.overwrite_file and not service._overwritten
        new_here = not traj._stored
        if not self.fresh and new_here and path.exists():
            if traj._name in service.trajectory_names(traj._name):
                raise TrajectoryExistsError(
                    "trajectory %r already exists in %s; choose another name, use "
                    "add_time=True, or pass overwrite_file=True to replace the whole file"
                    % (traj._name, path))
        if new_here:  # new in this file: journal shards there are of an older namesake
            journal.set_aside(service.journal_dir(traj._name))
        self._held = contextlib.ExitStack()
        self._held.enter_context(file_lock(path))
        self._marks = ([(leaf, leaf._stored) for leaf in leaves], traj._stored,
                       traj._stored_range_lengths, service._overwritten)
        for leaf in leaves:
            leaf._stored = True
        traj._stored = True
        traj._stored_range_lengths = {name: len(parameter._explored_range)
                                      for name, parameter in traj._explored.items()}
        service._overwritten = True

    def abort(self) -> None:
        """Give the store up: release the lock, put the in-memory marks back."""
        leaves, self.traj._stored, self.traj._stored_range_lengths, \
            self.service._overwritten = self._marks
        for leaf, stored in leaves:
            leaf._stored = stored
        self._held.close()

    def write(self) -> None:
        """Write the file (compacting the journal into it) and release the lock; on failure
        :meth:`abort` and raise."""
        service, traj, path = self.service, self.traj, self.path
        try:
            with hdf5_section():
                if self.run_leaves:
                    service._journal_loose_leaves(traj, self.run_leaves)
                remove_stale_temporaries(path)
                with replacing(path, self.fresh, service.fsync, service.file_title or traj._name,
                               service.filters) as h5:
                    group = service._trajectory_group(h5, traj)
                    if not self.only_init:
                        for leaf in self.static_leaves:
                            layout.write_leaf(h5, group, leaf, service.ctx)
                        if not traj._default_run_names:
                            _write_run_names(h5, group, traj)
                    rows_before = layout.run_table_rows(group)
                    incorporated = IncorporatedRows()
                    done = service._incorporate_shards(
                        h5, group, traj._name, path, traj._wildcards, incorporated) \
                        if self.take_in_journal else []
                    rows_after = layout.run_table_rows(group)
                    overview.write_overview(h5, group, traj, service)
        except BaseException:
            self.abort()
            raise
        try:
            journal.remove_shards(done)  # listed in the new file: never taken in twice
        finally:
            self._held.close()
        if done or not traj._run_columns:
            current = traj._run_table.apply_stored_rows(incorporated.rows(), incorporated.errors,
                                                        rows_before, rows_after)
            with hdf5_section():
                service._attach_columns(traj, path, read_run_table=not current)


class IncorporatedRows:
    """The run-table rows and errors that :func:`~distenv.storage.service.copy_runs`
    appended, in the order appended."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.errors: dict[int, str] = {}

    def rows(self) -> np.ndarray | None:
        """The rows, the newest one only of a run made again (as the stored table keeps)."""
        if not self.parts:
            return None
        rows = np.concatenate(self.parts) if len(self.parts) > 1 else self.parts[0]
        newest = newest_rows(rows["index"])
        return rows if newest is None else rows[newest]


def _write_run_names(h5: tables.File, group: tables.Group, traj: Any) -> None:
    """The run names of a trajectory whose names are not the default ``run_%08d``."""
    if layout.RUN_NAMES in group:
        h5.remove_node(group, layout.RUN_NAMES)
    names = np.array([name.encode("utf-8") for name in traj.f_get_run_names()])
    h5.create_carray(group, layout.RUN_NAMES, obj=names, filters=traj._service().filters)
