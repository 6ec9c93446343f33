"""Kill-and-resume proof (issue 5): a resumable sweep in a subprocess is killed with SIGKILL --
its whole process group -- at many random moments; after each kill the files must open (plain
PyTables and ``load_trajectory``) with every completed run holding the right values, and a fresh
process resumes. Killed resumes are resumed again. At the end every run is stored exactly once
with the values an uninterrupted reference sweep gives, post-processing (which expands the
trajectory once) ran once per round, and ``resume`` returns the reference's results.

The module is also the script the subprocesses run::

    python tests/test_resume_kill.py sweep|resume FOLDER [--pool]

``DISTENV_KILL_SEED`` replays a sequence of kill moments.
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import sys
import time
from pathlib import Path


NAME = "resumed"
FIRST_RUNS, EXTRA_RUNS = 1500, 500
#: Seconds each run sleeps in the killed subprocesses (the reference sweep does not sleep).
SLEEP = float(os.environ.get("DISTENV_RESUME_TEST_SLEEP", "0"))
KILLS = 20


# -- the sweep -----------------------------------------------------------------------------------
_FIRST_RUN_SAID = []


def job(traj, scale):
    if SLEEP:
        if not _FIRST_RUN_SAID:  # tell the test that this process makes runs now
            _FIRST_RUN_SAID.append(True)
            print("J", flush=True)
        time.sleep(SLEEP)
    x, y = traj.x, traj.y
    traj.f_add_result("z", x * scale + y, comment="z")
    traj.f_add_result("label", "run-%d-" % x + "x" * (x % 11))
    if x % 50 == 0:
        traj.f_add_result("extra", index=x, square=x * x)
    return x * scale - y


def postproc(traj, results, tag):
    """Round 0 adds EXTRA_RUNS runs and new post-processing arguments; every round records the
    sum of the values it saw."""
    traj.f_add_result("summary.%s_%d" % (tag, len(traj)), sum(value for _, value in results))
    if len(traj) == FIRST_RUNS:
        indices = range(FIRST_RUNS, FIRST_RUNS + EXTRA_RUNS)
        return {"x": list(indices), "y": [index % 7 for index in indices]}, None, None, \
            ("second",)
    return None


def make_sweep(folder: Path, **keywords):
    from distenv import Environment
    keywords = dict({"resumable": True}, **keywords)
    env = Environment(NAME, filename=str(folder / "sweep.hdf5"), overwrite_file=True,
                      resume_folder=str(folder / "resume"), report_progress=False,
                      ack_seconds=0.2, **keywords)
    traj = env.trajectory
    traj.f_add_parameter("x", 0, comment="explored")
    traj.f_add_parameter("y", 0)
    traj.f_explore({"x": list(range(FIRST_RUNS)), "y": [i % 7 for i in range(FIRST_RUNS)]})
    env.add_postprocessing(postproc, "first")
    return env


def pool_keywords(pool: bool) -> dict:
    return {"multiproc": True, "ncores": 2, "use_pool": True} if pool else {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("sweep", "resume"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--pool", action="store_true")
    options = parser.parse_args()
    if options.mode == "sweep":
        env = make_sweep(options.folder, **pool_keywords(options.pool))
        print("R", flush=True)
        results = env.run(job, 3)
    else:
        from distenv import Environment
        env = Environment(report_progress=False, resume_folder=str(options.folder / "resume"),
                          **pool_keywords(options.pool))
        print("R", flush=True)
        results = env.resume(trajectory_name=NAME)
    with open(options.folder / "results.pkl", "wb") as handle:
        pickle.dump(results, handle)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
    sys.exit(0)


# -- the tests -------------------------------------------------------------------------------------
import pytest  # noqa: E402  (the script above must not need pytest)
import tables  # noqa: E402

from distenv import load_trajectory  # noqa: E402
from distenv.storage import journal  # noqa: E402
from helpers.kill_scaffolding import ChildProcess, kill_seed, stored_run_indices  # noqa: E402

SCRIPT = Path(__file__)


class Attempt(ChildProcess):
    """One sweep/resume subprocess in its own process group (:meth:`kill` kills the group:
    the sweep and any worker it started)."""

    def __init__(self, args: list[str], log: Path):
        super().__init__([str(SCRIPT), *args], log, own_group=True,
                         env={"DISTENV_RESUME_TEST_SLEEP": "0.01"})


@pytest.fixture
def attempts(spawn):
    return lambda args, log: spawn(Attempt, args, log)


def reference(folder: Path) -> dict:
    """The uninterrupted sweep, made in this process."""
    env = make_sweep(folder, resumable=False)
    results = env.run(job, 3)
    traj = load_trajectory(name=NAME, filename=str(folder / "sweep.hdf5"))
    return {"results": results, "frame": traj.results_frame(), "summaries": summaries(traj),
            "extra": extras(traj)}


def extras(traj) -> dict:
    return {index: leaf.f_to_dict() for index, leaf in
            traj.f_get_from_runs("extra", use_indices=True).items()}


def summaries(traj) -> dict:
    return {name.rpartition(".")[2]: leaf.f_get() for name, leaf in traj.f_get_results().items()
            if name.startswith("results.summary.")}


def check_after_kill(path: Path, expected: dict) -> int:
    """The file opens, nothing is stored twice, every completed run has the reference values.
    Returns the number of completed runs."""
    if not path.exists():
        return 0
    stored = stored_run_indices(path, NAME, missing_ok=True)
    for where, indices in stored.items():
        assert len(indices) == len(set(indices)), "a run is stored twice in %s" % where
    with tables.open_file(str(path)) as h5:
        if "/" + NAME not in h5:
            return 0
    traj = load_trajectory(name=NAME, filename=str(path))
    frame = traj.results_frame()
    done = frame[frame["status"] == "completed"]
    if done.empty:
        assert not traj.f_get_from_runs("z", fast_access=True)
        return 0
    reference_frame = expected["frame"].loc[done.index]
    assert (done["z"] == reference_frame["z"]).all()
    assert (done["label"] == reference_frame["label"]).all()
    assert set(done.index) == set(traj.f_get_from_runs("z", fast_access=True, use_indices=True))
    return len(done)


def kill_and_resume(folder: Path, attempts, pool: bool) -> None:
    rng = random.Random(kill_seed())
    expected = reference(folder / "reference")
    work = folder / "killed"
    work.mkdir()
    path = work / "sweep.hdf5"
    snapshots = work / "resume" / NAME
    extra = ["--pool"] if pool else []
    log = folder / "attempts.log"
    started = time.monotonic()
    kinds: dict[str, int] = {"sweep": 0, "resume": 0}
    progress = []
    for number in range(KILLS):
        kind = "resume" if any(snapshots.glob("round_*.dill")) else "sweep"
        attempt = attempts([kind, str(work), *extra], log)
        assert attempt.wait_for_output(bool, 120), "attempt %d never started: %s" % (number, log.read_text())
        if rng.random() < 0.3:  # while loading, compacting, snapshotting
            time.sleep(rng.uniform(0.0, 1.0))
        else:  # while making runs and acknowledging them
            assert attempt.wait_for_output(lambda lines: "J" in lines, 120), "attempt %d made no run" % number
            time.sleep(rng.uniform(0.0, 1.5))
        attempt.kill()
        kinds[kind] += 1
        if "DONE" in attempt.lines:
            break
        progress.append(check_after_kill(path, expected))
    print("kills: %s in %.1f s; completed runs after each kill: %s"
          % (kinds, time.monotonic() - started, progress))
    kind = "resume" if any(snapshots.glob("round_*.dill")) else "sweep"
    final = attempts([kind, str(work), *extra], log)
    assert final.finish(timeout=240) == 0, log.read_text()[-4000:]
    assert "DONE" in final.lines

    # every run exactly once, with the reference's values
    stored = stored_run_indices(path, NAME)
    total = FIRST_RUNS + EXTRA_RUNS
    assert sorted(stored["run_table"]) == list(range(total))
    for where, indices in stored.items():
        assert len(indices) == len(set(indices)), "a run is stored twice in %s" % where
    assert sorted(stored["results.runs.$.z"]) == list(range(total))
    assert not journal.list_shards(journal.journal_dir(path, NAME)), "shards left uncompacted"
    traj = load_trajectory(name=NAME, filename=str(path))
    frame = traj.results_frame()
    assert set(frame["status"]) == {"completed"}
    for column in ("x", "y", "z", "label"):
        assert frame[column].tolist() == expected["frame"][column].tolist(), column
    assert extras(traj) == expected["extra"] and len(expected["extra"]) == total // 50
    assert summaries(traj) == expected["summaries"]  # post-processing: once per round
    with open(work / "results.pkl", "rb") as handle:
        assert pickle.load(handle) == expected["results"]
    assert not snapshots.exists(), "delete_resume=True leaves no snapshots"


@pytest.mark.kill
@pytest.mark.timeout(900)
def test_kill_serial_sweep_and_resume_at_random_moments(tmp_path, attempts):
    kill_and_resume(tmp_path, attempts, pool=False)


@pytest.mark.kill
@pytest.mark.timeout(900)
def test_kill_pool_sweep_and_resume_at_random_moments(tmp_path, attempts):
    """The same with a pool of 2 worker processes (``multiproc=True, ncores=2,
    use_pool=True``, wrap mode LOCK): the whole process group is killed."""
    kill_and_resume(tmp_path, attempts, pool=True)
