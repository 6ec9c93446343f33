"""What only the ``process`` backend does: forked (unpicklable) input, CPU/memory/swap caps."""

from __future__ import annotations

import logging
import threading
import time

import psutil
import pytest

from distenv.errors import ConfigurationError
from distenv.executors import get_executor_class
from distenv.executors.caps import CapMonitor

from . import jobs

pytestmark = pytest.mark.timeout(120)

ProcessExecutor = get_executor_class("process")
CAPS_LOGGER = "distenv.executors.caps"


def cap_warnings(caplog, name):
    return [record for record in caplog.records
            if record.name == CAPS_LOGGER and record.getMessage().startswith(name)]


def test_unpicklable_job_and_data_are_inherited(no_leftover_processes):
    lock = threading.Lock()  # cannot be pickled
    with ProcessExecutor(ncores=2) as executor:
        future = executor.submit(lambda: (lock.locked(), 42))
        assert future.result(timeout=60) == (False, 42)
        assert list(executor.map(lambda value: value + 1, range(4))) == [1, 2, 3, 4]


def test_a_new_process_per_task(no_leftover_processes):
    with ProcessExecutor(ncores=2) as executor:
        pids = list(executor.map(jobs.process_id, range(6)))
    assert len(set(pids)) == 6


def run_gated(executor, tmp_path, count=4):
    """Start ``count`` tasks that wait for a gate file; open it once two of them run."""
    gate = tmp_path / "gate"
    futures = [executor.submit(jobs.wait_for_file, str(gate), value) for value in range(count)]
    deadline = time.monotonic() + 60
    while executor.max_running < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    gate.touch()
    return [future.result(timeout=60) for future in futures]


def test_at_most_ncores_at_once(tmp_path, no_leftover_processes):
    with ProcessExecutor(ncores=2) as executor:
        assert run_gated(executor, tmp_path, count=6) == list(range(6))
    assert executor.max_running == 2


def test_memory_cap_crossed_runs_one_at_a_time_and_warns_once(caplog, no_leftover_processes):
    caplog.set_level(logging.WARNING, logger=CAPS_LOGGER)
    with ProcessExecutor(ncores=2, memory_cap=(0.1, 10)) as executor:
        results = list(executor.map(jobs.sleep_then, range(5), [0.05] * 5))
    assert results == list(range(5))
    assert executor.max_running == 1
    warnings = cap_warnings(caplog, "memory_cap")
    assert len(warnings) == 1
    assert "memory_cap=0.1 is crossed" in warnings[0].getMessage()
    assert "10 MB for one more process" in warnings[0].getMessage()


def test_cpu_cap_crossed_warns(caplog, no_leftover_processes):
    caplog.set_level(logging.WARNING, logger=CAPS_LOGGER)
    with ProcessExecutor(ncores=2, cpu_cap=0.001) as executor:  # busy tasks cross it
        assert list(executor.map(jobs.burn, range(4), [0.2] * 4)) == list(range(4))
    assert cap_warnings(caplog, "cpu_cap")


def test_caps_not_crossed_run_in_parallel(tmp_path, no_leftover_processes):
    with ProcessExecutor(ncores=2, swap_cap=100.0, memory_cap=(100.0, 0)) as executor:
        assert run_gated(executor, tmp_path) == list(range(4))
    assert executor.max_running == 2


class ScriptedCaps(CapMonitor):
    """Fault injection: the readings come from a script instead of psutil."""

    def __init__(self, script, **caps):
        super().__init__(sample_interval=0.0, **caps)
        self.script = list(script)

    def readings(self):
        value = self.script.pop(0)
        return {"memory_cap": (value, self.memory_cap, f"memory use is {value} %")}


def test_cap_warning_repeats_only_after_recovery(caplog):
    caplog.set_level(logging.WARNING, logger=CAPS_LOGGER)
    monitor = ScriptedCaps([95, 96, 97, 50, 40, 99, 99], memory_cap=90)
    crossed = [bool(monitor.crossed(running=1)) for _ in range(7)]
    assert crossed == [True, True, True, False, False, True, True]
    assert len(cap_warnings(caplog, "memory_cap")) == 2


def test_caps_disabled_at_100():
    assert not CapMonitor().enabled
    assert CapMonitor(memory_cap=(100, 500)).enabled  # the estimate alone can cross it


@pytest.mark.parametrize("options, message", [
    ({"cpu_cap": 0}, "cpu_cap must be in (0, 100], got 0"),
    ({"cpu_cap": 150}, "cpu_cap must be in (0, 100], got 150"),
    ({"swap_cap": -1.0}, "swap_cap must be in (0, 100]"),
    ({"memory_cap": 100.5}, "memory_cap must be in (0, 100]"),
    ({"memory_cap": "half"}, "memory_cap must be in (0, 100]"),
    ({"memory_cap": (50,)}, "memory_cap as a tuple must be"),
    ({"memory_cap": (50, -1)}, "memory_per_process_MB must be a number >= 0"),
    ({"memory_cap": (0, 100)}, "memory_cap must be in (0, 100]"),
])
def test_bad_caps_fail_before_any_process(options, message, no_leftover_processes):
    before = {child.pid for child in psutil.Process().children()}
    with pytest.raises(ConfigurationError) as caught:
        ProcessExecutor(ncores=2, **options)
    assert message in str(caught.value)
    assert {child.pid for child in psutil.Process().children()} == before
