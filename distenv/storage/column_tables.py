"""Column tables: the per-run values of one key, one table with a row per run.

``.../crun/<leaf>`` below a trajectory group holds ``run_index`` and one column per item of
the leaf; its attributes name the key, the leaf class, the comment and the item signatures.
The trajectory group lists its column tables (:data:`COLUMN_INDEX_ATTR`) so that nobody has to
walk the tree to find them.
"""

from __future__ import annotations

import json
from typing import Iterable

import numpy as np
import tables

from distenv.storage import chunks
from distenv.storage.codecs import Context
from distenv.storage.layout import (COLUMN_ATTR, COMMENT_ATTR, FORMAT_ATTR, INDEX_COLUMN,
                                    LEAF_ATTR, ensure_group, node_path, reserved_below,
                                    sig_from_attr, sig_to_attr)

#: On a trajectory group: JSON list of its column tables' paths (relative to the group), so
#: that finding them does not open every node of the tree (0.03-0.1 s per walk). A group
#: without it (older files, merge targets) is walked; the index is then built on first use.
COLUMN_INDEX_ATTR = "DISTENV_COLUMN_TABLES"
_COLUMN_INDEX_MAX_CHARS = 60_000  # HDF5 compact attributes hold 64 KiB; beyond, walk instead


def start_column_index(traj_group: tables.Group) -> None:
    """A new trajectory group: no column tables yet (see :data:`COLUMN_INDEX_ATTR`)."""
    traj_group._v_attrs[COLUMN_INDEX_ATTR] = "[]"


def _column_index(group: tables.Group) -> list[str] | None:
    """The indexed paths; ``None`` when the group must be walked (no index, or too large:
    then the attribute holds ``null``)."""
    attrs = group._v_attrs
    if FORMAT_ATTR not in attrs or COLUMN_INDEX_ATTR not in attrs:
        return None
    return json.loads(attrs[COLUMN_INDEX_ATTR])


def _index_column(traj_group: tables.Group, table: tables.Table) -> None:
    attrs = traj_group._v_attrs
    if FORMAT_ATTR not in attrs:
        return
    paths = _column_index(traj_group)
    if paths is None and COLUMN_INDEX_ATTR in attrs:
        return  # too many columns for an attribute: always walked
    if paths is None:  # written without the index: index what is there (the new table too)
        prefix = len(traj_group._v_pathname) + 1
        paths = [found._v_pathname[prefix:] for found in _walk_column_tables(traj_group)]
    relative = table._v_pathname[len(traj_group._v_pathname) + 1:]
    if relative not in paths:
        paths.append(relative)
    text = json.dumps(paths)
    attrs[COLUMN_INDEX_ATTR] = text if len(text) <= _COLUMN_INDEX_MAX_CHARS else "null"


def iter_column_tables(group: tables.Group) -> Iterable[tables.Table]:
    """Per-run column tables below ``group``: never inside leaves or run bookkeeping (the
    per-run groups of irregular values), whose nodes are not even opened. A trajectory group
    that indexes its column tables is not walked."""
    paths = _column_index(group)
    if paths is None:
        yield from _walk_column_tables(group)
        return
    h5 = group._v_file
    for relative in paths:
        try:
            node = h5.get_node(group, relative)
        except tables.NoSuchNodeError:  # removed since
            continue
        if isinstance(node, tables.Table) and COLUMN_ATTR in node._v_attrs:
            yield node


def _walk_column_tables(group: tables.Group) -> Iterable[tables.Table]:
    reserved = reserved_below(group)
    stack = [group]
    while stack:
        current = stack.pop()
        for name in list(current._v_groups):
            if current is group and name in reserved:
                continue
            child = current._f_get_child(name)
            if LEAF_ATTR not in child._v_attrs:
                stack.append(child)
        for name in list(current._v_leaves):
            node = current._f_get_child(name)
            if isinstance(node, tables.Table) and COLUMN_ATTR in node._v_attrs:
                yield node


def append_column(h5: tables.File, traj_group: tables.Group, key: str, leaf_class: str,
                  comment: str, signatures: dict, run_index: np.ndarray, arrays: dict,
                  ctx: Context, expectedrows: int = 10000) -> bool:
    """Append rows to the column table of ``key``; ``False`` if they do not fit its schema."""
    location, _, name = node_path(key).rpartition("/")
    parent = ensure_group(h5, traj_group, location)
    count = len(run_index)
    if name in parent:
        table = parent._f_get_child(name)
        if not isinstance(table, tables.Table) or COLUMN_ATTR not in table._v_attrs:
            return False
        stored = {item: sig_from_attr(text) for item, text in
                  json.loads(table._v_attrs.SIGNATURES).items()}
        if stored != signatures or table._v_attrs[LEAF_ATTR] != leaf_class or \
                table._v_attrs[COMMENT_ATTR] != comment:
            return False
        wider = [item for item, array in arrays.items() if array.dtype.kind == "S" and
                 array.dtype.itemsize > table.coldtypes[item].itemsize]
        if wider:
            table = _widen(h5, table, {item: arrays[item].dtype for item in wider})
    else:
        table = None
    data = np.empty(count, dtype=_row_dtype(arrays, table))
    data[INDEX_COLUMN] = run_index
    for item, array in arrays.items():
        data[item] = array
    if table is None:
        table = chunks.create_table(h5, parent, name, data, ctx.filters, expectedrows)
        attrs = table._v_attrs
        attrs[COLUMN_ATTR] = key
        attrs[LEAF_ATTR] = leaf_class
        attrs[COMMENT_ATTR] = comment
        attrs.SIGNATURES = json.dumps({item: sig_to_attr(sig) for item, sig in signatures.items()})
        attrs.ENCODING = ctx.encoding
        _index_column(traj_group, table)
    else:
        chunks.append_rows(table, data)
    return True


def _row_dtype(arrays: dict, table: tables.Table | None) -> np.dtype:
    if table is not None:
        return table.dtype
    fields = [(INDEX_COLUMN, np.int64)]
    for item, array in arrays.items():
        fields.append((item, array.dtype, array.shape[1:]) if array.ndim > 1 else
                      (item, array.dtype))
    return np.dtype(fields)


def _widen(h5: tables.File, table: tables.Table, wider: dict) -> tables.Table:
    """Recreate a column table with wider string columns (old rows kept)."""
    old = table.read()
    fields = [(name, wider.get(name, old.dtype[name].base), old.dtype[name].shape)
              for name in old.dtype.names]
    new = np.empty(len(old), dtype=fields)
    for name in old.dtype.names:
        new[name] = old[name]
    parent, name = table._v_parent, table._v_name
    attrs = {key: table._v_attrs[key] for key in table._v_attrs._f_list("user")}
    filters = table.filters
    table._f_remove()
    created = h5.create_table(parent, name, obj=new, filters=filters)
    for key, value in attrs.items():
        created._v_attrs[key] = value
    return created


def read_column(table: tables.Table) -> tuple[dict, np.ndarray, dict]:
    """``(meta, run_index, {item: array})`` of a column table."""
    meta = column_meta(table)
    data = table.read()
    return meta, data[INDEX_COLUMN], {item: data[item] for item in meta["signatures"]}


def column_meta(table: tables.Table) -> dict:
    attrs = table._v_attrs
    return {"key": attrs[COLUMN_ATTR], "leaf_class": attrs[LEAF_ATTR],
            "comment": attrs[COMMENT_ATTR], "encoding": getattr(attrs, "ENCODING", "utf-8"),
            "signatures": {item: sig_from_attr(text) for item, text in
                           json.loads(attrs.SIGNATURES).items()}}


def schema(meta: dict) -> tuple:
    """What rows of a column must share to go into one table (as :func:`append_column`
    checks it): leaf class, comment and the signature of every item."""
    return meta["leaf_class"], meta["comment"], sig_to_attr(sorted(meta["signatures"].items()))


class DeferredAppends:
    """The run-table rows and column rows of several journal shards, so that a compaction
    appends each table once (fewer HDF5 calls, and whole chunks for
    :func:`~distenv.storage.chunks.append_rows`) instead of once per shard.

    Rows of a key whose :func:`schema` changes from one shard to
    the next are handed back by :meth:`add` to be written before the new ones are kept, so
    the order of the writes, and what fits the stored table, are what they were per shard.
    """

    def __init__(self) -> None:
        self.run_rows: list[np.ndarray] = []
        self._columns: dict[str, tuple[dict, list[np.ndarray], list[dict]]] = {}

    def add(self, meta: dict, run_index: np.ndarray,
            arrays: dict) -> list[tuple[dict, np.ndarray, dict]]:
        """Keep one shard's rows of a column; returns the rows to write now (if any)."""
        due = []
        kept = self._columns.get(meta["key"])
        if kept is not None and schema(kept[0]) != schema(meta):
            due.append(self._joined(self._columns.pop(meta["key"])))
            kept = None
        if kept is None:
            self._columns[meta["key"]] = (meta, [run_index], [arrays])
        else:
            kept[1].append(run_index)
            kept[2].append(arrays)
        return due

    def columns(self) -> list[tuple[dict, np.ndarray, dict]]:
        """Every column's kept rows, joined (in the order the keys came)."""
        joined = [self._joined(entry) for entry in self._columns.values()]
        self._columns = {}
        return joined

    @staticmethod
    def _joined(entry: tuple[dict, list[np.ndarray], list[dict]]) -> tuple[dict, np.ndarray, dict]:
        meta, indices, parts = entry
        if len(parts) == 1:
            return meta, indices[0], parts[0]
        return meta, np.concatenate(indices), {item: np.concatenate([part[item] for part in parts])
                                               for item in parts[0]}
