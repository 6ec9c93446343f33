"""What every storage mode provides.

A mode lives on both sides of the process boundary:

* in the main process, :meth:`StorageMode.start` prepares what the workers need (a lock, a
  queue and its writer process...) and returns a *worker side*; :meth:`StorageMode.finish`
  waits until everything the workers handed over is acknowledged;
* in each worker, the worker side's :meth:`WorkerSide.handle` receives every finished run
  (a :class:`~distenv.environment.worker.RunOutcome` with its new leaves) and either stores
  it or passes it on, returning what goes back to the main process.

Worker sides are created before the workers fork, so they reach the workers without pickling.
"""

from __future__ import annotations

from typing import Any


class WorkerSide:
    """The part of a mode that runs in worker processes."""

    def handle(self, traj: Any, outcome: Any) -> Any:
        """Store or forward ``outcome``; return the outcome to send to the main process."""
        raise NotImplementedError


class StorageMode:
    """Base of the modes: the spec it was made from and the two-sided protocol."""

    name = "?"
    #: Set before :meth:`start` when the executor kills workers routinely (a process per run,
    #: a ``timeout``): worker-side writers then acknowledge every run before reporting it.
    ack_each_run = False
    #: Set before :meth:`start` when the workers are local pool workers that exit at the end
    #: of the sweep: worker-side writers then hand their last runs to the main process
    #: (:mod:`distenv.storage.handover`) instead of writing one more journal shard.
    hand_over_last_runs = False

    def __init__(self, spec: Any):
        self.spec = spec

    def start(self, traj: Any, service: Any, env_hash: str, ncores: int) -> WorkerSide:
        raise NotImplementedError

    def finish(self) -> None:
        """Everything workers handed over is acknowledged (called after the workers ended)."""

    def abort(self) -> None:
        """Stop helper processes after a failure; acknowledged runs stay acknowledged."""
        self.finish()
