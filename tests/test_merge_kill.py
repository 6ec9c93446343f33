"""``kill -9`` of a merge at random moments: the destination is the old file or the complete
merged one, never half of it; inputs are unchanged; the next merge cleans up and succeeds."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distenv import load_trajectory
from test_merge_inputs import snapshot, spec, write_inputs

pytestmark = pytest.mark.kill

FILES, RUNS = 12, 400
MERGED = FILES * RUNS
IN_PLACE = r"""
import sys
from distenv import load_trajectory
target = load_trajectory(filename=sys.argv[1], load_all=1)
others = [load_trajectory(filename=path, load_all=1) for path in sys.argv[2:]]
target.f_merge_many(others, backup=False)
"""


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kill-inputs")
    write_inputs(*[spec(folder / ("part_%02d.h5" % number),
                        [float(number * RUNS + index) for index in range(RUNS)],
                        [index % 5 for index in range(RUNS)], env="k%06d" % number,
                        compact=number % 3 != 0, ack_runs=100) for number in range(FILES)])
    return folder


def _run_and_kill(command: list[str], cwd: Path, after: float) -> int:
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        process.wait(timeout=after)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    return process.returncode


def _duration(command: list[str], cwd: Path) -> float:
    started = time.time()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, timeout=300)
    return time.time() - started


def test_killed_cli_merge_leaves_no_output_or_a_complete_one(parts, tmp_path):
    shutil.copytree(parts, tmp_path / "out")
    inputs = [str(path) for path in sorted((tmp_path / "out").glob("*.h5"))]
    command = [sys.executable, "-m", "distenv.cli", "merge", *inputs, "-o", "merged.h5",
               "--force"]
    full = _duration(command, tmp_path)
    (tmp_path / "merged.h5").unlink()
    before = snapshot(tmp_path / "out")
    rng = random.Random(5)
    outcomes = set()
    for attempt in range(8):
        _run_and_kill(command, tmp_path, rng.uniform(0.4, 1.0) * full)
        merged = tmp_path / "merged.h5"
        if merged.exists():
            assert len(load_trajectory(filename=str(merged))) == MERGED
            outcomes.add("complete")
            merged.unlink()
        else:
            outcomes.add("absent")
        assert snapshot(tmp_path / "out") == before
    assert "absent" in outcomes  # some kills hit the merge before its rename
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(load_trajectory(filename=str(tmp_path / "merged.h5"))) == MERGED
    assert not [path for path in tmp_path.iterdir() if ".tmp-" in path.name]


def test_killed_f_merge_leaves_the_target_old_or_merged(parts, tmp_path):
    shutil.copytree(parts, tmp_path / "out")
    files = [str(path) for path in sorted((tmp_path / "out").glob("*.h5"))]
    pristine = tmp_path / "pristine"
    pristine.mkdir()
    shutil.copy2(files[1], pristine / "target.h5")  # compacted, no journal
    target = tmp_path / "out" / "target.h5"
    command = [sys.executable, "-c", IN_PLACE, str(target)] + files[2:]
    shutil.copy2(pristine / "target.h5", target)
    full = _duration(command, tmp_path)
    before = snapshot(tmp_path / "out")
    del before["target.h5"]
    rng = random.Random(7)
    for attempt in range(8):
        shutil.copy2(pristine / "target.h5", target)
        _run_and_kill(command, tmp_path, rng.uniform(0.3, 1.0) * full)
        assert len(load_trajectory(filename=str(target))) in (RUNS, RUNS * (FILES - 1))
        after = snapshot(tmp_path / "out")
        del after["target.h5"]
        assert {name: digest for name, digest in after.items() if ".tmp-" not in name} == before
    shutil.copy2(pristine / "target.h5", target)
    subprocess.run(command, cwd=tmp_path, check=True, capture_output=True, timeout=300)
    assert len(load_trajectory(filename=str(target))) == RUNS * (FILES - 1)
    assert not [path for path in (tmp_path / "out").iterdir() if ".tmp-" in path.name]
