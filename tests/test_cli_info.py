"""``distenv info FILE``: what a file holds, read without changing anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from test_merge_inputs import snapshot, spec, write_inputs

CLI = [sys.executable, "-m", "distenv.cli"]


def distenv(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("info-inputs")
    write_inputs(spec(folder / "done.h5", [float(x) for x in range(20)], [x % 3 for x in range(20)],
                      env="aaaaaaa", fail=[4, 5], irregular=[1]),
                 spec(folder / "pending.h5", [1.0, 2.0, 3.0], [1, 2, 3], env="bbbbbbb", runs=2,
                      compact=False, ack_runs=1))
    return folder


def test_info_shows_parameters_runs_results_and_provenance(folder):
    before = snapshot(folder)
    done = distenv("info", "done.h5", cwd=folder)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "done.h5: 1 trajectory" in out and "trajectory 'sweep'" in out
    assert "runs: 20 (18 completed, 2 failed, 0 pending)" in out
    assert "parameters: 3 (2 explored)" in out
    assert "x    = 1.0   explored: 20 values, 20 distinct: 0.0, 1.0, 2.0, 3.0, 4.0, ..., 19.0" \
        in out
    assert "seed = 42" in out
    assert "results.runs.$.z" in out and "(18 rows)" in out
    assert "results.runs.$.irr" in out and "1 stored per run" in out
    assert "results: 1: results.summary (Result)" in out
    assert "derived parameters: 1: derived_parameters.scale (Parameter)" in out
    assert "environments: 1: environment_aaaaaaa_" in out
    assert snapshot(folder) == before


def test_info_counts_runs_still_in_the_journal(folder):
    done = distenv("info", "pending.h5", "--trajectory", "sweep", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert "runs: 3 (2 completed, 0 failed, 1 pending); 2 journal shards not yet compacted" \
        in done.stdout


def test_info_errors_name_the_problem(folder, tmp_path):
    done = distenv("info", "done.h5", "--trajectory", "nope", cwd=folder)
    assert done.returncode == 1 and "no trajectory 'nope'" in done.stderr
    assert "sweep" in done.stderr and "Traceback" not in done.stderr
    broken = tmp_path / "broken.h5"
    data = (folder / "done.h5").read_bytes()
    broken.write_bytes(data[: len(data) // 3])
    done = distenv("info", str(broken), cwd=folder)
    assert done.returncode == 1 and "broken.h5" in done.stderr
    assert "Traceback" not in done.stderr
    done = distenv("info", "missing.h5", cwd=folder)
    assert done.returncode == 1 and "missing.h5 does not exist" in done.stderr
