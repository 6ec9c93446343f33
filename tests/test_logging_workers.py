"""Logging in worker processes: configure_worker_logging in real fork (and spawn) children."""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import pickle
from pathlib import Path

import pytest

from distenv import Environment
from distenv.environment import logging_hook
from distenv.environment.logging_worker import WorkerLoggingSpec, configure_worker_logging
from distenv.executors import create_executor
from tests.helpers.logging_children import log_in_worker, run_one, runs_in_worker

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("logging_left_as_found")]
CHILD_TIMEOUT = 60


def in_child(target, *args, method="fork"):
    """Run ``target(*args, queue)`` in a child process.

    Returns what it put in the queue and its ``$proc`` name (process name and pid).
    """
    context = multiprocessing.get_context(method)
    queue = context.Queue()
    child = context.Process(target=target, args=args + (queue,))
    child.start()
    try:
        messages = [queue.get(timeout=CHILD_TIMEOUT)]
        if messages[0][0] == "ok" and target is log_in_worker:
            messages.append(queue.get(timeout=CHILD_TIMEOUT))
        child.join(CHILD_TIMEOUT)
        assert child.exitcode == 0, messages
        return messages, "%s_%d" % (child.name, child.pid)
    finally:
        if child.is_alive():
            child.kill()
            child.join()


def make_env(**keywords):
    keywords.setdefault("report_progress", False)
    env = Environment("workers", filename="hdf5/workers.hdf5", **keywords)
    env.trajectory.f_add_parameter("x", 1)
    env.trajectory.f_explore({"x": [1, 2, 3, 4]})
    return env


def folder_of(env, log_folder="logs"):
    return Path(log_folder) / env.trajectory.v_name / env.name


def test_worker_spec_is_picklable_and_names_the_environment():
    env = make_env(log_stdout=True)
    spec = env.worker_logging
    assert isinstance(spec, WorkerLoggingSpec)
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert spec.environment_name == env.name and spec.trajectory_name == "workers"
    assert spec.replaces_inherited and spec.stdout == ("STDOUT", logging.INFO)
    env.disable_logging()
    assert env.worker_logging is None


def test_forked_worker_logs_to_its_own_process_files_not_the_main_ones():
    env = make_env(log_stdout=True)
    messages, proc = in_child(log_in_worker, env.worker_logging, "from the worker")
    env.disable_logging()
    ok, files, stdout_type = messages[0]
    assert ok == "ok" and stdout_type == "StreamToLogger"
    assert messages[1][0] == "stopped" and messages[1][1] != "StreamToLogger"  # restored
    folder = folder_of(env)
    worker_log = folder / ("%s_LOG.txt" % proc)
    assert [str(worker_log.resolve())] == [name for name in files if name.endswith("LOG.txt")]
    text = worker_log.read_text()
    assert "worker INFO     from the worker" in text
    assert "STDOUT INFO     printed from the worker" in text
    assert "STDERR ERROR    stderr from the worker" in text
    errors = (folder / ("%s_ERROR.txt" % proc)).read_text()
    assert "worker error from the worker" in errors and "INFO" not in errors
    main = (folder / "LOG.txt").read_text()
    assert "from the worker" not in main


def test_forked_worker_runs_switch_per_run_files():
    config = {"version": 1,
              "formatters": {"plain": {"format": "%(name)s:%(message)s"}},
              "handlers": {"main": {"class": "logging.FileHandler", "formatter": "plain",
                                    "filename": "logs/$traj/main.txt"}},
              "root": {"level": "INFO", "handlers": ["main"]},
              "multiproc_formatters": {"plain": {"format": "%(name)s:%(message)s"}},
              "multiproc_handlers": {"run": {"class": "logging.FileHandler",
                                             "formatter": "plain",
                                             "filename": "logs/$traj/$env/$run_$proc.txt"}},
              "multiproc_root": {"level": "INFO", "handlers": ["run"]}}
    env = make_env(log_config=config, log_stdout=True)
    assert logging_hook.PER_RUN_HANDLERS == []  # per-run files only in workers
    messages, proc = in_child(runs_in_worker, env.worker_logging, env.trajectory, [0, 2, 3])
    env.disable_logging()
    assert messages == [("ok", [0, 2, 3])]
    folder = folder_of(env)
    names = sorted(path.name for path in folder.iterdir())
    assert names == ["run_00000000_%s.txt" % proc, "run_00000002_%s.txt" % proc,
                     "run_00000003_%s.txt" % proc, "run_ALL_%s.txt" % proc]
    assert (folder / ("run_00000002_%s.txt" % proc)).read_text() == \
        "job:inside run 2\nSTDOUT:print of run 2\n"
    assert (folder / ("run_ALL_%s.txt" % proc)).read_text() == \
        "worker:before the runs\nworker:after the runs\n"
    assert "inside run" not in Path("logs/workers/main.txt").read_text()


def test_log_multiproc_false_logs_nothing_in_workers():
    env = make_env(log_multiproc=False)
    spec = env.worker_logging
    assert spec.config is None and spec.replaces_inherited
    messages, proc = in_child(log_in_worker, spec, "silent worker")
    env.disable_logging()
    assert messages[0][:2] == ("ok", []) and messages[0][2] != "StreamToLogger"
    assert not any("silent worker" in path.read_text() for path in folder_of(env).iterdir())
    assert not any(proc in path.name for path in folder_of(env).iterdir())


def test_log_config_none_with_log_stdout_still_replaces_the_workers_streams():
    env = make_env(log_config=None, log_stdout=True)
    spec = env.worker_logging
    assert spec.config is None and not spec.replaces_inherited
    messages, _ = in_child(log_in_worker, spec, "streams only")
    env.disable_logging()
    assert messages[0] == ("ok", [], "StreamToLogger")
    assert not Path("logs").exists()


def test_without_multiproc_settings_a_forked_worker_keeps_the_inherited_handlers():
    config = {"version": 1,
              "formatters": {"plain": {"format": "%(process)d:%(message)s"}},
              "handlers": {"main": {"class": "logging.FileHandler", "formatter": "plain",
                                    "filename": "shared/$env.txt"}},
              "loggers": {"worker": {"level": "INFO", "handlers": ["main"]}}}
    env = make_env(log_config=config)
    assert env.worker_logging.replaces_inherited is False
    messages, proc = in_child(log_in_worker, env.worker_logging, "into the shared file")
    logging.getLogger("worker").info("from the main process")
    env.disable_logging()
    text = Path("shared/%s.txt" % env.name).read_text()
    assert "%s:into the shared file" % proc.rsplit("_", 1)[1] in text
    assert "%d:from the main process" % os.getpid() in text


def test_spawned_worker_applies_the_spec_from_scratch():
    env = make_env()
    messages, proc = in_child(log_in_worker, env.worker_logging, "spawned", method="spawn")
    env.disable_logging()
    assert messages[0][0] == "ok"
    log = folder_of(env) / ("%s_LOG.txt" % proc)
    assert "worker INFO     spawned" in log.read_text()


def test_configure_worker_logging_with_none_does_nothing():
    root = logging.getLogger()
    before = list(root.handlers)
    assert configure_worker_logging(None) is None
    assert root.handlers == before


@pytest.mark.parametrize("backend", ["pool", "process"])
def test_real_local_executors_with_configure_worker_logging_as_initializer(backend):
    env = make_env(log_stdout=True)
    spec = env.worker_logging
    with create_executor(backend, ncores=2, initializer=configure_worker_logging,
                         initargs=(spec,)) as executor:
        values = list(executor.map(functools.partial(run_one, env.trajectory), range(4)))
    env.disable_logging()
    assert values == [0, 1, 2, 3]
    folder = folder_of(env)
    worker_logs = [path for path in folder.iterdir()
                   if path.name.endswith("_LOG.txt") and path.name != "LOG.txt"]
    text = "".join(path.read_text() for path in worker_logs)
    for index in range(4):
        assert "job INFO     inside run %d" % index in text
        assert "STDOUT INFO     print of run %d" % index in text
    assert "inside run" not in (folder / "LOG.txt").read_text()
