"""Overview tables: a quick look at a trajectory for people browsing the file.

For eye-balling only (as in pypet): never relied upon, brought up to date on every store (a
table whose content did not change is left as it is), at most
:data:`~distenv.constants.OVERVIEW_MAX_ROWS` rows each.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import tables

from distenv.constants import OVERVIEW_MAX_ROWS
from distenv.storage import chunks, column_tables, layout

_TEXT = 128
#: Narrowest text column: a table whose texts still fit is rewritten in place by the next
#: store (a new width means removing the table, and removing a node flushes the whole file).
_MIN_WIDTH = 64


def write_overview(h5: tables.File, group: tables.Group, traj: Any, service: Any,
                   own_leaves: dict[str, list] | None = None) -> None:
    """Bring the overview of ``traj`` up to date; ``own_leaves`` (branch -> leaves) stands in for the
    trajectory's own leaves when there is no tree in memory (a merge)."""
    if layout.OVERVIEW in group:
        target = group._f_get_child(layout.OVERVIEW)
    else:
        target = h5.create_group(group, layout.OVERVIEW, "eye-balling only; never rely on it")
    writer = _Writer(h5, target, service.filters)
    _table(writer, "info", [("name", traj._name), ("time", traj._time),
                            ("comment", traj._comment), ("runs", str(traj._length)),
                            ("explored", ", ".join(traj._explored))], ("key", "value"))
    _table(writer, "explorations", [(name,) for name in traj._explored], ("name",))
    if service.small_overview_tables:  # as pypet's: the trajectory's own leaves, not per run
        own = _own_leaves(traj) if own_leaves is None else own_leaves
        for branch in ("config", "parameters", "derived_parameters", "results"):
            rows = [_leaf_row(leaf) for leaf in own[branch]]
            _table(writer, "%s_overview" % branch, rows,
                   ("name", "leaf_class", "value", "comment"))
        explored = [(name, _text(repr(list(parameter._explored_range[:_TEXT]))))
                    for name, parameter in traj._explored.items()]  # no repr of 1M values
        _table(writer, "explored_parameters_overview", explored, ("name", "range"))
    if service.summary_tables or service.large_overview_tables:
        per_run = _per_run_rows(group)
        if service.summary_tables:
            for branch in ("results", "derived_parameters"):
                first_of_comment: dict = {}
                for key, leaf_class, comment in per_run:
                    if key.startswith(branch + ".") and comment not in first_of_comment:
                        first_of_comment[comment] = (key, leaf_class, comment)
                _table(writer, "%s_runs_summary" % branch, list(first_of_comment.values()),
                       ("key", "leaf_class", "comment"))
        if service.large_overview_tables:
            for branch in ("results", "derived_parameters"):
                rows = [row for row in per_run if row[0].startswith(branch + ".")]
                _table(writer, "%s_runs_overview" % branch, rows, ("key", "leaf_class", "comment"),
                       expectedrows=max(1, service.results_per_run))
    _run_overview(group, writer)
    writer.finish()


class _Writer:
    """Writes the overview tables of one store into ``target``. A table whose content is the
    same as the stored one is left as it is (the group's ``DIGESTS`` attribute maps each table
    to a digest of its content, so unchanged tables are not even opened): a store after more
    runs rewrites only the run overview (creating or opening a table costs ~1 ms each)."""

    def __init__(self, h5: tables.File, target: tables.Group, filters: tables.Filters):
        self.h5, self.target, self.filters = h5, target, filters
        attrs = target._v_attrs
        self.stored: dict[str, str] = json.loads(attrs.DIGESTS) if "DIGESTS" in attrs else {}
        self.digests: dict[str, str] = {}

    def write(self, name: str, data: np.ndarray, expectedrows: int = 0) -> None:
        digest = hashlib.blake2b(str(data.dtype.descr).encode() + data.tobytes(),
                                 digest_size=16).hexdigest()
        self.digests[name] = digest
        target = self.target
        if name in target:
            if self.stored.get(name) == digest:
                return
            table = target._f_get_child(name)
            if isinstance(table, tables.Table) and table.dtype == data.dtype:
                table.truncate(0)  # rewritten in place: removing a node flushes the file
                table.append(data)
                return
            self.h5.remove_node(target, name, recursive=True)
        self.h5.create_table(target, name, obj=data, filters=self.filters,
                             chunkshape=chunks.small_chunkshape(max(len(data), expectedrows),
                                                                data.dtype.itemsize))

    def finish(self) -> None:
        """Remove the tables this store did not write; remember the digests."""
        for name in set(self.target._v_children) - set(self.digests):
            self.h5.remove_node(self.target, name, recursive=True)
        self.target._v_attrs.DIGESTS = json.dumps(self.digests, sort_keys=True)


def _own_leaves(traj: Any) -> dict[str, list]:
    """Leaves in memory per branch, without per-run ones (those are in the large tables),
    at most :data:`OVERVIEW_MAX_ROWS` each. Per-run leaves held in columns are not even made."""
    own: dict[str, list] = {branch: [] for branch in
                            ("config", "parameters", "derived_parameters", "results")}
    for name, node in traj._nodes.items():
        if not node.v_is_leaf:
            continue
        rows = own.get(name.partition(".")[0])
        if rows is not None and len(rows) < OVERVIEW_MAX_ROWS and \
                not traj._parse_run_path(name):
            rows.append(node)
    return own


def _text(value: str) -> str:
    return value if len(value) <= _TEXT else value[: _TEXT - 3] + "..."


def _leaf_row(leaf: Any) -> tuple:
    try:
        value = leaf.f_val_to_str()
    except Exception:  # a broken __repr__ must not stop storing
        value = "?"
    return (leaf._full_name, type(leaf).__name__, _text(value), _text(leaf._comment))


def _per_run_rows(group: tables.Group) -> list[tuple]:
    rows = []
    for table in column_tables.iter_column_tables(group):
        attrs = table._v_attrs
        rows.append((attrs[layout.COLUMN_ATTR], attrs[layout.LEAF_ATTR],
                     attrs[layout.COMMENT_ATTR]))
    if layout.IRREGULAR_INDEX in group:  # keys held only per run (dicts, frames, ...)
        index = group._f_get_child(layout.IRREGULAR_INDEX)
        keys, first = np.unique(index.col("key"), return_index=True)
        known = {row[0] for row in rows}
        for key, position in sorted(zip(keys.tolist(), first.tolist()), key=lambda kp: kp[1]):
            if key.decode("utf-8") in known or len(rows) >= OVERVIEW_MAX_ROWS:
                continue
            node = group._v_file.get_node(group, index[position]["path"].decode("utf-8"))
            rows.append((key.decode("utf-8"), node._v_attrs[layout.LEAF_ATTR],
                         node._v_attrs[layout.COMMENT_ATTR]))
    return rows[:OVERVIEW_MAX_ROWS]


def _run_overview(group: tables.Group, writer: _Writer) -> None:
    if layout.RUN_TABLE not in group:
        return
    table = group._f_get_child(layout.RUN_TABLE)
    writer.write("runs", table.read(stop=OVERVIEW_MAX_ROWS))


def _table(writer: "_Writer", name: str, rows: list, columns: tuple,
           expectedrows: int = 0) -> None:
    rows = rows[:OVERVIEW_MAX_ROWS]
    encoded = [tuple(str(cell).encode("utf-8", "replace")[:1024] for cell in row) for row in rows]
    widths = [max([len(row[i]) for row in encoded] + [_MIN_WIDTH]) for i in range(len(columns))]
    dtype = np.dtype([(column, "S%d" % width) for column, width in zip(columns, widths)])
    data = np.array(encoded, dtype=dtype) if encoded else np.empty(0, dtype=dtype)
    writer.write(name, data, expectedrows)
