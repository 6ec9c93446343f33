"""The child processes of the test process, for the checks that no test leaves one behind."""

from __future__ import annotations

import psutil

#: multiprocessing's own long-lived helpers (started once per interpreter, by design).
HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def child_pids(zombies: bool = False) -> set[int]:
    """Children of this process, recursively, except multiprocessing's resource tracker and
    fork server; zombies (exited, not yet reaped) count only with ``zombies=True``."""
    pids = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if not zombies and child.status() == psutil.STATUS_ZOMBIE:
                continue
            if any(helper in " ".join(child.cmdline()) for helper in HELPERS):
                continue
            pids.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return pids
