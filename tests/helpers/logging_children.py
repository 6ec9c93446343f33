"""Functions run in child processes by the logging tests (importable under spawn too)."""

from __future__ import annotations

import logging
import sys

from distenv.environment import RunSpec, execute_run
from distenv.environment.logging_worker import configure_worker_logging


def log_in_worker(spec, message, result_queue):
    """Apply ``spec`` like a worker at start, log, print, report the files it wrote to."""
    try:
        setup = configure_worker_logging(spec)
        logging.getLogger("worker").info(message)
        logging.getLogger("worker").error("worker error " + message)
        print("printed " + message)
        sys.stdout.flush()
        sys.stderr.write("stderr " + message + "\n")
        files = setup.file_names() if setup is not None else []
        result_queue.put(("ok", files, type(sys.stdout).__name__))
        if setup is not None:
            setup.stop()
        result_queue.put(("stopped", type(sys.stdout).__name__))
    except BaseException as exc:  # report, so the test shows it
        result_queue.put(("error", repr(exc)))
        raise


def logging_job(traj):
    logging.getLogger("job").info("inside run %d", traj.v_idx)
    print("print of run %d" % traj.v_idx)
    return traj.v_idx


def runs_in_worker(spec, traj, indices, result_queue):
    """Configure worker logging, then make some runs of ``traj`` as an executor would."""
    try:
        setup = configure_worker_logging(spec)
        logging.getLogger("worker").info("before the runs")
        values = [execute_run(traj, RunSpec(index, logging_job)).value for index in indices]
        logging.getLogger("worker").info("after the runs")
        setup.stop()
        result_queue.put(("ok", values))
    except BaseException as exc:
        result_queue.put(("error", repr(exc)))
        raise


def run_one(traj, index):
    """An executor task: make run ``index`` of ``traj`` (configured by the initializer)."""
    return execute_run(traj, RunSpec(index, logging_job)).value
