"""Logging of the Environment in the main process: real log files, streams, wildcards."""

from __future__ import annotations

import logging
import os
import socket
import sys
from pathlib import Path

import pytest

from distenv import Environment, cartesian_product
from distenv.environment import logging_hook
from distenv.environment.logging_setup import active_setup
from distenv.environment.logging_streams import StreamToLogger
from distenv.errors import ConfigurationError
from helpers.logging_ini import pypet_logging_sections


#: Every test leaves logging as it found it (handlers, levels, streams).
pytestmark = pytest.mark.usefixtures("logging_left_as_found")


def make_env(name="logged", **keywords):
    keywords.setdefault("report_progress", False)
    env = Environment(name, filename="hdf5/%s.hdf5" % name, **keywords)
    env.trajectory.f_add_parameter("x", 1)
    env.trajectory.f_explore({"x": [1, 2, 3]})
    return env


def env_folder(env, log_folder="logs"):
    return Path(log_folder) / env.trajectory.v_name / env.name


def chatty_job(traj):
    logging.getLogger("job").info("info of run %d", traj.v_idx)
    logging.getLogger("job").error("error of run %d", traj.v_idx)
    logging.getLogger("job").debug("debug of run %d", traj.v_idx)
    return traj.x


# -- the default configuration ---------------------------------------------------------------------
def test_default_logging_writes_log_and_error_files_per_trajectory_and_environment():
    env = make_env()
    env.run(chatty_job)
    env.disable_logging()
    folder = env_folder(env)
    log, errors = (folder / "LOG.txt").read_text(), (folder / "ERROR.txt").read_text()
    for index in range(3):
        assert "job INFO     info of run %d" % index in log
        assert "job ERROR    error of run %d" % index in log
        assert "error of run %d" % index in errors
        assert "info of run %d" % index not in errors
        assert "debug of run" not in log
    assert "log files of trajectory 'logged'" in log


def test_default_logging_prints_to_the_console(capsys):
    env = make_env()
    logging.getLogger("console").warning("seen on the console")
    env.disable_logging()
    assert "console WARNING  seen on the console" in capsys.readouterr().err


def test_the_console_handler_follows_a_replaced_stderr(monkeypatch):
    import io
    env = make_env()
    replaced = io.StringIO()
    monkeypatch.setattr(sys, "stderr", replaced)
    logging.getLogger("console").warning("to the new stderr")
    monkeypatch.undo()
    env.disable_logging()
    assert "console WARNING  to the new stderr" in replaced.getvalue()


def test_log_folder_logger_names_and_levels():
    env = make_env(log_folder="my/logs", logger_names=("mine", "other"),
                   log_levels=(logging.DEBUG, logging.ERROR))
    logging.getLogger("mine").debug("debug of mine")
    logging.getLogger("other").warning("warning of other")
    logging.getLogger("other").error("error of other")
    logging.getLogger("unconfigured").error("error of a logger without handlers")
    env.disable_logging()
    log = (env_folder(env, "my/logs") / "LOG.txt").read_text()
    assert "debug of mine" in log and "error of other" in log
    assert "warning of other" not in log and "without handlers" not in log
    assert not os.path.exists("logs")
    assert logging.getLogger("mine").level == logging.NOTSET


def test_a_custom_numeric_level():
    env = make_env(logger_names="custom", log_levels=15)
    logging.getLogger("custom").log(15, "level fifteen")
    logging.getLogger("custom").debug("below it")
    env.disable_logging()
    log = (env_folder(env) / "LOG.txt").read_text()
    assert "level fifteen" in log and "below it" not in log


def test_log_config_none_configures_nothing():
    root = logging.getLogger()
    before = list(root.handlers)
    env = make_env(log_config=None)
    env.run(chatty_job)
    assert root.handlers == before and not os.path.exists("logs")
    assert env.worker_logging is None


def test_log_folder_with_another_log_config_is_an_error():
    with pytest.raises(ConfigurationError, match="log_folder tune log_config='DEFAULT' only"):
        Environment(log_config=None, log_folder="logs")


# -- log_stdout ------------------------------------------------------------------------------------
def printing_job(traj):
    print("print of run %d" % traj.v_idx)
    sys.stderr.write("stderr of run %d\n" % traj.v_idx)
    return traj.x


def test_log_stdout_records_print_output_and_stderr_and_still_shows_them(capsys):
    env = make_env(log_stdout=True)
    assert isinstance(sys.stdout, StreamToLogger) and isinstance(sys.stderr, StreamToLogger)
    env.run(printing_job)
    print("half a line", end="")
    print(" finished")
    env.disable_logging()
    folder = env_folder(env)
    log, errors = (folder / "LOG.txt").read_text(), (folder / "ERROR.txt").read_text()
    for index in range(3):
        assert "STDOUT INFO     print of run %d" % index in log
        assert "STDERR ERROR    stderr of run %d" % index in errors
    assert "STDOUT INFO     half a line finished" in log
    shown = capsys.readouterr()
    # shown once, unformatted: the console handler does not repeat recorded print output
    assert shown.out.count("print of run 1") == 1 and "STDOUT" not in shown.out + shown.err
    assert shown.err.count("stderr of run 2") == 1


def test_log_stdout_with_logger_name_and_level():
    env = make_env(log_stdout=("MyOutput", logging.WARNING))
    print("a warning-level print")
    env.disable_logging()
    log = (env_folder(env) / "LOG.txt").read_text()
    assert "MyOutput WARNING  a warning-level print" in log


def test_carriage_returns_keep_the_last_state_of_a_line(capsys):
    env = make_env(log_stdout=True)
    sys.stdout.write("10%\r50%")
    sys.stdout.write("\r100%\n")
    sys.stdout.write("windows line end\r\n")
    sys.stderr.write("\rbar 10%")
    sys.stderr.write("\rbar 100%\n")  # a progress bar on stderr: shown, not recorded
    sys.stderr.write("a real error\n")
    env.disable_logging()
    log = (env_folder(env) / "LOG.txt").read_text()
    assert "STDOUT INFO     100%\n" in log and "10%" not in log and "50%" not in log
    assert "STDOUT INFO     windows line end\n" in log
    assert "bar" not in log and "STDERR ERROR    a real error" in log
    assert "bar 100%" in capsys.readouterr().err


def test_a_handler_writing_to_the_replaced_stream_does_not_loop(capsys):
    env = make_env(log_stdout=True)
    late = logging.StreamHandler(sys.stdout)  # made after the replacement
    logging.getLogger().addHandler(late)
    try:
        print("once")
    finally:
        logging.getLogger().removeHandler(late)
    env.disable_logging()
    assert capsys.readouterr().out.count("once") == 2  # the print, and the late handler's line


def test_disable_logging_restores_streams_handlers_and_levels():
    root = logging.getLogger()
    stdout, stderr, handlers, level = sys.stdout, sys.stderr, list(root.handlers), root.level
    env = make_env(log_stdout=True)
    assert sys.stdout is not stdout and len(root.handlers) == len(handlers) + 3
    assert root.level == logging.INFO
    env.disable_logging()
    assert sys.stdout is stdout and sys.stderr is stderr
    assert root.handlers == handlers and root.level == level
    logging.getLogger("late").error("after disable_logging")
    print("print after disable_logging")
    assert "after disable_logging" not in (env_folder(env) / "LOG.txt").read_text()
    env.f_disable_logging()  # twice is fine, and the old name works


def test_the_context_manager_disables_logging():
    stdout = sys.stdout
    with make_env(log_stdout=True) as env:
        env.run(printing_job)
        assert sys.stdout is not stdout
    assert sys.stdout is stdout and active_setup() is None
    assert "print of run 2" in (env_folder(env) / "LOG.txt").read_text()


def test_a_new_environment_replaces_the_logging_of_the_previous_one():
    root = logging.getLogger()
    before = len(root.handlers)
    first = make_env("first", log_stdout=True)
    second = make_env("second", log_stdout=True)
    assert len(root.handlers) == before + 3
    print("goes to the second")
    second.disable_logging()
    first.disable_logging()
    assert "goes to the second" in (env_folder(second) / "LOG.txt").read_text()
    assert "goes to the second" not in (env_folder(first) / "LOG.txt").read_text()
    assert len(root.handlers) == before


# -- dict and .ini configurations, wildcards -----------------------------------------------------
def wildcard_dict(filename):
    return {"version": 1,
            "formatters": {"plain": {"format": "%(name)s:%(message)s"}},
            "handlers": {"file": {"class": "logging.FileHandler", "formatter": "plain",
                                  "filename": filename}},
            "loggers": {"wild": {"level": "INFO", "handlers": ["file"]}}}


def test_dict_config_with_env_traj_host_and_proc_wildcards():
    env = make_env(log_config=wildcard_dict("deep/$traj/$env/$host/$proc.txt"))
    logging.getLogger("wild").info("hello")
    env.disable_logging()
    host = socket.gethostname().replace(".", "-")
    folder = Path("deep") / "logged" / env.name / host
    [log] = list(folder.iterdir())
    assert log.name == "MainProcess_%d.txt" % os.getpid()
    assert log.read_text() == "wild:hello\n"


def test_run_and_set_wildcards_give_one_file_per_run_and_run_set():
    env = make_env(log_config=dict(wildcard_dict("per_run/$set/$run.txt"),
                                   loggers={"job": {"level": "INFO", "handlers": ["file"]}}))
    env.trajectory.f_expand({"x": [4, 5]})
    assert len(logging_hook.PER_RUN_HANDLERS) == 1
    logging.getLogger("job").info("before the runs")
    env.run(chatty_job)
    logging.getLogger("job").info("after the runs")
    env.disable_logging()
    files = sorted(str(path) for path in Path("per_run").rglob("*.txt"))
    assert files == ["per_run/run_set_00000/run_0000000%d.txt" % index for index in range(5)] + \
        ["per_run/run_set_ALL/run_ALL.txt"]
    assert Path("per_run/run_set_00000/run_00000003.txt").read_text() == \
        "job:info of run 3\njob:error of run 3\n"
    assert Path("per_run/run_set_ALL/run_ALL.txt").read_text() == \
        "job:before the runs\njob:after the runs\n"


def test_per_run_files_are_only_made_for_runs_that_log():
    env = make_env(log_config=dict(wildcard_dict("quiet/$run.txt"),
                                   loggers={"job": {"level": "INFO", "handlers": ["file"]}}))
    env.run(lambda traj: traj.x)
    env.disable_logging()
    assert not os.path.exists("quiet")


DEFAULT_INI = pypet_logging_sections("ini_logs", stream_level="INFO",
                                     stream_args="(sys.stderr,)", separator=",")


def test_ini_log_config_like_pypets_default_ini(capsys):
    Path("default.ini").write_text(DEFAULT_INI)
    env = make_env(log_config="default.ini")
    env.run(chatty_job)
    env.disable_logging()
    folder = env_folder(env, "ini_logs")
    assert sorted(path.name for path in folder.iterdir()) == ["ERROR.txt", "LOG.txt"]
    assert "info of run 2" in (folder / "LOG.txt").read_text()
    assert "info of run 2" not in (folder / "ERROR.txt").read_text()
    assert "MainProcess job INFO     info of run 1" in capsys.readouterr().err
    spec = env.worker_logging
    assert spec is None  # disabled
    assert not os.path.exists("logs")


def test_ini_multiproc_sections_are_kept_for_workers():
    Path("default.ini").write_text(DEFAULT_INI)
    env = make_env(log_config="default.ini")
    spec = env.worker_logging
    env.disable_logging()
    assert spec.replaces_inherited and spec.environment_name == env.name
    assert spec.config["handlers"]["file_main"]["args"] == \
        ("ini_logs/$traj/$env/$run_$proc_LOG.txt",)
    assert set(spec.config["root"]["handlers"]) == {"file_main", "file_error"}


@pytest.mark.parametrize("text,message", [
    ("[handlers]\nkeys=\n", r"has no logging sections"),
    ("[loggers]\nkeys=root\n", r"section \[logger_root\] is missing \(it is listed in "
                                r"\[loggers\]\)"),
    ("[loggers]\nkeys=root\n[logger_root]\nhandlers=h\n[handlers]\nkeys=h\n[handler_h]\n"
     "class=FileHandler\nargs=(open('x'),)\n",
     r"bad\.ini, section \[handler_h\], key 'args' \(line 9\): .*not a Python literal"),
    ("[loggers]\nkeys=root\n[logger_root]\nhandlers=h\n[handlers]\nkeys=h\n[handler_h]\n"
     "class=NoSuchHandler\n", r"handler class 'NoSuchHandler'"),
    ("[loggers]\nkeys=root\n[logger_root]\nhandlers=missing\n[handlers]\nkeys=\n",
     r"logger 'root' uses the handler 'missing', which is not configured"),
])
def test_bad_ini_log_config_names_the_problem(text, message):
    Path("bad.ini").write_text(text)
    root = logging.getLogger()
    before = list(root.handlers)
    with pytest.raises(ConfigurationError, match=message):
        Environment(log_config="bad.ini", report_progress=False)
    assert root.handlers == before
    assert not os.path.exists("x")


def test_ini_args_are_never_executed():
    Path("evil.ini").write_text(
        "[loggers]\nkeys=root\n[logger_root]\nhandlers=h\n[handlers]\nkeys=h\n[handler_h]\n"
        "class=FileHandler\nargs=(__import__('os').mkdir('pwned'),)\n")
    with pytest.raises(ConfigurationError, match="not a Python literal"):
        Environment(log_config="evil.ini")
    assert not os.path.exists("pwned")


def test_a_job_failure_lands_in_the_error_file():
    env = make_env()

    def failing(traj):
        if traj.v_idx == 1:
            logging.getLogger("job").exception("about to fail")
            raise ValueError("boom")
        return 1
    with pytest.raises(Exception, match="boom"):
        env.run(failing)
    env.disable_logging()
    assert "about to fail" in (env_folder(env) / "ERROR.txt").read_text()


def test_cartesian_sweep_with_logging_and_progress_logger():
    env = Environment("progress", filename="hdf5/progress.hdf5",
                      report_progress=(50, "distenv", logging.INFO))
    env.trajectory.f_add_parameter("x", 1)
    env.trajectory.f_add_parameter("y", 1)
    env.trajectory.f_explore(cartesian_product({"x": [1, 2], "y": [1, 2]}))
    env.run(lambda traj: traj.x * traj.y)
    env.disable_logging()
    log = (env_folder(env) / "LOG.txt").read_text()
    assert "PROGRESS: progress" in log and "100%" in log
