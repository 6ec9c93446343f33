"""QUEUE and PIPE: workers hand finished runs to one writer process.

The writer owns a :class:`~distenv.storage.journal.RunJournal` and acknowledges runs in
batches; workers only pickle their runs into one pipe shared under a lock, with at most
``queue_maxsize`` runs in flight (QUEUE, default ``2 * ncores``) or unbounded (PIPE). A send is
complete when the worker reports the run, so a killed worker loses nothing it reported
(a ``multiprocessing.Queue`` would still hold it in a feeder thread). ``gc_interval`` makes the
writer call ``gc.collect()`` every that many stores. A writer that dies is noticed by the main
process (:meth:`WriterMode.check`), which stops the sweep instead of letting workers block.

After a failure (:meth:`WriterMode.abort`) the main process does not use the channel (a worker
killed while sending may have left it locked or half-written): it sets an event, the writer
stores what it can still read and exits; one that cannot within :data:`ABORT_TIMEOUT` seconds
is killed, and the runs it had not acknowledged stay pending.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import signal
from typing import Any

from distenv.errors import StorageError
from distenv.modes.base import StorageMode, WorkerSide, without_leaves

logger = logging.getLogger("distenv")

_CONTEXT = multiprocessing.get_context("fork")
#: Seconds the main process waits for the writer to acknowledge the last runs.
FINISH_TIMEOUT = 3600.0
#: Seconds the writer gets after a failure to store what it can still read.
ABORT_TIMEOUT = 60.0
#: Seconds between the writer's checks of the abort event while its channel is quiet.
POLL_INTERVAL = 0.1
#: What a receive function returns when nothing arrived within its timeout.
NOTHING = object()


def _writer_main(receive: Any, aborted: Any, traj: Any, service: Any, env_hash: str,
                 gc_interval: int | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when to stop
    journal = service.run_journal(traj, env_hash)
    stores = 0
    while True:
        item = receive(POLL_INTERVAL)
        if item is NOTHING:
            if aborted.is_set():
                break
            continue
        if item is None:
            break
        index, leaves, status, start, finish, error, host, pid = item
        journal.store_run(traj, index, leaves, status, start, finish, error, host=host, pid=pid)
        stores += 1
        if gc_interval and stores % gc_interval == 0:
            gc.collect()
    journal.close()


class _Sender(WorkerSide):
    def __init__(self, send: Any):
        self.send = send

    def handle(self, traj: Any, outcome: Any) -> Any:
        self.send((outcome.run_index, outcome.leaves, outcome.status, outcome.start,
                   outcome.finish, outcome.error, outcome.host, outcome.pid))
        return without_leaves(outcome)


class WriterMode(StorageMode):
    """A writer process fed by workers; subclasses choose the channel."""

    def start(self, traj: Any, service: Any, env_hash: str, ncores: int) -> WorkerSide:
        send, receive = self._channel(ncores)
        self._send = send
        self._aborted = _CONTEXT.Event()
        self.process = _CONTEXT.Process(target=_writer_main, name="distenv-%s-writer" % self.name,
                                        args=(receive, self._aborted, traj, service, env_hash,
                                              self.spec.gc_interval), daemon=True)
        self.process.start()
        return _Sender(send)

    def _channel(self, ncores: int) -> tuple[Any, Any]:
        """``(send(item), receive(timeout) -> item or NOTHING)``."""
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

    def abort(self) -> None:
        """The sweep stopped early: the writer stores what it can still read (bounded wait).

        Never raises (it runs while another exception propagates); problems are logged.
        """
        process = getattr(self, "process", None)
        if process is None:
            return
        self.process = None
        self._aborted.set()
        process.join(ABORT_TIMEOUT)
        if process.is_alive():
            logger.error("the %s writer did not finish within %g s after the sweep stopped (a "
                         "worker killed while sending it a run can leave the channel unusable); "
                         "it is killed, the runs it had not acknowledged stay pending",
                         self.name, ABORT_TIMEOUT)
            process.kill()
            process.join()
        elif process.exitcode != 0:
            logger.error("the %s writer process ended with exit code %s; the runs it had not "
                         "acknowledged stay pending", self.name, process.exitcode)


def _pipe_channel(maxsize: int) -> tuple[Any, Any]:
    """One pipe shared by the workers: a lock keeps messages whole, ``maxsize`` > 0 bounds the
    runs in flight (a semaphore the writer releases as it reads).

    Sends are synchronous: once ``send`` returns, the run is in the pipe and survives its
    worker (a ``multiprocessing.Queue`` hands items to a feeder thread, so a worker killed right
    after reporting a run could take the run with it).
    """
    reader, writer = _CONTEXT.Pipe(duplex=False)
    lock = _CONTEXT.Lock()
    slots = _CONTEXT.BoundedSemaphore(maxsize) if maxsize > 0 else None

    def send(item: Any) -> None:
        if slots is not None and item is not None:
            slots.acquire()
        with lock:
            writer.send(item)

    def receive(timeout: float) -> Any:
        if not reader.poll(timeout):
            return NOTHING
        item = reader.recv()
        if slots is not None and item is not None:
            slots.release()
        return item

    return send, receive


class QueueMode(WriterMode):
    """Workers send runs to one writer, at most ``queue_maxsize`` in flight (0: unbounded,
    -1: ``2 * ncores``)."""

    name = "QUEUE"

    def _channel(self, ncores: int) -> tuple[Any, Any]:
        maxsize = self.spec.queue_maxsize
        if maxsize == -1:
            maxsize = 2 * max(1, ncores)
        return _pipe_channel(maxsize)


class PipeMode(WriterMode):
    """Workers send runs through one pipe, unbounded; one writer stores them."""

    name = "PIPE"

    def _channel(self, ncores: int) -> tuple[Any, Any]:
        return _pipe_channel(0)
