"""pypet's ``MultiprocContext``: one trajectory used by several processes, no Environment.

pypet wrapped the trajectory's storage service (a lock, a queue process, a pipe) so that worker
processes could store into one HDF5 file without corrupting it. distenv's storage needs no
wrapper: every process writes its own write-once journal shards and changes the main file only
by an atomic, ``flock``-serialised compaction (``docs/storage.md``). ``traj.f_store()``,
``traj.f_store_item(...)``, ``group.f_store()`` and :func:`~distenv.manual_run` runs are safe
from any number of processes at once, whatever ``wrap_mode`` says.

What the context still does:

* :meth:`~MultiprocContext.start` stores the trajectory if it was never stored, so workers do
  not race to create it (nor overwrite a file with ``overwrite_file=True`` one after another);
* :meth:`~MultiprocContext.finalize` compacts what the workers acknowledged into the main file
  and gives the trajectory of this process the run table that results;
* ``log_config``/``log_stdout`` set up logging for the time of the context, as the Environment
  does.
"""

from __future__ import annotations

import logging
from typing import Any

from distenv import constants
from distenv.environment.keywords import BY_NAME
from distenv.environment.specs import LoggingSpec
from distenv.errors import ConfigurationError
from distenv.trajectory import Trajectory

logger = logging.getLogger("distenv.environment.multiproc_context")

#: Wrap modes a MultiprocContext accepts (pypet's; LOCAL needs an Environment collecting
#: results, so pypet refused it too). With distenv's journal they all store the same way.
CONTEXT_WRAP_MODES = (constants.WRAP_MODE_LOCK, constants.WRAP_MODE_QUEUE,
                      constants.WRAP_MODE_PIPE, constants.WRAP_MODE_NETLOCK,
                      constants.WRAP_MODE_NETQUEUE, constants.WRAP_MODE_NONE)


class MultiprocContext:
    """Make a trajectory safe to store from several processes without an Environment.

    Parameters
    ----------
    trajectory:
        The trajectory the processes share (each gets its own copy, e.g. pickled to a
        ``multiprocessing.Pool``).
    wrap_mode:
        pypet's choice of wrapper: ``'LOCK'`` (default), ``'QUEUE'``, ``'PIPE'``,
        ``'NETLOCK'``, ``'NETQUEUE'`` or ``'NONE'``. Accepted for compatibility; distenv's
        journal makes every one of them store directly and safely (``'LOCAL'`` is refused, as
        in pypet: it needs an Environment that collects the results).
    full_copy:
        pypet's ``v_full_copy`` for the trajectory; distenv always sends the whole trajectory,
        so only ``None``, ``True`` and ``False`` are checked.
    manager, use_manager, lock, queue, queue_maxsize, port, timeout, gc_interval:
        pypet's wrapper settings: checked for their type and kept as attributes; no lock,
        queue, pipe or server is needed, so none is created.
    log_config, log_stdout:
        Logging while the context is active, as the Environment's keywords of that name
        (``None``/``False``: leave logging alone).
    finalize:
        Call :meth:`finalize` when the context is garbage collected without it.

    Example
    -------
    >>> with MultiprocContext(traj, wrap_mode='LOCK'):
    ...     with multiprocessing.Pool(4) as pool:
    ...         pool.map(store_something, [traj] * 20)
    >>> traj.results.f_load(load_data=3)
    """

    def __init__(self, trajectory: Trajectory, wrap_mode: str = constants.WRAP_MODE_LOCK,
                 full_copy: bool | None = None, manager: Any = None, use_manager: bool = True,
                 lock: Any = None, queue: Any = None, queue_maxsize: int = 0,
                 port: Any = None, timeout: float | None = None, gc_interval: int | None = None,
                 log_config: Any = None, log_stdout: Any = False, finalize: bool = True):
        if not isinstance(trajectory, Trajectory):
            raise ConfigurationError("MultiprocContext needs a Trajectory, not %r"
                                     % (trajectory,))
        if wrap_mode not in CONTEXT_WRAP_MODES:
            raise ConfigurationError(
                "MultiprocContext(wrap_mode=%r) is invalid: use one of %s%s"
                % (wrap_mode, ", ".join(repr(mode) for mode in CONTEXT_WRAP_MODES),
                   " (LOCAL needs an Environment that collects results)"
                   if wrap_mode == constants.WRAP_MODE_LOCAL else ""))
        for name, value in (("full_copy", full_copy),):
            if value is not None and not isinstance(value, bool):
                raise ConfigurationError("%s must be None, True or False, not %r" % (name, value))
        for name, value in (("use_manager", use_manager), ("finalize", finalize)):
            if not isinstance(value, bool):
                raise ConfigurationError("%s must be True or False, not %r" % (name, value))
        self.trajectory = trajectory
        self.wrap_mode = wrap_mode
        self.full_copy = full_copy
        self.manager = manager
        self.use_manager = use_manager
        self.lock = lock
        self.queue = queue
        self.queue_maxsize = BY_NAME["queue_maxsize"].check("queue_maxsize", queue_maxsize)
        self.port = BY_NAME["port"].check("port", port)
        self.timeout = BY_NAME["timeout"].check("timeout", timeout)
        self.gc_interval = BY_NAME["gc_interval"].check("gc_interval", gc_interval)
        self.log_config = BY_NAME["log_config"].check("log_config", log_config)
        self.log_stdout = BY_NAME["log_stdout"].check("log_stdout", log_stdout)
        self.finalize_on_delete = finalize
        self._started = False
        self._logging: Any = None

    # -- pypet's API -----------------------------------------------------------------------------
    def start(self) -> "MultiprocContext":
        """Get the trajectory ready for several processes (alias ``f_start``).

        Stores the trajectory's skeleton if it was never stored, and starts logging if asked.
        """
        if self._started:
            return self
        traj = self.trajectory
        if not traj.v_stored:
            traj.f_store(only_init=True)
        if self.log_config is not None or self.log_stdout:
            from distenv.environment.logging_setup import LoggingSetup
            self._logging = LoggingSetup.start(
                LoggingSpec(log_config=self.log_config, log_stdout=self.log_stdout), traj,
                "multiproc_context")
        self._started = True
        return self

    def finalize(self) -> None:
        """Compact what the processes stored into the main file and read back the run table
        (alias ``f_finalize``). Safe to call more than once."""
        if not self._started:
            return
        self._started = False
        try:
            self.trajectory.v_storage_service.compact(self.trajectory)
        finally:
            if self._logging is not None:
                self._logging.stop()
                self._logging = None

    f_start = start
    f_finalize = finalize

    @property
    def started(self) -> bool:
        return self._started

    def __enter__(self) -> "MultiprocContext":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.finalize()

    def __del__(self) -> None:
        if getattr(self, "finalize_on_delete", False) and getattr(self, "_started", False):
            try:
                self.finalize()
            except Exception:  # noqa: BLE001 -- interpreter shutdown
                pass

    def __repr__(self) -> str:
        return "<MultiprocContext %r wrap_mode=%s%s>" % (
            self.trajectory.v_name, self.wrap_mode, " started" if self._started else "")
