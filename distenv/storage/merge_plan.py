"""Planning a merge: what each input holds, whether they fit together, where each run goes.

Nothing here writes. :func:`read_info` reads the parameters and run count of one stored
trajectory (its main file; the journal shards not yet compacted are only listed), and
:func:`plan_merge` checks that the inputs live in the same parameter space, extends the explored
ranges, shifts a trial parameter and drops duplicate points -- all before any file is touched,
so an incompatible input never leaves anything behind.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import tables

from distenv.constants import BRANCHES, default_run_name
from distenv.errors import CorruptFileError, DistenvError, MergeError
from distenv.storage import journal, layout
from distenv.storage.files import open_for_reading
from distenv.trajectory.values import family

logger = logging.getLogger("distenv.merge")

#: Subtrees of ``config`` that are merged (provenance); other config items stay the target's.
MERGED_CONFIG = ("environment", "git", "merge")


@dataclass
class ParameterInfo:
    """One stored parameter: class, comment, default and explored range (or ``None``)."""

    full_name: str
    leaf_class: str
    default: Any
    explored: list | None


@dataclass
class TrajectoryInfo:
    """What :func:`plan_merge` needs to know about one input trajectory."""

    path: Path
    name: str
    length: int
    explored: list[str]
    parameters: dict[str, ParameterInfo]
    comment: str = ""
    timestamp: float = 0.0
    shards: list[Path] = field(default_factory=list)
    run_names: list[str] | None = None

    @property
    def label(self) -> str:
        return "%s (trajectory %r)" % (self.path, self.name)

    def run_name(self, index: int) -> str:
        return self.run_names[index] if self.run_names is not None else default_run_name(index)


@dataclass
class SourcePlan:
    """Which runs of one input are merged, and the new index of the first of them."""

    info: TrajectoryInfo
    kept: np.ndarray
    offset: int

    def mapping(self) -> np.ndarray:
        """Old run index -> new run index (``-1`` for runs that are not merged)."""
        mapping = np.full(self.info.length, -1, dtype=np.int64)
        mapping[self.kept] = self.offset + np.arange(len(self.kept), dtype=np.int64)
        return mapping


@dataclass
class MergePlan:
    """The merged trajectory's shape: its length, explored names and changed ranges."""

    target: TrajectoryInfo
    sources: list[SourcePlan]
    ranges: dict[str, list]
    explored: list[str]
    length: int


class IgnoreRules:
    """Names of items not to merge (``ignore_data``).

    An entry matches an item whose full name (``results.runs.$.z``; ``crun`` means ``$``) is the
    entry, lies below it (``results.summary`` ignores ``results.summary.mean``) or ends with it
    (``z`` or ``runs.$.z``).
    """

    def __init__(self, names: Iterable[str] = ()):
        if isinstance(names, str):
            names = [names]
        self.names = tuple(sorted({_canonical(str(name)) for name in names if name}))

    def __bool__(self) -> bool:
        return bool(self.names)

    def __contains__(self, full_name: str) -> bool:
        full_name = _canonical(full_name)
        return any(full_name == name or full_name.startswith(name + ".") or
                   full_name.endswith("." + name) for name in self.names)


def _canonical(name: str) -> str:
    return ".".join("$" if part == "crun" else "$set" if part == "crunset" else part
                    for part in name.strip().strip(".").split("."))


@contextlib.contextmanager
def reading(path: Path) -> Iterator[None]:
    """Turn low-level read failures inside the block into a :class:`CorruptFileError`."""
    try:
        yield
    except DistenvError:
        raise
    except (tables.HDF5ExtError, tables.NoSuchNodeError, OSError, ValueError, KeyError,
            TypeError, AttributeError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptFileError("cannot read %s: it is damaged or truncated (%s)"
                               % (path, first)) from exc


def column_tables(part: tables.Group) -> Iterator[tables.Table]:
    """Column tables below the branches, opening no other table (opening one costs ~2 ms)."""
    stack = [part._f_get_child(branch) for branch in BRANCHES if branch in part]
    while stack:
        group = stack.pop()
        for name in sorted(group._v_leaves):
            node = group._v_leaves[name]
            if isinstance(node, tables.Table) and layout.COLUMN_ATTR in node._v_attrs:
                yield node
        for name in sorted(group._v_groups):
            child = group._v_groups[name]
            if name not in layout.RESERVED and layout.LEAF_ATTR not in child._v_attrs:
                stack.append(child)


def leaf_groups(group: tables.Group) -> Iterator[tables.Group]:
    """Leaf groups below ``group``, without opening any table or array."""
    stack = [group]
    while stack:
        current = stack.pop()
        for name in sorted(current._v_groups):
            child = current._v_groups[name]
            if layout.LEAF_ATTR in child._v_attrs:
                yield child
            elif name not in layout.RESERVED:
                stack.append(child)


def read_info(path: str | Path, name: str | None = None, index: int | None = None) -> TrajectoryInfo:
    """Parameters, run count and pending journal shards of one stored trajectory."""
    from distenv.storage.loading import select_trajectory
    path = Path(path)
    with open_for_reading(path) as h5, reading(path):
        name = select_trajectory(h5, path, name, index)
        group = h5.root._f_get_child(name)
        attrs = group._v_attrs
        parameters = {}
        if "parameters" in group:
            for leaf_group in leaf_groups(group._f_get_child("parameters")):
                full = layout.key_of_path(leaf_group._v_pathname[len(group._v_pathname) + 1:])
                items = layout.read_leaf_items(leaf_group)
                parameters[full] = ParameterInfo(full, str(leaf_group._v_attrs[layout.LEAF_ATTR]),
                                                 items.get("data"), items.get("explored_data"))
        done = layout.read_journal_log(group)
        shards = [shard for shard in journal.list_shards(journal.journal_dir(path, name))
                  if shard.name not in done]
        run_names = None
        if layout.RUN_NAMES in group:
            run_names = [item.decode("utf-8") for item in
                         group._f_get_child(layout.RUN_NAMES).read().tolist()]
        return TrajectoryInfo(
            path=path, name=name, length=int(getattr(attrs, "LENGTH", 1)),
            explored=[str(full) for full in getattr(attrs, "EXPLORED", [])],
            parameters=parameters, comment=str(getattr(attrs, "COMMENT", "")),
            timestamp=float(getattr(attrs, "TIMESTAMP", 0.0)), shards=shards,
            run_names=run_names)


def check_compatible(target: TrajectoryInfo, source: TrajectoryInfo, ignore: IgnoreRules) -> None:
    """Raise :class:`MergeError` naming the file and the first parameter that differs."""
    mine = {name for name in target.parameters if name not in ignore}
    theirs = {name for name in source.parameters if name not in ignore}
    for name in sorted(mine ^ theirs):
        holder, other = (target, source) if name in mine else (source, target)
        raise MergeError(
            "cannot merge %s into %s: parameter %r is in %s but not in %s; trajectories must have "
            "the same parameters (or pass ignore_data=[%r] / --ignore-data %s)"
            % (source.label, target.label, name, holder.path, other.path, name, name))
    for name in sorted(mine):
        own, other = target.parameters[name], source.parameters[name]
        if own.leaf_class != other.leaf_class:
            raise MergeError("cannot merge %s into %s: parameter %r is a %s there but a %s in "
                             "the target" % (source.label, target.label, name, other.leaf_class,
                                             own.leaf_class))
        own_family, other_family = family(own.default), family(other.default)
        if own_family != other_family and not (own_family[0] == other_family[0] == "sequence"
                                               and None in (own_family[1], other_family[1])):
            raise MergeError(
                "cannot merge %s into %s: parameter %r holds %s (%r) there but %s (%r) in the "
                "target; parameters must have the same types" % (
                    source.label, target.label, name, type(other.default).__name__,
                    _short(other.default), type(own.default).__name__, _short(own.default)))
    for name in target.explored + source.explored:
        if name in ignore:
            raise MergeError("cannot ignore the explored parameter %r: every explored parameter "
                             "must be merged (it numbers the runs)" % name)


def resolve_parameter(target: TrajectoryInfo, name: str) -> str:
    """Full name of a parameter given by full or short name."""
    candidates = [full for full in target.parameters
                  if full == name or full == "parameters." + name or full.endswith("." + name)]
    if len(candidates) != 1:
        raise MergeError("trial_parameter %r %s in %s; its parameters are: %s" % (
            name, "is ambiguous" if candidates else "is not a parameter", target.label,
            ", ".join(sorted(target.parameters)) or "none"))
    return candidates[0]


def plan_merge(target: TrajectoryInfo, sources: list[TrajectoryInfo],
               trial_parameter: str | None = None, remove_duplicates: bool = False,
               ignore: IgnoreRules | None = None) -> MergePlan:
    """Check compatibility and decide the merged ranges and which runs each input adds.

    Raises
    ------
    MergeError
        Incompatible inputs, a bad trial parameter, or (for a single input) no run left to
        merge after removing duplicates.
    """
    ignore = ignore or IgnoreRules()
    for source in sources:
        check_compatible(target, source, ignore)
    trial = resolve_parameter(target, trial_parameter) if trial_parameter else None
    if trial and remove_duplicates:
        logger.warning("a trial parameter (%s) is given: runs of new trials are never duplicates, "
                       "so remove_duplicates is ignored", trial)
        remove_duplicates = False
    everyone = [target] + sources
    changed = [name for name in target.parameters if name not in ignore and (
        name == trial or any(info.parameters[name].explored is not None for info in everyone) or
        any(not _equal(target.parameters[name].default, info.parameters[name].default)
            for info in sources))]
    segments = {name: [_segment(info, name) for info in everyone] for name in changed}
    if trial:
        segments[trial] = _shift_trials(everyone, segments[trial])
    kept = _kept_runs(everyone, segments, changed, remove_duplicates)
    if remove_duplicates and len(sources) == 1 and not len(kept[1]):
        raise MergeError("every run of %s is already in %s (remove_duplicates=True): nothing to "
                         "merge" % (sources[0].label, target.label))
    ranges = {}
    for name in changed:
        values = list(segments[name][0])
        for position, indices in enumerate(kept[1:], start=1):
            segment = segments[name][position]
            values.extend(segment if len(indices) == len(segment) else
                          [segment[i] for i in indices.tolist()])
        ranges[name] = values
    plans, offset = [], target.length
    for info, indices in zip(sources, kept[1:]):
        plans.append(SourcePlan(info, indices, offset))
        offset += len(indices)
    explored = list(target.explored) + [name for name in changed if name not in target.explored]
    return MergePlan(target, plans, ranges, explored, offset)


def _segment(info: TrajectoryInfo, name: str) -> list:
    parameter = info.parameters[name]
    if parameter.explored is not None:
        if len(parameter.explored) != info.length:
            raise CorruptFileError("%s: explored parameter %r has %d values but the trajectory has "
                                   "%d runs" % (info.label, name, len(parameter.explored),
                                                info.length))
        return parameter.explored
    return [parameter.default] * info.length


def _shift_trials(everyone: list[TrajectoryInfo], segments: list[list]) -> list[list]:
    """Number the trials of each input after those of the inputs before it."""
    shifted, next_trial = [], 0
    for info, values in zip(everyone, segments):
        if not all(isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                   for value in values):
            raise MergeError("trial parameter values must be ints 0..T; %s holds %s"
                             % (info.label, _short(sorted(set(values), key=repr))))
        trials = set(int(value) for value in values)
        if trials != set(range(len(trials))):
            raise MergeError("trial parameter values must be the ints 0..T without gaps; %s holds "
                             "%s" % (info.label, _short(sorted(trials))))
        shifted.append([int(value) + next_trial for value in values] if next_trial else values)
        next_trial += len(trials)
    return shifted


def _kept_runs(everyone: list[TrajectoryInfo], segments: dict, changed: list[str],
               remove_duplicates: bool) -> list[np.ndarray]:
    """Run indices each input contributes (all of them unless duplicates are removed)."""
    kept = [np.arange(info.length, dtype=np.int64) for info in everyone]
    if not remove_duplicates:
        return kept
    keys = [list(zip(*[_hashable(segments[name][position]) for name in changed]))
            if changed else [()] * info.length for position, info in enumerate(everyone)]
    seen = set(keys[0])
    for position in range(1, len(everyone)):
        fresh = [index for index, key in enumerate(keys[position]) if key not in seen]
        if len(fresh) < everyone[position].length:
            logger.info("%s: %d of %d runs are duplicates of points already merged; skipped",
                        everyone[position].label, everyone[position].length - len(fresh),
                        everyone[position].length)
        kept[position] = np.array(fresh, dtype=np.int64)
        seen.update(keys[position][index] for index in fresh)
    return kept


def _hashable(values: list) -> list:
    if values and type(values[0]) in (int, float, str, bytes, bool, complex) and \
            len(set(map(type, values))) == 1:
        return values
    return [_key(value) for value in values]


def _key(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(_key(item) for item in value)
    try:
        hash(value)
        return value
    except TypeError:
        import pickle
        return ("pickle", pickle.dumps(value))


def _equal(first: Any, second: Any) -> bool:
    return _key(first) == _key(second) if type(first) is type(second) else False


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
