"""Writing what a merge adds besides the runs, and the files around a merge.

The extended explored ranges, the ``config.merge`` record, the overview tables of the merged
trajectory (rebuilt from the file, without loading a trajectory), a complete backup of the
target, and removing a merged trajectory from its file -- each file change made on a copy that
is renamed into place.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

import tables

from distenv.errors import MergeError
from distenv.storage import journal, layout
from distenv.storage.files import (commit_temporary, copy_file, file_lock, open_for_reading,
                                   temporary_name, written)
from distenv.storage.merge_copy import RunNames, copy_target_shards, write_config_leaf
from distenv.storage.merge_plan import IgnoreRules, MergePlan, leaf_groups, reading
from distenv.version import __version__


def write_ranges(h5: tables.File, group: tables.Group, plan: MergePlan, ctx: Any) -> None:
    """Rewrite ``explored_data`` of every parameter whose range the merge extends."""
    from distenv.storage.codecs import Context
    for name, values in plan.ranges.items():
        leaf_group = h5.get_node(group, layout.node_path(name))
        if "explored_data" in leaf_group:
            h5.remove_node(leaf_group, "explored_data", recursive=True)
        leaf_class = str(leaf_group._v_attrs[layout.LEAF_ATTR])
        item_ctx = Context(ctx.filters, ctx.encoding, ctx.pandas_format,
                           pickle_only=leaf_class.startswith("Pickle"))
        layout.write_range(h5, leaf_group, "explored_data", values, item_ctx)


def write_merge_records(h5: tables.File, group: tables.Group, plan: MergePlan,
                         opts: Any, ctx: Any, started: float) -> None:
    """``config.merge.merge_<sha7>_<time>``: one record per merge, listing every input.

    pypet's record (``merged_runs``, ``timestamp``, ``hexsha``, ``remove_duplicates``,
    ``length_before_merge``, ``ignore_data``, ``trial_parameter``) plus, per merged input in
    merge order, tuples under ``other_trajectories``: ``names``, ``timestamps``, ``lengths``,
    ``filenames``, ``merged_runs`` and ``comments`` -- one record, whatever the number of inputs.
    """
    stamp = datetime.datetime.fromtimestamp(started).strftime("%Y_%m_%d_%Hh%Mm%Ss")
    others = [source.info for source in plan.sources]
    hexsha = hashlib.sha1("|".join(
        ["%s|%r" % (plan.target.name, plan.target.timestamp), repr(started), __version__] +
        ["%s|%r|%s" % (other.name, other.timestamp, os.path.abspath(other.path))
         for other in others]).encode("utf-8")).hexdigest()
    base = "config.merge.merge_%s_%s." % (hexsha[:7], stamp)
    record = [("merged_runs", plan.length - plan.target.length, "Number of merged runs"),
              ("timestamp", started, "Timestamp of merge"),
              ("hexsha", hexsha, "SHA-1 identifier of the merge"),
              ("remove_duplicates", bool(opts.remove_duplicates),
               "Option to remove duplicate entries"),
              ("length_before_merge", plan.target.length, "Length of trajectory before merge")]
    ignored = IgnoreRules(opts.ignore_data).names
    if ignored:
        record.append(("ignore_data", tuple(ignored), "Data to ignore during merge"))
    if opts.trial_parameter:
        record.append(("trial_parameter", str(opts.trial_parameter), "Name of trial parameter"))
    if opts.keep_other_trajectory_info:
        prefix = "other_trajectories."
        record += [
            (prefix + "names", tuple(other.name for other in others),
             "Names of the merged trajectories, in merge order"),
            (prefix + "timestamps", tuple(float(other.timestamp) for other in others),
             "Creation times of the merged trajectories"),
            (prefix + "lengths", tuple(int(other.length) for other in others),
             "Number of runs of each merged trajectory"),
            (prefix + "merged_runs", tuple(int(len(source.kept)) for source in plan.sources),
             "Number of runs merged from each trajectory"),
            (prefix + "filenames", tuple(os.path.abspath(other.path) for other in others),
             "Files the merged trajectories were read from")]
        if any(other.comment for other in others):
            record.append((prefix + "comments", tuple(other.comment or " " for other in others),
                           "Comments of the merged trajectories"))
    for name, value, comment in record:
        write_config_leaf(h5, group, base + name, value, comment, ctx)


def write_backup(target: Any, backup: Any, service: Any) -> Path:
    """A complete copy of the target (pending journal shards included) beside it."""
    path = Path(target.path)
    if backup is True:
        stamp = datetime.datetime.now().strftime("%Y_%m_%d_%Hh%Mm%Ss")
        candidate = path.with_name("%s_backup_%s%s" % (path.stem, stamp, path.suffix or ".hdf5"))
        counter = 1
        while candidate.exists():
            candidate = path.with_name("%s_backup_%s_%d%s" % (path.stem, stamp, counter,
                                                              path.suffix or ".hdf5"))
            counter += 1
    else:
        candidate = Path(backup)
        if candidate.exists():
            raise MergeError("backup file %s exists already; choose another backup_filename"
                             % candidate)
    temporary = temporary_name(candidate)
    try:
        copy_file(path, temporary)
        if target.shards:
            with written(tables.open_file(str(temporary), mode="a")) as h5:
                group = h5.root._f_get_child(target.name)
                copy_target_shards(h5, group, target, service.ctx, RunNames(None))
                layout.append_journal_log(h5, group, [shard.name for shard in target.shards])
        commit_temporary(temporary, candidate, service.fsync)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    return candidate


class _OverviewLeaf:
    """A leaf as the overview tables see it (name, class, value text, comment)."""

    def __init__(self, full_name: str, value: str, comment: str):
        self._full_name, self._comment, self._value = full_name, comment, value

    def f_val_to_str(self) -> str:
        return self._value


_OVERVIEW_CLASSES: dict[str, type] = {}


def _overview_leaf(leaf_class: str, full_name: str, value: str, comment: str) -> _OverviewLeaf:
    """An overview leaf whose type carries the stored class name (the table shows it)."""
    cls = _OVERVIEW_CLASSES.get(leaf_class)
    if cls is None:
        cls = _OVERVIEW_CLASSES[leaf_class] = type(leaf_class, (_OverviewLeaf,), {})
    return cls(full_name, value, comment)


def write_overview(h5: tables.File, group: tables.Group, plan: MergePlan, service: Any) -> None:
    """Rewrite the eye-balling overview tables from the merged file (no tree is loaded)."""
    from types import SimpleNamespace

    from distenv.constants import OVERVIEW_MAX_ROWS
    from distenv.storage import overview
    prefix = len(group._v_pathname) + 1
    children = {}
    for branch in ("config", "parameters", "derived_parameters", "results"):
        leaves = []
        if branch in group:
            for leaf_group in leaf_groups(group._f_get_child(branch)):
                if len(leaves) >= OVERVIEW_MAX_ROWS:
                    break
                full = layout.key_of_path(leaf_group._v_pathname[prefix:])
                parameter = plan.target.parameters.get(full)
                leaves.append(_overview_leaf(str(leaf_group._v_attrs[layout.LEAF_ATTR]), full,
                                             repr(parameter.default) if parameter else "",
                                             str(leaf_group._v_attrs[layout.COMMENT_ATTR])))
        children[branch] = leaves
    attrs = group._v_attrs
    view = SimpleNamespace(
        _name=plan.target.name, _time=str(getattr(attrs, "TIME", "")),
        _comment=plan.target.comment, _length=plan.length,
        _explored={name: SimpleNamespace(_explored_range=plan.ranges[name])
                   for name in plan.explored if name in plan.ranges})
    overview.write_overview(h5, group, view, service, own_leaves=children)


def delete_trajectory(path: Path, name: str, fsync: bool = True) -> None:
    """Remove trajectory ``name`` from ``path`` by writing a new version of the file.

    Its journal shards are deleted afterwards. The file is kept even if it holds nothing else.
    """
    with file_lock(path):
        temporary = temporary_name(path)
        try:
            with open_for_reading(path) as source, reading(path):
                with written(tables.open_file(str(temporary), mode="w",
                                              title=source.title)) as h5:
                    for node in source.root._f_iter_nodes():
                        if node._v_name != name:
                            node._f_copy(newparent=h5.root, newname=node._v_name, recursive=True)
            commit_temporary(temporary, path, fsync)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        directory = journal.journal_dir(path, name)
        journal.remove_shards(journal.list_shards(directory))
        if directory.is_dir():
            shutil.rmtree(directory, ignore_errors=True)
