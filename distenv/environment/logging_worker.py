"""Logging in worker processes: :func:`configure_worker_logging`, called once at worker start.

An executor that runs :func:`~distenv.environment.worker.execute_run` in other processes
passes the Environment's :attr:`~distenv.environment.Environment.worker_logging` (a picklable
:class:`WorkerLoggingSpec`, ``None`` when the Environment configures no logging) to each worker
and calls ``configure_worker_logging(spec)`` there before the first run -- e.g. as the pool's
``initializer``::

    PoolExecutor(..., initializer=configure_worker_logging, initargs=(env.worker_logging,))

In the worker:

* with ``multiproc_`` settings (the default configuration has them) the handlers inherited from
  the parent through ``fork`` are removed and the worker's own are applied, with ``$proc``
  (process name and pid), ``$host``, ``$run`` and ``$set`` resolved in the worker;
* without them, a forked worker keeps the inherited handlers and a spawned one applies the main
  configuration;
* ``log_multiproc=False`` removes the inherited handlers and logs nothing;
* with ``log_stdout`` the worker's ``sys.stdout``/``sys.stderr`` are replaced anew (the
  executors give forked workers fresh stream objects first).

Per-run files (``$run``/``$set``) switch by themselves: ``execute_run`` tells
:mod:`~distenv.environment.logging_hook` which trajectory runs.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any

from distenv.environment.logging_streams import StreamToLogger


@dataclass(frozen=True)
class WorkerLoggingSpec:
    """What a worker process applies; made by the Environment, picklable.

    Attributes
    ----------
    environment_name, trajectory_name:
        For the wildcards ``$env`` and ``$traj``.
    config:
        The dict configuration to apply in workers; ``None``: no handlers from distenv
        (``log_config=None``), or nothing logged at all when ``replaces_inherited`` too
        (``log_multiproc=False``).
    replaces_inherited:
        Remove handlers inherited from the parent first (``multiproc_`` settings, or
        ``log_multiproc=False``).
    stdout, stderr:
        ``(logger_name, level)`` for the replaced streams, or ``None``.
    """

    environment_name: str
    trajectory_name: str
    config: Any = None
    replaces_inherited: bool = True
    stdout: tuple | None = None
    stderr: tuple | None = None


def configure_worker_logging(spec: WorkerLoggingSpec | None) -> Any:
    """Set up logging in this worker process from ``spec`` (``None``: leave it alone).

    Call it once, at worker start, before the first run. Returns the worker's
    :class:`~distenv.environment.logging_setup.LoggingSetup` (its ``stop()`` undoes it), or
    ``None``.

    Raises
    ------
    ConfigurationError
        The configuration cannot be applied in this process.
    """
    from distenv.environment.logging_apply import AppliedConfig, apply_config, process_wildcards
    from distenv.environment.logging_setup import LoggingSetup, active_setup
    from distenv.environment.logging_streams import Redirection

    if spec is None:
        return None
    inherited = active_setup()
    kept = None
    if inherited is not None:
        if inherited.redirection is not None:
            _drop_inherited_streams(inherited)
        if spec.replaces_inherited:
            inherited.stop()
        else:
            kept = inherited.applied
            inherited.applied = None
            inherited.stop()
    silent = spec.config is None and spec.replaces_inherited  # log_multiproc=False
    if kept is not None:
        applied = kept
    elif spec.config is None:
        applied = None
    else:
        applied = apply_config(spec.config, process_wildcards(spec.environment_name,
                                                              spec.trajectory_name))
    if silent:  # no handler is inherited, and no "lastResort" output either
        applied = AppliedConfig()
        root, quiet = logging.getLogger(), logging.NullHandler()
        applied.loggers.append((root, root.level, root.propagate, root.disabled, [quiet], []))
        applied.handlers.append(quiet)
        root.addHandler(quiet)
    setup = LoggingSetup(applied, None if silent else Redirection(spec.stdout, spec.stderr),
                         None)
    setup.make_active()
    return setup


def _drop_inherited_streams(inherited: Any) -> None:
    """Put the parent's redirected streams aside without using their (copied) locks."""
    for stream in inherited.redirection.installed:
        if getattr(sys, stream.name) is stream:
            setattr(sys, stream.name, _fresh(stream.original))
    inherited.redirection.installed = []


def _fresh(stream: Any) -> Any:
    """A new text stream on the same file descriptor as ``stream`` (or ``stream`` itself)."""
    while isinstance(stream, StreamToLogger):
        stream = stream.original
    try:
        descriptor = stream.fileno()
        return open(descriptor, "w", buffering=1 if getattr(stream, "line_buffering", False)
                    else -1, encoding=stream.encoding, errors=stream.errors, closefd=False)
    except Exception:
        return stream
