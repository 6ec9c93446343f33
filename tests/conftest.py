"""Shared fixtures: every test works in its own temporary folder with real HDF5 files."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Run each test inside its own temporary folder (default ./hdf5/ lands there)."""
    monkeypatch.chdir(tmp_path)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    yield
