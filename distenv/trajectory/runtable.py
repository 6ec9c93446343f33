"""The run table in memory: one row per run (status, times, host, process, error)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from distenv.constants import RUN_COMPLETED, RUN_FAILED, RUN_PENDING, RUN_STATUS_NAMES

#: Column name -> numpy dtype of the in-memory table (host and env_hash as UTF-8 bytes).
NUMERIC_COLUMNS = {"status": np.int8, "start": np.float64, "finish": np.float64,
                   "runtime": np.float64, "pid": np.int64, "host": "S64", "env_hash": "S16"}


class RunTable:
    """Status of every run of a trajectory, indexed by run index."""

    def __init__(self, length: int = 0):
        self.status = np.zeros(length, dtype=np.int8)
        self.start = np.full(length, np.nan)
        self.finish = np.full(length, np.nan)
        self.runtime = np.full(length, np.nan)
        self.pid = np.zeros(length, dtype=np.int64)
        self.host = np.zeros(length, dtype="S64")
        self.env_hash = np.zeros(length, dtype="S16")
        self.error: dict[int, str] = {}
        #: Rows of the stored run table this table was read from (``None``: not known to
        #: match the file) and the runs marked in memory since (:meth:`apply_stored_rows`).
        self.file_rows: int | None = None
        self.marked = np.zeros(length, dtype=bool)

    def __len__(self) -> int:
        return len(self.status)

    def resize(self, length: int) -> None:
        """Grow (new runs pending) or shrink to ``length`` rows."""
        old = len(self.status)
        if length == old:
            return
        for name, dtype in dict(NUMERIC_COLUMNS, marked=bool).items():
            column = getattr(self, name)
            fill = np.nan if np.dtype(dtype).kind == "f" else 0
            grown = np.full(length, fill, dtype=dtype)
            grown[: min(old, length)] = column[: min(old, length)]
            setattr(self, name, grown)
        if length < old:
            for index in [i for i in self.error if i >= length]:
                del self.error[index]

    def update(self, rows: dict[str, Any]) -> None:
        """Set rows from arrays: ``rows['index']`` plus any column of the table."""
        index = np.asarray(rows["index"], dtype=np.int64)
        if not len(index):
            return
        if index.max() >= len(self.status):
            self.resize(int(index.max()) + 1)
        for name in NUMERIC_COLUMNS:
            if name in rows:
                getattr(self, name)[index] = rows[name]
        if "error" in rows:
            for position, text in zip(index.tolist(), rows["error"]):
                if text:
                    self.error[position] = text
                else:
                    self.error.pop(position, None)

    def mark(self, index: int, status: int, start: float, finish: float, host: str, pid: int,
             env_hash: str = "", error: str = "") -> None:
        if index >= len(self.status):
            self.resize(index + 1)
        self.marked[index] = True
        self.status[index] = status
        self.start[index] = start
        self.finish[index] = finish
        self.runtime[index] = finish - start
        self.pid[index] = pid
        self.host[index] = host.encode("utf-8", "replace")[:64]
        self.env_hash[index] = env_hash.encode("utf-8", "replace")[:16]
        if error:
            self.error[index] = error
        else:
            self.error.pop(index, None)

    def mark_completed(self, index: Sequence[int], start: Sequence[float],
                       finish: Sequence[float], host: Sequence[str], pid: Sequence[int],
                       env_hash: str = "") -> None:
        """:meth:`mark` many completed runs at once (sequences of equal length)."""
        index = np.fromiter(index, dtype=np.int64, count=len(index))
        if index.max() >= len(self.status):
            self.resize(int(index.max()) + 1)
        self.marked[index] = True
        start = np.fromiter(start, dtype=np.float64, count=len(index))
        finish = np.fromiter(finish, dtype=np.float64, count=len(index))
        self.status[index] = RUN_COMPLETED
        self.start[index] = start
        self.finish[index] = finish
        self.runtime[index] = finish - start
        self.pid[index] = np.fromiter(pid, dtype=np.int64, count=len(index))
        hosts = set(host)
        self.host[index] = (next(iter(hosts)).encode("utf-8", "replace")[:64]
                            if len(hosts) == 1 else
                            [name.encode("utf-8", "replace")[:64] for name in host])
        self.env_hash[index] = env_hash.encode("utf-8", "replace")[:16]
        error = self.error
        if error:
            for position in index.tolist():
                error.pop(position, None)

    def apply_stored_rows(self, rows: np.ndarray | None, errors: dict[int, str],
                          file_rows_before: int, file_rows_after: int) -> bool:
        """Bring the table up to date with rows just appended to the stored run table, instead
        of reading the whole table again (0.12 s at 100k runs).

        ``rows`` hold one row per run (the newest). Valid only when the table matched the
        stored one before (``file_rows`` equals
        ``file_rows_before``: nobody else appended meanwhile) and every run marked in memory
        since is among ``rows`` (a run a worker reported but never acknowledged is not: then
        only the file tells). Returns False when the caller must read the table instead.
        """
        if self.file_rows is None or self.file_rows != file_rows_before:
            return False
        index = np.empty(0, dtype=np.int64) if rows is None else \
            np.asarray(rows["index"], dtype=np.int64)
        marked = np.flatnonzero(self.marked)
        if len(marked) and not np.isin(marked, index).all():
            return False
        if len(index):
            status = np.asarray(rows["status"])
            update = {"index": index, "status": status, "start": rows["start"],
                      "finish": rows["finish"], "runtime": rows["runtime"], "pid": rows["pid"],
                      "host": rows["host"], "env_hash": rows["env_hash"]}
            if errors or self.error:
                update["error"] = [errors.get(run, "") if code == RUN_FAILED else ""
                                   for run, code in zip(index.tolist(), status.tolist())]
            self.update(update)
        self.file_rows = file_rows_after
        self.marked[:] = False
        return True

    def completed(self) -> np.ndarray:
        return self.status == RUN_COMPLETED

    def failed(self) -> np.ndarray:
        return self.status == RUN_FAILED

    def pending(self) -> np.ndarray:
        return self.status == RUN_PENDING

    def info(self, index: int, name: str) -> dict:
        """pypet's ``f_get_run_information`` dict for one run."""
        status = int(self.status[index])
        return {
            "idx": index, "name": name, "completed": int(status == RUN_COMPLETED),
            "status": RUN_STATUS_NAMES[status], "timestamp": float(self.start[index]),
            "time": _format_time(self.start[index]), "finish_timestamp": float(self.finish[index]),
            "runtime": float(self.runtime[index]),
            "host": self.host[index].decode("utf-8", "replace"),
            "pid": int(self.pid[index]), "env_hash": self.env_hash[index].decode("utf-8", "replace"),
            "error": self.error.get(index, ""),
        }

    def status_names(self) -> list[str]:
        names = RUN_STATUS_NAMES
        return [names[code] for code in self.status.tolist()]


def _format_time(timestamp: float) -> str:
    import datetime
    if not np.isfinite(timestamp):
        return ""
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y_%m_%d_%Hh%Mm%Ss")
