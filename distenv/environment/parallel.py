"""Runs in worker processes: an executor makes them, a storage mode stores them.

:func:`parallel_outcomes` yields the same :class:`~distenv.environment.worker.RunOutcome`
objects as the serial loop (in lists), so :class:`~distenv.environment.runner.RunLoop` stores
and reports them identically. The trajectory always reaches the workers once (frozen into them at fork:
pypet pickled it for every run); ``freeze_input=True`` freezes the job and its arguments too.

Failures never hang: a job's exception comes back as a failed outcome with its traceback; a
worker that dies (signal, segfault, OOM kill) or a run over ``timeout`` is turned into a failed
outcome by the executor within seconds. On the first failure the loop stops: running tasks
are killed (their runs stay pending for resume), everything acknowledged stays stored.
"""

from __future__ import annotations

import contextlib
import gc
import pickle
import queue
import time
from concurrent.futures import CancelledError, Future
from typing import Any, Iterator

from distenv.constants import RUN_FAILED
from distenv.environment.graceful import GracefulExit
from distenv.environment.worker import HOST, RunOutcome, RunSpecs, as_outcome, make_run
from distenv.errors import ConfigurationError, RunTimeoutError
from distenv.executors import frozen
from distenv.executors.tasks import SharedArguments
from distenv.modes import create_mode
from distenv.modes.local import LocalMode


def _run_frozen(traj: Any, worker_side: Any, job: Any, args: tuple, kwargs: dict,
                index: int) -> "RunOutcome | tuple":
    """A run whose job and arguments were frozen into the worker."""
    return _finish(traj, worker_side, make_run(traj, index, job, args, kwargs))


def _run_sent(traj: Any, worker_side: Any, index: int, job: Any, args: tuple,
              kwargs: dict) -> "RunOutcome | tuple":
    """A run whose job and arguments came with the task."""
    return _finish(traj, worker_side, make_run(traj, index, job, args, kwargs))


def _run_in_round(copy: "TrajectoryCopy", base_key: str, frozen_key: str | None, index: int,
                  job: Any, args: tuple, kwargs: dict) -> RunOutcome:
    """A run of a round that post-processing added while the workers already ran: it uses the
    trajectory as post-processing left it (``copy``), not the one the worker was forked with.
    ``job`` ``None`` takes the frozen job and arguments (``freeze_input``)."""
    _, (traj, worker_side), _ = frozen.lookup(base_key)
    if job is None:
        _, (_, _, job, args, kwargs), _ = frozen.lookup(frozen_key)
    round_traj = copy.trajectory(traj)
    return _finish(round_traj, worker_side, make_run(round_traj, index, job, args, dict(kwargs)))


class TrajectoryCopy:
    """The trajectory pickled once in the main process, unpickled once per worker process.

    ``pickled`` is ``None`` when the trajectory cannot be pickled and the executor forks a
    process per run from the live trajectory (which then is what the run gets).
    """

    def __init__(self, pickled: bytes | None):
        self.pickled = pickled
        self._unpickled: Any = None

    def __getstate__(self) -> dict:
        return {"pickled": self.pickled}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["pickled"])

    def trajectory(self, inherited: Any) -> Any:
        if self.pickled is None:
            return inherited
        if self._unpickled is None:
            self._unpickled = pickle.loads(self.pickled)
        return self._unpickled


def _finish(traj: Any, worker_side: Any, outcome: RunOutcome) -> "RunOutcome | tuple":
    """The worker side's reply (:meth:`~distenv.environment.worker.RunOutcome.stored_reply`),
    ready to travel."""
    reply = worker_side.handle(traj, outcome)
    return reply if type(reply) is tuple else _travelling(reply)


def _travelling(outcome: RunOutcome) -> RunOutcome:
    """``outcome`` with an exception that cannot be pickled reduced to its traceback text."""
    if outcome.exception is not None:
        try:
            pickle.dumps(outcome.exception)
        except Exception:  # the traceback text travels; the object cannot
            return RunOutcome(outcome.run_index, outcome.status, None, outcome.leaves,
                              outcome.start, outcome.finish, outcome.error, outcome.host,
                              outcome.pid, None, outcome.stored)
    return outcome


def executor_options(spec: Any) -> dict:
    """Keyword arguments of the registered local executors from an ``ExecutorSpec``."""
    options = {"ncores": spec.ncores, "timeout": spec.timeout, "niceness": spec.niceness}
    if spec.backend == "process":
        memory_cap = spec.memory_cap if spec.memory_per_process is None else \
            (spec.memory_cap, spec.memory_per_process)
        options.update(cpu_cap=spec.cpu_cap, memory_cap=memory_cap, swap_cap=spec.swap_cap)
    return options


def make_executor(spec: Any, worker_logging: Any = None) -> Any:
    """The executor of an ``ExecutorSpec``; its workers set up logging first (issue 6)."""
    from distenv.executors import create_executor
    if not isinstance(spec.backend, str):
        return spec.backend  # an Executor object given as executor=
    options = executor_options(spec)
    if worker_logging is not None and spec.backend != "serial":
        from distenv.environment.logging_worker import configure_worker_logging
        options.update(initializer=configure_worker_logging, initargs=(worker_logging,))
    return create_executor(spec.backend, **options)


def parallel_outcomes(traj: Any, specs: RunSpecs, executor_spec: Any, mode_spec: Any,
                      service: Any, env_hash: str, storing: bool,
                      worker_logging: Any = None,
                      first_store: Any = None) -> Iterator[list[RunOutcome]]:
    """Make ``specs`` with the executor and storage mode of the specs; yield their outcomes in
    lists, as the executor receives them (a pool: one list per piece of a worker), so the
    main process handles tiny runs per list and not one by one.

    ``first_store()`` writes the sweep's first store (claimed already, see
    :mod:`distenv.storage.pending`): it is called once the runs are handed to the executor,
    after its workers are forked where the executor says so, and the runs execute meanwhile.
    """
    mode = create_mode(mode_spec) if storing else LocalMode(mode_spec)
    executor = make_executor(executor_spec, worker_logging)
    mode.ack_each_run = executor_spec.backend == "process" or executor_spec.timeout is not None
    mode.hand_over_last_runs = executor_spec.backend == "pool" and not mode.ack_each_run
    worker_side = mode.start(traj, service, env_hash, getattr(executor, "ncores", 1) or 1)
    one_input = specs.one_input()
    if executor_spec.freeze_input and one_input:
        function = executor.freeze(_run_frozen, traj, worker_side, specs.job, specs.args[0],
                                   dict(specs.kwargs[0]))
        arguments: Any = SharedArguments(specs.indices)
    else:
        function = executor.freeze(_run_sent, traj, worker_side)
        job = specs.job
        if one_input:  # one shared copy (pickled once per piece)
            arguments = SharedArguments(specs.indices, (job, specs.args[0],
                                                        dict(specs.kwargs[0])))
        else:
            arguments = [(index, job, args, dict(kwargs)) for index, args, kwargs
                         in zip(specs.indices, specs.args, specs.kwargs)]
    finished = False
    stopper = getattr(executor, "stop_submitting", lambda: None)
    gc_interval = mode_spec.gc_interval if isinstance(mode, LocalMode) else None
    try:
        with GracefulExit(executor_spec.graceful_exit, stopper) as graceful:
            blocks = executor.imap_result_blocks(
                function, arguments, task_ids=specs.indices,
                ordered=not executor_spec.immediate_postproc)
            executor.no_more_tasks()  # a worker with nothing left exits (and flushes) at once
            if first_store is not None:
                # forks wait for a store anyway (hdf5_section): this only lets the workers
                # start before it, so that the store overlaps the runs
                executor.workers_started(FORK_WAIT_SECONDS)
                first_store()
            check = getattr(mode, "check", None)  # QUEUE/PIPE: is the writer alive?
            count = 0
            for ids, values, errors in blocks:
                if check is not None:
                    check()
                outcomes = _outcomes(ids, values, errors) if errors else values
                if outcomes:
                    yield outcomes
                if gc_interval and (count + len(values)) // gc_interval > count // gc_interval:
                    gc.collect()  # LOCAL: the main process stored the runs
                count += len(values)
            finished = True
        graceful.raise_if_interrupted()
    finally:
        _close(mode, executor, finished)


#: How long a sweep waits for its pool's workers to be forked before its first store.
FORK_WAIT_SECONDS = 2.0


def _close(mode: Any, executor: Any, clean: bool) -> None:
    """End a sweep's executor and storage mode: after a clean end workers exit normally and
    flush their journals, then the mode acknowledges; otherwise what runs is killed and the
    mode keeps what was acknowledged."""
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(mode.finish if clean else mode.abort)
        if clean:
            executor.shutdown(wait=True)
        else:
            executor.terminate()


class RunStream:
    """Runs in worker processes, as a stream that takes more runs while it flows.

    Used for ``immediate_postproc``: :meth:`add` hands runs to the executor at once (each a
    task of its own, so a round added later starts as soon as a worker is free, in between
    the last runs of the previous round); :meth:`next_outcome` returns the next run to finish,
    whichever round it belongs to, and ``None`` once no run is outstanding. A context manager:
    leaving it shuts the executor down (or kills what still runs after an error or a stop) and
    lets the storage mode acknowledge what its workers stored.

    The first :meth:`add` runs on the trajectory the workers are forked with. Runs added later
    (after post-processing changed the trajectory) carry a pickled copy of the trajectory as
    it is then, handed to each worker once.

    Raises
    ------
    ConfigurationError
        (:meth:`add`) a later round on an executor with long-lived workers, and a trajectory
        that cannot be pickled.
    """

    #: Backends that fork a new process per run from the live trajectory.
    FORK_PER_RUN = ("process",)

    def __init__(self, traj: Any, executor_spec: Any, mode_spec: Any, service: Any,
                 env_hash: str, storing: bool, worker_logging: Any = None):
        self.traj = traj
        self._spec = executor_spec
        self.mode = create_mode(mode_spec) if storing else LocalMode(mode_spec)
        self.executor = make_executor(executor_spec, worker_logging)
        # post-processing mid-stream loads the runs reported so far: workers that journal
        # their own runs acknowledge each one before reporting it
        self.mode.ack_each_run = True
        if hasattr(self.executor, "prefetch"):
            # a pool worker holds one run at a time: a run queued behind a long one on a busy
            # worker would wait for it while another worker idles -- and a run added by
            # post-processing must start as soon as any worker is free
            self.executor.prefetch = 1
        #: Worker processes (runs that can execute at once).
        self.workers = int(getattr(self.executor, "ncores", 1) or 1)
        self._worker_side = self.mode.start(traj, service, env_hash, self.workers)
        self._base = self.executor.freeze(_run_sent, traj, self._worker_side)
        self._frozen: tuple | None = None  # (handle, job, args, kwargs) with freeze_input
        self._round_call: Any = None
        self._rounds = 0
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._index_of: dict[Future, int] = {}
        #: Runs handed to the executor whose outcome has not been returned yet.
        self.outstanding = 0
        #: Every run index handed to the executor by this stream.
        self.submitted: set[int] = set()
        self._gc_interval = mode_spec.gc_interval if isinstance(self.mode, LocalMode) else None
        self._returned = 0
        self._graceful = GracefulExit(executor_spec.graceful_exit,
                                      getattr(self.executor, "stop_submitting", lambda: None))

    @property
    def interrupted(self) -> bool:
        """``graceful_exit``: CTRL+C stopped new runs."""
        return self._graceful.interrupted

    def __enter__(self) -> "RunStream":
        self._graceful.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._graceful.__exit__(exc_type, exc, tb)
        _close(self.mode, self.executor, exc_type is None and self.outstanding == 0)

    def add(self, batch: RunSpecs) -> None:
        """Hand the runs of ``batch`` to the executor now."""
        if not len(batch):
            return
        executor = self.executor
        later_round = self._rounds > 0
        self._rounds += 1
        specs = list(batch)
        if not later_round and self._spec.freeze_input and batch.one_input():
            first = specs[0]
            handle = executor.freeze(_run_frozen, self.traj, self._worker_side, first.job,
                                     first.args, dict(first.kwargs))
            self._frozen = (handle, first.job, first.args, first.kwargs)
        if later_round:
            self._round_call = executor.freeze(
                _run_in_round, self._copy(), self._base.key,
                None if self._frozen is None else self._frozen[0].key)
        for spec in specs:
            frozen_input = self._frozen is not None and spec.job is self._frozen[1] and \
                spec.args is self._frozen[2] and spec.kwargs is self._frozen[3]
            if self._round_call is not None:
                function = self._round_call
                arguments = (spec.run_index, None, None, None) if frozen_input else \
                    (spec.run_index, spec.job, spec.args, dict(spec.kwargs))
            elif frozen_input:
                function, arguments = self._frozen[0], (spec.run_index,)
            else:
                function = self._base
                arguments = (spec.run_index, spec.job, spec.args, dict(spec.kwargs))
            future = executor.submit_task(function, arguments, task_id=spec.run_index)
            self._index_of[future] = spec.run_index
            self.submitted.add(spec.run_index)
            self.outstanding += 1
            future.add_done_callback(self._done.put)

    def _copy(self) -> TrajectoryCopy:
        """The trajectory for runs of a later round, without the stored per-run data it can
        read from the file (its lazy column readers are not for sending)."""
        traj = self.traj
        columns, traj._run_columns = traj._run_columns, {}
        try:
            return TrajectoryCopy(pickle.dumps(traj, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception as exc:  # noqa: BLE001 -- pickling raises many kinds
            if getattr(self.executor, "name", None) in self.FORK_PER_RUN:
                return TrajectoryCopy(None)
            raise ConfigurationError(
                "immediate_postproc: post-processing added runs while the pool's workers still "
                "ran; they need the trajectory as post-processing left it, but trajectory %r "
                "cannot be pickled (%s: %s); use use_pool=False (a process per run forks from "
                "the live trajectory), immediate_postproc=False, or keep unpicklable objects "
                "out of the trajectory" % (traj.v_name, type(exc).__name__, exc)) from exc
        finally:
            traj._run_columns = columns

    def next_outcome(self) -> RunOutcome | None:
        """The next run to finish (failed ones included); ``None`` when none is outstanding.

        Runs cancelled by a graceful exit are skipped (they stay pending).

        Raises
        ------
        StorageError
            The QUEUE/PIPE writer process died.
        """
        check = getattr(self.mode, "check", None)
        while self.outstanding:
            try:
                future = self._done.get(timeout=0.5)
            except queue.Empty:
                if check is not None:
                    check()
                continue
            self.outstanding -= 1
            index = self._index_of.pop(future)
            if check is not None:
                check()
            if future.cancelled():
                continue
            error = future.exception()
            if isinstance(error, CancelledError):
                continue  # never started: graceful exit
            self._returned += 1
            if self._gc_interval and self._returned % self._gc_interval == 0:
                gc.collect()  # LOCAL: the main process stored the run
            return as_outcome(future.result()) if error is None else \
                _failed_outcome(index, error)
        return None

    def raise_if_interrupted(self) -> None:
        self._graceful.raise_if_interrupted()


def _outcomes(ids: Any, values: list, errors: dict) -> list:
    """A block's outcomes: the values, failed outcomes where an error came instead, nothing
    for runs a graceful exit cancelled (they stay pending)."""
    outcomes = []
    for position, value in enumerate(values):
        error = errors.get(position)
        if error is None:
            outcomes.append(value)
        elif not isinstance(error, CancelledError):
            outcomes.append(_failed_outcome(ids[position], error))
    return outcomes


def _failed_outcome(index: int, error: BaseException) -> RunOutcome:
    """A run the executor could not finish (worker died, timeout, result not sendable)."""
    now = time.time()
    return RunOutcome(index, RUN_FAILED, None, (), now, now,
                      "%s: %s" % (type(error).__name__, error), HOST, 0, error)


def is_timeout(outcome: RunOutcome) -> bool:
    return isinstance(outcome.exception, RunTimeoutError)
