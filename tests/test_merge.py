"""Merging trajectories written by separate processes: the pypet API and the storage merge."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tables

from distenv import (CorruptFileError, MergeError, Trajectory, load_trajectory,
                     merge_all_in_folder)
from distenv.storage.merge import merge_files
from test_merge_inputs import pending_shards, snapshot, spec, write_inputs


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Input files written once per module by separate processes; tests copy what they use."""
    folder = tmp_path_factory.mktemp("merge-inputs")
    write_inputs(
        spec(folder / "a.h5", [1.0, 2.0, 3.0], [1, 2, 3], env="aaaaaaa", irregular=[1], fail=[2]),
        spec(folder / "b.h5", [10.0, 20.0], [1, 2], env="bbbbbbb", compact=False, ack_runs=1,
             irregular=[0], comment="written by job b"),
        spec(folder / "c.h5", [1.0, 30.0], [1, 3], env="ccccccc"),
        spec(folder / "names.h5", [1.0], [1], env="ddddddd",
             defaults={"x": 1.0, "y": 2, "seed": 42, "extra": 1}),
        spec(folder / "types.h5", [1.0], [1.5], env="eeeeeee",
             defaults={"x": 1.0, "y": 2.5, "seed": 42}),
        spec(folder / "partial.h5", [5.0, 6.0, 7.0], [1, 1, 1], env="fffffff", runs=1),
        spec(folder / "trial_a.h5", None, None, env="ggggggg",
             defaults={"x": 1.0, "y": 1, "seed": 42, "trial": 0},
             explore={"x": [1.0, 2.0, 1.0, 2.0], "trial": [0, 0, 1, 1]}),
        spec(folder / "trial_b.h5", None, None, env="hhhhhhh",
             defaults={"x": 1.0, "y": 1, "seed": 42, "trial": 0},
             explore={"x": [1.0, 2.0, 1.0, 2.0, 1.0, 2.0], "trial": [0, 0, 1, 1, 2, 2]}),
    )
    return folder


def take(inputs: Path, *names: str, into: Path | None = None) -> list[Path]:
    """Copy input files (and their journals) into the test's folder."""
    into = into or Path.cwd()
    copies = []
    for name in names:
        shutil.copy2(inputs / name, into / name)
        journal = inputs / (name + "-journal")
        if journal.is_dir():
            shutil.copytree(journal, into / (name + "-journal"))
        copies.append(into / name)
    return copies


def explored_range(traj, name: str) -> tuple:
    return traj.f_get("parameters." + name, fast_access=False).f_get_range()


def z_values(traj) -> list:
    return list(traj.f_get_from_runs("z", fast_access=True, use_indices=True).items())


def test_f_merge_appends_runs_with_values_and_run_information(inputs):
    a, b = take(inputs, "a.h5", "b.h5")
    before_b = snapshot(Path.cwd() / "b.h5-journal") | {"b.h5": snapshot(Path.cwd())["b.h5"]}
    traj = load_trajectory(filename=str(a))
    other = load_trajectory(filename=str(b))
    report = traj.f_merge(other, backup=False)
    assert report.length == len(traj) == 5 and report.merged_runs == 2
    assert z_values(traj) == [(0, 1.0), (1, 4.0), (3, 10.0), (4, 40.0)]  # run 2 failed
    assert traj.f_get_explored_parameters(fast_access=True)["parameters.x"] == 1.0
    assert explored_range(traj, "x") == (1.0, 2.0, 3.0, 10.0, 20.0)
    assert explored_range(traj, "y") == (1, 2, 3, 1, 2)
    traj.f_set_crun(4)
    np.testing.assert_array_equal(traj.arr, np.arange(3) * 20.0)
    traj.f_restore_default()
    assert traj.f_get_run_information(3)["name"] == "run_00000003"
    assert traj.f_get_run_information(2)["status"] == "failed"
    assert "run 2 failed" in traj.f_get_run_information(2)["error"]
    assert traj.f_get_from_runs("irr", fast_access=True, use_indices=True) == {
        1: {"run": 1}, 3: {"run": 0}}
    assert set(traj.results_frame()["status"]) == {"completed", "failed"}
    # the other file and its journal (runs never compacted) are untouched
    assert snapshot(Path.cwd() / "b.h5-journal") | {"b.h5": snapshot(Path.cwd())["b.h5"]} == \
        before_b
    # a fresh load of the target file sees the same
    again = load_trajectory(filename=str(a))
    assert len(again) == 5 and z_values(again) == z_values(traj)


def test_provenance_of_every_environment_and_merge_record(inputs):
    a, b = take(inputs, "a.h5", "b.h5")
    traj = load_trajectory(filename=str(a))
    traj.f_merge(load_trajectory(filename=str(b)), backup=False)
    config = traj.f_get_config(fast_access=True)
    environments = {name.split(".")[2] for name in config if name.startswith("config.environment")}
    assert environments == {"environment_aaaaaaa_" + "2026_01_01_00h00m00s",
                            "environment_bbbbbbb_" + "2026_01_01_00h00m00s"}
    record = {name.split(".", 3)[3]: value for name, value in config.items()
              if name.startswith("config.merge.")}
    assert record["merged_runs"] == 2 and record["length_before_merge"] == 3
    assert record["other_trajectories.names"] == ("sweep",)
    assert record["other_trajectories.filenames"] == (str(b.resolve()),)
    assert record["other_trajectories.comments"] == ("written by job b",)
    assert record["remove_duplicates"] is False and len(record["hexsha"]) == 40


def test_merge_without_info_and_config(inputs):
    a, b = take(inputs, "a.h5", "b.h5")
    traj = load_trajectory(filename=str(a))
    traj.f_merge(load_trajectory(filename=str(b)), backup=False, keep_info=False,
                 merge_config=False)
    config = traj.f_get_config()
    assert not any(name.startswith("config.merge") for name in config)
    assert not any("bbbbbbb" in name for name in config)


def test_static_items_the_target_lacks_are_copied(inputs):
    a, c = take(inputs, "a.h5", "c.h5")
    traj = load_trajectory(filename=str(a))
    traj.f_merge(load_trajectory(filename=str(c)), backup=False)
    traj.f_load(load_data=2)
    assert traj.results.summary == "summary of %s" % (inputs / "a.h5")  # the target's is kept


def test_pending_journal_shards_of_the_target_are_compacted(inputs, tmp_path):
    b, a = take(inputs, "b.h5", "a.h5")
    traj = load_trajectory(filename=str(b))
    traj.f_merge(load_trajectory(filename=str(a)), backup=False)
    assert pending_shards(b) == []
    assert [value for _, value in z_values(load_trajectory(filename=str(b)))] == \
        [10.0, 40.0, 1.0, 4.0]


def test_unfinished_runs_stay_pending(inputs):
    a, partial = take(inputs, "a.h5", "partial.h5")
    traj = load_trajectory(filename=str(a))
    traj.f_merge(load_trajectory(filename=str(partial)), backup=False)
    assert len(traj) == 6
    assert list(traj.results_frame()["status"][3:]) == ["completed", "pending", "pending"]


def test_remove_duplicates_skips_points_already_there(inputs):
    a, c = take(inputs, "a.h5", "c.h5")
    traj = load_trajectory(filename=str(a))
    report = traj.f_merge(load_trajectory(filename=str(c)), remove_duplicates=True, backup=False)
    assert report.merged_runs == 1 and len(traj) == 4
    assert explored_range(traj, "x") == (1.0, 2.0, 3.0, 30.0)
    assert z_values(traj)[-1] == (3, 90.0)


def test_remove_duplicates_with_nothing_left_is_an_error(inputs):
    a, c = take(inputs, "a.h5", "c.h5")
    traj = load_trajectory(filename=str(a))
    traj.f_merge(load_trajectory(filename=str(c)), backup=False)
    before = snapshot(Path.cwd())
    with pytest.raises(MergeError, match="every run of .*c.h5.* is already in"):
        traj.f_merge(load_trajectory(filename=str(c)), remove_duplicates=True, backup=False)
    assert snapshot(Path.cwd()) == before


def test_trial_parameter_numbers_the_other_trials_after_ours(inputs):
    first, second = take(inputs, "trial_a.h5", "trial_b.h5")
    traj = load_trajectory(filename=str(first))
    traj.f_merge(load_trajectory(filename=str(second)), trial_parameter="trial", backup=False)
    assert explored_range(traj, "trial") == (0, 0, 1, 1, 2, 2, 3, 3, 4, 4)
    assert len(traj) == 10


def test_trial_parameter_must_be_a_parameter_numbering_trials(inputs):
    first, second = take(inputs, "trial_a.h5", "trial_b.h5")
    traj = load_trajectory(filename=str(first))
    with pytest.raises(MergeError, match="trial_parameter 'nope' is not a parameter"):
        traj.f_merge(load_trajectory(filename=str(second)), trial_parameter="nope", backup=False)
    with pytest.raises(MergeError, match=r"ints 0\.\.T.*trial_a\.h5"):
        merge_files([first, second], "out.h5", trial_parameter="x")
    assert not Path("out.h5").exists()


def test_ignore_data_leaves_items_out(inputs):
    a, b = take(inputs, "a.h5", "b.h5")
    traj = load_trajectory(filename=str(a))
    traj.f_merge(load_trajectory(filename=str(b)), ignore_data=["results.runs.crun.arr", "irr"],
                 backup=False)
    assert sorted(traj.f_get_from_runs("arr", use_indices=True)) == [0, 1]
    assert sorted(traj.f_get_from_runs("irr", use_indices=True)) == [1]
    assert len(z_values(traj)) == 4
    config = traj.f_get_config(fast_access=True)
    assert [value for name, value in config.items() if name.endswith(".ignore_data")] == [
        ("irr", "results.runs.$.arr")]


def test_backup_is_a_complete_copy_of_the_target(inputs):
    b, a = take(inputs, "b.h5", "a.h5")
    traj = load_trajectory(filename=str(b))
    report = traj.f_merge(load_trajectory(filename=str(a)))
    assert report.backup is not None and report.backup.name.startswith("b_backup_")
    backup = load_trajectory(filename=str(report.backup))
    assert len(backup) == 2 and z_values(backup) == [(0, 10.0), (1, 40.0)]  # shards included
    traj2 = load_trajectory(filename=str(a))
    traj2.f_merge(load_trajectory(filename=str(b)), backup_filename="saved.h5")
    assert len(load_trajectory(filename="saved.h5")) == 3


def test_delete_other_trajectory_rewrites_its_file(inputs):
    a, b = take(inputs, "a.h5", "b.h5")
    other = load_trajectory(filename=str(b))
    inode = b.stat().st_ino
    traj = load_trajectory(filename=str(a))
    traj.f_merge(other, backup=False, delete_other_trajectory=True)
    assert len(traj) == 5
    assert b.stat().st_ino != inode  # replaced, not modified in place
    with tables.open_file(str(b)) as h5:
        assert "sweep" not in h5.root
    assert pending_shards(b) == []


def test_incompatible_parameter_names_name_the_file_and_parameter(inputs):
    a, names = take(inputs, "a.h5", "names.h5")
    traj = load_trajectory(filename=str(a))
    before = snapshot(Path.cwd())
    with pytest.raises(MergeError, match=r"names\.h5.*parameter 'parameters\.extra'"):
        traj.f_merge(load_trajectory(filename=str(names)))
    assert snapshot(Path.cwd()) == before  # no backup, no temporary, nothing changed


def test_incompatible_parameter_types_name_the_file_and_parameter(inputs):
    a, types = take(inputs, "a.h5", "types.h5")
    with pytest.raises(MergeError, match=r"types\.h5.*parameter 'parameters\.y' holds float"):
        merge_files([a, types], "out.h5")
    assert not Path("out.h5").exists()


def test_corrupt_input_is_named_and_nothing_is_written(inputs):
    a, b = take(inputs, "a.h5", "c.h5")
    data = b.read_bytes()
    b.write_bytes(data[: len(data) // 2])
    before = snapshot(Path.cwd())
    traj = load_trajectory(filename=str(a))
    with pytest.raises(CorruptFileError, match=r"c\.h5"):
        merge_files([a, b], "out.h5")
    with pytest.raises(CorruptFileError, match=r"c\.h5"):
        traj.f_merge(_stored_stub(b))
    assert snapshot(Path.cwd()) == before


def _stored_stub(path: Path) -> Trajectory:
    """A trajectory object pointing at a (damaged) stored file, as if loaded earlier."""
    traj = Trajectory("sweep", filename=str(path))
    traj._stored = True
    return traj


def test_merge_with_itself_is_refused(inputs):
    (a,) = take(inputs, "a.h5")
    traj = load_trajectory(filename=str(a))
    with pytest.raises(MergeError, match="with itself"):
        traj.f_merge(load_trajectory(filename=str(a)), backup=False)


def test_other_must_be_stored(inputs):
    (a,) = take(inputs, "a.h5")
    traj = load_trajectory(filename=str(a))
    with pytest.raises(MergeError, match="never stored"):
        traj.f_merge(Trajectory("fresh", filename="fresh.h5"), backup=False)


def test_f_merge_many_writes_the_target_once(inputs):
    a, b, c = take(inputs, "a.h5", "b.h5", "c.h5")
    traj = load_trajectory(filename=str(a))
    report = traj.f_merge_many([load_trajectory(filename=str(b)), load_trajectory(filename=str(c))],
                               backup=False)
    assert len(traj) == 7 and [item.merged for item in report.inputs] == [2, 2]
    assert explored_range(traj, "x") == (1.0, 2.0, 3.0, 10.0, 20.0, 1.0, 30.0)
    merges = {name.split(".")[2] for name in traj.f_get_config() if name.startswith("config.merge")}
    assert len(merges) == 1


def test_unexplored_parameters_that_differ_become_explored(inputs):
    a, b = take(inputs, "a.h5", "b.h5")
    write_inputs(spec("seed.h5", [1.0], [1], env="iiiiiii",
                      defaults={"x": 1.0, "y": 2, "seed": 7}))
    traj = load_trajectory(filename=str(a))
    traj.f_merge(load_trajectory(filename="seed.h5"), backup=False)
    assert explored_range(traj, "seed") == (42, 42, 42, 7)
    assert "parameters.seed" in traj.f_get_explored_parameters()


def test_merge_files_writes_a_new_file_and_keeps_inputs(inputs):
    a, b, c = take(inputs, "a.h5", "b.h5", "c.h5")
    before = snapshot(Path.cwd())
    report = merge_files([a, b, c], "merged.h5")
    assert report.length == 7
    merged = load_trajectory(filename="merged.h5")
    assert [value for _, value in z_values(merged)] == [1.0, 4.0, 10.0, 40.0, 1.0, 90.0]
    assert snapshot(Path.cwd()) == before | {"merged.h5": snapshot(Path.cwd())["merged.h5"]}
    with pytest.raises(MergeError, match="exists already"):
        merge_files([a, b], "merged.h5")
    with pytest.raises(MergeError, match="also an input"):
        merge_files([a, b], a, overwrite=True)
    merge_files([a, b], "merged.h5", overwrite=True)
    assert len(load_trajectory(filename="merged.h5")) == 5


def test_merge_all_in_folder(inputs, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    take(inputs, "a.h5", "b.h5", "c.h5", into=folder)
    for path in folder.glob("*.h5"):
        path.rename(path.with_suffix(".hdf5"))
    for journal in folder.glob("*.h5-journal"):
        journal.rename(folder / journal.name.replace(".h5-journal", ".hdf5-journal"))
    traj = merge_all_in_folder(folder, backup=False, delete_other_files=True)
    assert len(traj) == 7 and traj.v_storage_service.filename.endswith("a.hdf5")
    assert sorted(path.name for path in folder.glob("*.hdf5")) == ["a.hdf5"]
    with pytest.raises(MergeError, match="no .hdf5 files"):
        merge_all_in_folder(tmp_path, ext=".hdf5")


def test_values_that_do_not_fit_the_targets_column_keep_their_type(inputs):
    (a,) = take(inputs, "a.h5")
    write_inputs(spec("ints.h5", [4.0, 5.0], [2, 2], env="jjjjjjj", z_type="int"),
                 spec("strs.h5", [100.0, 7.0], [100, 1], env="kkkkkkk", z_type="str"))
    merged = merge_files([a, "ints.h5"], "one.h5")
    assert merged.length == 5
    values = z_values(load_trajectory(filename="one.h5"))
    assert values[-2:] == [(3, 8), (4, 10)] and type(values[-1][1]) is int
    shutil.copy2("strs.h5", "strs2.h5")
    merge_files(["strs.h5", "strs2.h5"], "two.h5")
    assert [value for _, value in z_values(load_trajectory(filename="two.h5"))] == \
        ["10000.0", "7.0", "10000.0", "7.0"]


def test_custom_run_names_are_kept_when_unique(inputs):
    write_inputs(spec("p.h5", [1.0, 2.0], [1, 1], env="lllllll", run_prefix="p"),
                 spec("q.h5", [3.0], [1], env="mmmmmmm", run_prefix="q"),
                 spec("p2.h5", [5.0], [1], env="nnnnnnn", run_prefix="p"))
    merge_files(["p.h5", "q.h5"], "pq.h5")
    merged = load_trajectory(filename="pq.h5")
    assert merged.f_get_run_names() == ["p_0", "p_1", "q_0"]
    assert merged.f_get_from_runs("z", fast_access=True) == {"p_0": 1.0, "p_1": 2.0, "q_0": 3.0}
    with pytest.raises(MergeError, match=r"run name 'p_0' of .*p2?\.h5.* is used twice"):
        merge_files(["p.h5", "p2.h5"], "pp.h5")


def test_damaged_journal_shard_of_an_input_is_named_and_nothing_is_left(inputs):
    a, b = take(inputs, "a.h5", "b.h5")
    shard = pending_shards(b)[-1]
    shard.write_bytes(shard.read_bytes()[:200])
    before = snapshot(Path.cwd())
    traj = load_trajectory(filename=str(a))
    with pytest.raises(CorruptFileError, match=shard.name):
        traj.f_merge(_stored_stub(b))
    assert snapshot(Path.cwd()) == before  # the backup written first was removed again
