"""Run the pypet reference benchmarks from any Python: standard library only.

This module is imported twice over:

* by distenv's own benchmarks (project venv, no pypet there), which call :func:`run_pypet`
  to measure pypet 0.6.1 in the same session and print ratios against it;
* by the pypet-side scripts (``pypet_sweep.py``, ``pypet_failures.py``, run with the pypet
  venv's python), which use :func:`run_child` to run a sweep in a child process that can be
  SIGKILLed, together with every process it forked, when it exceeds its time limit.

A child reports to its parent through *event lines* on stdout: ``@@event {json}`` (see
:func:`emit_event`). Every benchmark script prints one JSON object as its last stdout line.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

BENCH_DIR = Path(__file__).resolve().parent
VENV_SCRIPT = BENCH_DIR / "pypet_venv.sh"
EVENT_PREFIX = "@@event "


def emit_event(name: str, **fields: Any) -> None:
    """Print one event line for the parent (child side); ``t`` is the wall-clock time."""
    record = {"event": name, "t": time.time(), **fields}
    print(EVENT_PREFIX + json.dumps(record), flush=True)


@dataclass
class ChildResult:
    """What a child process did: its events, exit status, and whether it was killed."""

    returncode: int | None
    timed_out: bool
    elapsed_s: float  # from start to exit or kill
    killed_at: float | None  # wall-clock time of the kill, if any
    events: list[dict] = field(default_factory=list)
    stdout_lines: list[str] = field(default_factory=list)  # non-event lines

    def event(self, name: str) -> dict | None:
        """The first event called ``name``, or None."""
        return next((e for e in self.events if e["event"] == name), None)


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the child's whole process group (it was started in its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _exited(proc: subprocess.Popen, timeout: float) -> bool:
    """Wait up to ``timeout`` s for the child to exit, without reaping it."""
    end = time.monotonic() + timeout
    while True:
        if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None:
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.05)


def run_child(
    cmd: list[str],
    timeout: float,
    *,
    clock_event: str | None = None,
    setup_timeout: float = 300.0,
    stderr_path: Path | None = None,
    cwd: Path | None = None,
) -> ChildResult:
    """Run ``cmd`` in a new session and SIGKILL its process group after ``timeout`` s.

    If ``clock_event`` is given, the ``timeout`` clock starts when the child emits that event
    (so setup such as building the trajectory is not counted); before it, ``setup_timeout``
    applies. The child's stderr goes to ``stderr_path`` (or is discarded). Whatever the
    outcome, no process of the child's group is left behind: a child that exited on its own
    may still have left forked helpers running, and those are killed too.
    """
    start = time.monotonic()
    err = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            text=True,
            start_new_session=True,
        )
    finally:
        if stderr_path:
            err.close()
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    result = ChildResult(returncode=None, timed_out=False, elapsed_s=0.0, killed_at=None)
    deadline = start + (setup_timeout if clock_event else timeout)
    eof = False
    try:
        while not eof:
            try:
                line = lines.get(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
            except queue.Empty:
                line = ""
            if line is None:
                eof = True
            elif line.startswith(EVENT_PREFIX):
                event = json.loads(line[len(EVENT_PREFIX):])
                result.events.append(event)
                if clock_event and event["event"] == clock_event:
                    deadline = time.monotonic() + timeout
            elif line:
                result.stdout_lines.append(line)
            if not eof and time.monotonic() >= deadline:
                result.timed_out = True
                result.killed_at = time.time()
                break
        if not result.timed_out and not _exited(proc, max(1.0, deadline - time.monotonic())):
            result.timed_out = True  # stdout closed, yet the process does not exit
            result.killed_at = time.time()
    finally:
        # Also kills forked helpers (pool workers, a queue process) that outlived the child,
        # and the child itself if we are interrupted; the child is not reaped yet, so its
        # process group id cannot have been reused.
        _kill_group(proc)
        proc.wait()
    result.returncode = None if result.timed_out else proc.returncode
    result.elapsed_s = time.monotonic() - start
    return result


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that ``run_child`` cleans up its child's group."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


@contextlib.contextmanager
def scratch_dir(base: Path, prefix: str, keep: bool = False) -> Iterator[Path]:
    """A fresh folder ``base/prefix-PID`` for HDF5 files and logs, removed afterwards
    (also on SIGTERM, see :func:`exit_on_sigterm`) unless ``keep``."""
    path = Path(base).resolve() / f"{prefix}-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def last_json_line(text: str) -> dict:
    """Parse the last non-empty line of ``text`` as a JSON object."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("no output")
    value = json.loads(lines[-1])
    if not isinstance(value, dict):
        raise ValueError("last line is not a JSON object")
    return value


def ensure_pypet_venv(timeout: float = 900.0) -> str:
    """Create the pypet venv if needed (``pypet_venv.sh``) and return its python's path."""
    done = subprocess.run(
        ["bash", str(VENV_SCRIPT)], capture_output=True, text=True, timeout=timeout, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def _tail(text: str, n: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def run_pypet(script_args: list[str], timeout: float) -> dict:
    """Run a pypet benchmark script in the pypet venv and return its last-line JSON.

    ``script_args`` is the script (a name inside ``benchmarks/`` or a path) followed by its
    options, e.g. ``["pypet_sweep.py", "--runs", "1000", "--time-limit", "300"]``. ``timeout``
    bounds the whole call (the script's own ``--time-limit`` should be smaller, so that it can
    report partial progress itself). On any failure the result is
    ``{"error": ..., "stderr_tail": ...}``; it never raises for a failed benchmark.
    """
    try:
        python = ensure_pypet_venv()
    except (subprocess.SubprocessError, OSError, IndexError) as exc:
        tail = _tail(getattr(exc, "stderr", "") or "")
        return {"tool": "pypet", "error": f"pypet venv setup failed: {exc}", "stderr_tail": tail}
    script = Path(script_args[0])
    if not script.is_absolute() and not script.exists():
        script = BENCH_DIR / script
    cmd = [python, str(script), *script_args[1:]]
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()  # the script then kills its own children (exit_on_sigterm)
            try:
                out, err = proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                out, err = proc.communicate()
            return {"tool": "pypet", "error": f"timed out after {timeout:g} s",
                    "stderr_tail": _tail(err)}
    except OSError as exc:
        return {"tool": "pypet", "error": str(exc), "stderr_tail": ""}
    try:
        data = last_json_line(out)
    except ValueError as exc:
        return {"tool": "pypet", "error": f"exit code {proc.returncode}, no JSON result: {exc}",
                "stderr_tail": _tail(err)}
    if proc.returncode != 0:
        data.setdefault("error", f"exit code {proc.returncode}")
        data.setdefault("stderr_tail", _tail(err))
    return data


if __name__ == "__main__":
    # Handy from the shell: python benchmarks/pypet_common.py pypet_sweep.py --runs 100
    print(json.dumps(run_pypet(sys.argv[1:], timeout=3600.0)))
