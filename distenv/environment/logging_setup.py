"""The Environment's logging: what ``log_config``, ``log_stdout``, ... ask for, and undoing it.

:meth:`LoggingSetup.start` turns the :class:`~distenv.environment.specs.LoggingSpec` into a
dict configuration (:mod:`~distenv.environment.logging_config`), applies its main-process part
additively (:mod:`~distenv.environment.logging_apply`), replaces ``sys.stdout``/``sys.stderr``
when ``log_stdout`` asks for it (:mod:`~distenv.environment.logging_streams`) and prepares the
:class:`~distenv.environment.logging_worker.WorkerLoggingSpec` that worker processes apply.

One set-up is in force per process, as with pypet (whose ``fileConfig`` replaced the previous
handlers): a new Environment's set-up first undoes the one before it. ``stop`` (the
Environment's ``disable_logging``) removes the handlers it added, restores logger levels and
puts the standard streams back.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from distenv.environment import logging_hook
from distenv.environment.keywords import DEFAULT_LOGGING
from distenv.environment.logging_apply import AppliedConfig, apply_config, process_wildcards
from distenv.environment.logging_config import default_config, read_logging_ini, split_multiproc
from distenv.environment.logging_streams import Redirection
from distenv.environment.logging_worker import WorkerLoggingSpec
from distenv.environment.specs import LoggingSpec

logger = logging.getLogger("distenv.environment.logging")
#: Default target of ``log_stdout=True``: print output is logged at INFO by ``STDOUT``.
STDOUT_TARGET = ("STDOUT", logging.INFO)
#: stderr is logged at ERROR by ``STDERR`` whenever ``log_stdout`` is on.
STDERR_TARGET = ("STDERR", logging.ERROR)

#: The set-up in force in this process (``[]`` when none).
_ACTIVE: list["LoggingSetup"] = []


def active_setup() -> "LoggingSetup | None":
    """The logging set-up in force in this process (inherited by forked children)."""
    return _ACTIVE[0] if _ACTIVE else None


def resolve_config(spec: LoggingSpec) -> dict | None:
    """``log_config`` as one dict configuration (``None``: configure nothing)."""
    value = spec.log_config
    if value is None:
        return None
    if value == DEFAULT_LOGGING:
        return default_config(spec.log_folder, spec.logger_names, spec.log_levels,
                              spec.log_multiproc)
    if isinstance(value, dict):
        return value
    return read_logging_ini(os.fspath(value))


def stream_targets(log_stdout: Any) -> tuple[tuple | None, tuple | None]:
    """``(stdout target, stderr target)`` of a ``log_stdout`` value."""
    if not log_stdout:
        return None, None
    stdout = tuple(log_stdout) if isinstance(log_stdout, (tuple, list)) else STDOUT_TARGET
    return stdout, STDERR_TARGET


def worker_spec_for(spec: LoggingSpec, config: dict | None, environment_name: str,
                    trajectory_name: str) -> WorkerLoggingSpec:
    """What worker processes apply (see :func:`~distenv.environment.logging_worker.
    configure_worker_logging`)."""
    stdout, stderr = stream_targets(spec.log_stdout)
    if not spec.log_multiproc:
        return WorkerLoggingSpec(environment_name, trajectory_name, None, True, None, None)
    main, worker = split_multiproc(config) if config is not None else (None, None)
    if worker is not None:
        return WorkerLoggingSpec(environment_name, trajectory_name, worker, True, stdout, stderr)
    return WorkerLoggingSpec(environment_name, trajectory_name, main, False, stdout, stderr)


class LoggingSetup:
    """Handlers, logger settings and replaced streams of one Environment (or worker).

    Use :meth:`start` (main process) or
    :func:`~distenv.environment.logging_worker.configure_worker_logging` (workers).

    Attributes
    ----------
    worker_spec:
        The picklable :class:`WorkerLoggingSpec` for worker processes.
    """

    def __init__(self, applied: AppliedConfig | None, redirection: Redirection | None,
                 worker_spec: WorkerLoggingSpec | None, trajectory: Any = None):
        self.applied = applied
        self.redirection = redirection
        self.worker_spec = worker_spec
        self.owner_pid = os.getpid()
        self.active = True
        self._previous_trajectory = logging_hook.current_trajectory()
        if trajectory is not None:
            logging_hook.set_trajectory(trajectory)

    @classmethod
    def start(cls, spec: LoggingSpec, trajectory: Any, environment_name: str
              ) -> "LoggingSetup | None":
        """Apply ``spec`` for the Environment ``environment_name`` running ``trajectory``.

        Returns ``None`` when there is nothing to do (``log_config=None`` and no
        ``log_stdout``).

        Raises
        ------
        ConfigurationError
            The configuration cannot be read or applied (nothing stays applied then).
        """
        config = resolve_config(spec)
        stdout, stderr = stream_targets(spec.log_stdout)
        if config is None and stdout is None:
            return None
        trajectory_name = trajectory.v_name
        main = split_multiproc(config)[0] if config is not None else None
        previous = active_setup()
        if previous is not None:
            previous.stop()
        applied = apply_config(main, process_wildcards(environment_name, trajectory_name)) \
            if main is not None else None
        setup = cls(applied, Redirection(stdout, stderr),
                    worker_spec_for(spec, config, environment_name, trajectory_name),
                    trajectory)
        setup.make_active()
        if applied is not None and applied.file_names():
            folders = sorted({os.path.dirname(name) for name in applied.file_names()})
            logger.info("%s: log files of trajectory %r in %s", environment_name,
                        trajectory_name, ", ".join(folders))
        return setup

    def make_active(self) -> None:
        _ACTIVE[:] = [self]

    def file_names(self) -> list[str]:
        """Files of the file handlers this set-up added (not the per-run ones)."""
        return self.applied.file_names() if self.applied is not None else []

    def stop(self) -> None:
        """Remove the handlers, restore logger settings and ``sys.stdout``/``sys.stderr``.

        Safe to call several times.
        """
        if not self.active:
            return
        self.active = False
        if self.redirection is not None:
            self.redirection.undo()
        if self.applied is not None:
            self.applied.undo()
        if _ACTIVE and _ACTIVE[0] is self:
            _ACTIVE.clear()
        logging_hook.set_trajectory(self._previous_trajectory)
