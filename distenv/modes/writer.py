"""QUEUE and PIPE: workers hand finished runs to one writer process.

The writer owns a :class:`~distenv.storage.journal.RunJournal` and acknowledges runs in
batches; workers only pickle their runs onto a bounded queue (QUEUE, ``queue_maxsize``,
default ``2 * ncores``) or a single pipe shared under a lock (PIPE). ``gc_interval`` makes the
writer call ``gc.collect()`` every that many stores. A writer that dies is noticed by the main
process (:meth:`WriterMode.check`), which stops the sweep instead of letting workers block.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
from typing import Any

from distenv.errors import StorageError
from distenv.modes.base import StorageMode, WorkerSide, without_leaves

_CONTEXT = multiprocessing.get_context("fork")
#: Seconds the main process waits for the writer to acknowledge the last runs.
FINISH_TIMEOUT = 3600.0


def _writer_main(receive: Any, traj: Any, service: Any, env_hash: str,
                 gc_interval: int | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when to stop
    journal = service.run_journal(traj, env_hash)
    stores = 0
    while True:
        item = receive()
        if item is None:
            break
        index, leaves, status, start, finish, error = item
        journal.store_run(traj, index, leaves, status, start, finish, error)
        stores += 1
        if gc_interval and stores % gc_interval == 0:
            gc.collect()
    journal.close()


class _Sender(WorkerSide):
    def __init__(self, send: Any):
        self.send = send

    def handle(self, traj: Any, outcome: Any) -> Any:
        self.send((outcome.run_index, outcome.leaves, outcome.status, outcome.start,
                   outcome.finish, outcome.error))
        return without_leaves(outcome)


class WriterMode(StorageMode):
    """A writer process fed by workers; subclasses choose the channel."""

    def start(self, traj: Any, service: Any, env_hash: str, ncores: int) -> WorkerSide:
        send, receive = self._channel(ncores)
        self._send = send
        self.process = _CONTEXT.Process(target=_writer_main, name="distenv-%s-writer" % self.name,
                                        args=(receive, traj, service, env_hash,
                                              self.spec.gc_interval), daemon=True)
        self.process.start()
        return _Sender(send)

    def _channel(self, ncores: int) -> tuple[Any, Any]:
        raise NotImplementedError

    def check(self) -> None:
        """Raise if the writer process died (its unacknowledged runs are lost)."""
        process = getattr(self, "process", None)
        if process is not None and not process.is_alive() and process.exitcode not in (0, None):
            raise StorageError(
                "the %s writer process died (exit code %s); runs it had not acknowledged yet "
                "were not stored and will be made again on resume" % (self.name, process.exitcode))

    def finish(self) -> None:
        process = getattr(self, "process", None)
        if process is None:
            return
        self.process = None
        if process.is_alive():
            self._send(None)
            process.join(FINISH_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join()
        if process.exitcode != 0:
            raise StorageError(
                "the %s writer process ended with exit code %s; runs it had not acknowledged "
                "were not stored and will be made again on resume" % (self.name, process.exitcode))


class QueueMode(WriterMode):
    """Workers put runs on a bounded ``multiprocessing.Queue``; one writer stores them."""

    name = "QUEUE"

    def _channel(self, ncores: int) -> tuple[Any, Any]:
        maxsize = self.spec.queue_maxsize
        if maxsize == -1:
            maxsize = 2 * max(1, ncores)
        queue = _CONTEXT.Queue(maxsize)
        return queue.put, queue.get


class PipeMode(WriterMode):
    """Workers send runs through one pipe (a lock keeps messages whole); one writer stores."""

    name = "PIPE"

    def _channel(self, ncores: int) -> tuple[Any, Any]:
        reader, writer = _CONTEXT.Pipe(duplex=False)
        lock = _CONTEXT.Lock()

        def send(item: Any) -> None:
            with lock:
                writer.send(item)

        return send, reader.recv
