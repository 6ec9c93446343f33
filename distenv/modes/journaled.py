"""NONE and LOCK: every worker process journals its own runs.

A worker keeps a :class:`~distenv.storage.journal.RunJournal` of its own (shard names carry
host and pid, so workers never collide) and acknowledges runs every ``ack_runs`` runs /
``ack_seconds`` seconds and when it exits -- a pool worker at the end of a sweep hands those
last runs to the main process instead (:mod:`distenv.storage.handover`), whose last store takes
them in. LOCK additionally serialises shard writes with one lock (pypet's LOCK semantics: one
process writes at a time).

A worker that distenv kills (a timeout, or the stop after another run failed) takes its
unacknowledged runs with it, so a worker acknowledges at once whatever it buffered when a run
fails, and after every run when its executor kills workers routinely (``ack_each_run``: one
process per run, where it costs nothing, and ``timeout``).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
from typing import Any

from distenv.constants import RUN_FAILED
from distenv.modes.base import StorageMode, WorkerSide
from distenv.storage import handover
from distenv.storage.batch import RunBatch


class _OwnJournal(WorkerSide):
    def __init__(self, service: Any, env_hash: str, trajectory_name: str, lock: Any = None,
                 ack_each_run: bool = False, hand_over: bool = False):
        self.service = service
        self.env_hash = env_hash
        self.lock = lock
        self.ack_each_run = ack_each_run
        #: The main process, which takes in what pool workers hand over at their exit.
        self.owner = os.getpid() if hand_over else None
        if hand_over:
            handover.watch(service, trajectory_name)
        self._journal = None
        self._pid = None

    def _journal_of_this_process(self, traj: Any) -> Any:
        if self._pid != os.getpid():
            self._journal = self.service.run_journal(traj, self.env_hash)
            self._journal.write_lock = self.lock  # LOCK: shard writes only, not buffering
            self._pid = os.getpid()
            # flushed when the worker process ends normally (pool shutdown, one-run process)
            multiprocessing.util.Finalize(None, self._close, exitpriority=100)
        return self._journal

    def _close(self) -> None:
        journal = self._journal
        if journal is None or self._pid != os.getpid():
            return
        if self.owner is not None and self.owner != self._pid:
            try:
                if handover.hand_over(journal.directory, self.owner, journal.batch,
                                      journal.ctx) is not None:
                    journal.batch = RunBatch()
                    return
            except Exception:  # no hand-over: an ordinary shard, as without one
                pass
        journal.close()

    def handle(self, traj: Any, outcome: Any) -> Any:
        journal = self._journal_of_this_process(traj)
        index, status, _, leaves, start, finish, error = outcome[:7]
        journal.store_run(traj, index, leaves, status, start, finish, error)
        if self.ack_each_run or status == RUN_FAILED:  # the sweep stops: workers die
            journal.flush()
        return outcome.stored_reply()


class NoneMode(StorageMode):
    """Each worker writes its own journal shards; no coordination at all."""

    name = "NONE"

    def start(self, traj: Any, service: Any, env_hash: str, ncores: int) -> WorkerSide:
        return _OwnJournal(service, env_hash, traj.v_name, ack_each_run=self.ack_each_run,
                           hand_over=self.hand_over_last_runs)


class LockMode(StorageMode):
    """Each worker writes its own journal shards, one writer at a time (a shared lock)."""

    name = "LOCK"

    def start(self, traj: Any, service: Any, env_hash: str, ncores: int) -> WorkerSide:
        return _OwnJournal(service, env_hash, traj.v_name,
                           multiprocessing.get_context("fork").Lock(),
                           ack_each_run=self.ack_each_run, hand_over=self.hand_over_last_runs)
