"""LOCAL: runs travel back to the main process with their results; it writes them."""

from __future__ import annotations

from typing import Any

from distenv.modes.base import StorageMode, WorkerSide


class _ReturnToMain(WorkerSide):
    def handle(self, traj: Any, outcome: Any) -> Any:
        return outcome


class LocalMode(StorageMode):
    """The main process stores every run (its journal acknowledges them in batches).

    The right mode when workers cannot reach the file (SCOOP, Dask, remote hosts); with local
    processes it costs pickling the run data once more than QUEUE.
    """

    name = "LOCAL"

    def start(self, traj: Any, service: Any, env_hash: str, ncores: int) -> WorkerSide:
        return _ReturnToMain()
