"""The dispatcher thread of the local process executors.

One thread per executor owns every worker: it cuts pieces off the queued chunks, lets the
backend hand them out (:meth:`Dispatcher._dispatch`), receives results, and watches the
workers' sentinels. A worker that dies fails the task it was running with
:class:`~distenv.errors.WorkerDiedError` (exit code or signal named) and gives its other tasks
back to the queue; a task over its timeout has its worker killed and fails with
:class:`~distenv.errors.RunTimeoutError`. Waits are bounded (sentinels plus a periodic
``waitpid`` poll), so nothing waits forever on a dead process.

Workers end in two ways. Idle ones (no task in flight) are asked to exit and exit normally, so
their finalizers run (the journals of the LOCK/NONE storage modes flush there); one that is
still alive ``exit_grace`` seconds later is killed. That is how every worker ends at shutdown,
and how idle workers end at ``terminate()``, which kills the workers running a task at once.
"""

from __future__ import annotations

import collections
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Hashable
from multiprocessing.connection import wait as wait_for_objects
from typing import Any

from distenv.errors import RunFailedError, WorkerDiedError
from distenv.executors import heap
from distenv.executors.base import run_failed, task_label, task_timed_out, worker_died
from distenv.executors.handles import WorkerHandle, decode_error
from distenv.executors.tasks import Chunk

logger = logging.getLogger("distenv.executors")

#: Seconds between ``waitpid`` checks of busy workers (a safety net beside the sentinels).
LIVENESS_POLL = 0.5


class Dispatcher:
    """The thread side of :class:`~distenv.executors.supervisor.SupervisedExecutor`.

    The executor owns the state this mixin works on: ``_pending`` (a deque of chunks) guarded
    by ``_lock``, ``_workers`` (handles, touched by the dispatcher thread only), the wake-up
    pipe ``_wake_read``, the request flags ``_stop_requested``, ``_cancel_requested``,
    ``_terminate_requested``, ``_shutdown_requested``, and ``_broken``; and the setting
    ``exit_grace``.
    """

    name: str
    _pending: collections.deque[Chunk]
    _lock: threading.Lock
    _workers: list[WorkerHandle]
    _wake_read: int
    _wake_write: int
    _forks: bool
    _stop_requested: bool
    _cancel_requested: bool
    _terminate_requested: bool
    _shutdown_requested: bool
    _broken: str | None
    _last_liveness_poll: float
    exit_grace: float

    def _release(self) -> None:
        raise NotImplementedError

    def _dispatch_retry_after(self) -> float | None:
        """Seconds after which :meth:`_dispatch` wants another chance (caps); ``None``."""
        return None

    def _run(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # children inherit the mask
        if self._forks:  # forked workers share the heap: keep the collector off it (heap.py)
            heap.hold()
        try:
            self._loop()
        except BaseException as exc:  # a bug here must not leave callers waiting
            logger.exception("the %s executor's dispatcher failed", self.name)
            self._broken = f"its dispatcher thread failed with {exc!r}"
            reason = repr(exc)  # ``exc`` is unbound after the except block
            self._fail_everything(lambda task_id: RunFailedError(
                f"{task_label(task_id)} was lost: the executor's dispatcher failed with "
                f"{reason}", run_index=task_id))
        finally:
            self._end_idle_workers(list(self._workers))
            if self._forks:
                heap.release()
            self._release()

    def _loop(self) -> None:
        while True:
            self._drain_wake()
            if self._terminate_requested:
                self._terminate_workers()
            elif self._stop_requested or self._cancel_requested:
                self._cancel_pending()
                for handle in self._workers:
                    handle.request_stop()
            if not self._broken:
                self._dispatch()
            busy = [handle for handle in self._workers if handle.inflight]
            if self._shutdown_requested and not busy and not self._pending:
                return
            waitables: list[Any] = [self._wake_read]
            by_object: dict[Any, WorkerHandle] = {}
            for handle in self._workers:
                for waitable in handle.waitables():
                    waitables.append(waitable)
                    by_object[waitable] = handle
            ready = wait_for_objects(waitables, self._wait_timeout(busy))
            for obj in ready:
                handle = by_object.get(obj)
                if handle is None or handle not in self._workers:
                    continue
                if obj is handle.conn:
                    handle.receive(self._on_results)
                else:
                    self._reap(handle)
            self._check_deadlines()
            self._poll_liveness(busy)

    def _terminate_workers(self) -> None:
        """Kill the workers running a task; let the idle ones exit normally (bounded)."""
        busy = [handle for handle in self._workers if handle.inflight]
        idle = [handle for handle in self._workers if not handle.inflight]
        for handle in busy:
            handle.kill()
            self._reap(handle, reason="terminated by the executor")
        self._cancel_pending()  # including what the killed workers had not started
        self._end_idle_workers(idle)

    def _end_idle_workers(self, handles: list[WorkerHandle]) -> None:
        """Ask workers that hold no task to exit; kill those still alive after
        ``exit_grace`` seconds (the whole group waits once, not each worker in turn)."""
        for handle in handles:
            handle.ask_to_exit()
        deadline = time.monotonic() + self.exit_grace
        waiting = {handle.sentinel: handle for handle in handles}
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for sentinel in wait_for_objects(list(waiting), left):
                waiting.pop(sentinel)
        for handle in waiting.values():
            logger.warning("worker process %d did not exit within %g s of being asked to; "
                           "killed", handle.pid, self.exit_grace)
        for handle in handles:
            handle.kill()  # reaps it (a worker that exited already is only joined)
            self._forget(handle)

    def _wait_timeout(self, busy: list[WorkerHandle]) -> float | None:
        now = time.monotonic()
        candidates = [handle.deadline - now for handle in self._workers
                      if handle.deadline is not None]
        if busy:
            candidates.append(LIVENESS_POLL)
        extra = self._dispatch_retry_after()
        if extra is not None:
            candidates.append(extra)
        return max(0.0, min(candidates)) if candidates else None

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_read, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _dispatch(self) -> None:
        """Start workers and hand them pieces of the pending chunks."""
        raise NotImplementedError

    def _take(self, size: Callable[[Chunk], int]) -> Chunk | None:
        """Cut the next piece off the pending chunks; ``size(head)`` 0 means not now."""
        dropped: list[Chunk] = []
        piece = None
        with self._lock:
            while self._pending:
                head = self._pending[0]
                if head.sink.cancelled:  # nobody waits for these any more
                    dropped.append(self._pending.popleft())
                    continue
                count = size(head)
                if count <= 0:
                    break
                candidate = head.take(count)
                if head.remaining == 0:
                    self._pending.popleft()
                if candidate.sink.start():
                    piece = candidate
                    break
        for chunk in dropped:  # outside the lock: cancelling may run the caller's callbacks
            chunk.sink.cancel(chunk.positions[chunk.offset:])
        return piece

    def _cancel_pending(self) -> None:
        with self._lock:
            chunks, self._pending = list(self._pending), collections.deque()
        for chunk in chunks:
            chunk.sink.cancel(chunk.positions[chunk.offset:])

    def _on_results(self, handle: WorkerHandle, chunk: Chunk, start: int, values: list,
                    errors: dict, elapsed: float) -> None:
        converted = {}
        for index, encoded in errors.items():
            task_id = chunk.sink.task_id(chunk.positions[start + index])
            exc, text = decode_error(encoded)
            converted[index] = run_failed(task_id, exc, text)
        chunk.sink.record(len(values), elapsed)
        chunk.sink.deliver(chunk.positions[start:start + len(values)], values, converted)

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        for handle in list(self._workers):
            if handle.deadline is None or now < handle.deadline:
                continue
            handle.receive(self._on_results)  # it may have just finished
            if handle.deadline is None or not handle.inflight:
                continue
            chunk, index = handle.running_task()
            handle.kill()
            task_id = chunk.sink.task_id(chunk.positions[index])
            error = task_timed_out(task_id, chunk.timeout or 0.0,
                                   f"its worker process {handle.pid} was killed")
            chunk.sink.deliver(chunk.positions[index:index + 1], [None], {0: error})
            handle.mark_delivered(chunk, index + 1)
            self._reap(handle)

    def _poll_liveness(self, busy: list[WorkerHandle]) -> None:
        now = time.monotonic()
        if now - self._last_liveness_poll < LIVENESS_POLL:
            return
        self._last_liveness_poll = now
        for handle in busy:
            if handle in self._workers and not handle.process.is_alive():
                self._reap(handle)

    def _reap(self, handle: WorkerHandle, reason: str | None = None) -> None:
        """A worker ended: collect what it sent, then fail or re-queue what it still held."""
        handle.receive(self._on_results)
        handle.process.join(5.0)
        exitcode = handle.process.exitcode
        requeue: list[Chunk] = []
        for chunk, indices, running in handle.unfinished_tasks():
            if running is not None:
                task_id = chunk.sink.task_id(chunk.positions[running])
                error = (worker_died(task_id, handle.pid, exitcode) if reason is None else
                         WorkerDiedError(f"{task_label(task_id)}: its worker process was "
                                         f"{reason}", run_index=task_id))
                chunk.sink.deliver(chunk.positions[running:running + 1], [None], {0: error})
            if indices:
                requeue.append(chunk.subset(indices))
        if requeue:
            with self._lock:
                self._pending.extendleft(reversed(requeue))
        self._forget(handle)
        self._worker_ended(handle, exitcode)

    def _worker_ended(self, handle: WorkerHandle, exitcode: int | None) -> None:
        """Hook: a worker was reaped (the pool counts workers that die at start)."""

    def _forget(self, handle: WorkerHandle) -> None:
        if handle in self._workers:
            self._workers.remove(handle)
        handle.close()

    def _fail_everything(self, make_error: Callable[[Hashable], BaseException]) -> None:
        """Fail every pending and running task (the executor cannot go on)."""
        with self._lock:
            chunks, self._pending = list(self._pending), collections.deque()
        for handle in list(self._workers):
            handle.kill()
            for chunk, indices, running in handle.unfinished_tasks():
                chunks.append(chunk.subset(indices + ([] if running is None else [running])))
            self._forget(handle)
        for chunk in chunks:
            positions = chunk.positions[chunk.offset:]
            for position in positions:
                error = make_error(chunk.sink.task_id(position))
                chunk.sink.deliver([position], [None], {0: error})

    def _inherited_fds(self) -> list[int] | None:
        """Parent-side descriptors a forked worker should close; ``None`` if not forking."""
        if not self._forks:
            return None
        return [self._wake_read, self._wake_write] + [h.conn.fileno() for h in self._workers
                                                      if not h.conn.closed]
