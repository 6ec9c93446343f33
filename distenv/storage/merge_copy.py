"""Copying one input trajectory's data into the merged file, table by table.

Per-run values held in column tables are read whole, renumbered with one numpy indexing
operation and appended in one call per key; only values stored per run (irregular ones) are
copied node by node. An input's journal shards not yet compacted are read as the loader reads
them (main file first, then the shards in order; the last row of a run wins).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import tables

from distenv.constants import default_run_name, default_set_name
from distenv.errors import CorruptFileError, MergeError
from distenv.storage import column_tables as column_store
from distenv.storage import layout
from distenv.storage.codecs import Context
from distenv.storage.files import open_for_reading
from distenv.storage.runrows import newest_rows
from distenv.storage.merge_plan import (MERGED_CONFIG, IgnoreRules, MergePlan, SourcePlan,
                                        TrajectoryInfo, column_tables, leaf_groups, reading)


class RunNames:
    """Run names of the merged trajectory: stored custom names, or the default ones."""

    def __init__(self, names: list[str] | None):
        self.names = names
        self.custom = names is not None

    def run_name(self, index: int) -> str:
        names = self.names
        return names[index] if names is not None and 0 <= index < len(names) else \
            default_run_name(index)

    def set_name(self, index: int) -> str:
        return default_set_name(index)

    def encoded(self, length: int) -> np.ndarray:
        return self.encoded_names(np.arange(length, dtype=np.int64))

    def encoded_names(self, indices: np.ndarray) -> np.ndarray:
        """UTF-8 run names of ``indices`` (vectorised for default names)."""
        if self.names is None:
            return np.char.mod("run_%08d", indices).astype("S")
        return np.array([self.run_name(index).encode("utf-8") for index in indices.tolist()])


def run_names_for(plan: MergePlan, wildcards: Any = None) -> list[str] | None:
    """Names of all merged runs if any input uses custom run names, else ``None``.

    A new run is named by ``wildcards`` (the target trajectory's run-name function) when it
    can name it, else keeps the name it had in its input.
    """
    infos = [plan.target] + [source.info for source in plan.sources]
    if wildcards is None and all(info.run_names is None for info in infos):
        return None
    names = [plan.target.run_name(index) for index in range(plan.target.length)]
    for source in plan.sources:
        for old, new in zip(source.kept.tolist(), range(source.offset, source.offset +
                                                          len(source.kept))):
            name = None
            if wildcards is not None:
                with contextlib.suppress(Exception):
                    name = wildcards.run_name(new)
            names.append(name if isinstance(name, str) else source.info.run_name(old)
                         if source.info.run_names is not None else default_run_name(new))
    if len(set(names)) != len(names):
        seen: set = set()
        duplicate = next(name for name in names if name in seen or seen.add(name))
        owner = next(info for info in infos if info.run_names and duplicate in info.run_names)
        raise MergeError("run name %r of %s is used twice in the merged trajectory; custom run "
                         "names must stay unique (merge with traj.f_merge and a run-name "
                         "function that numbers runs)" % (duplicate, owner.label))
    return names


@contextlib.contextmanager
def _parts(info: TrajectoryInfo) -> Iterator[list[tuple[Path, tables.Group]]]:
    """The trajectory group in the main file and in each pending shard, all open."""
    with contextlib.ExitStack() as stack:
        parts = []
        for path in [info.path] + list(info.shards):
            h5 = stack.enter_context(open_for_reading(path))
            if info.name not in h5.root:
                raise CorruptFileError("%s holds no trajectory %r" % (path, info.name))
            parts.append((path, h5.root._f_get_child(info.name)))
        yield parts


def copy_target_shards(h5: tables.File, group: tables.Group, target: TrajectoryInfo,
                       ctx: Context, names: RunNames) -> None:
    """Incorporate the target's pending shards (read from its journal, which is left alone)."""
    from distenv.storage.service import copy_shards
    copy_shards(h5, group, list(target.shards), target.name, ctx, names, guard=reading)


def copy_source(h5: tables.File, group: tables.Group, source: SourcePlan, ignore: IgnoreRules,
                merge_config: bool, ctx: Context, names: RunNames) -> None:
    """Append the merged runs of one input, and the static items the target lacks."""
    mapping = source.mapping()
    with _parts(source.info) as parts:
        for path, part in parts:
            with reading(path):
                _copy_static(h5, group, part, ignore, merge_config)
        with reading(source.info.path):
            _copy_run_table(h5, group, parts, mapping, ctx, names)
            _copy_columns(h5, group, parts, mapping, ignore, ctx, names)
            _copy_irregular(h5, group, parts, mapping, ignore, ctx, names)


def _renumber(run_index: np.ndarray, mapping: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(new indices, mask of rows to keep) for stored run indices."""
    valid = (run_index >= 0) & (run_index < len(mapping))
    new = np.full(len(run_index), -1, dtype=np.int64)
    new[valid] = mapping[run_index[valid]]
    return new, new >= 0


def _copy_run_table(h5: tables.File, group: tables.Group, parts: list, mapping: np.ndarray,
                    ctx: Context, names: RunNames) -> None:
    rows, errors = [], {}
    for _, part in parts:
        part_rows, part_errors = layout.read_run_rows(part)
        if part_rows is not None and len(part_rows):
            rows.append(part_rows)
        errors.update(part_errors)
    if rows:
        data = np.concatenate(rows) if len(rows) > 1 else rows[0]
        keep = newest_rows(data["index"], by_index=True)
        if keep is not None:
            data = data[keep]
        new, mask = _renumber(data["index"], mapping)
        data = data[mask]
        data["index"] = new[mask]
        if "name" in data.dtype.names:
            encoded = names.encoded_names(data["index"])
            widths = layout.run_string_widths(data.dtype, name=min(
                layout.RUN_STRING_LIMITS["name"], np.asarray(encoded).dtype.itemsize))
            data = data.astype(layout.run_row_dtype(widths))
            data["name"] = encoded
        layout.append_run_table(h5, group, data, ctx.filters)
    if errors:
        indices = np.fromiter(errors, dtype=np.int64, count=len(errors))
        new, mask = _renumber(indices, mapping)
        kept = [(int(index), layout._clip(errors[int(old)]))
                for old, index, keep in zip(indices.tolist(), new.tolist(), mask.tolist()) if keep]
        if kept:
            if layout.ERROR_TABLE in group:
                group._f_get_child(layout.ERROR_TABLE).append(kept)
            else:
                h5.create_table(group, layout.ERROR_TABLE, layout.ErrorRow,
                                "errors of failed runs", filters=ctx.filters).append(kept)


def _copy_columns(h5: tables.File, group: tables.Group, parts: list, mapping: np.ndarray,
                  ignore: IgnoreRules, ctx: Context, names: RunNames) -> None:
    chunks: dict[str, list] = defaultdict(list)
    for _, part in parts:
        for table in column_tables(part):
            meta = column_store.column_meta(table)
            if meta["key"] in ignore:
                continue
            chunks[meta["key"]].append((meta, table))
    for key, found in chunks.items():
        metas = [meta for meta, _ in found]
        same = all(column_store.schema(meta) == column_store.schema(metas[0]) for meta in metas)
        batches = [found] if same else [[item] for item in found]
        for batch in batches:
            meta = batch[0][0]
            datas = [table.read() for _, table in batch]
            data = datas[0] if len(datas) == 1 else _concat_rows(datas, list(meta["signatures"]))
            keep = newest_rows(data[layout.INDEX_COLUMN], by_index=True)
            if keep is not None:
                data = data[keep]
            new, mask = _renumber(data[layout.INDEX_COLUMN], mapping)
            if not mask.all():
                data, new = data[mask], new[mask]
            if not len(new):
                continue
            arrays = {item: data[item] for item in meta["signatures"]}
            if not column_store.append_column(h5, group, key, meta["leaf_class"], meta["comment"],
                                        meta["signatures"], new, arrays, ctx,
                                        expectedrows=max(len(mapping), 10000)):
                from distenv.storage.service import _columns_to_irregular
                _columns_to_irregular(h5, group, meta, new, arrays, ctx, names)


def _concat_rows(datas: list[np.ndarray], items: list[str]) -> np.ndarray:
    """Concatenate column-table rows whose string columns may differ in width."""
    widths = {item: max(data.dtype[item].itemsize for data in datas) for item in items
              if datas[0].dtype[item].kind == "S"}
    if widths:
        fields = [(name, ("S%d" % widths[name]) if name in widths else datas[0].dtype[name].base,
                   datas[0].dtype[name].shape) for name in datas[0].dtype.names]
        datas = [data.astype(fields) for data in datas]
    return np.concatenate(datas)


def _copy_irregular(h5: tables.File, group: tables.Group, parts: list, mapping: np.ndarray,
                    ignore: IgnoreRules, ctx: Context, names: RunNames) -> None:
    latest: dict[tuple[str, int], tuple[tables.Group, str]] = {}
    for _, part in parts:
        for key, index, path in layout.read_irregular_index(part):
            if key not in ignore:
                latest[(key, index)] = (part, path)
    if not latest:
        return
    olds = np.fromiter((index for _, index in latest), dtype=np.int64, count=len(latest))
    new, mask = _renumber(olds, mapping)
    rows = []
    for ((key, _), (part, path)), index, keep in zip(latest.items(), new.tolist(), mask.tolist()):
        if not keep:
            continue
        node = part._v_file.get_node(part, path)
        target_path = layout.irregular_path(key, names.run_name(index), names.set_name(index))
        location, _, leaf_name = target_path.rpartition("/")
        parent = layout.ensure_group(h5, group, location)
        if leaf_name in parent:
            h5.remove_node(parent, leaf_name, recursive=True)
        node._f_copy(newparent=parent, newname=leaf_name, recursive=True)
        rows.append((key, index, target_path))
    if rows:
        layout.append_irregular_index(h5, group, rows, ctx)


def _copy_static(h5: tables.File, group: tables.Group, part: tables.Group, ignore: IgnoreRules,
                 merge_config: bool) -> None:
    """Static results, derived parameters and provenance the target lacks."""
    prefix = len(part._v_pathname) + 1
    for branch in ("config", "derived_parameters", "results"):
        if branch not in part:
            continue
        for leaf_group in leaf_groups(part._f_get_child(branch)):
            relative = leaf_group._v_pathname[prefix:]
            segments = relative.split("/")
            if branch == "config" and (not merge_config or len(segments) < 3 or
                                       segments[1] not in MERGED_CONFIG):
                continue
            if layout.key_of_path(relative) in ignore or \
                    "%s/%s" % (group._v_pathname, relative) in h5:
                continue
            location, _, name = relative.rpartition("/")
            parent = layout.ensure_group(h5, group, location)
            leaf_group._f_copy(newparent=parent, newname=name, recursive=True)


def write_config_leaf(h5: tables.File, group: tables.Group, full_name: str, value: Any,
                      comment: str, ctx: Context) -> None:
    """Write one config parameter (used for the ``config.merge`` records)."""
    from distenv.trajectory.leaves import Parameter
    leaf = Parameter(full_name, value, comment=comment)
    layout.write_leaf(h5, group, leaf, ctx)
