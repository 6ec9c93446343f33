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

from typing import Any, Iterable, Iterator, Sequence

import logging

from distenv.environment.parallel import GracefulExit, is_timeout
from distenv.environment.progress import ProgressReporter
from distenv.environment.specs import ExecutorSpec, ProgressSpec, RunSettings, StorageModeSpec
from distenv.environment.worker import RunOutcome, RunSpec, execute_run
from distenv.errors import RunFailedError, WorkerDiedError

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
        return [int(index) for index in (~self.traj._run_table.completed()).nonzero()[0]]

    def specs(self, indices: Sequence[int], job: Any, per_run_args: Sequence[tuple],
              per_run_kwargs: Sequence[dict]) -> Iterator[RunSpec]:
        """One :class:`RunSpec` per index, made lazily (a million runs need no million specs
        in memory at once)."""
        clean_up = self.settings.clean_up_runs
        for index, args, kwargs in zip(indices, per_run_args, per_run_kwargs):
            yield RunSpec(index, job, args, kwargs, clean_up)

    def execute(self, specs: Iterable[RunSpec], total: int) -> list[tuple[int, Any]]:
        """Make ``total`` runs from ``specs`` with the configured executor; see :meth:`drive`."""
        spec = self.executor
        if spec.backend == "serial":
            return self.drive(serial_outcomes(self.traj, specs, spec.graceful_exit,
                                              spec.timeout), total)
        from distenv.environment.parallel import parallel_outcomes
        storing = self.settings.automatic_storing
        service = self.traj.v_storage_service if storing else None
        outcomes = parallel_outcomes(self.traj, list(specs), spec, self.storage_mode, service,
                                     self.env_hash, storing, self.worker_logging)
        return self.drive(outcomes, total, finish_order=spec.immediate_postproc)

    def drive(self, outcomes: Iterable[RunOutcome], total: int,
              finish_order: bool = False) -> list[tuple[int, Any]]:
        """Store every outcome as it arrives; return ``[(run_index, value), ...]`` by index
        (in finish order with ``finish_order``, for ``immediate_postproc``).

        A run over ``timeout`` is marked failed and the sweep goes on; any other failure stops
        it.

        Raises
        ------
        TrajectoryExistsError
            From the first store, before any run, if the file holds a trajectory of that name.
        RunFailedError
            After storing everything, if a run failed.
        """
        traj = self.traj
        storing = self.settings.automatic_storing
        journal = None
        if storing:
            traj.f_store()
            journal = traj.v_storage_service.run_journal(traj, self.env_hash)
        unlocked = [parameter for parameter in traj.f_get_parameters().values()
                    if not parameter.v_locked]
        traj.f_lock_parameters()
        results: list[tuple[int, Any]] = []
        failure: RunOutcome | None = None
        progress = ProgressReporter(self.progress, total, traj.v_name)
        try:
            for outcome in outcomes:
                self._record(outcome, journal)
                progress.advance()
                if outcome.failed:
                    if is_timeout(outcome):
                        logger.warning("run %d of %r exceeded the timeout; it is marked failed "
                                       "and the sweep goes on", outcome.run_index, traj.v_name)
                        continue
                    failure = outcome
                    break
                results.append((outcome.run_index, outcome.value))
        finally:
            progress.close()
            if hasattr(outcomes, "close"):
                outcomes.close()
            for parameter in unlocked:
                parameter.f_unlock()
            if journal is not None:
                journal.close()
                traj.f_store()
        if journal is not None:
            results = self._acknowledged(results)
        if failure is not None:
            raise self._failed(failure, len(results)) from failure.exception
        if not finish_order:
            results.sort(key=lambda pair: pair[0])
        return results

    def _acknowledged(self, results: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
        """``results`` without runs the file does not hold as completed.

        A worker that journals its own runs (LOCK, NONE) acknowledges them in batches; when
        distenv kills it (another run failed, CTRL+C without ``graceful_exit``, a worker died)
        the runs it had not acknowledged are lost with it. They are pending again.
        """
        completed = self.traj._run_table.completed()
        lost = [index for index, _ in results if not completed[index]]
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
