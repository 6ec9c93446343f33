"""The parent's view of one worker process: its pipe, its tasks in flight, its fate.

Each chunk sent to a worker gets a key (1, 2, ...). A pool worker writes into its shared
``control`` array ``[key of the chunk it runs, i+1 when it starts task i of it, stop flag]``,
so when it dies the parent knows which task was running (the last one started: that one fails),
which ones finished but whose results were still unsent (run again), and which never started
(run again). A process-per-task child holds a single task, which is the one that was running.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

from distenv.executors.tasks import Chunk

#: Key of the first chunk a worker gets (the only one of a process-per-task child).
FIRST_KEY = 1
#: Key of the message asking a pool worker to exit.
STOP_KEY = -1
#: Key of a message carrying frozen input to a pool worker that already runs.
FREEZE_KEY = -2


class RemoteError(Exception):
    """Stands for a task's exception that could not be pickled back to the parent."""


def decode_error(encoded: tuple) -> tuple[BaseException, str]:
    """The exception and traceback text of an error encoded by the worker."""
    blob, kind, message, text = encoded
    exc: BaseException | None = None
    if blob is not None:
        try:
            exc = pickle.loads(blob)
        except Exception:
            exc = None
    if exc is None:
        exc = RemoteError(f"{kind}: {message}")
    return exc, text


def frame(key: int, body: bytes) -> bytes:
    """The bytes of a message to a pool worker: an 8-byte key, then the pickled body."""
    return key.to_bytes(8, "little", signed=True) + body


ResultCallback = Callable[["WorkerHandle", Chunk, int, list, dict, float], None]


class WorkerHandle:
    """A live worker process, its result pipe and the chunks it holds."""

    def __init__(self, process: Any, conn: Connection, control: memoryview | None = None):
        self.process = process
        self.pid: int = process.pid
        self.sentinel: int = process.sentinel
        self.conn = conn
        self.control = control
        #: key -> [chunk, number of its tasks delivered], in the order sent.
        self.inflight: dict[int, list] = {}
        self.deadline: float | None = None
        self.timed = False
        #: Asked to exit (:meth:`ask_to_exit`): it gets no more tasks.
        self.retiring = False
        self._next_key = FIRST_KEY
        self._conn_open = True

    def waitables(self) -> list[Any]:
        """What the dispatcher waits on for this worker."""
        return [self.conn, self.sentinel] if self._conn_open else [self.sentinel]

    def track(self, chunk: Chunk) -> int:
        """Register ``chunk`` as held by this worker and return its key."""
        key = self._next_key
        self._next_key += 1
        self.inflight[key] = [chunk, 0]
        if chunk.timeout is not None:
            self.deadline = time.monotonic() + chunk.timeout
            self.timed = True
        return key

    def send(self, chunk: Chunk, body: bytes) -> None:
        """Send ``chunk`` (its pickled ``(fn, items, kwargs_list)`` is ``body``)."""
        key = self.track(chunk)
        self.conn.send_bytes(frame(key, body))

    def receive(self, on_results: ResultCallback) -> None:
        """Handle every message waiting in the pipe; note the end of the pipe."""
        if not self._conn_open:
            return
        conn = self.conn
        try:
            while conn.poll():
                key, start, values, errors, elapsed, last, stopped = pickle.loads(
                    conn.recv_bytes())
                entry = self.inflight.get(key)
                if entry is None:  # late results of a task already failed (timeout)
                    continue
                chunk = entry[0]
                on_results(self, chunk, start, values, errors, elapsed)
                entry[1] = start + len(values)
                if last:
                    if stopped and entry[1] < len(chunk.items):
                        chunk.sink.cancel(chunk.positions[entry[1]:])
                    self._finished(key)
        except (EOFError, OSError, pickle.UnpicklingError, ValueError):
            self._conn_open = False  # the worker is gone (or died mid-message)

    def _finished(self, key: int) -> None:
        del self.inflight[key]
        if not self.inflight:
            self.deadline = None
            self.timed = False

    def running_task(self) -> tuple[Chunk, int]:
        """The chunk and index of the task this worker runs (the first one not delivered)."""
        chunk, delivered = next(iter(self.inflight.values()))
        return chunk, delivered

    def mark_delivered(self, chunk: Chunk, upto: int) -> None:
        """Tasks of ``chunk`` before index ``upto`` are accounted for."""
        for key, entry in list(self.inflight.items()):
            if entry[0] is chunk:
                entry[1] = upto
                if upto >= len(chunk.items):
                    self._finished(key)

    def unfinished_tasks(self) -> Iterator[tuple[Chunk, list[int], int | None]]:
        """After death: per chunk held, ``(chunk, indices to run again, index that ran)``.

        Empties :attr:`inflight`.
        """
        if self.control is not None:
            current_key, state = self.control[0], self.control[1]
        else:
            current_key, state = None, None
        for key, (chunk, delivered) in list(self.inflight.items()):
            undelivered = list(range(delivered, len(chunk.items)))
            running: int | None = None
            if self.control is None:
                running = undelivered[0] if undelivered else None
            elif key == current_key and state > 0:
                running = state - 1
            again = [index for index in undelivered if index != running]
            yield chunk, again, running if running in undelivered else None
        self.inflight.clear()
        self.deadline = None
        self.timed = False

    def has_begun(self) -> bool:
        """Whether this pool worker ever started a task (``True`` for per-task children)."""
        return self.control is None or self.control[0] != 0

    def request_stop(self) -> None:
        """Ask a pool worker to start no further task of the chunks it holds."""
        if self.control is not None:
            self.control[2] = 1

    def kill(self) -> None:
        """SIGKILL the worker and reap it."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5.0)

    def ask_to_exit(self) -> None:
        """Ask an idle pool worker to exit normally (its finalizers run).

        A process-per-task child needs no asking: it exits once it has sent its result.
        """
        self.retiring = True
        if self._conn_open and self.control is not None:
            try:
                # never block on a worker that stopped reading: the short message goes in one
                # write, whole or not at all (the caller kills the worker after a grace period)
                os.set_blocking(self.conn.fileno(), False)
                self.conn.send_bytes(frame(STOP_KEY, b""))
            except OSError:
                pass  # gone already, or its pipe is full

    def close(self) -> None:
        """Release the pipe and the process object (after it was reaped)."""
        self._conn_open = False
        try:
            self.conn.close()
        except OSError:
            pass
        if self.process.exitcode is None:
            self.kill()
        try:
            self.process.close()
        except ValueError:
            pass
