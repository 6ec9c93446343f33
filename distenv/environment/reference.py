"""The keyword reference of ``docs/environment.md``, generated from the code.

The tables between the ``BEGIN GENERATED`` and ``END GENERATED`` markers of
``docs/environment.md`` come from :data:`~distenv.environment.keywords.KEYWORDS`, the storage
service's constructor, ``Trajectory.SETTABLE_PROPERTIES`` and the alias tables, so the
documentation cannot drift from what ``Environment(...)`` accepts. A test compares them;
regenerate with::

    python -m distenv.environment.reference docs/environment.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from distenv.environment.aliases import KEYWORD_ALIASES, METHOD_ALIASES
from distenv.environment.keywords import ISSUE_TITLES, KEYWORDS
from distenv.environment.services import constructor_keywords
from distenv.storage import HDF5StorageService
from distenv.trajectory import Trajectory

BEGIN = "<!-- BEGIN GENERATED: python -m distenv.environment.reference docs/environment.md -->"
END = "<!-- END GENERATED -->"

#: What each keyword of :class:`~distenv.HDF5StorageService` means (a test checks that every
#: constructor keyword has an entry).
STORAGE_MEANINGS = {
    "filename": "HDF5 file; default `hdf5/<trajectory>.hdf5`; a folder (`'out/'`) gets "
                "`<trajectory>.hdf5` inside it.",
    "file_title": "HDF5 title of a new file (default: the trajectory name).",
    "overwrite_file": "Replace an existing file at the first store instead of adding the "
                      "trajectory to it.",
    "encoding": "Encoding of strings; `'utf8'` is highly recommended.",
    "complevel": "Compression level 0 (none) to 9.",
    "complib": "Compression library: zlib, blosc, lzo, bzip2, blosc2 or `blosc:<codec>` "
               "(must be compiled into PyTables).",
    "shuffle": "HDF5 shuffle filter (usually better compression).",
    "fletcher32": "Fletcher32 checksums on the data.",
    "pandas_format": "`'fixed'`/`'f'` or `'table'`/`'t'` for pandas objects.",
    "purge_duplicate_comments": "Store a per-run comment only once (needs summary_tables).",
    "summary_tables": "Summary tables of the first result/derived parameter per comment.",
    "small_overview_tables": "Overview tables of config, parameters and static results.",
    "large_overview_tables": "Overview tables of every per-run item too (large files).",
    "results_per_run": "Expected results per run (a hint for large overview tables).",
    "derived_parameters_per_run": "Expected derived parameters per run (same).",
    "ack_runs": "Make finished runs durable every this many runs (None: by time only).",
    "ack_seconds": "...or every this many seconds, whichever comes first.",
    "fsync": "fsync acknowledged data (survives power loss; False still survives kill -9).",
    "display_time": "pypet's progress interval of the storage service (kept for .ini files).",
}

#: What each settable trajectory property does.
PROPERTY_MEANINGS = {
    "v_fast_access": "Natural naming returns a parameter's value instead of the object.",
    "v_auto_load": "Load data from the file when natural naming reaches an item not in "
                   "memory.",
    "v_shortcuts": "Natural naming may skip groups (`traj.x` for `traj.parameters.x`).",
    "v_max_depth": "How deep natural naming searches (None: unlimited).",
    "v_iter_recursive": "Iterating a group walks the whole subtree.",
    "v_with_links": "Natural naming follows links.",
    "v_lazy_adding": "`traj.par.x = 3` adds a parameter.",
}


def _cell(value: object) -> str:
    return "`%r`" % (value,) if not isinstance(value, type) else "`%s`" % value.__name__


def _status(issue: int | str | None, works_now: tuple) -> str:
    if issue is None:
        return "works"
    extra = " (%s already works)" % ", ".join(_cell(v) for v in works_now) if works_now else ""
    later = "issue %d" % issue if isinstance(issue, int) else "the %s work" % issue
    return "default only until %s%s" % (later, extra)


def keyword_table() -> str:
    """The Environment keywords: default, meaning, old name, status."""
    aliases = {current: old for old, current in KEYWORD_ALIASES.items()}
    lines = ["| keyword | default | meaning | old name | status |",
             "|---|---|---|---|---|"]
    for keyword in KEYWORDS:
        old = aliases.get(keyword.name)
        lines.append("| `%s` | %s | %s | %s | %s |" % (
            keyword.name, _cell(keyword.default), keyword.meaning.replace("|", "\\|"),
            "`%s`" % old if old else "", _status(keyword.issue, keyword.works_now)))
    return "\n".join(lines)


def storage_table() -> str:
    """The storage service's constructor keywords."""
    named, _ = constructor_keywords(HDF5StorageService)
    lines = ["| storage keyword | default | meaning |", "|---|---|---|"]
    for name, default in named.items():
        lines.append("| `%s` | %s | %s |" % (name, _cell(default),
                                            STORAGE_MEANINGS.get(name, "(undocumented)")))
    return "\n".join(lines)


def property_table() -> str:
    """The trajectory properties settable by keyword."""
    lines = ["| property (with or without `v_`) | meaning |", "|---|---|"]
    for prefixed in Trajectory.SETTABLE_PROPERTIES:
        lines.append("| `%s` / `%s` | %s |" % (prefixed, prefixed.removeprefix("v_"),
                                              PROPERTY_MEANINGS.get(prefixed, "(undocumented)")))
    return "\n".join(lines)


def alias_table() -> str:
    """Every old keyword, method and property name."""
    lines = ["| old name | current name | kind |", "|---|---|---|"]
    for old, current in KEYWORD_ALIASES.items():
        lines.append("| `%s` | `%s` | keyword |" % (old, current))
    for old, current in METHOD_ALIASES.items():
        kind = "property" if old.startswith("v_") or current == "trajectory" else "method"
        lines.append("| `%s` | `%s` | %s |" % (old, current, kind))
    return "\n".join(lines)


def issue_list() -> str:
    """The later issues that build not-yet-working keywords."""
    return "\n".join("- %s" % title for _, title in
                     sorted(ISSUE_TITLES.items(), key=lambda item: str(item[0])))


def generated() -> str:
    """Everything between the markers (markers included)."""
    return "\n\n".join([
        BEGIN,
        "### Environment keywords\n\n" + keyword_table(),
        "\"default only until issue N\": the value is validated now; any other valid value "
        "raises `NotImplementedError` naming the keyword until that issue is built:\n\n" +
        issue_list(),
        "### Storage keywords (handed to `HDF5StorageService`)\n\n" + storage_table(),
        "### Trajectory properties\n\n" + property_table(),
        "### Old names (thin aliases)\n\n" + alias_table(),
        END,
    ])


def refresh(path: Path) -> bool:
    """Replace the generated block of ``path``; True if the file changed."""
    text = path.read_text()
    start, stop = text.index(BEGIN), text.index(END) + len(END)
    new = text[:start] + generated() + text[stop:]
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/environment.md")
    print("%s %s" % (target, "updated" if refresh(target) else "already up to date"))
