"""Bad multiprocessing options: a specific error when the Environment is made, before any
process starts and before any file is written."""

from __future__ import annotations

import os

import psutil
import pytest

from distenv import Environment
from distenv.errors import ConfigurationError

POOL = {"multiproc": True, "use_pool": True, "ncores": 2}
PROCESS = {"multiproc": True, "use_pool": False, "ncores": 2}


def children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


def assert_refused(keywords: dict, error: type, *fragments: str) -> str:
    """``Environment(**keywords)`` raises ``error`` whose message holds every fragment, and
    leaves no file and no process behind."""
    before = children()
    with pytest.raises(error) as info:
        Environment("sweep", filename="hdf5/sweep.hdf5", report_progress=False, **keywords)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert os.listdir(".") == []  # the test's own empty folder: nothing was written
    assert children() <= before
    return message


@pytest.mark.parametrize("keywords, fragments", [
    ({"cpu_cap": 0}, ["cpu_cap=0", "(0, 100]"]),
    ({"cpu_cap": 100.5}, ["cpu_cap=100.5", "(0, 100]"]),
    ({"cpu_cap": -20}, ["cpu_cap=-20"]),
    ({"swap_cap": 0.0}, ["swap_cap=0.0", "(0, 100]"]),
    ({"swap_cap": 250}, ["swap_cap=250"]),
    ({"memory_cap": 101}, ["memory_cap=101", "(0, 100]"]),
    ({"memory_cap": (0, 500)}, ["memory_cap=0"]),
    ({"memory_cap": (90, -1)}, ["memory_cap[1]", "-1"]),
    ({"memory_cap": (90, 500, 1)}, ["memory_cap", "(cap, memory_per_process_MB)"]),
    ({"cpu_cap": "50"}, ["cpu_cap='50'"]),
], ids=lambda value: repr(value) if isinstance(value, dict) else "")
def test_caps_out_of_range(keywords, fragments):
    assert_refused(dict(PROCESS, **keywords), ConfigurationError, *fragments)


@pytest.mark.parametrize("ncores", [-1, -8, 1.5, "2", True])
def test_ncores_must_be_an_int_of_at_least_0(ncores):
    assert_refused(dict(POOL, ncores=ncores), ConfigurationError, "ncores=%r" % (ncores,),
                   "int >= 0")


@pytest.mark.parametrize("queue_maxsize", [-2, -100, 1.5])
def test_queue_maxsize_must_be_at_least_minus_1(queue_maxsize):
    assert_refused(dict(POOL, wrap_mode="QUEUE", queue_maxsize=queue_maxsize),
                   ConfigurationError, "queue_maxsize=%r" % (queue_maxsize,), ">= -1")


@pytest.mark.parametrize("caps", [{"cpu_cap": 50.0}, {"memory_cap": 80.0},
                                  {"memory_cap": (90.0, 500)}, {"swap_cap": 10.0},
                                  {"cpu_cap": 50.0, "swap_cap": 10.0}],
                         ids=lambda caps: ",".join(caps))
def test_caps_need_one_process_per_run(caps):
    message = assert_refused(dict(POOL, **caps), ConfigurationError,
                             "caps work only with one process per run", "use_pool=False")
    for name in caps:
        assert name in message


def test_caps_with_one_process_per_run_are_accepted():
    env = Environment("sweep", filename="hdf5/sweep.hdf5", report_progress=False,
                      cpu_cap=80.0, memory_cap=(90.0, 100), swap_cap=50.0, **PROCESS)
    assert env.options.executor.backend == "process"
    assert env.options.executor.memory_per_process == 100


@pytest.mark.parametrize("wrap_mode", ["NETLOCK", "NETQUEUE"])
@pytest.mark.parametrize("flags", [POOL, PROCESS, {"executor": "pool", "ncores": 2}],
                         ids=["pool", "process", "executor=pool"])
def test_network_wrap_modes_are_not_built_yet(flags, wrap_mode):
    assert_refused(dict(flags, wrap_mode=wrap_mode), NotImplementedError,
                   "wrap_mode=%r" % wrap_mode, "not implemented yet")


def test_unknown_wrap_mode_lists_the_valid_ones():
    assert_refused(dict(POOL, wrap_mode="SOCKET"), ConfigurationError, "wrap_mode='SOCKET'",
                   "'LOCAL'", "'QUEUE'", "'PIPE'", "'LOCK'", "'NONE'")


@pytest.mark.parametrize("keywords, fragments", [
    ({"freeze_input": True}, ["freeze_input=True needs use_pool=True"]),
    ({"timeout": 0}, ["timeout=0"]),
    ({"timeout": -5.0}, ["timeout=-5.0"]),
    ({"niceness": 20}, ["niceness=20"]),
    ({"niceness": 1.5}, ["niceness=1.5"]),
    ({"gc_interval": 0}, ["gc_interval=0"]),
    ({"graceful_exit": "yes"}, ["graceful_exit='yes'"]),
], ids=lambda value: repr(value) if isinstance(value, dict) else "")
def test_other_parallel_options_out_of_range(keywords, fragments):
    assert_refused(dict(PROCESS, **keywords), ConfigurationError, *fragments)


def test_unknown_executor_name_lists_the_registered_ones():
    assert_refused({"executor": "threads"}, ConfigurationError, "'threads'", "pool",
                   "process", "serial")
