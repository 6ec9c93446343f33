"""report_progress: log records, printed lines, and a real tqdm bar on a terminal."""

from __future__ import annotations

import logging
import os
import pty
import select
import subprocess
import sys

from distenv.environment import Environment
from distenv.environment.progress import ProgressReporter
from distenv.environment.specs import ProgressSpec


def sweep(runs, **keywords):
    env = Environment("progress", **keywords)
    env.trajectory.f_add_parameter("x", 0)
    env.trajectory.f_explore({"x": list(range(runs))})
    env.run(lambda traj: traj.x)


def test_default_logs_every_five_percent_to_the_distenv_logger(caplog):
    with caplog.at_level(logging.INFO, logger="distenv"):
        sweep(40)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("PROGRESS")]
    assert len(lines) == 20
    assert "2/40" in lines[0] and "40/40" in lines[-1] and "100%" in lines[-1]
    assert all(record.levelno == logging.INFO for record in caplog.records
               if record.getMessage().startswith("PROGRESS"))


def test_triple_sets_step_logger_and_level(caplog):
    with caplog.at_level(logging.DEBUG, logger="my.progress"):
        sweep(10, report_progress=(50, "my.progress", logging.WARNING))
    records = [r for r in caplog.records if r.name == "my.progress"]
    assert [r.levelno for r in records] == [logging.WARNING] * 2
    assert "5/10" in records[0].getMessage() and "10/10" in records[1].getMessage()


def test_print_writes_plain_lines_with_rate_when_not_a_terminal(capsys):
    sweep(4, report_progress="print")
    lines = [line for line in capsys.readouterr().out.splitlines() if line]
    assert len(lines) == 4 and all(line.startswith("PROGRESS: progress") for line in lines)
    assert "run/s" in lines[-1] and "4/4" in lines[-1]
    assert "\r" not in "".join(lines)


def test_print_triple(capsys):
    sweep(10, report_progress=(25, "print", logging.INFO))
    assert len([line for line in capsys.readouterr().out.splitlines() if line]) == 4


def test_false_reports_nothing(capsys, caplog):
    with caplog.at_level(logging.DEBUG):
        sweep(5, report_progress=False)
    assert "PROGRESS" not in capsys.readouterr().out
    assert not any("PROGRESS" in r.getMessage() for r in caplog.records)


def test_reporter_counts_and_formats():
    reporter = ProgressReporter(ProgressSpec(50, "unused.logger", logging.INFO), 3, "demo")
    reporter.advance()
    reporter.advance(2)
    assert reporter.done == 3 and "3/3" in reporter.line()
    reporter.close()
    assert ProgressReporter(None, 10, "off").line()  # harmless when off


BAR_SCRIPT = """
import logging, sys, time
from distenv.environment import Environment
logging.basicConfig(level=logging.WARNING)
def job(traj):
    time.sleep(0.01)
    if traj.x == 10:
        logging.getLogger("user").warning("halfway there")
env = Environment("bar", report_progress=sys.argv[1] if len(sys.argv) > 1 else True)
env.trajectory.f_add_parameter("x", 0)
env.trajectory.f_explore({"x": list(range(20))})
env.run(job)
logging.getLogger("user").warning("after the bar")
print("DONE")
"""


def run_in_terminal(tmp_path, *arguments):
    """Run BAR_SCRIPT with stdin/stdout/stderr on a pseudo-terminal; return its output."""
    script = tmp_path / "bar.py"
    script.write_text(BAR_SCRIPT)
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, str(script), *arguments], stdin=follower,
                               stdout=follower,
                               stderr=follower, cwd=tmp_path, close_fds=True)
    os.close(follower)
    output = b""
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 60)
            if not ready:
                break
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        process.wait(timeout=60)
        os.close(leader)
    text = output.decode("utf-8", "replace")
    assert process.returncode == 0, text
    return text


def test_interactive_terminal_shows_a_tqdm_bar_with_rate_and_eta(tmp_path):
    text = run_in_terminal(tmp_path, "print")
    assert "DONE" in text
    assert "\r" in text                        # a live bar redraws in place
    assert "20/20" in text and "run/s" in text  # count and rate
    assert "<" in text                          # elapsed<remaining: the ETA
    assert "PROGRESS:" not in text              # not the plain-line fallback


def test_console_logging_is_written_around_the_bar(tmp_path):
    text = run_in_terminal(tmp_path)
    assert "WARNING:user:halfway there" in text and "WARNING:user:after the bar" in text
    line = next(line for line in text.split("\n") if "halfway there" in line)
    # the bar was cleared first, not continued: what precedes the record on screen is nothing
    assert line.split("halfway")[0].split("\r")[-1] == "WARNING:user:"
    assert "20/20" in text
