"""QUEUE and PIPE: workers hand finished runs to one writer process.

The writer owns a :class:`~distenv.storage.journal.RunJournal` and acknowledges runs in
batches. Every worker process connects to it once, over a Unix socket of its own in a private
folder (authenticated with a random key, as :mod:`multiprocessing.connection` does), and sends
its runs there: at most ``queue_maxsize`` runs in flight (QUEUE, default ``2 * ncores``) or
unbounded (PIPE). A send is complete when the worker reports the run, so a killed worker loses
nothing it reported (a ``multiprocessing.Queue`` would still hold it in a feeder thread).

Why a connection per worker and not one shared pipe: a worker killed in the middle of a send
(a ``timeout``, the stop after another run failed) left a half-written message in a shared
pipe, and a lock it held forever; the writer then blocked on the rest of a message that never
came. On a connection of its own, the kernel closes the dead worker's end: the writer reads an
end of file, drops the half message (that run was never reported) and goes on with the others.
No lock is needed either.

``gc_interval`` makes the writer call ``gc.collect()`` every that many stores. A writer that
dies is noticed by the main process (:meth:`WriterMode.check`), which stops the sweep instead
of letting workers block. After a failure (:meth:`WriterMode.abort`) the writer stores what
it can still read and exits; one that cannot within :data:`ABORT_TIMEOUT` seconds is killed,
and the runs it had not acknowledged stay pending.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import multiprocessing.connection as mpc
import os
import secrets
import shutil
import signal
import socket
import tempfile
from typing import Any

from distenv.errors import StorageError
from distenv.modes.base import StorageMode, WorkerSide

logger = logging.getLogger("distenv")

_CONTEXT = multiprocessing.get_context("fork")
#: Seconds the main process waits for the writer to acknowledge the last runs.
FINISH_TIMEOUT = 3600.0
#: Seconds the writer gets after a failure to store what it can still read.
ABORT_TIMEOUT = 60.0
#: Longest Unix socket path that binds everywhere (Linux allows 107 bytes, macOS 103).
_MAX_SOCKET_PATH = 100
#: Seconds between the writer's checks of the abort event while its channel is quiet.
POLL_INTERVAL = 0.1


def _writer_main(channel: "_Channel", aborted: Any, traj: Any, service: Any, env_hash: str,
                 gc_interval: int | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when to stop
    journal = service.run_journal(traj, env_hash)
    stores = 0
    for item in channel.items(aborted):
        index, leaves, status, start, finish, error, host, pid = item
        journal.store_run(traj, index, leaves, status, start, finish, error, host=host, pid=pid)
        stores += 1
        if gc_interval and stores % gc_interval == 0:
            gc.collect()
    journal.close()


class _Sender(WorkerSide):
    def __init__(self, channel: "_Channel"):
        self.channel = channel

    def handle(self, traj: Any, outcome: Any) -> Any:
        self.channel.send((outcome.run_index, outcome.leaves, outcome.status, outcome.start,
                           outcome.finish, outcome.error, outcome.host, outcome.pid))
        return outcome.stored_reply()


class WriterMode(StorageMode):
    """A writer process fed by workers; subclasses choose the channel."""

    def start(self, traj: Any, service: Any, env_hash: str, ncores: int) -> WorkerSide:
        self._channel = _Channel(self._maxsize(ncores))
        self._aborted = _CONTEXT.Event()
        self.process = _CONTEXT.Process(target=_writer_main, name="distenv-%s-writer" % self.name,
                                        args=(self._channel, self._aborted, traj, service,
                                              env_hash, self.spec.gc_interval), daemon=True)
        self.process.start()
        self._channel.started()
        return _Sender(self._channel)

    def _maxsize(self, ncores: int) -> int:
        """Runs in flight at most (0: unbounded)."""
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
        try:
            if process.is_alive():
                try:
                    self._channel.send(None)  # the workers ended: their runs are all sent
                except OSError:  # the writer is gone; its exit code tells
                    pass
                process.join(FINISH_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join()
        finally:
            self._channel.remove()
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
        self._channel.remove()
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


class _Channel:
    """The writer's Unix socket; every process that sends connects to it once.

    Made in the main process before anything forks. ``maxsize`` > 0 bounds the runs in flight
    (a semaphore the writer releases as it reads).
    """

    def __init__(self, maxsize: int):
        self.directory = tempfile.mkdtemp(prefix="distenv-writer-")  # mode 0700: ours only
        if len(os.path.join(self.directory, "runs")) > _MAX_SOCKET_PATH:  # a long $TMPDIR
            os.rmdir(self.directory)
            self.directory = tempfile.mkdtemp(prefix="distenv-writer-", dir="/tmp")
        self.address = os.path.join(self.directory, "runs")
        self.authkey = secrets.token_bytes(32)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.address)
        self.server.listen(128)
        self.slots = _CONTEXT.BoundedSemaphore(maxsize) if maxsize > 0 else None
        self._connection: Any = None
        self._pid: int | None = None

    def started(self) -> None:
        """The writer has the server socket; other processes need not keep it open."""
        self.server.close()

    # -- the sending side (workers; the main process for the final ``None``) ------------------
    def send(self, item: Any) -> None:
        if self._pid != os.getpid():  # first send of this process (forked with the channel)
            self._connection = mpc.Client(self.address, family="AF_UNIX", authkey=self.authkey)
            self._pid = os.getpid()
        if self.slots is not None and item is not None:
            self.slots.acquire()
        self._connection.send(item)

    def remove(self) -> None:
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
            self._connection = None
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- the writer's side ---------------------------------------------------------------------
    def items(self, aborted: Any) -> Any:
        """Yield what the senders send until the final ``None`` has come and every sender
        closed its connection, or, after ``aborted``, until nothing more is ready."""
        connections: list[Any] = []
        ending = False
        while not (ending and not connections):  # a worker connects before its first send,
            ready = mpc.wait([self.server, *connections], POLL_INTERVAL)  # and all have ended
            if not ready:
                if aborted.is_set():
                    break
                continue
            for source in ready:
                if source is self.server:
                    accepted = self._accept()
                    if accepted is not None:
                        connections.append(accepted)
                    continue
                try:
                    item = source.recv()
                except (EOFError, OSError):  # the sender ended (a half message: never reported)
                    connections.remove(source)
                    source.close()
                    continue
                if item is None:  # from the main process: every worker has ended
                    ending = True
                    connections.remove(source)
                    source.close()
                    continue
                if self.slots is not None:
                    self.slots.release()
                yield item
        self.server.close()

    def _accept(self) -> Any:
        raw, _ = self.server.accept()
        connection = mpc.Connection(raw.detach())
        try:  # the handshake of multiprocessing.connection.Listener.accept
            mpc.deliver_challenge(connection, self.authkey)
            mpc.answer_challenge(connection, self.authkey)
        except (mpc.AuthenticationError, EOFError, OSError) as exc:
            logger.warning("the writer refused a connection that did not authenticate: %s", exc)
            connection.close()
            return None
        return connection


class QueueMode(WriterMode):
    """Workers send runs to one writer, at most ``queue_maxsize`` in flight (0: unbounded,
    -1: ``2 * ncores``)."""

    name = "QUEUE"

    def _maxsize(self, ncores: int) -> int:
        maxsize = self.spec.queue_maxsize
        return 2 * max(1, ncores) if maxsize == -1 else maxsize


class PipeMode(WriterMode):
    """Workers send runs unbounded; one writer stores them."""

    name = "PIPE"

    def _maxsize(self, ncores: int) -> int:
        return 0
