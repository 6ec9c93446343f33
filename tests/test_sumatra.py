"""sumatra_project, sumatra_reason, sumatra_label with a real Sumatra project (smt init)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import git
import pytest

from distenv import Environment, load_trajectory
from distenv.errors import ConfigurationError, MissingDependencyError
from helpers.git_repos import init_repository

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("logging_left_as_found")]
SMT = os.path.join(os.path.dirname(sys.executable), "smt")

SCRIPT = textwrap.dedent("""\
    import sys
    from distenv import Environment, cartesian_product

    def job(traj):
        if traj.x == int(sys.argv[1]):
            raise ValueError("run fails on purpose")
        return traj.x * traj.y

    env = Environment("smtsweep", filename="hdf5/smtsweep.hdf5", comment="lab book",
                      report_progress=False, sumatra_project=".",
                      sumatra_reason="testing the lab book", sumatra_label=sys.argv[2] or None)
    traj = env.trajectory
    traj.f_add_parameter("x", 1)
    traj.f_add_parameter("y", 2.5)
    traj.f_add_parameter("name", "fixed")
    traj.f_explore(cartesian_product({"x": [1, 2, 3], "y": [0.5, 1.5]}))
    env.run(job)
    env.disable_logging()
""")


@pytest.fixture
def project(tmp_path):
    """A git repository with the sweep script committed, and a Sumatra project in it."""
    folder = tmp_path / "project"
    init_repository(folder, {"sweep.py": SCRIPT, ".gitignore": ".smt/\nData/\nhdf5/\nlogs/\n"},
                    "the sweep").close()
    subprocess.run([SMT, "init", "labbook"], cwd=folder, check=True, timeout=120,
                   capture_output=True)
    return folder


def run_script(folder, failing_x=0, label=""):
    return subprocess.run([sys.executable, "sweep.py", str(failing_x), label], cwd=folder,
                          capture_output=True, text=True, timeout=240)


def records(folder):
    from sumatra.projects import load_project
    labbook = load_project(str(folder))
    return labbook, [labbook.get_record(label) for label in labbook.get_labels()]


def test_a_successful_sweep_is_recorded(project):
    done = run_script(project, label="first_sweep")
    assert done.returncode == 0, done.stderr
    labbook, [record] = records(project)
    assert record.label == "first_sweep"
    assert record.reason == ("testing the lab book -- Trajectory smtsweep (`lab book`) -- "
                             "Explored parameters: ['parameters.x', 'parameters.y']")
    assert record.parameters == {"parameters.x": [1, 2, 3, 1, 2, 3],
                                 "parameters.y": [0.5, 0.5, 0.5, 1.5, 1.5, 1.5],
                                 "parameters.name": "fixed"}
    assert record.main_file == "sweep.py" and record.duration > 0
    assert record.version == git.Repo(project).head.commit.hexsha
    traj = load_trajectory("smtsweep", filename=str(project / "hdf5" / "smtsweep.hdf5"))
    assert traj.f_get("config.sumatra.record_first_sweep.label").f_get() == "first_sweep"
    assert traj.f_get("config.sumatra.record_first_sweep.reason").f_get() == record.reason


def test_sumatra_picks_the_label_when_none_is_given(project):
    done = run_script(project)
    assert done.returncode == 0, done.stderr
    _, [record] = records(project)
    assert record.label  # a timestamp label chosen by Sumatra
    traj = load_trajectory("smtsweep", filename=str(project / "hdf5" / "smtsweep.hdf5"))
    labels = [name for name in traj.f_get_config() if name.startswith("config.sumatra.")]
    assert len(labels) == 2 and all(".record_" in name for name in labels)


def test_a_failed_sweep_leaves_no_record(project):
    done = run_script(project, failing_x=2, label="failing")
    assert done.returncode != 0 and "run fails on purpose" in done.stderr
    _, found = records(project)
    assert found == []


def test_uncommitted_code_is_refused_before_the_runs(project):
    with open(project / "sweep.py", "a") as handle:
        handle.write("# an uncommitted change\n")
    done = run_script(project, label="dirty")
    assert done.returncode != 0
    assert "Sumatra refused to create the record" in done.stderr
    assert "UncommittedModificationsError" in done.stderr
    assert not (project / "hdf5").exists()  # refused before the first store


def test_a_folder_that_is_not_a_sumatra_project_is_a_clear_error(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(ConfigurationError, match=r"sumatra_project='plain' is not a Sumatra "
                                                 r"project .*smt init"):
        Environment(sumatra_project="plain")
    assert not Path("logs").exists()


def test_missing_sumatra_names_the_extra(tmp_path, monkeypatch):
    (tmp_path / "plain").mkdir()
    monkeypatch.setitem(sys.modules, "sumatra", None)
    monkeypatch.setitem(sys.modules, "sumatra.projects", None)
    with pytest.raises(MissingDependencyError, match=r"pip install distenv\[sumatra\]"):
        Environment(sumatra_project="plain")
