"""The run loop: prepare storage, feed run outcomes to storage and the run table, finish.

The loop does not care where runs execute. :func:`serial_outcomes` makes them one after the
other in this process with :func:`~distenv.environment.worker.execute_run`; an executor (issue 4)
supplies the same :class:`~distenv.environment.worker.RunOutcome` objects from other processes
and :meth:`RunLoop.drive` stores them identically.

Failure policy (serial): the first failed run stops the batch. It is recorded as failed (with
its traceback) in the run table and in the file, every run completed before it is stored, the
file is compacted and loadable, and :class:`~distenv.errors.RunFailedError` is raised, chained
from the job's exception (``raise ... from``), carrying ``run_index`` and ``remote_traceback``.
A ``KeyboardInterrupt`` leaves the interrupted run pending, stores the completed ones and
propagates unchanged.
"""

from __future__ import annotations

import contextlib
import logging
from operator import itemgetter
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from distenv.environment.graceful import GracefulExit
from distenv.environment.parallel import is_timeout
from distenv.environment.progress import ProgressReporter
from distenv.environment.specs import ExecutorSpec, ProgressSpec, RunSettings, StorageModeSpec
from distenv.environment.worker import RunOutcome, RunSpec, RunSpecs, as_outcome, execute_run
from distenv.constants import RUN_FAILED
from distenv.errors import RunFailedError, WorkerDiedError
from distenv.storage.runrows import drop_superseded_of

logger = logging.getLogger("distenv")


def serial_outcomes(traj: Any, specs: Iterable[RunSpec], graceful_exit: bool = False,
                    timeout: float | None = None) -> Iterator[RunOutcome]:
    """Make the runs one by one in this process (lazily: a stopped loop starts no more).

    With ``graceful_exit`` the first SIGINT lets the current run finish; no other starts.
    A run over ``timeout`` seconds is interrupted (the serial executor's alarm) and failed.
    """
    with GracefulExit(graceful_exit, lambda: None) as graceful:
        for spec in specs:
            if graceful.interrupted:
                break
            yield execute_run(traj, spec) if timeout is None else \
                _serial_run_with_timeout(traj, spec, timeout)
    graceful.raise_if_interrupted()


def _serial_run_with_timeout(traj: Any, spec: RunSpec, timeout: float) -> RunOutcome:
    from distenv.environment.parallel import _failed_outcome
    from distenv.executors.serial import SerialExecutor
    future = SerialExecutor(timeout=timeout).submit_task(execute_run, (traj, spec),
                                                         task_id=spec.run_index)
    error = future.exception()
    return future.result() if error is None else _failed_outcome(spec.run_index, error)


class RunLoop:
    """Drives batches of runs of one trajectory for one Environment.

    Parameters
    ----------
    traj:
        The trajectory.
    settings:
        ``automatic_storing`` (store before, each run, after) and ``clean_up_runs``.
    env_hash:
        Short environment hash written into the run table.
    progress:
        ``report_progress`` spec, or ``None``.
    executor, storage_mode:
        Where runs execute and how workers share the store (``None``: serial).
    """

    def __init__(self, traj: Any, settings: RunSettings, env_hash: str,
                 progress: ProgressSpec | None, executor: ExecutorSpec | None = None,
                 storage_mode: StorageModeSpec | None = None):
        self.traj = traj
        self.settings = settings
        self.env_hash = env_hash
        self.progress = progress
        self.executor = executor or ExecutorSpec()
        self.storage_mode = storage_mode or StorageModeSpec()
        #: Picklable logging set-up for worker processes (the Environment sets it; issue 6).
        self.worker_logging: Any = None

    def pending(self) -> list[int]:
        """Run indices not completed yet (new, failed before, or interrupted)."""
        return (~self.traj._run_table.completed()).nonzero()[0].tolist()  # Python ints

    def specs(self, indices: Sequence[int], job: Any, per_run_args: Sequence[tuple],
              per_run_kwargs: Sequence[dict]) -> RunSpecs:
        """The runs ``indices`` as :class:`RunSpecs` (each :class:`RunSpec` is made lazily, a
        million runs need no million specs in memory at once)."""
        return RunSpecs(indices, job, per_run_args, per_run_kwargs, self.settings.clean_up_runs)

    def execute(self, specs: RunSpecs | Iterable[RunSpec], total: int) -> list[tuple[int, Any]]:
        """Make ``total`` runs from ``specs`` with the configured executor; see :meth:`drive`."""
        spec = self.executor
        if spec.backend == "serial":
            outcomes = serial_outcomes(self.traj, specs, spec.graceful_exit, spec.timeout)
            return self.drive(([outcome] for outcome in outcomes), total)
        from distenv.environment.parallel import parallel_outcomes
        storing = self.settings.automatic_storing
        service = self.traj.v_storage_service if storing else None
        sweep = Sweep(self, total, overlap_first_store=True)
        outcomes = parallel_outcomes(self.traj, specs, spec, self.storage_mode, service,
                                     self.env_hash, storing, self.worker_logging,
                                     first_store=sweep.write_first_store)
        return self.drive(outcomes, total, finish_order=spec.immediate_postproc, sweep=sweep)

    def drive(self, blocks: Iterable[list[RunOutcome]], total: int,
              finish_order: bool = False, sweep: "Sweep | None" = None) -> list[tuple[int, Any]]:
        """Store every outcome as it arrives (``blocks``: lists of outcomes); return
        ``[(run_index, value), ...]`` by index (in finish order with ``finish_order``, for
        ``immediate_postproc``).

        A run over ``timeout`` is marked failed and the sweep goes on; any other failure stops
        it.

        Raises
        ------
        TrajectoryExistsError
            From the first store, before any run, if the file holds a trajectory of that name.
        RunFailedError
            After storing everything, if a run failed.

        ``sweep`` is one made already (:class:`Sweep` with ``overlap_first_store``).
        """
        sweep = sweep or self.begin(total)
        try:
            for block in blocks:
                if not sweep.record_block(block):
                    break
        finally:
            if hasattr(blocks, "close"):
                blocks.close()
            sweep.close()
        return sweep.finish(finish_order)

    def begin(self, total: int) -> "Sweep":
        """Start the bookkeeping of ``total`` runs (first store, journal, parameter lock)."""
        return Sweep(self, total)

    def stream(self) -> Any:
        """A :class:`~distenv.environment.parallel.RunStream` on this loop's executor: runs
        may be added while others execute (``immediate_postproc``)."""
        from distenv.environment.parallel import RunStream
        storing = self.settings.automatic_storing
        service = self.traj.v_storage_service if storing else None
        return RunStream(self.traj, self.executor, self.storage_mode, service, self.env_hash,
                         storing, self.worker_logging)

    def _acknowledged(self, results: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
        """``results`` without runs the file does not hold as completed.

        A worker that journals its own runs (LOCK, NONE) acknowledges them in batches; when
        distenv kills it (another run failed, CTRL+C without ``graceful_exit``, a worker died)
        the runs it had not acknowledged are lost with it. They are pending again.
        """
        indices = np.fromiter(map(itemgetter(0), results), dtype=np.int64, count=len(results))
        lost = indices[~self.traj._run_table.completed()[indices]].tolist()
        if not lost:
            return results
        logger.warning("%d run(s) of trajectory %r finished in worker processes that were "
                       "stopped before acknowledging them (%s); they are pending again and "
                       "env.run makes them", len(lost), self.traj.v_name,
                       ", ".join(map(str, lost[:10])) + (", ..." if len(lost) > 10 else ""))
        dropped = set(lost)
        return [pair for pair in results if pair[0] not in dropped]

    def _record(self, outcome: RunOutcome, journal: Any) -> None:
        traj = self.traj
        if journal is not None and not outcome.stored:
            journal.store_run(traj, outcome.run_index, outcome.leaves, outcome.status,
                              outcome.start, outcome.finish, outcome.error,
                              host=outcome.host, pid=outcome.pid or None)
        traj._run_table.mark(outcome.run_index, outcome.status, outcome.start, outcome.finish,
                             outcome.host, outcome.pid, self.env_hash, outcome.error)

    def _failed(self, outcome: RunOutcome, completed: int) -> RunFailedError:
        traj = self.traj
        index = outcome.run_index
        last_line = outcome.error.strip().splitlines()[-1] if outcome.error.strip() else "?"
        where = ""
        if self.settings.automatic_storing:
            service = traj.v_storage_service
            filename = service.filename_for(traj.v_name) if hasattr(service, "filename_for") \
                else None
            where = " and stored%s" % (" in %s" % filename if filename else "")
        message = ("run %d (%s) of trajectory %r failed: %s\n%d run(s) of this batch completed "
                   "before it%s; the run is marked failed in the run table, its traceback is "
                   "traj.f_get_run_information(%d)['error'] and this error's remote_traceback"
                   % (index, traj.f_idx_to_run(index), traj.v_name, last_line, completed, where,
                      index))
        error_class = WorkerDiedError if isinstance(outcome.exception, WorkerDiedError) else \
            RunFailedError
        return error_class(message, run_index=index, remote_traceback=outcome.error)


class Sweep:
    """The bookkeeping around one stream of run outcomes (:meth:`RunLoop.drive`, and the
    rounds of ``immediate_postproc`` that post-processing extends while runs execute).

    Made by :meth:`RunLoop.begin`: stores the trajectory (with ``automatic_storing``), opens
    the main process's journal, locks the parameters and starts the progress report.
    :meth:`record` stores each outcome, :meth:`paused` lets post-processing work on the
    trajectory mid-stream, :meth:`close` undoes the set-up and stores, :meth:`finish` returns
    the results or raises the failure.
    """

    def __init__(self, loop: RunLoop, total: int, overlap_first_store: bool = False):
        self.loop = loop
        traj = self.traj = loop.traj
        self.journal: Any = None
        #: The first store, claimed but not written yet (``overlap_first_store``).
        self._first_store: Any = None
        self._first_store_failed = False
        service = traj.v_storage_service if loop.settings.automatic_storing else None
        if service is not None:
            if overlap_first_store and hasattr(service, "begin_store_trajectory"):
                # shards the workers write meanwhile go to the last store (see pending.py)
                self._first_store = service.begin_store_trajectory(traj, take_in_journal=False)
            else:
                traj.f_store()
        try:
            if service is not None:
                self.journal = service.run_journal(traj, loop.env_hash)
            self._unlocked = self._lock_parameters()
            # runs that failed before and are made again leave two rows in the stored run table
            self._remakes_failed = bool((traj._run_table.status == RUN_FAILED).any())
            #: ``(run_index, value)`` of the completed runs, in the order they were recorded.
            self.results: list[tuple[int, Any]] = []
            #: The failed run that stopped the sweep, if any.
            self.failure: RunOutcome | None = None
            self.progress = ProgressReporter(loop.progress, total, traj.v_name)
        except BaseException:
            if self._first_store is not None:  # the claim holds the file's lock: give it up
                self._first_store.abort()
            raise

    def write_first_store(self) -> None:
        """Write the first store claimed by ``overlap_first_store`` (the workers run
        meanwhile); nothing to do without one. On failure the store is given up (the
        trajectory is as before it) and :meth:`close` stores nothing."""
        pending, self._first_store = self._first_store, None
        if pending is None:
            return
        try:
            pending.write()
        except BaseException:
            self._first_store_failed = True
            raise

    def _lock_parameters(self) -> list[Any]:
        """Lock every parameter; return those that were not locked (unlocked again later)."""
        traj = self.traj
        unlocked = [parameter for parameter in traj.f_get_parameters().values()
                    if not parameter.v_locked]
        traj.f_lock_parameters()
        return unlocked

    def _unlock_parameters(self) -> None:
        for parameter in self._unlocked:
            parameter.f_unlock()
        self._unlocked = []

    def record(self, outcome: RunOutcome) -> bool:
        """Store ``outcome`` and count it; ``False`` when the sweep must stop (a failure)."""
        self.loop._record(outcome, self.journal)
        self.progress.advance()
        if outcome.failed:
            if is_timeout(outcome):
                logger.warning("run %d of %r exceeded the timeout; it is marked failed "
                               "and the sweep goes on", outcome.run_index, self.traj.v_name)
                return True
            self.failure = outcome
            return False
        self.results.append((outcome.run_index, outcome.value))
        return True

    def record_block(self, outcomes: list) -> bool:
        """:meth:`record` for a list of outcomes; completed runs that a worker stored (the
        common case with many tiny runs, sent back as plain tuples, see
        :meth:`~distenv.environment.worker.RunOutcome.stored_reply`) go into the run table at
        once, not one by one."""
        if set(map(type, outcomes)) != {tuple}:
            for outcome in outcomes:
                if not self.record(as_outcome(outcome)):
                    return False
            return True
        index, values, start, finish, host, pid = zip(*outcomes)
        self.traj._run_table.mark_completed(index, start, finish, host, pid,
                                            self.loop.env_hash)
        self.progress.advance(len(outcomes))
        self.results.extend(zip(index, values))
        return True

    def extend(self, runs: int) -> None:
        """``runs`` more runs joined the stream."""
        self.progress.extend(runs)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Post-processing while runs still execute: the runs recorded so far are
        acknowledged and compacted into the file first (so post-processing can load them),
        the parameters are unlocked as they were before the sweep (so it can expand or set
        them); afterwards every parameter is locked again."""
        if self.journal is not None:
            self.journal.flush()
            self.traj.f_store()
        self._unlock_parameters()
        try:
            yield
        finally:
            self._unlocked = self._lock_parameters()

    def close(self) -> None:
        """The stream ended: stop the progress report, unlock, acknowledge and store."""
        self.progress.close()
        self._unlock_parameters()
        if self._first_store is not None:  # no run started (bad input): stored all the same
            self.write_first_store()
        if self.journal is not None and not self._first_store_failed:
            self.journal.close()
            self.traj.f_store()
            if self._remakes_failed:  # one row per run: the newest
                drop_superseded_of(self.traj)

    def finish(self, finish_order: bool = False) -> list[tuple[int, Any]]:
        """The results of the acknowledged runs (by index unless ``finish_order``).

        Raises
        ------
        RunFailedError
            A run failed (after everything else was stored).
        """
        results = self.results
        if self.journal is not None:
            results = self.loop._acknowledged(results)
        if self.failure is not None:
            raise self.loop._failed(self.failure, len(results)) from self.failure.exception
        if not finish_order:
            results.sort(key=itemgetter(0))
        return results
