"""``distenv info FILE``: what a file holds, read straight from HDF5 (nothing is written).

Trajectories, parameters with their explored ranges (abbreviated), runs completed / failed /
pending (journal shards not yet compacted included), per-run and other results, and the
provenance records. Custom leaf classes need not be importable: nothing is instantiated.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

SHOWN_VALUES = 6
SHOWN_ITEMS = 20


def register(subparsers: argparse._SubParsersAction, parents: list) -> None:
    """Add the ``info`` subcommand."""
    parser = subparsers.add_parser(
        "info", parents=parents, help="show what a file holds",
        description="Show the trajectories of FILE: parameters with explored ranges, runs "
                    "done/failed/pending (journal shards included), results, provenance.")
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--trajectory", metavar="NAME", help="show only this trajectory")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from distenv.errors import TrajectoryNotFoundError
    from distenv.storage.files import open_for_reading
    from distenv.storage.merge_plan import reading
    from distenv.storage.service import trajectory_names
    path = Path(args.file)
    with open_for_reading(path) as h5, reading(path):
        names = trajectory_names(h5)
    if args.trajectory is not None:
        if args.trajectory not in names:
            raise TrajectoryNotFoundError("file %s has no trajectory %r; it holds: %s"
                                          % (path, args.trajectory, ", ".join(names) or "none"))
        names = [args.trajectory]
    print("%s: %d trajector%s" % (path, len(names), "y" if len(names) == 1 else "ies"))
    for name in names:
        print()
        print("\n".join(describe(path, name)))
    return 0


def describe(path: Path, name: str) -> list[str]:
    """Lines describing trajectory ``name`` of ``path``."""
    from distenv.storage.files import open_for_reading
    from distenv.storage.loading import read_run_table
    from distenv.storage.merge_plan import read_info, reading
    info = read_info(path, name)
    with open_for_reading(path) as h5, reading(path):
        group = h5.root._f_get_child(name)
        attrs = group._v_attrs
        lines = ["trajectory %r  created %s%s" % (name, getattr(attrs, "TIME", "?"),
                                                  "  comment: %s" % info.comment
                                                  if info.comment else "")]
        table = read_run_table(path, group, info.shards, name, info.length)
        status = table.status[:info.length]
        done, failed = int((status == 1).sum()), int((status == 2).sum())
        lines.append("  runs: %d (%d completed, %d failed, %d pending)%s" % (
            info.length, done, failed, info.length - done - failed,
            "; %d journal shard%s not yet compacted (included here)" % (
                len(info.shards), "" if len(info.shards) == 1 else "s") if info.shards else ""))
        lines += _parameters(info)
        lines += _per_run(path, group, info)
        for branch, title in (("derived_parameters", "derived parameters"), ("results", "results")):
            lines += _static(group, branch, title)
        lines += _provenance(group)
    return lines


def _parameters(info: Any) -> list[str]:
    explored = [name for name in info.parameters if info.parameters[name].explored is not None]
    lines = ["  parameters: %d (%d explored)" % (len(info.parameters), len(explored))]
    width = max((len(_short(name)) for name in info.parameters), default=0)
    for name, parameter in info.parameters.items():
        text = "    %-*s = %s" % (width, _short(name), _repr(parameter.default))
        if parameter.explored is not None:
            text += "   explored: %s" % abbreviate(parameter.explored)
        lines.append(text)
    return lines


def _per_run(path: Path, group: Any, info: Any) -> list[str]:
    """Per-run items: key, how they are stored, and how many runs hold them."""
    from distenv.storage import column_tables as column_store
    from distenv.storage import layout
    from distenv.storage.files import open_for_reading
    from distenv.storage.merge_plan import column_tables
    rows: dict[str, int] = defaultdict(int)
    kinds: dict[str, str] = {}
    irregular: dict[str, int] = defaultdict(int)

    def scan(run_group: Any) -> None:
        for table in column_tables(run_group):
            meta = column_store.column_meta(table)
            rows[meta["key"]] += table.nrows
            kinds.setdefault(meta["key"], "%s: %s" % (meta["leaf_class"], ", ".join(
                "%s %s" % (item, _signature(sig)) for item, sig in meta["signatures"].items())))
        for key, _, node_path in layout.read_irregular_index(run_group):
            irregular[key] += 1
            if key not in kinds:
                node = run_group._v_file.get_node(run_group, node_path)
                kinds[key] = str(node._v_attrs[layout.LEAF_ATTR])

    scan(group)
    for shard in info.shards:
        with open_for_reading(shard) as h5:
            if info.name in h5.root:
                scan(h5.root._f_get_child(info.name))
    keys = sorted(set(rows) | set(irregular))
    if not keys:
        return ["  per-run items: none"]
    lines = ["  per-run items: %d" % len(keys)]
    width = max(len(key) for key in keys)
    for key in keys[:SHOWN_ITEMS]:
        counts = "%d rows" % rows[key] if key in rows else ""
        if irregular.get(key):
            counts += "%s%d stored per run" % (", " if counts else "", irregular[key])
        lines.append("    %-*s  %s  (%s)" % (width, key, kinds[key], counts))
    if len(keys) > SHOWN_ITEMS:
        lines.append("    ... and %d more" % (len(keys) - SHOWN_ITEMS))
    return lines


def _static(group: Any, branch: str, title: str) -> list[str]:
    from distenv.storage import layout
    from distenv.storage.merge_plan import leaf_groups
    if branch not in group:
        return []
    prefix = len(group._v_pathname) + 1
    leaves = [(layout.key_of_path(leaf._v_pathname[prefix:]), str(leaf._v_attrs[layout.LEAF_ATTR]))
              for leaf in leaf_groups(group._f_get_child(branch))]
    if not leaves:
        return []
    leaves.sort()
    shown = ", ".join("%s (%s)" % item for item in leaves[:SHOWN_ITEMS])
    more = " ... and %d more" % (len(leaves) - SHOWN_ITEMS) if len(leaves) > SHOWN_ITEMS else ""
    return ["  %s: %d: %s%s" % (title, len(leaves), shown, more)]


def _provenance(group: Any) -> list[str]:
    if "config" not in group:
        return []
    config = group._f_get_child("config")
    lines = []
    for section, title in (("environment", "environments"), ("merge", "merges"),
                           ("git", "git commits")):
        if section in config:
            children = sorted(child._v_name for child in
                              config._f_get_child(section)._f_iter_nodes("Group"))
            shown = ", ".join(children[:5]) + (" ..." if len(children) > 5 else "")
            lines.append("  %s: %d%s" % (title, len(children), ": " + shown if shown else ""))
    return lines


def abbreviate(values: list, shown: int = SHOWN_VALUES) -> str:
    """``'1000 values, 10 distinct: 0.0, 0.1, 0.2, ..., 0.9'``."""
    try:
        distinct = sorted(set(values))
    except TypeError:  # arrays, lists: unhashable or unordered
        distinct = None
    if distinct is None:
        head = ", ".join(_repr(value) for value in values[:shown])
        return "%d values: %s%s" % (len(values), head, ", ..." if len(values) > shown else "")
    if len(distinct) <= shown:
        body = ", ".join(_repr(value) for value in distinct)
    else:
        body = ", ".join(_repr(value) for value in distinct[:shown - 1]) + ", ..., " + \
            _repr(distinct[-1])
    return "%d values, %d distinct: %s" % (len(values), len(distinct), body)


def _signature(sig: tuple) -> str:
    if sig[0] == "array":
        return "array %s %s" % (np.dtype(sig[1]).name, tuple(sig[2]))
    if sig[0] in ("tuple", "list"):
        return "%s of %d %s" % (sig[0], sig[2], sig[1])
    if sig[0] == "np":
        return np.dtype(sig[1]).name
    return sig[0]


def _short(name: str) -> str:
    return name[len("parameters."):] if name.startswith("parameters.") else name


def _repr(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
