"""Queued work and where its results go: chunks of tasks and their sinks.

A :class:`Chunk` is a run of tasks sharing one callable; the dispatcher cuts pieces off it.
Every task has a position in a sink: a :class:`FutureSink` resolves the standard future of
one ``submit``; a :class:`StreamSink` collects the results of one ``map``/``imap_outcomes``
in blocks (one queue operation per message from a worker, not per task) and yields them in
submission or finish order.
"""

from __future__ import annotations

import concurrent.futures
import queue
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any

Positions = range | list[int]


class Sink:
    """Where the results of tasks go. Positions index the tasks of the sink."""

    #: Fixed tasks per dispatch, or ``None`` to adapt to the measured task duration.
    chunksize: int | None = None

    def __init__(self) -> None:
        self._count = 0
        self._seconds = 0.0
        #: Pickled bytes per task measured on the last piece sent (sizes prefetched pieces).
        self.bytes_per_task: float | None = None

    @property
    def cancelled(self) -> bool:
        """True when nobody wants the results any more (skip the pending tasks)."""
        return False

    def task_id(self, position: int) -> Hashable:
        """The caller's id of the task at ``position``."""
        raise NotImplementedError

    def deliver(self, positions: Positions, values: list,
                errors: dict[int, BaseException]) -> None:
        """Results for ``positions``; ``errors`` maps an index in ``values`` to its error."""
        raise NotImplementedError

    def cancel(self, positions: Positions) -> None:
        """The tasks at ``positions`` will never run."""
        raise NotImplementedError

    def start(self) -> bool:
        """Called when a task is dispatched; ``False`` if it was cancelled meanwhile."""
        return True

    def record(self, count: int, seconds: float) -> None:
        """Account ``count`` finished tasks that took ``seconds`` (for adaptive chunks)."""
        self._count += count
        self._seconds += seconds

    @property
    def mean_task_seconds(self) -> float | None:
        """Average duration of a finished task, ``None`` before the first one."""
        return self._seconds / self._count if self._count else None


class FutureSink(Sink):
    """The single task of one ``submit``, resolving a standard future."""

    chunksize = 1

    def __init__(self, future: concurrent.futures.Future, task_id: Hashable):
        super().__init__()
        self.future = future
        self._task_id = task_id

    @property
    def cancelled(self) -> bool:
        return self.future.cancelled()

    def task_id(self, position: int) -> Hashable:
        return self._task_id

    def start(self) -> bool:
        if self.future.running():  # re-dispatched after its worker died before starting it
            return True
        return self.future.set_running_or_notify_cancel()

    def deliver(self, positions: Positions, values: list,
                errors: dict[int, BaseException]) -> None:
        if not values or self.future.done():
            return
        if errors:
            self.future.set_exception(errors[0])
        else:
            self.future.set_result(values[0])

    def cancel(self, positions: Positions) -> None:
        if self.future.cancel():
            self.future.set_running_or_notify_cancel()  # notifies as_completed/wait
        elif not self.future.done():  # already running: fail it instead
            self.future.set_exception(concurrent.futures.CancelledError())


def contiguous_runs(positions: Positions) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` index pairs into ``positions`` covering runs of consecutive values."""
    if isinstance(positions, range) and positions.step == 1:
        if len(positions):
            yield 0, len(positions)
        return
    first = 0
    for index in range(1, len(positions) + 1):
        if index == len(positions) or positions[index] != positions[index - 1] + 1:
            yield first, index
            first = index


class StreamSink(Sink):
    """The tasks of one ``map``/``imap_outcomes``, consumed as an iterator of blocks."""

    def __init__(self, count: int, task_ids: Sequence[Hashable] | None,
                 chunksize: int | None, alive: Callable[[], bool]):
        super().__init__()
        self.count = count
        self.chunksize = chunksize
        self._task_ids = task_ids
        self._blocks: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._alive = alive

    @property
    def cancelled(self) -> bool:
        return self._closed

    def close(self) -> None:
        """The consumer is gone: tasks not yet started are skipped."""
        self._closed = True

    def task_id(self, position: int) -> Hashable:
        return position if self._task_ids is None else self._task_ids[position]

    def task_ids(self, first: int, count: int) -> Sequence[Hashable]:
        """The caller's ids of the ``count`` tasks from position ``first`` on."""
        if self._task_ids is None:
            return range(first, first + count)
        return self._task_ids[first:first + count]

    def deliver(self, positions: Positions, values: list,
                errors: dict[int, BaseException]) -> None:
        for start, stop in contiguous_runs(positions):
            if start == 0 and stop == len(values):
                self._blocks.put((positions[0], values, errors))
            else:
                part = {index - start: error for index, error in errors.items()
                        if start <= index < stop}
                self._blocks.put((positions[start], values[start:stop], part))

    def cancel(self, positions: Positions) -> None:
        cancelled = concurrent.futures.CancelledError()
        count = len(positions)
        self.deliver(positions, [None] * count, dict.fromkeys(range(count), cancelled))

    def _next_block(self, deadline: float | None) -> tuple[int, list, dict]:
        while True:
            wait = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
            if wait <= 0:
                raise TimeoutError("the results did not arrive within the map timeout")
            try:
                return self._blocks.get(timeout=wait)
            except queue.Empty:
                if not self._alive() and self._blocks.empty():
                    raise RuntimeError("the executor stopped before delivering all results; "
                                       "was it shut down from another thread?") from None

    def blocks(self, ordered: bool = True,
               timeout: float | None = None) -> Iterator[tuple[int, list, dict]]:
        """Yield ``(first position, values, errors)`` blocks until every task is accounted.

        Closing the iterator closes the sink (tasks not yet started are skipped).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            if not ordered:
                received = 0
                while received < self.count:
                    block = self._next_block(deadline)
                    received += len(block[1])
                    yield block
                return
            next_position = 0
            waiting: dict[int, tuple[int, list, dict]] = {}
            while next_position < self.count:
                block = waiting.pop(next_position, None)
                if block is None:
                    block = self._next_block(deadline)
                    if block[0] != next_position:
                        waiting[block[0]] = block
                        continue
                next_position += len(block[1])
                yield block
        finally:
            self.close()

    def values(self, ordered: bool = True, timeout: float | None = None) -> Iterator[Any]:
        """Yield the values; raise the error of the first failed task reached."""
        for _first, values, errors in self.blocks(ordered, timeout):
            if not errors:
                yield from values
                continue
            for index, value in enumerate(values):
                error = errors.get(index)
                if error is not None:
                    raise error
                yield value


class SharedArguments(Sequence[tuple]):
    """The argument tuples ``(first, *rest)``, one per value of ``firsts``: many tasks that
    differ in their first argument only (a sweep's run indices) as one object.

    ``arguments[i]`` is a tuple, a slice is another ``SharedArguments``. A pool pickles a piece
    as its slice of ``firsts`` and ``rest`` once, where a list of tuples made and pickled a
    tuple per task (20,000 of them cost the caller ~5 ms, half of it in the collector, before
    the first worker forked).

    Example
    -------
    >>> list(SharedArguments([3, 4], ("job", ())))
    [(3, 'job', ()), (4, 'job', ())]
    """

    __slots__ = ("firsts", "rest")

    def __init__(self, firsts: Sequence[Any], rest: tuple = ()):
        self.firsts = firsts
        self.rest = tuple(rest)

    def __len__(self) -> int:
        return len(self.firsts)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            return SharedArguments(self.firsts[key], self.rest)
        return (self.firsts[key], *self.rest)

    def __iter__(self) -> Iterator[tuple]:
        rest = self.rest
        for first in self.firsts:
            yield (first, *rest)

    def __reduce__(self) -> tuple:
        return (SharedArguments, (self.firsts, self.rest))

    def __repr__(self) -> str:
        return "SharedArguments(<%d tasks>, %r)" % (len(self.firsts), self.rest)


class Chunk:
    """Tasks sharing one callable, waiting to be dispatched (pieces are cut off the front).

    Attributes
    ----------
    fn
        The callable.
    items
        One argument tuple per task (a list, or :class:`SharedArguments`).
    kwargs_list
        One keyword dict per task, or ``None`` when no task has keywords.
    positions
        The tasks' positions in ``sink``.
    timeout
        Seconds each task may run, or ``None``.
    payload
        The chunk already pickled (``submit`` checks picklability in the caller's thread).
    """

    __slots__ = ("fn", "items", "kwargs_list", "positions", "sink", "timeout", "offset",
                 "payload")

    def __init__(self, fn: Callable[..., Any], items: Sequence[tuple],
                 kwargs_list: list[dict] | None, positions: Positions, sink: Sink,
                 timeout: float | None = None, payload: bytes | None = None):
        self.fn = fn
        self.items = items
        self.kwargs_list = kwargs_list
        self.positions = positions
        self.sink = sink
        self.timeout = timeout
        self.offset = 0
        self.payload = payload

    @property
    def remaining(self) -> int:
        """Tasks not yet cut off."""
        return len(self.items) - self.offset

    def take(self, count: int) -> Chunk:
        """Cut the first ``count`` remaining tasks off as a new chunk."""
        if self.offset == 0 and count >= len(self.items):
            self.offset = len(self.items)
            return Chunk(self.fn, self.items, self.kwargs_list, self.positions, self.sink,
                         self.timeout, self.payload)
        begin, end = self.offset, min(self.offset + count, len(self.items))
        self.offset = end
        kwargs_list = None if self.kwargs_list is None else self.kwargs_list[begin:end]
        return Chunk(self.fn, self.items[begin:end], kwargs_list, self.positions[begin:end],
                     self.sink, self.timeout)

    def subset(self, indices: list[int]) -> Chunk:
        """A new chunk of the tasks at ``indices`` of this one (for re-queueing)."""
        kwargs_list = None if self.kwargs_list is None else [self.kwargs_list[i]
                                                             for i in indices]
        positions = [self.positions[i] for i in indices]
        return Chunk(self.fn, [self.items[i] for i in indices], kwargs_list, positions,
                     self.sink, self.timeout, self.payload if len(indices) == len(self.items)
                     else None)
