"""One run, as a worker makes it: a frozen :class:`RunSpec` in, a :class:`RunOutcome` out.

:func:`execute_run` is a top-level function on purpose: the serial loop calls it directly, and
an executor (issue 4) can ship the very same function with a ``RunSpec`` to another process.
It never touches storage -- the orchestrator (:mod:`distenv.environment.runner`) hands the
outcome to storage, so the same worker serves every storage mode.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Sequence

from distenv.constants import RUN_COMPLETED, RUN_FAILED, RUN_STATUS_NAMES
from distenv.environment import logging_hook

HOST = socket.gethostname()


@dataclass(frozen=True, slots=True)
class RunSpec:
    """What one run needs besides the trajectory.

    Attributes
    ----------
    run_index:
        The run to make (its explored parameter values come from the trajectory).
    job:
        ``job(traj, *args, **kwargs)``.
    args, kwargs:
        Arguments of this run (the same for every run with ``run``, per run with ``run_map``).
    clean_up:
        Remove the run's new data from the trajectory once the outcome holds it.
    """

    run_index: int
    job: Callable[..., Any]
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    clean_up: bool = True


class RunSpecs:
    """The runs of one batch: run indices with their arguments and one job.

    Iterating makes one :class:`RunSpec` per run, lazily (the serial loop); an executor takes
    the columns directly and makes no object per run (20,000 specs took 30 ms).
    """

    __slots__ = ("indices", "job", "args", "kwargs", "clean_up")

    def __init__(self, indices: Sequence[int], job: Callable[..., Any], args: Sequence[tuple],
                 kwargs: Sequence[Mapping[str, Any]], clean_up: bool = True):
        self.indices = list(indices)
        self.job = job
        self.args = list(args)
        self.kwargs = list(kwargs)
        if not len(self.args) == len(self.kwargs) == len(self.indices):
            raise ValueError("%d run indices with %d argument tuples and %d keyword dicts"
                             % (len(self.indices), len(self.args), len(self.kwargs)))
        self.clean_up = clean_up

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[RunSpec]:
        job, clean_up = self.job, self.clean_up
        for index, args, kwargs in zip(self.indices, self.args, self.kwargs):
            yield RunSpec(index, job, args, kwargs, clean_up)

    def one_input(self) -> bool:
        """Every run has the same arguments (the very same objects: ``freeze_input`` can
        freeze them into the workers once)."""
        if not self.indices:
            return False
        args, kwargs = self.args[0], self.kwargs[0]
        return all(item is args for item in self.args) and \
            all(item is kwargs for item in self.kwargs)


class RunOutcome(NamedTuple):
    """What one run produced, small enough to send back from a worker process.

    A named tuple, not a dataclass: a pool sends one per run, and a tuple is built, pickled
    and unpickled several times faster (measured: 51 bytes and about 2 µs per trivial run
    instead of about 13 µs for a frozen dataclass).

    Attributes
    ----------
    run_index, status:
        Run index and ``RUN_COMPLETED``/``RUN_FAILED`` (:mod:`distenv.constants`).
    value:
        What the job returned (``None`` for a failed run).
    leaves:
        Leaves the run added (empty for a failed run: partial data of a failed run is dropped),
        as ``traj._leave_run()`` returns them: a list that also carries each leaf's column key
        (``run_keys``), so storage need not parse names.
    start, finish:
        Wall-clock times (``time.time()``).
    error:
        Formatted traceback of a failed run, ``''`` otherwise.
    host, pid:
        Where the run was made.
    exception:
        The exception of a failed run, when it can travel (not compared, not shown).
    stored:
        True when a worker-side storage mode already stored the run (then ``leaves`` is empty).
    """

    run_index: int
    status: int
    value: Any = None
    leaves: Sequence = ()
    start: float = 0.0
    finish: float = 0.0
    error: str = ""
    host: str = HOST
    pid: int = 0
    exception: BaseException | None = None
    stored: bool = False

    def __eq__(self, other: object) -> bool:  # the exception is not compared
        if not isinstance(other, RunOutcome):
            return NotImplemented
        return self[:9] == other[:9] and self.stored == other.stored

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self[:4])

    def __repr__(self) -> str:
        return ("RunOutcome(run_index=%r, status=%r, value=%r, start=%r, finish=%r, host=%r, "
                "pid=%r, stored=%r)" % (self.run_index, self.status, self.value, self.start,
                                         self.finish, self.host, self.pid, self.stored))

    def stored_copy(self) -> "RunOutcome":
        """This outcome once storage in the worker has it: no leaves, ``stored=True``."""
        return _new_outcome(RunOutcome, (self[0], self[1], self[2], (), self[4], self[5],
                                         self[6], self[7], self[8], self[9], True))

    def stored_reply(self) -> "tuple | RunOutcome":
        """What a worker that stored this run sends back to the main process: for a completed
        run the plain tuple ``(run_index, value, start, finish, host, pid)`` (see
        :func:`as_outcome`), which pickles and unpickles ten times faster than an outcome;
        a failed run keeps its outcome (:meth:`stored_copy`), error and exception."""
        if self[1] == RUN_COMPLETED:
            return (self[0], self[2], self[4], self[5], self[7], self[8])
        return self.stored_copy()

    @property
    def completed(self) -> bool:
        return self.status == RUN_COMPLETED

    @property
    def failed(self) -> bool:
        return self.status == RUN_FAILED

    @property
    def status_name(self) -> str:
        return RUN_STATUS_NAMES[self.status]


def as_outcome(reply: "tuple | RunOutcome") -> RunOutcome:
    """The :class:`RunOutcome` of what a worker sent back (:meth:`RunOutcome.stored_reply`)."""
    if type(reply) is not tuple:
        return reply
    index, value, start, finish, host, pid = reply
    return RunOutcome(index, RUN_COMPLETED, value, (), start, finish, "", host, pid, None, True)


def execute_run(traj: Any, spec: RunSpec) -> RunOutcome:
    """Make run ``spec.run_index`` of ``traj`` and report what happened.

    An exception of the job becomes a failed outcome with its traceback. ``KeyboardInterrupt``
    and other ``BaseException`` propagate (the trajectory is left outside the run first), so the
    run stays pending and is made again on resume.

    Example
    -------
    >>> outcome = execute_run(traj, RunSpec(0, job))
    >>> outcome.completed, outcome.value
    (True, 42)
    """
    return make_run(traj, spec.run_index, spec.job, spec.args, spec.kwargs, spec.clean_up)


def make_run(traj: Any, run_index: int, job: Callable[..., Any], args: tuple = (),
             kwargs: Mapping[str, Any] | None = None, clean_up: bool = True) -> RunOutcome:
    """:func:`execute_run` with the fields of a :class:`RunSpec` as arguments (the workers'
    path: no spec object per run)."""
    traj._set_run(run_index)
    if logging_hook.PER_RUN_HANDLERS:  # $run/$set log files follow the run (issue 6)
        logging_hook.run_started(traj)
    start = time.time()
    try:
        value = job(traj, *args, **kwargs) if kwargs else job(traj, *args)
    except Exception as exc:  # noqa: BLE001 -- reported, then raised by the orchestrator
        finish = time.time()
        tb = exc.__traceback__
        error = "".join(traceback.format_exception(type(exc), exc, tb.tb_next or tb))
        traj._leave_run(clean_up=True)
        return RunOutcome(run_index, RUN_FAILED, None, (), start, finish, error, HOST,
                          _PID[0], exc)
    except BaseException:
        traj._leave_run(clean_up=True)
        raise
    finish = time.time()
    leaves = traj._leave_run(clean_up=clean_up)
    return RunOutcome(run_index, RUN_COMPLETED, value, leaves, start, finish, "", HOST, _PID[0])


#: This process's id, renewed in forked children (``os.getpid()`` is a system call per run).
_PID = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))

_new_outcome = tuple.__new__
