"""Inputs for the merge tests: trajectories written by separate processes, as batch jobs do.

Each input file is written by its own ``python -c`` process through the journal API (the way
an executor hands runs to storage), optionally leaving runs in journal shards that were never
compacted. The tests here check the writer itself; the merge tests import its helpers.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import tables

WRITER = r"""
import json, sys, time
import numpy as np
from distenv import Trajectory
spec = json.loads(sys.argv[1])
prefix = spec.get("run_prefix")
names = {("$", "crun"): lambda i: "%s_%d" % (prefix, i) if i >= 0 else prefix + "_ALL"}
traj = Trajectory(spec["name"], filename=spec["path"], comment=spec.get("comment", ""),
                  fsync=False, ack_runs=spec.get("ack_runs"),
                  wildcard_functions=names if prefix else None)
for name, default in spec["defaults"].items():
    traj.f_add_parameter(name, default, comment="parameter " + name)
if spec["explore"]:
    traj.f_explore(spec["explore"])
env = spec["env"]
traj.f_add_config("environment.%s.name" % env, env, comment="Name of the environment")
traj.f_add_config("environment.%s.trajectory.name" % env, spec["name"])
traj.f_add_result("summary", "summary of " + spec["path"], comment="a static result")
traj.f_add_derived_parameter("scale", spec.get("scale", 2.0))
traj.f_store()
journal = traj.v_storage_service.run_journal(traj)
runs = spec.get("runs")
for index in range(len(traj) if runs is None else runs):
    traj._set_run(index)
    start = time.time()
    failed = index in spec.get("fail", [])
    if not failed:
        z = traj.x * traj.y
        traj.f_add_result("z", {"int": int, "str": str}.get(spec.get("z_type"), float)(z),
                          comment="x times y")
        traj.f_add_result("arr", np.arange(3) * traj.x, comment="an array")
        if index in spec.get("irregular", []):
            traj.f_add_result("irr", {"run": index}, comment="stored per run")
    journal.store_run(traj, index, traj._leave_run(), 2 if failed else 1, start, time.time(),
                      "RuntimeError: run %d failed" % index if failed else "")
journal.close()
if spec.get("compact", True):
    traj.f_store()
"""

ENV_TIME = "2026_01_01_00h00m00s"


def spec(path: str | Path, xs: list, ys: list, name: str = "sweep", env: str = "aaaaaaa",
         **extra) -> dict:
    """A writer spec: explore ``x`` and ``y`` together (one run per pair)."""
    defaults = extra.pop("defaults", {"x": 1.0, "y": 2, "seed": 42})
    explore = extra.pop("explore", None) or {"x": list(xs), "y": list(ys)}
    return {"path": str(path), "name": name, "defaults": defaults, "explore": explore,
            "env": "environment_%s_%s" % (env, ENV_TIME), **extra}


def write_inputs(*specs: dict, timeout: float = 120) -> None:
    """Write every spec in its own process (all at once) and wait for them."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).resolve().parents[1])] + sys.path))
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, json.dumps(item)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for item in specs]
    failures = []
    for item, process in zip(specs, processes):
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        if process.returncode:
            failures.append("%s: %s" % (item["path"], stderr))
    assert not failures, "\n".join(failures)


def snapshot(folder: str | Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file below ``folder`` (journals included)."""
    folder = Path(folder)
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def pending_shards(path: str | Path, name: str = "sweep") -> list[Path]:
    directory = Path(str(path) + "-journal") / name
    return sorted(directory.glob("*.h5")) if directory.is_dir() else []


def test_writer_compacts_by_default(tmp_path):
    write_inputs(spec(tmp_path / "a.h5", [1.0, 2.0], [3, 4]))
    assert pending_shards(tmp_path / "a.h5") == []
    with tables.open_file(str(tmp_path / "a.h5")) as h5:
        assert h5.root.sweep.run_table.nrows == 2


def test_writer_can_leave_runs_in_journal_shards(tmp_path):
    write_inputs(spec(tmp_path / "b.h5", [1.0, 2.0, 3.0], [3, 4, 5], compact=False, ack_runs=1))
    assert len(pending_shards(tmp_path / "b.h5")) == 3
    with tables.open_file(str(tmp_path / "b.h5")) as h5:
        assert "run_table" not in h5.root.sweep
