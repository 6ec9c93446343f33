"""Reading trajectories: the main file plus any journal shards not yet compacted into it.

A trajectory whose writer was killed is read like any other: acknowledged runs still in
journal shards are merged in memory; nothing is written while loading.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import tables

from distenv.errors import NodeNotFoundError, StorageError, TrajectoryNotFoundError
from distenv.storage import column_tables, journal, layout
from distenv.storage.files import open_for_reading
from distenv.storage.runrows import newest_rows
from distenv.trajectory.columns import RunColumn, unpack
from distenv.trajectory.leaves import Parameter
from distenv.trajectory.runtable import RunTable

LOAD_NOTHING, LOAD_SKELETON, LOAD_DATA, OVERWRITE_DATA = 0, 1, 2, 3


def _check_level(name: str, level: Any) -> int:
    if level not in (0, 1, 2, 3) or isinstance(level, bool):
        raise ValueError("%s must be 0 (nothing), 1 (skeleton), 2 (data) or 3 (overwrite), "
                         "not %r" % (name, level))
    return level


def select_trajectory(h5: tables.File, path: Path, name: str | None, index: int | None) -> str:
    from distenv.storage.service import trajectory_names
    names = trajectory_names(h5)
    if not names:
        raise TrajectoryNotFoundError("file %s holds no distenv trajectory" % path)
    if name is None and index is None:
        if len(names) == 1:
            return names[0]
        raise TrajectoryNotFoundError("file %s holds several trajectories (%s); pass name= or "
                                      "index=" % (path, ", ".join(names)))
    if name is None:
        try:
            return names[index]
        except (IndexError, TypeError):
            raise TrajectoryNotFoundError("file %s has no trajectory at index %r; it holds %d: %s"
                                          % (path, index, len(names), ", ".join(names))) from None
    if name not in names:
        raise TrajectoryNotFoundError("file %s has no trajectory %r; it holds: %s"
                                      % (path, name, ", ".join(names)))
    return name


def load_into(service: Any, traj: Any, name: str | None = None, index: int | None = None,
              as_new: bool = False, load_parameters: int = 2, load_derived_parameters: int = 1,
              load_results: int = 1, load_other_data: int = 1,
              with_run_information: bool = True) -> None:
    """Load trajectory ``name`` (or number ``index``) from the service's file into ``traj``."""
    levels = {"config": _check_level("load_parameters", load_parameters),
              "parameters": load_parameters,
              "derived_parameters": _check_level("load_derived_parameters",
                                                 load_derived_parameters),
              "results": _check_level("load_results", load_results)}
    if as_new:
        levels["derived_parameters"] = levels["results"] = LOAD_NOTHING
    path = service.filename_for(name or traj._name)
    for attempt in range(5):
        before = _identity(path)
        _load_once(service, traj, path, name, index, levels, as_new, with_run_information)
        if _identity(path) == before:
            break  # no compaction replaced the file (and removed shards) while we read it
    traj._stored = not as_new
    if as_new:
        for leaf in traj.f_iter_leaves():
            leaf._stored = False


def _identity(path: Path) -> tuple:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return ()
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def _load_once(service: Any, traj: Any, path: Path, name: str | None, index: int | None,
               levels: dict, as_new: bool, with_run_information: bool) -> None:
    with open_for_reading(path) as h5:
        name = select_trajectory(h5, path, name, index)
        group = h5.root._f_get_child(name)
        attrs = group._v_attrs
        traj._name = name
        traj._comment = str(getattr(attrs, "COMMENT", ""))
        traj._timestamp = float(getattr(attrs, "TIMESTAMP", traj._timestamp))
        traj._time = str(getattr(attrs, "TIME", traj._time))
        for branch, level in levels.items():
            if level and branch in group:
                for leaf_group in layout.iter_leaf_groups(group._f_get_child(branch)):
                    _load_leaf(traj, group, leaf_group, level, service.ctx)
        explored = [str(full) for full in getattr(attrs, "EXPLORED", [])]
        traj._explored = {full: traj._nodes[full] for full in explored if full in traj._nodes}
        traj._stored_range_lengths = {full: len(parameter._explored_range or ())
                                      for full, parameter in traj._explored.items()}
        traj._length = int(getattr(attrs, "LENGTH", 1))
        if layout.RUN_NAMES in group:
            _use_stored_run_names(traj, group._f_get_child(layout.RUN_NAMES).read())
        shards = pending_shards(service, name, group)
        if with_run_information and not as_new:
            traj._run_table = read_run_table(path, group, shards, name, traj._length)
        else:
            traj._run_table = RunTable(traj._length)
        traj._run_columns = {}
        register_columns(traj, path, group, shards, name, levels)


def pending_shards(service: Any, name: str, group: tables.Group) -> list[Path]:
    done = layout.read_journal_log(group)
    return [shard for shard in journal.list_shards(service.journal_dir(name))
            if shard.name not in done]


def _load_leaf(traj: Any, traj_group: tables.Group, leaf_group: tables.Group, level: int,
               ctx: Any) -> Any:
    full = layout.key_of_path(leaf_group._v_pathname[len(traj_group._v_pathname) + 1:])
    existing = traj._nodes.get(full)
    if existing is not None and existing.v_is_leaf and not existing.f_is_empty() and \
            level < OVERWRITE_DATA:
        existing._stored = True
        return existing
    cls = traj._leaf_class(str(leaf_group._v_attrs[layout.LEAF_ATTR]))
    comment = str(leaf_group._v_attrs[layout.COMMENT_ATTR])
    items = layout.read_leaf_items(leaf_group, ctx) if level >= LOAD_DATA or \
        issubclass(cls, Parameter) else {}
    if existing is not None and existing.v_is_leaf and type(existing) is cls and \
            level >= LOAD_DATA:
        leaf = existing  # fill in place: callers (auto-loading, f_load_item) hold this object
        leaf._comment = comment
        if issubclass(cls, Parameter):
            leaf._data = items.get("data")
            if "explored_data" in items:
                leaf._explored_range = list(items["explored_data"])
        else:
            leaf._data.clear()
            leaf._data.update(items)
        leaf._stored = True
        return leaf
    if existing is not None:
        traj._remove_node(existing)
    if issubclass(cls, Parameter):
        leaf = cls(full, comment=comment)
        leaf._data = items.get("data")
        if "explored_data" in items:
            leaf._explored_range = list(items["explored_data"])
    else:
        leaf = cls(full, comment=comment)
        leaf._data.update(items)
    leaf._stored = True
    location, _, leaf_name = full.rpartition(".")
    parent = traj._group_at(location)
    parent._children[leaf_name] = leaf
    leaf._traj = traj
    traj._register(leaf)
    return leaf


def _use_stored_run_names(traj: Any, names: np.ndarray) -> None:
    decoded = [name.decode("utf-8") for name in names.tolist()]
    dummy = traj._wildcards.run_name(-1)
    traj._wildcards.add({("$", "crun"): lambda index: decoded[index] if index >= 0 else dummy})
    traj._default_run_names = False
    traj._run_names_by_name = {name: index for index, name in enumerate(decoded)}


def _run_groups(path: Path, group: tables.Group, shards: list[Path], name: str):
    """(file, trajectory group) of the main file and each pending shard, opened in turn."""
    yield path, group
    for shard in shards:
        with open_for_reading(shard) as h5:
            if name in h5.root:
                yield shard, h5.root._f_get_child(name)


def read_run_table(path: Path, group: tables.Group, shards: list[Path], name: str,
                   length: int) -> RunTable:
    """Run table rows of the main file and the shards; the last row of a run wins."""
    parts = []
    errors: dict[int, str] = {}
    for _, run_group in _run_groups(path, group, shards, name):
        rows, run_errors = layout.read_run_rows(run_group)
        if rows is not None and len(rows):
            parts.append(rows)
        errors.update(run_errors)
    table = RunTable(length)
    if not parts:
        return table
    rows = np.concatenate(parts) if len(parts) > 1 else parts[0]
    newest = newest_rows(rows["index"], by_index=True)
    if newest is not None:
        rows = rows[newest]
    table.update({
        "index": rows["index"], "status": rows["status"], "start": rows["start"],
        "finish": rows["finish"], "runtime": rows["runtime"], "pid": rows["pid"],
        "host": rows["host"], "env_hash": rows["env_hash"],
    })
    status = table.status
    table.error = {index: text for index, text in errors.items()
                   if index < len(status) and status[index] == 2}
    return table


def register_columns(traj: Any, path: Path, group: tables.Group, shards: list[Path], name: str,
                     levels: dict) -> None:
    """Make every per-run key known to ``traj``; data is read now (level 2) or on first use."""
    tables_of: dict[str, list] = defaultdict(list)
    irregular_of: dict[str, list] = defaultdict(list)
    metas: dict[str, dict] = {}
    for file_path, run_group in _run_groups(path, group, shards, name):
        prefix = run_group._v_pathname
        for table in column_tables.iter_column_tables(run_group):
            meta = column_tables.column_meta(table)
            metas.setdefault(meta["key"], meta)
            tables_of[meta["key"]].append((file_path, table._v_pathname, meta))
        for key, index, node_path in layout.read_irregular_index(run_group):
            irregular_of[key].append((file_path, "%s/%s" % (prefix, node_path), index))
            if key not in metas:
                node = run_group._v_file.get_node(prefix, node_path)
                metas[key] = {"key": key, "leaf_class": str(node._v_attrs[layout.LEAF_ATTR]),
                              "comment": str(node._v_attrs[layout.COMMENT_ATTR]),
                              "signatures": {}, "encoding": "utf-8"}
    for key, meta in metas.items():
        level = levels.get(key.partition(".")[0], LOAD_DATA)
        if not level:
            continue
        sources, irregular = tables_of.get(key, []), irregular_of.get(key, [])
        column = RunColumn(key, meta["leaf_class"], meta["comment"], meta["signatures"],
                           meta["encoding"],
                           loader=lambda col, s=sources, i=irregular, c=traj: _fill_column(
                               col, s, i, c))
        traj._run_columns[key] = column
        if level >= LOAD_DATA:
            column.ensure_loaded()


def _fill_column(column: RunColumn, sources: list, irregular: list, traj: Any) -> None:
    handles: dict[Path, tables.File] = {}
    try:
        indices, arrays = [], defaultdict(list)
        for file_path, table_path, meta in sources:
            table = _handle(handles, file_path).get_node(table_path)
            _, run_index, data = column_tables.read_column(table)
            if meta["signatures"] != column.signatures:
                for position, index in enumerate(run_index.tolist()):
                    column.add_irregular(index, meta["comment"], {
                        item: unpack(meta["signatures"][item], array[position:position + 1],
                                     meta["encoding"])[0] for item, array in data.items()})
                continue
            indices.append(run_index)
            for item, array in data.items():
                arrays[item].append(array)
        if indices:
            run_index = np.concatenate(indices)
            merged = {item: _concat_all(parts) for item, parts in arrays.items()}
            keep = newest_rows(run_index, by_index=True)
            if keep is not None:
                run_index = run_index[keep]
                merged = {item: array[keep] for item, array in merged.items()}
            column.extend(run_index, merged)
        for file_path, node_path, index in irregular:
            node = _handle(handles, file_path).get_node(node_path)
            column.add_irregular(index, str(node._v_attrs[layout.COMMENT_ATTR]),
                                 layout.read_leaf_items(node))
    finally:
        for handle in handles.values():
            handle.close()


def _concat_all(parts: list[np.ndarray]) -> np.ndarray:
    if len(parts) == 1:
        return parts[0]
    if parts[0].dtype.kind == "S":
        width = max(part.dtype.itemsize for part in parts)
        parts = [part.astype("S%d" % width) for part in parts]
    return np.concatenate(parts)


def _handle(handles: dict, file_path: Path) -> tables.File:
    handle = handles.get(file_path)
    if handle is None:
        handle = handles[file_path] = open_for_reading(file_path)
    return handle


def load_subtree(service: Any, traj: Any, full_name: str, recursive: bool, load_data: int) -> Any:
    """Load one node (and, if ``recursive``, what is below it) from storage."""
    parsed = traj._parse_run_path(full_name) if full_name else None
    path = service.filename_for(traj._name)
    if parsed is not None and parsed[0] in traj._run_columns:
        traj._run_columns[parsed[0]].ensure_loaded()
        node = traj._materialize(full_name)
        if node is None:
            raise NodeNotFoundError("%r is not stored in trajectory %r of %s"
                                    % (full_name, traj._name, path))
        return node
    with open_for_reading(path) as h5:
        if traj._name not in h5.root:
            raise StorageError("file %s holds no trajectory %r; store it first" % (path, traj._name))
        group = h5.root._f_get_child(traj._name)
        where = layout.node_path(full_name) if full_name else ""
        try:
            node = h5.get_node(group, where) if where else group
        except tables.NoSuchNodeError:
            node = None
        if node is None or (isinstance(node, tables.Table) and layout.COLUMN_ATTR in node._v_attrs):
            if parsed is None:
                raise NodeNotFoundError("%r is not stored in trajectory %r of %s"
                                        % (full_name, traj._name, path)) from None
            register_columns(traj, path, group, pending_shards(service, traj._name, group),
                             traj._name, {})
            result = traj._materialize(full_name)
            if result is None:
                raise NodeNotFoundError("%r is not stored in trajectory %r of %s"
                                        % (full_name, traj._name, path))
            return result
        level = max(load_data, LOAD_DATA) if load_data >= LOAD_DATA else load_data
        if layout.is_leaf_group(node):
            return _load_leaf(traj, group, node, OVERWRITE_DATA if level >= LOAD_DATA else level,
                              service.ctx)
        leaf_groups = layout.iter_leaf_groups(node) if recursive else \
            [child for child in node._f_iter_nodes("Group") if layout.is_leaf_group(child)]
        for leaf_group in leaf_groups:
            _load_leaf(traj, group, leaf_group, level, service.ctx)
        if recursive and full_name in ("", "results", "derived_parameters") or \
                (parsed is None and recursive):
            with contextlib.suppress(KeyError):
                register_columns(traj, path, group, pending_shards(service, traj._name, group),
                                 traj._name, {})
        return traj._nodes.get(full_name, traj) if full_name else traj
