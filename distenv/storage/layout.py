"""Where things live in the HDF5 file, and how leaves, runs and columns are written.

::

    /<trajectory>                      group; attrs: format version, comment, length, ...
        config/ parameters/ derived_parameters/ results/
            <group>/<leaf>             a leaf is a group: attrs DISTENV_LEAF (class) and
                                       DISTENV_COMMENT; one node per item (codecs.py)
            .../crun/<leaf>            per-run values of ``...$.<leaf>``: ONE table, a row per
                                       run (``run_index`` + one column per item; column_tables.py)
        run_table                      index, status, start, finish, runtime, pid, host, env
        run_errors                     index, error text of failed runs
        _irregular/<set>/<run>/...     per-run values that do not fit their column
        irregular_index                (key, run index) of every irregular value
        journal_log                    names of journal shards already compacted into the file
        overview/                      eye-balling tables (at most 1000 rows each)
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import tables

from distenv.constants import default_run_name
from distenv.storage import chunks
from distenv.storage.codecs import (INLINE_ATTR, KIND, Context, inline_types, read_inline,
                                    read_item, write_inline, write_item)
from distenv.trajectory.columns import common_signature, pack, unpack

FORMAT_ATTR = "DISTENV_FORMAT"
LEAF_ATTR = "DISTENV_LEAF"
COMMENT_ATTR = "DISTENV_COMMENT"
COLUMN_ATTR = "DISTENV_COLUMN"
RUN_TABLE = "run_table"
ERROR_TABLE = "run_errors"
IRREGULAR = "_irregular"
IRREGULAR_INDEX = "irregular_index"
JOURNAL_LOG = "journal_log"
RUN_NAMES = "run_names"
OVERVIEW = "overview"
RESERVED = {RUN_TABLE, ERROR_TABLE, IRREGULAR, IRREGULAR_INDEX, JOURNAL_LOG, RUN_NAMES, OVERVIEW}
MAX_ERROR_BYTES = 16384
#: The rows of the error table (:class:`ErrorRow`) as a numpy dtype.
ERROR_DTYPE = np.dtype([("index", np.int64), ("error", "S%d" % MAX_ERROR_BYTES)])
INDEX_COLUMN = "run_index"


#: Run-table columns; the three string columns are as wide as their longest value (at most
#: :data:`RUN_STRING_LIMITS` bytes) and widen when a longer one is appended: a fixed 64-byte
#: name and host made 185-byte rows, most of the run table's size and of its write and read
#: time (files written with the fixed widths read and append the same).
RUN_FIELDS = (("index", "<i8"), ("name", "S"), ("status", "i1"), ("start", "<f8"),
              ("finish", "<f8"), ("runtime", "<f8"), ("pid", "<i8"), ("host", "S"),
              ("env_hash", "S"))
RUN_STRING_LIMITS = {"name": 64, "host": 64, "env_hash": 16}


def run_row_dtype(widths: dict[str, int]) -> np.dtype:
    """The run table's row type with string columns of ``widths`` bytes (at least 1)."""
    return np.dtype([(name, "S%d" % max(1, widths[name]) if kind == "S" else kind)
                     for name, kind in RUN_FIELDS])


def run_string_widths(*dtypes: np.dtype, **at_least: int) -> dict[str, int]:
    """Widths of the run table's string columns that hold the values of rows of every one of
    ``dtypes`` (and strings of ``at_least[name]`` bytes): never narrower than any of them."""
    return {name: max([dtype[name].itemsize for dtype in dtypes] + [at_least.get(name, 0)])
            for name in RUN_STRING_LIMITS}


def run_names(indices: Sequence[int], run_name: Callable[[int], str]) -> np.ndarray | tuple:
    """The names of runs ``indices``: ``run_%08d`` as an array of bytes made at C speed for
    the default names (formatting each took ~0.3 us, in the exit of every pool worker),
    else ``run_name`` of each."""
    if run_name is default_run_name and len(indices):
        index = np.fromiter(indices, dtype=np.int64, count=len(indices))
        if 0 <= index.min() and index.max() < 10 ** 8:
            names = np.empty((len(index), 12), dtype=np.uint8)
            names[:, :4] = np.frombuffer(b"run_", dtype=np.uint8)
            rest = index.astype(np.uint32)
            for column in range(11, 3, -1):  # the digits, last first
                names[:, column] = rest % 10 + ord("0")
                rest //= 10
            return names.view("S12").ravel()
    return tuple(map(run_name, indices))


def _encoded(values: Sequence[str] | np.ndarray, limit: int) -> np.ndarray:
    """Strings as UTF-8 bytes, cut to ``limit`` bytes, in an array as wide as the longest
    (a column of one repeated value, as a process's host and environment hash, is made
    from that one value); an array of bytes is taken as it is."""
    if isinstance(values, np.ndarray):
        return values if values.dtype.itemsize <= limit else values.astype("S%d" % limit)
    if len(values) > 1 and values.count(values[0]) == len(values):
        return np.full(len(values), _encoded([values[0]], limit)[0])
    try:
        array = np.array(values, dtype="S")
    except UnicodeEncodeError:
        array = np.array([value.encode("utf-8", "replace") for value in values], dtype="S")
    if array.dtype.itemsize > limit:
        array = array.astype("S%d" % limit)
    return array


def run_table_rows(traj_group: tables.Group) -> int:
    """Rows of the run table of a trajectory group (0 without one)."""
    return traj_group._f_get_child(RUN_TABLE).nrows if RUN_TABLE in traj_group else 0


def append_run_table(h5: tables.File, traj_group: tables.Group, data: np.ndarray,
                     filters: tables.Filters) -> None:
    """Append run-table rows, creating the table or widening its string columns first so
    that no value is cut (rows may come with any widths: shards, older files, merges)."""
    if not len(data):
        return
    if RUN_TABLE not in traj_group:
        chunks.create_table(h5, traj_group, RUN_TABLE, data, filters, 10000, title="run table")
        return
    table = traj_group._f_get_child(RUN_TABLE)
    stored = table.dtype
    widths = run_string_widths(stored, data.dtype)
    if any(widths[name] > stored[name].itemsize for name in widths):
        rows = table.read().astype(run_row_dtype(widths))
        table_filters, title = table.filters, table.title
        table._f_remove()
        table = h5.create_table(traj_group, RUN_TABLE, obj=rows, title=title,
                                filters=table_filters,
                                expectedrows=max(len(rows) + len(data), 10000))
    chunks.append_rows(table, data if data.dtype == table.dtype else data.astype(table.dtype))


class ErrorRow(tables.IsDescription):
    index = tables.Int64Col(pos=0)
    error = tables.StringCol(MAX_ERROR_BYTES, pos=1)


class IrregularRow(tables.IsDescription):
    key = tables.StringCol(512, pos=0)
    index = tables.Int64Col(pos=1)
    path = tables.StringCol(1024, pos=2)


class JournalRow(tables.IsDescription):
    shard = tables.StringCol(255, pos=0)


def node_path(full_name: str) -> str:
    """HDF5 path (relative to the trajectory group) of a full name or column key."""
    return "/".join("crun" if seg == "$" else "crunset" if seg == "$set" else seg
                    for seg in full_name.split("."))


def key_of_path(path: str) -> str:
    return ".".join("$" if seg == "crun" else "$set" if seg == "crunset" else seg
                    for seg in path.strip("/").split("/"))


def sig_to_attr(sig: tuple) -> str:
    return json.dumps(sig)


def sig_from_attr(text: str) -> tuple:
    return tuple(tuple(part) if isinstance(part, list) else part for part in json.loads(text))


def ensure_group(h5: tables.File, parent: tables.Group, path: str) -> tables.Group:
    node = parent
    for segment in path.split("/"):
        if segment in node:
            node = node._f_get_child(segment)
        else:
            node = h5.create_group(node, segment)
    return node


# -- static leaves -----------------------------------------------------------------------------
def write_leaf(h5: tables.File, traj_group: tables.Group, leaf: Any, ctx: Context,
               replace: bool = True) -> None:
    """Write a parameter or result as a group of items (replacing an older copy)."""
    location, _, name = node_path(leaf._full_name).rpartition("/")
    parent = ensure_group(h5, traj_group, location) if location else traj_group
    if name in parent:
        if not replace:
            return
        h5.remove_node(parent, name, recursive=True)
    group = h5.create_group(parent, name)
    group._v_attrs[LEAF_ATTR] = type(leaf).__name__
    group._v_attrs[COMMENT_ATTR] = leaf._comment
    pickle_only = type(leaf).__name__.startswith("Pickle")
    if leaf._full_name.startswith("config.") and not pickle_only:
        items = _plain_items(leaf)
        types = inline_types(items) if items is not None else None
        if types is not None:  # small metadata: attributes of the group (codecs.inline_types)
            write_inline(group, items, types)
            return
    item_ctx = Context(ctx.filters, ctx.encoding, ctx.pandas_format, pickle_only=pickle_only)
    if hasattr(leaf, "_explored_range"):
        if leaf._data is not None:
            write_item(h5, group, "data", leaf._data, item_ctx)
        if leaf._explored_range is not None:
            write_range(h5, group, "explored_data", leaf._explored_range, item_ctx)
    else:
        for item_name, value in leaf._data.items():
            write_item(h5, group, item_name, value, item_ctx)


def _plain_items(leaf: Any) -> dict | None:
    """The items of ``leaf`` as :func:`write_leaf` stores them (``None``: a parameter with an
    explored range)."""
    if hasattr(leaf, "_explored_range"):
        if leaf._explored_range is not None:
            return None
        return {} if leaf._data is None else {"data": leaf._data}
    return dict(leaf._data)


def read_leaf_items(group: tables.Group, ctx: Context | None = None) -> dict:
    """Items of a leaf group (parameters: ``data`` and ``explored_data``)."""
    items = read_inline(group) if INLINE_ATTR in group._v_attrs else {}
    for child in group._f_iter_nodes():
        if child._v_name == "explored_data" and child._v_attrs[KIND] == "range":
            items["explored_data"] = read_range(child, ctx)
        else:
            items[child._v_name] = read_item(child, ctx)
    return items


def is_leaf_group(node: tables.Node) -> bool:
    return isinstance(node, tables.Group) and LEAF_ATTR in node._v_attrs


def reserved_below(group: tables.Group) -> frozenset | set:
    """Names of run bookkeeping -- only directly below a trajectory group; deeper down they
    are ordinary user names (``results.overview.mean``)."""
    return RESERVED if FORMAT_ATTR in group._v_attrs else frozenset()


def iter_leaf_groups(group: tables.Group) -> Iterable[tables.Group]:
    """Leaf groups below ``group`` (not descending into leaves, columns or run bookkeeping)."""
    reserved = reserved_below(group)
    stack = [group]
    while stack:
        current = stack.pop()
        for child in current._f_iter_nodes():
            if isinstance(child, tables.Group):
                if LEAF_ATTR in child._v_attrs:
                    yield child
                elif current is not group or child._v_name not in reserved:
                    stack.append(child)


# -- explored ranges ---------------------------------------------------------------------------
def write_range(h5: tables.File, group: tables.Group, name: str, values: list, ctx: Context) -> None:
    sig = None if ctx.pickle_only else common_signature(values)
    if sig is not None:
        column = pack(sig, values, ctx.encoding)
        node = (h5.create_carray(group, name, obj=column, filters=ctx.filters)
                if column.size else h5.create_array(group, name, obj=column))
        node._v_attrs[KIND] = "range"
        node._v_attrs.SIGNATURE = sig_to_attr(sig)
        return
    node = h5.create_group(group, name)
    node._v_attrs[KIND] = "range"
    node._v_attrs.LENGTH = len(values)
    for position, value in enumerate(values):
        write_item(h5, node, "e%08d" % position, value, ctx)


def read_range(node: tables.Node, ctx: Context | None = None) -> list:
    encoding = ctx.encoding if ctx is not None else "utf-8"
    if isinstance(node, tables.Group):
        return [read_item(node._f_get_child("e%08d" % position), ctx)
                for position in range(int(node._v_attrs.LENGTH))]
    return unpack(sig_from_attr(node._v_attrs.SIGNATURE), node.read(), encoding)


# -- runs --------------------------------------------------------------------------------------
def append_run_rows(h5: tables.File, traj_group: tables.Group, rows: dict, ctx: Context) -> None:
    if not len(rows["index"]):
        return
    append_run_table(h5, traj_group, run_rows_array(rows), ctx.filters)
    errors = error_rows(rows)
    if len(errors):
        append_error_rows(h5, traj_group, errors, ctx.filters)


def run_rows_array(rows: dict) -> np.ndarray:
    """The run-table rows of ``RunBatch.rows`` (column-wise) as the table's structured array."""
    strings = {name: _encoded(rows[name], limit) for name, limit in RUN_STRING_LIMITS.items()}
    data = np.empty(len(rows["index"]), dtype=run_row_dtype({name: array.dtype.itemsize
                                                             for name, array in strings.items()}))
    for name in data.dtype.names:
        data[name] = strings[name] if name in strings else rows[name]
    return data


def error_rows(rows: dict) -> np.ndarray:
    """The error-table rows (:data:`ERROR_DTYPE`) of the failed runs among ``rows``."""
    messages = rows["error"]
    if messages.count("") == len(messages):  # no failed run: the common case
        return np.empty(0, dtype=ERROR_DTYPE)
    return np.array([(index, _clip(text)) for index, text in zip(rows["index"], messages)
                     if text], dtype=ERROR_DTYPE)


def append_error_rows(h5: tables.File, traj_group: tables.Group, errors: np.ndarray,
                      filters: tables.Filters) -> None:
    if ERROR_TABLE in traj_group:
        traj_group._f_get_child(ERROR_TABLE).append(errors)
    else:
        h5.create_table(traj_group, ERROR_TABLE, ErrorRow, "errors of failed runs",
                        filters=filters).append(errors)


def _clip(text: str) -> bytes:
    data = text.encode("utf-8", "replace")
    if len(data) <= MAX_ERROR_BYTES:
        return data
    marker = b"\n... [traceback shortened] ...\n"
    half = (MAX_ERROR_BYTES - len(marker)) // 2
    return data[:half] + marker + data[-half:]


def read_run_rows(traj_group: tables.Group) -> tuple[np.ndarray | None, dict[int, str]]:
    rows = traj_group._f_get_child(RUN_TABLE).read() if RUN_TABLE in traj_group else None
    errors: dict[int, str] = {}
    if ERROR_TABLE in traj_group:
        for index, text in traj_group._f_get_child(ERROR_TABLE).read().tolist():
            errors[int(index)] = text.decode("utf-8", "replace")
    return rows, errors


# -- irregular per-run values ------------------------------------------------------------------
def write_irregular(h5: tables.File, traj_group: tables.Group, key: str, run_index: int,
                    run_name: str, set_name: str, leaf_class: str, comment: str, items: dict,
                    ctx: Context) -> None:
    path = "%s/%s/%s/%s" % (IRREGULAR, set_name, run_name, node_path(key))
    location, _, name = path.rpartition("/")
    parent = ensure_group(h5, traj_group, location)
    if name in parent:
        h5.remove_node(parent, name, recursive=True)
    group = h5.create_group(parent, name)
    group._v_attrs[LEAF_ATTR] = leaf_class
    group._v_attrs[COMMENT_ATTR] = comment
    item_ctx = Context(ctx.filters, ctx.encoding, ctx.pandas_format,
                       pickle_only=leaf_class.startswith("Pickle"))
    for item_name, value in items.items():
        write_item(h5, group, item_name, value, item_ctx)
    append_irregular_index(h5, traj_group, [(key, run_index, path)], ctx)


def irregular_path(key: str, run_name: str, set_name: str) -> str:
    return "%s/%s/%s/%s" % (IRREGULAR, set_name, run_name, node_path(key))


def read_irregular_index(traj_group: tables.Group) -> list[tuple[str, int, str]]:
    """``(key, run index, path below the trajectory group)`` of every irregular value."""
    if IRREGULAR_INDEX not in traj_group:
        return []
    return [(key.decode("utf-8"), int(index), path.decode("utf-8")) for key, index, path in
            traj_group._f_get_child(IRREGULAR_INDEX).read().tolist()]


def append_irregular_index(h5: tables.File, traj_group: tables.Group,
                           rows: list[tuple[str, int, str]], ctx: Context) -> None:
    if IRREGULAR_INDEX in traj_group:
        table = traj_group._f_get_child(IRREGULAR_INDEX)
    else:
        table = h5.create_table(traj_group, IRREGULAR_INDEX, IrregularRow,
                                "per-run values stored per run", filters=ctx.filters)
    table.append([(key.encode("utf-8"), index, path.encode("utf-8")) for key, index, path in rows])


def read_journal_log(traj_group: tables.Group) -> set[str]:
    if JOURNAL_LOG not in traj_group:
        return set()
    return {name.decode("utf-8") for name in traj_group._f_get_child(JOURNAL_LOG).col("shard")}


def append_journal_log(h5: tables.File, traj_group: tables.Group, names: list[str]) -> None:
    if not names:
        return
    if JOURNAL_LOG in traj_group:
        table = traj_group._f_get_child(JOURNAL_LOG)
    else:
        table = h5.create_table(traj_group, JOURNAL_LOG, JournalRow,
                                "journal shards compacted into this file",
                                chunkshape=chunks.small_chunkshape(
                                    len(names), JournalRow.columns["shard"].itemsize))
    table.append([(name.encode("utf-8"),) for name in names])
