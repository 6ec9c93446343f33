"""Every keyword ``Environment(...)`` understands: default, validator, meaning, owner issue.

This table is the single source of truth. :mod:`distenv.environment.options` reads it to
validate and translate keywords, ``Environment.__signature__`` is generated from it, and
``docs/environment.md`` lists the same rows. Keywords whose machinery a later issue builds carry
that issue's number: their values are validated now, and a value that would need the missing
machinery raises :class:`NotImplementedError` naming the keyword.

Storage keywords (``filename``, ``complevel``, ...) are not in this table: they belong to the
storage service's constructor and are read from its signature. Trajectory properties
(``v_auto_load``/``auto_load``, ...) come from ``Trajectory.SETTABLE_PROPERTIES``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from distenv import constants
from distenv.environment import checks
from distenv.environment.checks import invalid
from distenv.trajectory import Trajectory

#: The later work that builds a keyword's machinery (issue numbers, or a name for work not
#: filed as an issue yet).
ISSUE_PARALLEL, ISSUE_LIFECYCLE, ISSUE_LOGGING = 4, 5, 6
ISSUE_CLUSTERS = "clusters"
ISSUE_TITLES = {ISSUE_PARALLEL: "issue 4, local parallelism: executors and wrap modes",
                ISSUE_LIFECYCLE: "issue 5, experiment lifecycle: resume, merge, post-processing",
                ISSUE_LOGGING: "issue 6, logging, config files, git and Sumatra",
                ISSUE_CLUSTERS: "the cluster backends (SCOOP, Dask, SGE/SLURM) and the zmq "
                                "lock server / collector, not built yet"}


#: Valid ``wrap_mode`` values, generated from the constants (never typed twice).
WRAP_MODES = tuple(value for key, value in vars(constants).items() if key.startswith("WRAP_MODE_"))
DEFAULT_LOGGING = "DEFAULT"
DEFAULT_PROGRESS = (5, "distenv", logging.INFO)
_ADDRESS = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s:]+:\d{1,5}$")


@dataclass(frozen=True)
class Keyword:
    """One keyword of ``Environment(...)``.

    Attributes
    ----------
    name, default:
        The current name and the default value.
    check:
        Validator ``check(name, value) -> normalised value``.
    group:
        Which typed spec the value feeds (``'executor'``, ``'logging'``, ...).
    meaning:
        One line for the documentation.
    issue:
        The issue that builds the machinery, or ``None`` when it works now.
    works_now:
        Normalised values other than the default that already work before ``issue`` lands.
    """

    name: str
    default: Any
    check: checks.Check
    group: str
    meaning: str
    issue: int | str | None = None
    works_now: tuple = ()

    def normalised_default(self) -> Any:
        return self.check(self.name, self.default)


# -- validators of single keywords -----------------------------------------------------------
def _trajectory(name: str, value: Any) -> Any:
    if isinstance(value, (str, Trajectory)):
        return value
    raise invalid(name, value, "must be a trajectory name (str) or a Trajectory object")


def _dynamic_imports(name: str, value: Any) -> Any:
    items = [value] if isinstance(value, (str, type)) else value
    if not isinstance(items, (list, tuple)) or \
            not all(isinstance(item, (str, type)) for item in items):
        raise invalid(name, value, "must be a class, a dotted import string "
                                   "('package.module.Class') or a list of them")
    return tuple(items)


def _wildcard_functions(name: str, value: Any) -> Any:
    if not isinstance(value, dict):
        raise invalid(name, value, "must be a dict {('$', 'crun'): function, ...}")
    for key, function in value.items():
        spellings = (key,) if isinstance(key, str) else key
        if not isinstance(spellings, tuple) or not spellings or \
                not all(isinstance(item, str) for item in spellings):
            raise invalid(name, value, "key %r must be a wildcard string or a tuple of them"
                          % (key,))
        if not callable(function):
            raise invalid(name, value, "the function for %r is not callable" % (key,))
    return value


def _report_progress(name: str, value: Any) -> tuple | None:
    allowed = ("must be True, False, 'print' or a triple (percent_step, logger_name, level) "
               "such as (10, 'distenv', logging.INFO)")
    if value is True or value is False:
        return DEFAULT_PROGRESS if value else None
    if value == "print":
        return (DEFAULT_PROGRESS[0], "print", DEFAULT_PROGRESS[2])
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise invalid(name, value, allowed)
    step, logger_name, level = value
    if not isinstance(step, (int, float)) or isinstance(step, bool) or not 0 < step <= 100:
        raise invalid(name, value, "the percent step %r must be a number in (0, 100]" % (step,))
    if not isinstance(logger_name, str) or not logger_name:
        raise invalid(name, value, "the logger name %r must be a non-empty string (or 'print')"
                      % (logger_name,))
    return (step, logger_name, checks.log_level(name, level))


_cap = checks.number_in(0.0, 100.0)


def _memory_cap(name: str, value: Any) -> tuple:
    """A cap in (0, 100] or ``(cap, memory_per_process_MB)``; normalised to the pair."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise invalid(name, value, "must be a number in (0, 100] or a pair "
                                       "(cap, memory_per_process_MB)")
        return (_cap(name, value[0]), checks.positive_number(name + "[1] (MB per process)",
                                                             value[1]))
    return (_cap(name, value), None)


def _port(name: str, value: Any) -> Any:
    allowed = ("must be None, a port (1-65535), a range (low, high) or an address such as "
               "'tcp://127.0.0.1:7777'")
    port_number = checks.integer(1, 65535)
    if isinstance(value, str):
        if not _ADDRESS.match(value) or not 1 <= int(value.rsplit(":", 1)[1]) <= 65535:
            raise invalid(name, value, allowed)
        return value
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise invalid(name, value, allowed)
        low, high = port_number(name, value[0]), port_number(name, value[1])
        if low > high:
            raise invalid(name, value, "the range (low, high) needs low <= high")
        return (low, high)
    try:
        return port_number(name, value)
    except Exception:
        raise invalid(name, value, allowed) from None


def _log_config(name: str, value: Any) -> Any:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.upper() == DEFAULT_LOGGING:
        return DEFAULT_LOGGING
    try:
        return checks.path("file")(name, value)
    except Exception:
        raise invalid(name, value, "must be None, 'DEFAULT', a dict for logging.config."
                                   "dictConfig or the path of an existing .ini file") from None


def _log_stdout(name: str, value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        if len(value) != 2 or not isinstance(value[0], str):
            raise invalid(name, value, "must be True, False or a pair (logger_name, level)")
        return (value[0], checks.log_level(name, value[1]))
    return checks.boolean(name, value)


def _storage_service(name: str, value: Any) -> Any:
    if isinstance(value, (str, type)) or hasattr(value, "store_trajectory"):
        return value
    raise invalid(name, value, "must be a storage service class, a dotted import string "
                               "('distenv.HDF5StorageService') or a service object")


#: Executor names whose backends later work builds (accepted, then refused as not built yet).
LATER_EXECUTORS = ("scoop", "dask", "sge", "slurm", "saga")


def _executor(name: str, value: Any) -> Any:
    if isinstance(value, str):
        from distenv.executors import available_executors
        registered = tuple(available_executors())
        if value not in registered and value not in LATER_EXECUTORS:
            raise invalid(name, value, "must be a registered executor (%s; later also %s) or an "
                          "Executor object" % (", ".join(registered), ", ".join(LATER_EXECUTORS)))
        return value
    if hasattr(value, "submit"):
        return value
    raise invalid(name, value, "must be None, an executor name or an Executor object")


_bool, _text = checks.boolean, checks.text


def _k(name: str, default: Any, check: checks.Check, group: str, meaning: str,
       issue: int | str | None = None, works_now: tuple = ()) -> Keyword:
    return Keyword(name, default, check, group, meaning, issue, works_now)


KEYWORDS: tuple[Keyword, ...] = (
    # -- the trajectory
    _k("trajectory", "trajectory", _trajectory, "trajectory",
       "Name of a new trajectory, or a Trajectory object to use."),
    _k("add_time", False, _bool, "trajectory",
       "Append the creation time _YYYY_MM_DD_HHhMMmSSs to the name of a new trajectory."),
    _k("comment", "", _text, "trajectory", "Comment of a new trajectory."),
    _k("dynamic_imports", None, checks.optional(_dynamic_imports), "trajectory",
       "Custom parameter/result classes (classes or dotted strings) the trajectory must know."),
    _k("wildcard_functions", None, checks.optional(_wildcard_functions), "trajectory",
       "{('$', 'crun'): f, ...}: functions from run index to run/bucket names."),
    # -- storing and running
    _k("storage_service", "distenv.HDF5StorageService", _storage_service, "storage",
       "Storage service class (built with the storage keywords), dotted string or object."),
    _k("automatic_storing", True, _bool, "run",
       "Store the trajectory before and after the runs and every run when it finishes."),
    _k("clean_up_runs", True, _bool, "run",
       "Remove each run's new data from memory once it is handed to storage."),
    _k("do_single_runs", True, _bool, "run",
       "Whether runs will be made; False: only basic provenance, and run() is refused."),
    _k("lazy_debug", False, _bool, "run",
       "When a debugger is attached ('pydevd' in sys.modules): store nothing, write no file."),
    _k("use_hdf5", True, _bool, "run",
       "Old pypet keyword: False stores nothing and writes no file."),
    _k("report_progress", True, _report_progress, "progress",
       "True, False, 'print' or (percent_step, logger_name, level); a tqdm bar on a terminal."),
    # -- where runs execute (issue 4; clusters later)
    _k("multiproc", False, _bool, "executor", "Run in several processes."),
    _k("ncores", 1, checks.integer(0), "executor",
       "Number of worker processes; 0 asks psutil for the number of CPUs."),
    _k("use_pool", False, _bool, "executor",
       "A fixed pool of ncores processes instead of one process per run."),
    _k("use_scoop", False, _bool, "executor",
       "Distribute runs with SCOOP (start with python -m scoop).", ISSUE_CLUSTERS),
    _k("executor", None, checks.optional(_executor), "executor",
       "An executor name from the registry or an Executor object (overrides the flags).",
       ISSUE_CLUSTERS, works_now=("serial", "pool", "process")),
    _k("freeze_input", False, _bool, "executor",
       "Pass job, arguments and trajectory to pool/SCOOP workers once, not per run."),
    _k("timeout", None, checks.optional(checks.positive_number), "executor",
       "Seconds after which a run counts as failed (and NETLOCK locks are released)."),
    _k("cpu_cap", 100.0, _cap, "executor",
       "Start no new process while CPU use (percent) is above this; in (0, 100]."),
    _k("memory_cap", 100.0, _memory_cap, "executor",
       "RAM cap in (0, 100], or (cap, memory_per_process_MB)."),
    _k("swap_cap", 100.0, _cap, "executor", "Swap cap in (0, 100]."),
    _k("niceness", None, checks.optional(checks.integer(-20, 19)), "executor",
       "Niceness of worker processes (Linux: -20 .. 19)."),
    _k("graceful_exit", False, _bool, "executor",
       "First CTRL+C finishes and stores the active runs, a second one stops at once."),
    _k("immediate_postproc", False, _bool, "executor",
       "Call post-processing as soon as no new run can start (results in finish order)."),
    # -- how processes share the file (issue 4; network modes later)
    _k("wrap_mode", constants.WRAP_MODE_LOCK, checks.choice(WRAP_MODES), "storage_mode",
       "How several processes share the storage: %s." % ", ".join(WRAP_MODES), ISSUE_CLUSTERS,
       works_now=tuple(mode for mode in WRAP_MODES if not mode.startswith("NET"))),
    _k("queue_maxsize", -1, checks.integer(-1), "storage_mode",
       "QUEUE size: 0 unbounded, -1 means 2 * ncores."),
    _k("port", None, checks.optional(_port), "storage_mode",
       "NETLOCK/NETQUEUE port: int, (low, high) range or 'tcp://host:port'.", ISSUE_CLUSTERS),
    _k("gc_interval", None, checks.optional(checks.integer(1)), "storage_mode",
       "Call gc.collect() every this many runs/stores (LOCAL, QUEUE, PIPE)."),
    # -- resuming (issue 5)
    _k("resumable", False, _bool, "resume",
       "Snapshot job, arguments and post-processing (dill) so resume() can finish a crashed "
       "sweep."),
    _k("resume_folder", None, checks.optional(checks.path()), "resume",
       "Folder of the resume snapshots (a subfolder per trajectory); None: ./resume."),
    _k("delete_resume", True, _bool, "resume",
       "Delete the trajectory's resume snapshots after a successful sweep."),
    # -- logging and config files (issue 6; docs/logging.md, docs/config_files.md)
    _k("log_config", DEFAULT_LOGGING, checks.optional(_log_config), "logging",
       "'DEFAULT' (files in log_folder), None (leave logging alone), a .ini path or a "
       "logging dict."),
    _k("log_folder", None, checks.optional(checks.path()), "logging",
       "Folder of the default log files <log_folder>/<trajectory>/<environment>/ (None: logs)."),
    _k("logger_names", (), checks.names, "logging",
       "Loggers the default settings apply to (default: the root logger)."),
    _k("log_levels", (), checks.levels, "logging",
       "Levels of those loggers (one, or one per name; default INFO)."),
    _k("log_stdout", False, _log_stdout, "logging",
       "Record print output (and stderr) in the logs: bool or (logger_name, level)."),
    _k("log_multiproc", True, _bool, "logging", "Log from worker processes too."),
    _k("config", None, checks.optional(checks.path("file")), "logging",
       "An .ini file whose sections give keywords, parameters, config items and logging."),
    # -- provenance (issue 6; docs/git_sumatra.md)
    _k("git_repository", None, checks.optional(checks.path("dir")), "provenance",
       "Folder of a git work tree to commit (git add -u) before the runs."),
    _k("git_message", "", _text, "provenance", "Message of that commit."),
    _k("git_fail", False, _bool, "provenance",
       "Raise GitDiffError instead of committing a dirty work tree."),
    _k("sumatra_project", None, checks.optional(checks.path("dir")), "provenance",
       "Root folder of a Sumatra project to record the sweep in."),
    _k("sumatra_reason", "", _text, "provenance", "Reason of the Sumatra record."),
    _k("sumatra_label", None, checks.optional(_text), "provenance",
       "Label of the Sumatra record (None: Sumatra picks one)."),
)

BY_NAME: dict[str, Keyword] = {keyword.name: keyword for keyword in KEYWORDS}
