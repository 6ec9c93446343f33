"""``distenv merge`` run as a real command line in a subprocess, on files written by others."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from distenv import load_trajectory
from test_merge_inputs import snapshot, spec, write_inputs

CLI = [sys.executable, "-m", "distenv.cli"]


def distenv(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=120,
                          cwd=cwd)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """out/part_*.h5 as three batch jobs leave them (the last one never compacted)."""
    folder = tmp_path_factory.mktemp("cli-inputs")
    (folder / "out").mkdir()
    write_inputs(spec(folder / "out" / "part_0.h5", [1.0, 2.0], [1, 2], env="aaaaaaa"),
                 spec(folder / "out" / "part_1.h5", [3.0, 1.0], [3, 1], env="bbbbbbb"),
                 spec(folder / "out" / "part_2.h5", [5.0], [5], env="ccccccc", compact=False),
                 spec(folder / "other.h5", [1.0], [1], env="ddddddd",
                      defaults={"x": 1, "y": 2, "seed": 42}, explore={"x": [1], "y": [1]}))
    return folder


@pytest.fixture
def here(outputs, tmp_path):
    """The test folder with a copy of the inputs (journals included)."""
    shutil.copytree(outputs, tmp_path, dirs_exist_ok=True)
    return tmp_path


def parts(here: Path) -> list[str]:
    return [str(path.relative_to(here)) for path in sorted((here / "out").glob("*.h5"))]


def test_merge_writes_merged_h5_in_the_current_folder(here):
    before = snapshot(here / "out")
    done = distenv("merge", *parts(here), cwd=here)
    assert done.returncode == 0, done.stderr
    assert "merged 3 files into merged.h5" in done.stdout and "5 runs" in done.stdout
    merged = load_trajectory(filename=str(here / "merged.h5"))
    assert len(merged) == 5
    assert list(merged.f_get_from_runs("z", fast_access=True).values()) == \
        [1.0, 4.0, 9.0, 1.0, 25.0]
    assert snapshot(here / "out") == before  # inputs (and the pending journal) untouched
    environments = {name.split(".")[2] for name in merged.f_get_config()
                    if name.startswith("config.environment")}
    assert len(environments) == 3


def test_output_option_and_existing_output(here):
    assert distenv("merge", *parts(here), "-o", "res/all.h5", cwd=here).returncode == 0
    assert len(load_trajectory(filename=str(here / "res" / "all.h5"))) == 5
    done = distenv("merge", *parts(here)[:2], "-o", "res/all.h5", cwd=here)
    assert done.returncode == 1 and "res/all.h5 exists already" in done.stderr
    assert "--force" in done.stderr and "Traceback" not in done.stderr
    done = distenv("merge", *parts(here)[:2], "-o", "res/all.h5", "--force", cwd=here)
    assert done.returncode == 0, done.stderr
    assert len(load_trajectory(filename=str(here / "res" / "all.h5"))) == 4


def test_options_remove_duplicates_and_ignore_data(here):
    done = distenv("merge", *parts(here), "--remove-duplicates", "--ignore-data",
                   "results.runs.crun.arr", cwd=here)
    assert done.returncode == 0, done.stderr
    assert "1 duplicates skipped" in done.stdout
    merged = load_trajectory(filename=str(here / "merged.h5"))
    assert len(merged) == 4
    assert sorted(merged.f_get_from_runs("arr", use_indices=True)) == [0, 1]


def test_incompatible_input_is_named_with_its_parameter(here):
    done = distenv("merge", *parts(here), "other.h5", cwd=here)
    assert done.returncode == 1
    assert "other.h5" in done.stderr and "parameters.x" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (here / "merged.h5").exists()
    assert not [path for path in here.iterdir() if ".tmp-" in path.name]


def test_corrupt_input_is_named_and_nothing_is_written(here):
    broken = here / "out" / "part_1.h5"
    data = broken.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    before = snapshot(here)
    done = distenv("merge", *parts(here), cwd=here)
    assert done.returncode != 0
    assert "part_1.h5" in done.stderr and "Traceback" not in done.stderr
    assert snapshot(here) == before
    done = distenv("--debug", "merge", *parts(here), cwd=here)
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_not_hdf5_and_missing_inputs(here):
    (here / "notes.h5").write_text("not an HDF5 file")
    done = distenv("merge", parts(here)[0], "notes.h5", cwd=here)
    assert done.returncode == 1 and "notes.h5 is not an HDF5 file" in done.stderr
    done = distenv("merge", parts(here)[0], "nowhere/*.h5", cwd=here)
    assert done.returncode == 1 and "nowhere/*.h5 does not exist" in done.stderr
    assert not (here / "merged.h5").exists()


def test_trajectory_option_picks_one_of_several(here):
    write_inputs(spec(here / "two.h5", [7.0], [7], name="second", env="eeeeeee"))
    shutil.copy2(here / "out" / "part_0.h5", here / "first.h5")
    done = distenv("merge", "first.h5", "two.h5", "--trajectory", "sweep", cwd=here)
    assert done.returncode == 1 and "no trajectory 'sweep'" in done.stderr
    assert "second" in done.stderr


def test_trial_parameter_option(here):
    write_inputs(*[spec(here / ("t%d.h5" % number), None, None, env="fffffff",
                        defaults={"x": 1.0, "y": 1, "seed": 42, "trial": 0},
                        explore={"x": [1.0, 1.0], "trial": [0, 1]}) for number in range(2)])
    done = distenv("merge", "t0.h5", "t1.h5", "--trial-parameter", "trial", cwd=here)
    assert done.returncode == 0, done.stderr
    merged = load_trajectory(filename=str(here / "merged.h5"))
    assert merged.f_get("parameters.trial", fast_access=False).f_get_range() == (0, 1, 2, 3)


def test_usage_errors_exit_with_2(here):
    assert distenv("merge", cwd=here).returncode == 2
    assert distenv("frobnicate", cwd=here).returncode == 2
    assert distenv(cwd=here).returncode == 2
    done = distenv("--help", cwd=here)
    assert done.returncode == 0 and "merge" in done.stdout and "info" in done.stdout
