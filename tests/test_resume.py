"""Resume (issue 5): a resumable sweep crashes at a chosen moment -- its whole process group is
SIGKILLed from inside, by the job, the post-processing function or right before a store -- and a
fresh process resumes it with ``env.resume``/``f_continue``, with the same or other execution
settings. The files must then hold every run exactly once with the right values.

This module is also the script the subprocesses run::

    python tests/test_resume.py sweep|resume FOLDER SETTINGS_JSON

``DISTENV_TEST_CRASH`` (``run:<index>``, ``postproc:<len(traj)>``, ``store``, ``finish``) says
where the sweep kills itself.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

NAME = "crashy"
FIRST = 6      # runs before post-processing expands the trajectory
EXPANDED = 9   # runs after the one expansion
SCALES = [2, 3, 4, 5, 6, 7, 8, 9, 10]  # run_map's keyword iterable


def crash_requested(where: str) -> bool:
    return os.environ.get("DISTENV_TEST_CRASH") == where


def crash_now() -> None:
    """SIGKILL this process group: the sweep and every worker it started."""
    os.killpg(os.getpgid(0), signal.SIGKILL)


def job(traj, offset):
    if crash_requested("run:%d" % traj.v_idx):
        crash_now()
    traj.f_add_result("z", traj.x * 10 + offset)
    return traj.x + offset


def mapped_job(traj, add, scale=1):
    if crash_requested("run:%d" % traj.v_idx):
        crash_now()
    traj.f_add_result("z", (traj.x + add) * scale)
    return add * scale


def postproc(traj, results, folder):
    with open(Path(folder) / "postproc_calls.txt", "a") as calls:
        calls.write("%d\n" % len(traj))
    if crash_requested("postproc:%d" % len(traj)):
        crash_now()
    traj.f_add_result("summary.after_%d" % len(traj), sum(value for _, value in results))
    if len(traj) < EXPANDED:
        return {"x": list(range(len(traj), EXPANDED))}
    return None


def expected_z(index: int) -> int:
    return index * 10 + 7


def build(folder: Path, settings: dict):
    from distenv import Environment
    env = Environment(NAME, filename=str(folder / "sweep.hdf5"), report_progress=False,
                      resumable=True, resume_folder=str(folder / "resume"), ack_runs=1,
                      log_config=None, delete_resume=settings.get("delete_resume", True),
                      **settings.get("execution", {}))
    env.trajectory.f_add_parameter("x", 0)
    env.trajectory.f_explore({"x": list(range(FIRST))})
    if settings.get("post"):
        env.add_postprocessing(postproc, str(folder))
    return env


def main() -> None:
    mode, folder, settings = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
    if crash_requested("store"):  # after post-processing snapshotted the next round
        from distenv.environment.rounds import Rounds
        Rounds._after_postprocessing = lambda self: crash_now()
    if crash_requested("finish"):  # everything stored, snapshots not yet deleted
        from distenv.environment.resume import ResumeKeeper
        ResumeKeeper.finish = lambda self: crash_now()
    if mode == "sweep":
        env = build(folder, settings)
        if settings.get("map"):
            results = env.run_map(mapped_job, (i * 100 for i in range(EXPANDED)),
                                  scale=iter(SCALES))
        else:
            results = env.run(job, 7)
    else:
        from distenv import Environment
        env = Environment(report_progress=False, log_config=None,
                          **settings.get("execution", {}))
        method = env.f_continue if settings.get("old_names") else env.resume
        folder_keyword = "continue_folder" if settings.get("old_names") else "resume_folder"
        results = method(trajectory_name=NAME, **{folder_keyword: str(folder / "resume")})
    with open(folder / "results.pkl", "wb") as handle:
        pickle.dump(results, handle)


if __name__ == "__main__":
    main()
    sys.exit(0)


# -- the tests -------------------------------------------------------------------------------------
import pytest  # noqa: E402

from distenv import Environment, load_trajectory  # noqa: E402
from distenv.environment import snapshot  # noqa: E402
from distenv.errors import ConfigurationError  # noqa: E402
from helpers.kill_scaffolding import stored_run_indices  # noqa: E402

POOL = {"multiproc": True, "ncores": 2, "use_pool": True}


def launch(mode: str, folder: Path, settings: dict, crash: str = "") -> int:
    environment = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    environment.pop("DISTENV_TEST_CRASH", None)
    if crash:
        environment["DISTENV_TEST_CRASH"] = crash
    process = subprocess.Popen([sys.executable, __file__, mode, str(folder),
                                json.dumps(settings)], cwd=folder, env=environment,
                               start_new_session=True, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if crash:
        assert process.returncode == -signal.SIGKILL, output
    else:
        assert process.returncode == 0, output
    return process.returncode


def crash_and_resume(folder: Path, crash: str, settings: dict, resume_settings: dict | None = None):
    launch("sweep", folder, settings, crash)
    assert any((folder / "resume" / NAME).glob("round_*.dill"))
    check_files(folder)  # the file opened fine right after the crash
    launch("resume", folder, settings if resume_settings is None else resume_settings)
    with open(folder / "results.pkl", "rb") as handle:
        return pickle.load(handle)


def stored_indices(path: Path) -> dict[str, list[int]]:
    """Run indices of the run table and every column, in the file and in pending shards."""
    return stored_run_indices(path, NAME)


def check_files(folder: Path, total: int | None = None, failed_before: tuple = ()):
    """Nothing stored twice; every completed run has its value. Returns the trajectory.

    A run that failed and was made again keeps its failed row in the run table
    (``failed_before``); the later row wins."""
    path = folder / "sweep.hdf5"
    for where, indices in stored_indices(path).items():
        if where == "run_table":
            indices = [index for number, index in enumerate(indices)
                       if index not in failed_before or index in indices[number + 1:]]
        assert len(indices) == len(set(indices)), "stored twice in %s: %s" % (where, indices)
    traj = load_trajectory(name=NAME, filename=str(path))
    z = traj.f_get_from_runs("z", fast_access=True, use_indices=True)
    completed = {index for index in range(len(traj)) if traj.f_is_completed(index)}
    assert set(z) == completed
    if total is not None:
        assert len(traj) == total and completed == set(range(total))
        assert sorted(set(stored_indices(path)["run_table"])) == list(range(total))
    return traj, z


def hashes(traj) -> list[str]:
    return [traj.f_get_run_information(index)["env_hash"] for index in range(len(traj))]


# -- resume after a crash -----------------------------------------------------------------------------
def test_resume_makes_only_the_runs_storage_did_not_acknowledge(tmp_path):
    results = crash_and_resume(tmp_path, "run:3", {})
    traj, z = check_files(tmp_path, FIRST)
    assert z == {index: expected_z(index) for index in range(FIRST)}
    assert results == [(index, index + 7) for index in range(FIRST)]
    crashed, resumed = hashes(traj)[:3], hashes(traj)[3:]
    assert len(set(crashed)) == 1 and len(set(resumed)) == 1 and crashed != resumed
    environments = {name.split(".")[2] for name in traj.f_get_config()
                    if name.startswith("config.environment.")}
    assert len(environments) == 2  # provenance of the crashed and of the resuming environment
    assert not (tmp_path / "resume" / NAME).exists()  # delete_resume=True


@pytest.mark.parametrize("crashed,resumed", [
    ({}, POOL),
    (POOL, {}),
    (dict(POOL, wrap_mode="QUEUE"), dict(POOL, wrap_mode="QUEUE")),
    (dict(POOL, wrap_mode="PIPE"), dict(POOL, wrap_mode="LOCAL")),
    (dict(POOL, wrap_mode="LOCAL"), dict(POOL, wrap_mode="PIPE")),
    ({"multiproc": True, "ncores": 2, "use_pool": False}, dict(POOL, wrap_mode="QUEUE")),
], ids=["serial-pool", "pool-serial", "queue-queue", "pipe-local", "local-pipe", "process-queue"])
def test_resume_with_other_execution_settings_and_every_local_wrap_mode(tmp_path, crashed,
                                                                          resumed):
    results = crash_and_resume(tmp_path, "run:4", {"execution": crashed},
                               {"execution": resumed})
    _, z = check_files(tmp_path, FIRST)
    assert z == {index: expected_z(index) for index in range(FIRST)}
    assert results == [(index, index + 7) for index in range(FIRST)]


def test_old_names_continuable_continue_folder_and_f_continue(tmp_path):
    launch("sweep", tmp_path, {}, "run:2")
    launch("resume", tmp_path, {"old_names": True})
    check_files(tmp_path, FIRST)
    env = Environment(report_progress=False, log_config=None, continuable=True,
                      continue_folder="elsewhere", delete_continue=False)
    assert env.options.resume == type(env.options.resume)(True, "elsewhere", False)


def test_run_map_arguments_of_each_run_are_snapshotted(tmp_path):
    """run_map with a generator and an iterator: the arguments of every run are materialised
    into the snapshot, so the resumed runs get exactly theirs."""
    results = crash_and_resume(tmp_path, "run:3", {"map": True})
    _, z = check_files(tmp_path, FIRST)
    assert z == {index: (index + index * 100) * SCALES[index] for index in range(FIRST)}
    assert results == [(index, index * 100 * SCALES[index]) for index in range(FIRST)]


def test_run_map_with_an_expansion_resumes_the_second_round_with_its_arguments(tmp_path):
    """The generators of the crashed process are gone; round 1's arguments come from its
    snapshot, taken when the round started."""
    results = crash_and_resume(tmp_path, "run:7", {"map": True, "post": True})
    _, z = check_files(tmp_path, EXPANDED)
    assert z == {index: (index + index * 100) * SCALES[index] for index in range(EXPANDED)}
    assert results == [(index, index * 100 * SCALES[index]) for index in range(EXPANDED)]
    assert postproc_calls(tmp_path) == [6, 9]


def test_return_values_of_acknowledged_runs_come_back_even_without_their_log(tmp_path):
    """A lost value log (e.g. power loss) is not fatal: the values are computed again without
    storing the runs a second time."""
    launch("sweep", tmp_path, {}, "run:4")
    for log in (tmp_path / "resume" / NAME).glob("values-*.log"):
        log.unlink()
    launch("resume", tmp_path, {})
    with open(tmp_path / "results.pkl", "rb") as handle:
        assert pickle.load(handle) == [(index, index + 7) for index in range(FIRST)]
    traj, z = check_files(tmp_path, FIRST)
    assert z == {index: expected_z(index) for index in range(FIRST)}


# -- post-processing and expansion ------------------------------------------------------------------------
def postproc_calls(folder: Path) -> list[int]:
    path = folder / "postproc_calls.txt"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def check_postprocessed(folder: Path, results) -> None:
    traj, z = check_files(folder, EXPANDED)
    assert z == {index: expected_z(index) for index in range(EXPANDED)}
    assert results == [(index, index + 7) for index in range(EXPANDED)]
    summaries = {name.rpartition(".")[2]: leaf.f_get()
                 for name, leaf in traj.f_get_results().items() if "summary" in name}
    assert summaries == {"after_6": sum(index + 7 for index in range(FIRST)),
                         "after_9": sum(index + 7 for index in range(EXPANDED))}


def test_crash_in_the_second_round_resumes_that_round(tmp_path):
    results = crash_and_resume(tmp_path, "run:7", {"post": True})
    check_postprocessed(tmp_path, results)
    assert postproc_calls(tmp_path) == [6, 9]


def test_crash_inside_postprocessing_calls_it_again(tmp_path):
    results = crash_and_resume(tmp_path, "postproc:6", {"post": True})
    check_postprocessed(tmp_path, results)
    assert postproc_calls(tmp_path) == [6, 6, 9]


def test_crash_before_an_expansion_was_stored_calls_postprocessing_again(tmp_path):
    """The snapshot of round 1 exists but the expansion never reached the file: resume calls
    post-processing of round 0 again, which expands the same way."""
    results = crash_and_resume(tmp_path, "store", {"post": True})
    check_postprocessed(tmp_path, results)
    assert postproc_calls(tmp_path) == [6, 6, 9]


def test_postprocessing_stored_before_the_crash_is_not_called_again(tmp_path):
    results = crash_and_resume(tmp_path, "finish", {"post": True})
    check_postprocessed(tmp_path, results)
    assert postproc_calls(tmp_path) == [6, 9]
    assert not (tmp_path / "resume" / NAME).exists()


# -- snapshots, folders and bad input -------------------------------------------------------------------
def test_delete_resume_false_keeps_the_snapshots_and_a_finished_sweep_resumes_to_its_results(
        tmp_path):
    env = build(tmp_path, {"delete_resume": False})
    results = env.run(job, 7)
    directory = tmp_path / "resume" / NAME
    assert sorted(path.name for path in directory.glob("round_*")) == ["round_00000.dill"]
    again = Environment(report_progress=False, log_config=None)
    assert again.resume(NAME, str(tmp_path / "resume")) == results
    assert again.trajectory.v_name == NAME and again.trajectory.f_is_completed()
    assert not directory.exists()


def test_errors_name_what_exists(tmp_path):
    env = Environment(report_progress=False, log_config=None)
    with pytest.raises(ConfigurationError, match="resume folder nowhere does not exist"):
        env.resume("x", "nowhere")
    for name in ("first", "second"):
        (tmp_path / "resume" / name).mkdir(parents=True)
        (tmp_path / "resume" / name / "round_00000.dill").write_bytes(b"")
    with pytest.raises(ConfigurationError, match="no snapshot of trajectory 'third'; it holds "
                                                 "'first', 'second'"):
        env.resume("third", "resume")
    with pytest.raises(ConfigurationError, match="needs trajectory_name=.*'first', 'second'"):
        env.f_continue(resume_folder="resume")
    with pytest.raises(ConfigurationError, match="resume_folder='resume' and its old name"):
        env.resume("first", resume_folder="resume", continue_folder="resume")
    with pytest.raises(Exception, match="round_00000.dill cannot be read"):
        env.resume("first", "resume")
    with pytest.raises(ConfigurationError, match="automatic_storing=True"):
        Environment(report_progress=False, log_config=None,
                    automatic_storing=False).resume("first", "resume")


def test_a_job_dill_cannot_snapshot_is_refused_before_any_run(tmp_path):
    env = build(tmp_path, {})
    with pytest.raises(ConfigurationError, match="dill cannot snapshot"):
        env.run(job, (value for value in range(3)))
    assert not env.trajectory.f_get_from_runs("z")


def test_snapshot_files_are_written_atomically(tmp_path):
    env = build(tmp_path, {"delete_resume": False})
    env.run(job, 7)
    names = [path.name for path in (tmp_path / "resume" / NAME).iterdir()]
    assert not [name for name in names if name.startswith(".")], names  # no temporaries
    (rounds,) = [snapshot.read_rounds(tmp_path / "resume" / NAME)]
    assert [item.round for item in rounds] == [0]
    assert rounds[0].indices.tolist() == list(range(FIRST))
    assert Path(rounds[0].filename).is_absolute()


def test_a_torn_value_record_is_skipped_and_later_records_are_read(tmp_path):
    """Processes share a value log (forked workers inherit it); one killed while appending
    leaves a torn record in the middle: it is skipped, the records after it count."""
    log = snapshot.ValueLog(tmp_path)
    log.append(0, "zero")
    log.append(1, {"one": 1})
    (path,) = tmp_path.glob("values-*.log")
    whole = path.read_bytes()
    log.append(2, [2] * 1000)
    torn = path.read_bytes()[len(whole):-7]
    path.write_bytes(whole + torn)  # record 2 lost its end: its writer was killed
    log.close()
    log = snapshot.ValueLog(tmp_path)
    with open(path, "ab") as handle:  # another process appends to the same file
        handle.write(snapshot._encode(3, 3.5))
    assert snapshot.read_values(tmp_path) == {0: "zero", 1: {"one": 1}, 3: 3.5}
    log.append(1, "newer")  # a newer file: its records win
    log.close()
    assert snapshot.read_values(tmp_path)[1] == "newer"


def test_one_value_log_per_sweep_also_with_a_pool_and_a_process_per_run(tmp_path):
    for number, execution in enumerate([POOL, {"multiproc": True, "ncores": 2,
                                               "use_pool": False}]):
        folder = tmp_path / str(number)
        folder.mkdir()
        env = build(folder, {"delete_resume": False, "execution": execution})
        env.run(job, 7)
        logs = list((folder / "resume" / NAME).glob("values-*.log"))
        assert len(logs) == 1
        assert snapshot.read_values(folder / "resume" / NAME) == \
            {index: index + 7 for index in range(FIRST)}


def test_values_that_cannot_be_pickled_are_computed_again(tmp_path, caplog):
    log = snapshot.ValueLog(tmp_path)
    log.append(5, (value for value in range(2)))  # a generator: neither pickle nor dill
    assert "cannot be pickled" in caplog.text
    assert snapshot.read_values(tmp_path) == {}


def flaky(traj, folder):
    """Fails in run 2 until the file ``fixed`` exists."""
    if traj.v_idx == 2 and not (Path(folder) / "fixed").exists():
        raise RuntimeError("run 2 is broken")
    traj.f_add_result("z", expected_z(traj.v_idx))
    return traj.v_idx


def test_a_failed_sweep_resumes_after_the_cause_is_fixed(tmp_path):
    from distenv.errors import RunFailedError
    env = build(tmp_path, {})
    with pytest.raises(RunFailedError, match="run 2 is broken"):
        env.run(flaky, str(tmp_path))
    assert (tmp_path / "resume" / NAME).is_dir()  # kept: the sweep did not succeed
    (tmp_path / "fixed").touch()
    again = Environment(report_progress=False, log_config=None)
    assert again.f_continue(NAME, str(tmp_path / "resume")) == \
        [(index, index) for index in range(FIRST)]
    traj, z = check_files(tmp_path, FIRST, failed_before=(2,))
    assert traj.f_get_run_information(2)["status"] == "completed"
    assert z == {index: expected_z(index) for index in range(FIRST)}
