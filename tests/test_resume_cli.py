"""``distenv resume``: a crashed sweep finished from the shell, in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys

from test_resume import FIRST, NAME, check_files, expected_z, launch

CLI = [sys.executable, "-m", "distenv.cli"]


def distenv(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=180,
                          env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))


def test_distenv_resume_with_a_pool(tmp_path):
    launch("sweep", tmp_path, {}, "run:3")
    done = distenv("resume", "resume", "--trajectory", NAME, "--ncores", "2", "--use-pool",
                   "--wrap-mode", "QUEUE", "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "resumed trajectory 'crashy'" in done.stdout and "6 of 6 runs completed" in done.stdout
    _, z = check_files(tmp_path, FIRST)
    assert z == {index: expected_z(index) for index in range(FIRST)}
    assert not (tmp_path / "resume" / NAME).exists()


def test_distenv_resume_finds_the_only_trajectory_and_keeps_snapshots(tmp_path):
    launch("sweep", tmp_path, {}, "run:1")
    done = distenv("resume", "--keep", "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    check_files(tmp_path, FIRST)
    assert (tmp_path / "resume" / NAME).is_dir()


def test_distenv_resume_errors_are_one_line(tmp_path):
    missing = distenv("resume", "nowhere", cwd=tmp_path)
    assert missing.returncode == 1
    assert "distenv resume: error: resume folder nowhere does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
    (tmp_path / "resume" / "other").mkdir(parents=True)
    (tmp_path / "resume" / "other" / "round_00000.dill").write_bytes(b"")
    unknown = distenv("resume", "-t", "mine", cwd=tmp_path)
    assert unknown.returncode == 1 and "it holds 'other'" in unknown.stderr
