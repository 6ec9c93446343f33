"""One run-table row per run: dropping the rows that newer rows of the same run replaced.

A run that failed and is made again (``env.run`` once more, ``env.resume``) gets a second row
in the stored run table (``run_table``) when its journal shard is compacted: rows are only ever
appended. Loading always took the newest row of each run; these functions make the *stored*
table hold only that row, and the error table (``run_errors``) only the errors of runs whose
newest row is a failure.

Only a run that failed can be made again, and every failed run leaves a row in the error
table, so a file without an error table is never read further (the check costs nothing for
sweeps without failures).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tables

from distenv.constants import RUN_FAILED
from distenv.storage import layout
from distenv.storage.files import file_lock, open_for_reading, replacing


def newest_rows(run_index: np.ndarray, by_index: bool = False) -> np.ndarray | None:
    """Positions of the newest (last) row of every run, in table order (``by_index``: in
    run-index order); ``None`` when the rows need neither dropping nor reordering (every run
    has one row, and with ``by_index`` they are sorted already)."""
    if len(run_index) < 2 or bool(np.all(run_index[1:] > run_index[:-1])):
        return None
    unique, first_in_reverse = np.unique(run_index[::-1], return_index=True)
    if len(unique) == len(run_index) and not by_index:
        return None
    positions = len(run_index) - 1 - first_in_reverse  # in run-index order
    return positions if by_index else np.sort(positions)


def has_superseded_rows(traj_group: tables.Group) -> bool:
    """True when some run has more than one row in ``traj_group``'s run table."""
    if layout.ERROR_TABLE not in traj_group or layout.RUN_TABLE not in traj_group:
        return False
    run_index = traj_group._f_get_child(layout.RUN_TABLE).col("index")
    return newest_rows(run_index) is not None


def drop_superseded(traj_group: tables.Group) -> int:
    """Keep only the newest row of each run in the run table of ``traj_group`` (a writable
    file); drop errors of runs whose newest row is not a failure. Returns the rows dropped."""
    if not has_superseded_rows(traj_group):
        return 0
    table = traj_group._f_get_child(layout.RUN_TABLE)
    rows = table.read()
    keep = newest_rows(rows["index"])
    kept = rows[keep]
    table.truncate(0)
    table.append(kept)
    table.flush()
    failed = set(kept["index"][kept["status"] == RUN_FAILED].tolist())
    errors = traj_group._f_get_child(layout.ERROR_TABLE)
    error_rows = errors.read()
    newest_error: dict[int, int] = {}
    for position, index in enumerate(error_rows["index"].tolist() if len(error_rows) else []):
        if index in failed:
            newest_error[index] = position
    if newest_error:
        remaining = error_rows[np.sort(np.fromiter(newest_error.values(), dtype=np.int64))]
        errors.truncate(0)
        errors.append(remaining)
        errors.flush()
    else:
        errors._f_remove()
    return len(rows) - len(kept)


def drop_superseded_in_file(path: str | Path, trajectory_name: str, fsync: bool = True) -> int:
    """:func:`drop_superseded` for one trajectory of a file, as a new version of the file
    (under the file lock; the file is copied only when some run has several rows).

    Returns
    -------
    int
        The rows dropped (0 when nothing was to drop, or the file or trajectory is missing).
    """
    path = Path(path)
    if not path.exists():
        return 0
    with file_lock(path):
        with open_for_reading(path) as h5:
            if trajectory_name not in h5.root or \
                    not has_superseded_rows(h5.root._f_get_child(trajectory_name)):
                return 0
        with replacing(path, False, fsync) as h5:
            return drop_superseded(h5.root._f_get_child(trajectory_name))


def drop_superseded_of(traj: Any) -> int:
    """:func:`drop_superseded_in_file` for a stored trajectory (its storage service's file);
    0 for a service without files."""
    service = traj.v_storage_service
    if not hasattr(service, "filename_for"):
        return 0
    return drop_superseded_in_file(service.filename_for(traj.v_name), traj.v_name,
                                   getattr(service, "fsync", True))
