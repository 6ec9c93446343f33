"""What each executor and storage mode can do: the one table the conformance suites read.

The executor suite (``tests/executors/test_conformance.py``) and the Environment-level suite
(``tests/test_multiproc_conformance.py``) generate only the combinations a test applies to, by
filtering these tables (:func:`backends`, :func:`cases`); where a behaviour does not apply, a
sibling test selects the other combinations and checks what happens there instead (an option
refused, accepted and ignored, a crash that ends the caller). Nothing is skipped.

A later backend (SCOOP, Dask, SGE, ...) adds a row to :data:`EXECUTORS` (and a wrap mode a row
to :data:`MODES`) and inherits both suites. ``test_capabilities_match_the_executor_classes``
checks the rows against the flags the executor classes declare, so the table cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class ExecutorCapabilities:
    """One executor backend, as the conformance suites use it."""

    #: Constructor options that make the executor parallel where it can be.
    options: dict[str, Any]
    #: ``Environment`` keywords that select it (the pypet flags, as users write them).
    environment_keywords: dict[str, Any]
    #: The ``wrap_mode`` values it is tested with; ``(None,)``: ``wrap_mode`` does not apply.
    wrap_modes: tuple[str | None, ...]
    #: Tasks run in other processes: a SIGKILL, segfault or ``os._exit`` there fails one task
    #: (``WorkerDiedError``) and results are pickled. Otherwise they end the caller.
    isolates_tasks: bool = False
    #: ``niceness`` and the BLAS thread variables are applied to the processes running tasks.
    configures_workers: bool = False
    #: Several tasks run at once, so they can finish out of submission order.
    concurrent: bool = False
    #: Accepts ``freeze_input=True`` (long-lived workers); elsewhere it is a ConfigurationError.
    freezes_input: bool = False
    #: Workers outlive a run, so with a mode in which workers journal their own runs they
    #: acknowledge them in batches (``ack_runs``/``ack_seconds``).
    long_lived_workers: bool = False


@dataclass(frozen=True)
class ModeCapabilities:
    """One ``wrap_mode`` (``None``: the serial loop, where no wrap mode applies)."""

    #: ``gc_interval`` is honoured: the process that stores the runs (the main process or one
    #: writer) calls ``gc.collect()`` every that many runs. Otherwise it is accepted and ignored.
    collects_garbage: bool = False
    #: ``queue_maxsize`` bounds the runs in flight to the writer. Otherwise accepted and ignored.
    bounded_queue: bool = False
    #: Each worker journals its own runs (no central writer).
    workers_journal: bool = False


PARALLEL_MODES = ("LOCAL", "QUEUE", "PIPE", "LOCK", "NONE")

EXECUTORS: dict[str, ExecutorCapabilities] = {
    "serial": ExecutorCapabilities(
        options={}, environment_keywords={"multiproc": False}, wrap_modes=(None,)),
    "pool": ExecutorCapabilities(
        options={"ncores": 2},
        environment_keywords={"multiproc": True, "ncores": 2, "use_pool": True},
        wrap_modes=PARALLEL_MODES, isolates_tasks=True, configures_workers=True,
        concurrent=True, freezes_input=True, long_lived_workers=True),
    "process": ExecutorCapabilities(
        options={"ncores": 2},
        environment_keywords={"multiproc": True, "ncores": 2, "use_pool": False},
        wrap_modes=PARALLEL_MODES, isolates_tasks=True, configures_workers=True,
        concurrent=True),
}

MODES: dict[str | None, ModeCapabilities] = {
    None: ModeCapabilities(),  # the serial loop stores in the main process, gc_interval unused
    "LOCAL": ModeCapabilities(collects_garbage=True),
    "QUEUE": ModeCapabilities(collects_garbage=True, bounded_queue=True),
    "PIPE": ModeCapabilities(collects_garbage=True),
    "LOCK": ModeCapabilities(workers_journal=True),
    "NONE": ModeCapabilities(workers_journal=True),
}


def _matches(capabilities: Any, wanted: dict[str, bool]) -> bool:
    return all(getattr(capabilities, name) == value for name, value in wanted.items())


def backends(**wanted: bool) -> list[str]:
    """Executor names whose capabilities have the ``wanted`` values, e.g.
    ``backends(isolates_tasks=False)``."""
    unknown = set(wanted) - {item.name for item in fields(ExecutorCapabilities)}
    assert not unknown, "no such executor capability: %s" % sorted(unknown)
    return sorted(name for name, capabilities in EXECUTORS.items()
                  if _matches(capabilities, wanted))


@dataclass(frozen=True)
class Case:
    """One executor x storage mode pair, its Environment keywords and what applies to it."""

    executor: str
    mode: str | None = None

    @property
    def capabilities(self) -> ExecutorCapabilities:
        return EXECUTORS[self.executor]

    @property
    def mode_capabilities(self) -> ModeCapabilities:
        return MODES[self.mode]

    def keywords(self, **extra: Any) -> dict:
        keywords = dict(self.capabilities.environment_keywords)
        if self.mode is not None:
            keywords["wrap_mode"] = self.mode
        keywords.update(extra)
        return keywords

    # -- what applies to the pair (the names :func:`cases` filters on) ----------------------
    @property
    def isolates_tasks(self) -> bool:
        return self.capabilities.isolates_tasks

    @property
    def concurrent(self) -> bool:
        return self.capabilities.concurrent

    @property
    def freezes_input(self) -> bool:
        return self.capabilities.freezes_input

    @property
    def collects_garbage(self) -> bool:
        return self.mode_capabilities.collects_garbage

    @property
    def bounded_queue(self) -> bool:
        return self.mode_capabilities.bounded_queue

    @property
    def workers_buffer_runs(self) -> bool:
        """Long-lived workers that journal their own runs in batches (pool + LOCK/NONE)."""
        return self.capabilities.long_lived_workers and self.mode_capabilities.workers_journal

    def __str__(self) -> str:
        return self.executor if self.mode is None else "%s-%s" % (self.executor, self.mode)


CASE_PROPERTIES = ("isolates_tasks", "concurrent", "freezes_input", "collects_garbage",
                   "bounded_queue", "workers_buffer_runs")

#: Every executor with every wrap mode it is tested with.
CASES: list[Case] = [Case(name, mode) for name, capabilities in EXECUTORS.items()
                     for mode in capabilities.wrap_modes]


def cases(**wanted: bool) -> list[Case]:
    """The pairs of :data:`CASES` whose properties have the ``wanted`` values, e.g.
    ``cases(collects_garbage=False)``."""
    unknown = set(wanted) - set(CASE_PROPERTIES)
    assert not unknown, "no such case property: %s" % sorted(unknown)
    return [case for case in CASES if _matches(case, wanted)]
