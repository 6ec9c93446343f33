"""Scaffolding of the ``kill -9`` tests (``test_durability_kill.py``, ``test_resume_kill.py``):
a Python subprocess whose stdout lines are collected as they arrive, the replayable seed of the
kill moments, and the run indices a file and its journal shards hold, read with plain PyTables.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import tables

from distenv.storage import column_tables, journal, layout


class ChildProcess:
    """``python *args`` with stderr appended to ``log``; a thread collects its stdout lines.

    ``own_group=True`` starts it in a new session, and :meth:`kill` then kills the whole
    process group (the child and any worker it started).
    """

    def __init__(self, args: list[str], log: Path, *, env: dict[str, str] | None = None,
                 own_group: bool = False):
        self.log = open(log, "ab")
        self.own_group = own_group
        self.process = subprocess.Popen(
            [sys.executable, *args], stdout=subprocess.PIPE, stderr=self.log, text=True,
            bufsize=1, start_new_session=own_group,
            env=dict(os.environ, OPENBLAS_NUM_THREADS="1", **(env or {})))
        self.lines: list[str] = []
        self.output_ended = False
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.strip())
                self.changed.notify_all()
        with self.changed:
            self.output_ended = True
            self.changed.notify_all()

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float) -> bool:
        """Wait until ``predicate(lines)`` holds; False if the process ended or ``timeout``
        seconds passed first (its last lines are printed then)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate(self.lines):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    if not predicate(self.lines):
                        print("child %d (exit %s) said %s" % (
                            self.process.pid, self.process.poll(), self.lines[-10:]))
                        return False
                    return True
                self.changed.wait(min(remaining, 0.05))
        return True

    def wait_for_output(self, predicate: Callable[[list[str]], bool], timeout: float) -> bool:
        """Wait until ``predicate(lines)`` holds or the child closed its stdout (it ended);
        False only if ``timeout`` seconds passed first."""
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.lines) or self.output_ended,
                                         timeout)

    def kill(self) -> int:
        """SIGKILL the child (its process group with ``own_group``); its exit code."""
        if self.process.poll() is None:
            try:
                if self.own_group:
                    os.killpg(self.process.pid, signal.SIGKILL)
                else:
                    os.kill(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return self.finish(timeout=60)

    def finish(self, timeout: float) -> int:
        """Wait for the child to exit; its exit code."""
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=10)
        self.log.close()
        return code


def kill_seed() -> int:
    """The seed of the random kill moments: ``DISTENV_KILL_SEED`` replays a sequence."""
    seed = int(os.environ.get("DISTENV_KILL_SEED", time.time_ns() % 100000))
    print("kill test seed: DISTENV_KILL_SEED=%d" % seed)
    return seed


def stored_run_indices(path: Path, name: str,
                       missing_ok: bool = False) -> dict[str, list[int]]:
    """Run indices of every run table, column and irregular index of trajectory ``name`` in the
    file and in the journal shards not yet compacted into it (a shard listed in the file's
    journal log was compacted; its removal may have been interrupted, and it must not count
    twice). Every leaf of the file is read with plain PyTables. ``missing_ok``: a file without
    the trajectory (killed during its first store) holds nothing, instead of failing."""
    found: dict[str, list[int]] = {}

    def collect(group) -> None:
        if layout.RUN_TABLE in group:
            found.setdefault("run_table", []).extend(
                group._f_get_child(layout.RUN_TABLE).col("index").tolist())
        for table in column_tables.iter_column_tables(group):
            found.setdefault(table._v_attrs[layout.COLUMN_ATTR], []).extend(
                table.col(layout.INDEX_COLUMN).tolist())
        for key, index, _ in layout.read_irregular_index(group):
            found.setdefault("irregular " + key, []).append(index)

    with tables.open_file(str(path)) as h5:
        for leaf in h5.walk_nodes("/", "Leaf"):
            leaf.read()
        if missing_ok and "/" + name not in h5:
            return found
        group = h5.get_node("/" + name)
        compacted = layout.read_journal_log(group)
        collect(group)
    for shard in journal.list_shards(journal.journal_dir(path, name)):
        if shard.name not in compacted:
            with tables.open_file(str(shard)) as h5:
                collect(h5.get_node("/" + name))
    return found
