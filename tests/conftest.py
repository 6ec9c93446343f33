"""Shared fixtures: every test works in its own temporary folder with real HDF5 files."""

from __future__ import annotations

import logging
import os
import sys

import pytest

import distenv  # noqa: F401  -- before any test module loads HDF5 (distenv sets its locking)


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Run each test inside its own temporary folder (default ./hdf5/ lands there)."""
    monkeypatch.chdir(tmp_path)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    yield


@pytest.fixture
def spawn():
    """``spawn(ChildProcess or a subclass, *args, **keywords)`` starts a child
    (``helpers.kill_scaffolding``); whatever is still running at the end is killed."""
    started = []

    def start(child_class, *args, **keywords):
        child = child_class(*args, **keywords)
        started.append(child)
        return child

    yield start
    for child in started:
        if child.process.poll() is None:
            child.kill()


@pytest.fixture
def logging_left_as_found():
    """For tests of Environments that set up logging (``usefixtures``): a setup an earlier
    test left active is stopped first; at the end this test's is stopped, and the root logger's
    handlers and level, ``sys.stdout``/``sys.stderr`` and the per-run handlers must be as
    they were."""
    from distenv.environment import logging_hook
    from distenv.environment.logging_setup import active_setup

    left = active_setup()
    if left is not None:  # an Environment of an earlier test module
        left.stop()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stdout, stderr = sys.stdout, sys.stderr
    yield
    setup = active_setup()
    if setup is not None:
        setup.stop()
    assert root.handlers == handlers and root.level == level
    assert sys.stdout is stdout and sys.stderr is stderr
    assert logging_hook.PER_RUN_HANDLERS == []
