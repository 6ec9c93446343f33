"""Config data added by the Environment (seed §"Config Data added by the Environment").

Each Environment gets a name ``environment_<sha7>_<YYYY_MM_DD_HHhMMmSSs>`` from a SHA-1 of the
trajectory name, the creation time and the distenv version, or the git commit's SHA-1 when
git integration is used (:mod:`~distenv.environment.git_integration`). Below
``config.environment.<that name>`` the trajectory records the settings it was run with, the
versions of distenv, Python, numpy and PyTables, the host and the main script -- so a file
always says how it was made, also after merging or expanding a trajectory with several
environments.
"""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import tables

from distenv.trajectory.trajectory import format_time
from distenv.trajectory.values import parameter_kind
from distenv.version import __version__

#: Groups of keywords whose values are recorded when the Environment will make runs.
RECORDED_GROUPS = ("run", "progress", "executor", "storage_mode", "resume")


@dataclass(frozen=True)
class EnvironmentIdentity:
    """Name, SHA-1 and creation time of one Environment."""

    hexsha: str
    timestamp: float

    @property
    def time(self) -> str:
        """Creation time as ``YYYY_MM_DD_HHhMMmSSs``."""
        return format_time(self.timestamp)

    @property
    def short_hash(self) -> str:
        return self.hexsha[:7]

    @property
    def name(self) -> str:
        return "environment_%s_%s" % (self.short_hash, self.time)


def make_identity(trajectory_name: str, timestamp: float | None = None,
                  git_hexsha: str | None = None) -> EnvironmentIdentity:
    """SHA-1 of trajectory name, time (full precision) and distenv version; with git
    integration the commit's SHA-1 (``git_hexsha``) instead."""
    timestamp = time.time() if timestamp is None else timestamp
    digest = git_hexsha or hashlib.sha1(("%s|%r|%s" % (trajectory_name, timestamp, __version__))
                                        .encode("utf-8")).hexdigest()
    return EnvironmentIdentity(digest, timestamp)


def versions() -> dict[str, str]:
    """Versions of the software that made the data."""
    return {"distenv": __version__, "python": platform.python_version(),
            "numpy": np.__version__, "tables": tables.__version__}


def main_script() -> str:
    """The script that runs (``''`` in an interactive session)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] else "")
    return os.path.abspath(path) if path else ""


def storable(value: Any) -> Any:
    """``value`` if a plain parameter can hold it, else its ``repr`` (None, dicts, objects)."""
    try:
        parameter_kind(value)
    except Exception:
        return repr(value)
    if isinstance(value, (tuple, list)) and not value:
        return repr(value)
    return value


def add_environment_config(traj: Any, identity: EnvironmentIdentity,
                           values: Mapping[str, Any], groups: Mapping[str, str],
                           storage_keywords: tuple, record_settings: bool) -> None:
    """Add ``config.environment.<identity.name>`` to ``traj`` and tag it with the identity.

    Parameters
    ----------
    values:
        Normalised Environment keywords.
    groups:
        Keyword name -> group of :mod:`~distenv.environment.keywords`.
    storage_keywords:
        ``((name, value), ...)`` given to the storage service.
    record_settings:
        ``do_single_runs``: record the run settings too (pypet leaves them out otherwise).
    """
    base = "environment.%s." % identity.name

    def add(name: str, value: Any, comment: str) -> None:
        traj.f_add_config(base + name, storable(value), comment=comment).f_lock()

    add("name", identity.name, "Name of the environment")
    add("hexsha", identity.hexsha, "SHA-1 of the git commit (git integration), else of "
        "trajectory name, creation time and distenv version")
    add("timestamp", identity.timestamp, "Creation time of the environment (seconds since epoch)")
    add("time", identity.time, "Creation time of the environment")
    add("trajectory.name", traj.v_name, "Name of the trajectory")
    add("trajectory.timestamp", traj.v_timestamp, "Creation time of the trajectory")
    add("comment", traj.v_comment, "Comment of the trajectory")
    add("host", socket.gethostname(), "Host the environment ran on")
    add("main_script", main_script(), "Script that created the environment")
    for package, version in versions().items():
        add("versions." + package, version, "Version of %s" % package)
    if not record_settings:
        return
    for name, value in values.items():
        if groups.get(name) in RECORDED_GROUPS:
            add("settings." + name, value, "Environment keyword %s" % name)
    for name, value in storage_keywords:
        add("storage." + name, value, "Storage keyword %s" % name)


def tag_trajectory(traj: Any, identity: EnvironmentIdentity) -> None:
    """Make ``traj`` know the environment that runs it."""
    traj._environment_hash = identity.hexsha
    traj._environment_name = identity.name
