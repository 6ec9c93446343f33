"""Every script in examples/ runs for real in a subprocess and leaves its files behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tables

from distenv import load_trajectory

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name, tmp_path, *arguments):
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--output", str(tmp_path / "out"), *arguments],
        capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def test_every_example_has_a_test():
    assert sorted(path.name for path in EXAMPLES.glob("*.py")) == [
        "adaptive_pipeline.py", "lorenz_sweep.py", "wrap_existing_project.py"]


@pytest.mark.slow
def test_lorenz_sweep_writes_hdf5_table_and_png(tmp_path):
    output = run_example("lorenz_sweep.py", tmp_path, "--grid", "4", "5", "--steps", "3000")
    hdf5_file = tmp_path / "out" / "lorenz_sweep.hdf5"
    png = tmp_path / "out" / "lorenz_sweep.png"
    assert tables.is_hdf5_file(str(hdf5_file))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "holds 1 trajectory(ies): lorenz_sweep" in output
    assert "parameters.lorenz.sigma" in output and "explored: 20 runs" in output
    assert "results (traj.results_frame()):" in output and "lyapunov" in output
    frame = load_trajectory(filename=str(hdf5_file)).results_frame()
    assert len(frame) == 20 and set(frame["status"]) == {"completed"}
    assert frame[frame["rho"] == 40.0]["lyapunov"].max() > 0.5  # chaotic
    assert frame[frame["rho"] == 10.0]["lyapunov"].max() < 0  # fixed point


@pytest.mark.slow
def test_lorenz_sweep_can_run_twice_into_the_same_folder(tmp_path):
    run_example("lorenz_sweep.py", tmp_path, "--grid", "2", "2", "--steps", "500")
    run_example("lorenz_sweep.py", tmp_path, "--grid", "2", "3", "--steps", "500")
    assert len(load_trajectory(filename=str(tmp_path / "out" / "lorenz_sweep.hdf5"))) == 6


@pytest.mark.slow
def test_wrap_existing_project(tmp_path):
    output = run_example("wrap_existing_project.py", tmp_path)
    traj = load_trajectory(filename=str(tmp_path / "out" / "wrap_existing_project.hdf5"))
    frame = traj.results_frame()
    assert len(frame) == 20 and "attack_rate" in frame and "R0" in output
    low_r0 = frame[frame["infection_rate"] < frame["recovery_rate"]]
    assert (low_r0["attack_rate"] < 0.05).all()


@pytest.mark.slow
def test_adaptive_pipeline_expands_until_the_bracket_is_small(tmp_path):
    output = run_example("adaptive_pipeline.py", tmp_path)
    traj = load_trajectory(filename=str(tmp_path / "out" / "adaptive_pipeline.hdf5"))
    assert len(traj) > 4  # the coarse grid was expanded
    assert 0 < traj.onset.high - traj.onset.low <= 0.2
    assert 22.0 < traj.onset.low < 25.0
    assert "onset of chaos between" in output
