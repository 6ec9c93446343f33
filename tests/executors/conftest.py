"""Fixtures of the executor tests: executors built per backend, cleaned up, and a check that
no child process outlives its test."""

from __future__ import annotations

import time

import psutil
import pytest

from distenv.executors import get_executor_class
from helpers.capabilities import EXECUTORS, backends
from helpers.processes import child_pids


def zombie_pids() -> set[int]:
    pids = set()
    for child in psutil.Process().children(recursive=False):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                pids.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return pids


def assert_no_new_children(before: set[int], zombies_before: set[int],
                           wait: float = 5.0) -> None:
    """Every child started since ``before`` is gone and reaped (within ``wait`` seconds)."""
    deadline = time.monotonic() + wait
    while True:
        left = child_pids() - before
        zombies = zombie_pids() - zombies_before
        if not left and not zombies:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"processes left behind: {sorted(left)}, "
                                 f"zombies: {sorted(zombies)}")
        time.sleep(0.05)


@pytest.fixture
def no_leftover_processes():
    """Fail the test if a child process it started is still alive (or a zombie) at the end."""
    before, zombies = child_pids(), zombie_pids()
    yield
    assert_no_new_children(before, zombies)


@pytest.fixture(params=backends())
def backend(request) -> str:
    """Every backend of ``helpers.capabilities.EXECUTORS``; a test that applies to some only
    parametrizes ``backend`` itself with ``backends(<capability>=...)``."""
    return request.param


@pytest.fixture
def make_executor(backend, no_leftover_processes):
    """``make_executor(**options)`` builds the backend's executor; all are terminated at the
    end."""
    created = []

    def make(**options):
        executor = get_executor_class(backend)(**{**EXECUTORS[backend].options, **options})
        created.append(executor)
        return executor

    yield make
    for executor in created:
        executor.terminate()
