"""git_repository, git_message, git_fail with a real temporary git repository (GitPython)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import git
import pytest

from distenv import Environment, load_trajectory
from distenv.errors import ConfigurationError, GitDiffError, MissingDependencyError
from helpers.git_repos import init_repository

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("logging_left_as_found")]


@pytest.fixture
def repo(tmp_path):
    """A repository with one commit of two tracked files, and its own identity."""
    repository = init_repository(tmp_path / "code", {"model.py": "RATE = 1\n",
                                                     "other.py": "pass\n"}, "initial code")
    yield repository
    repository.close()


def make_env(repo, **keywords):
    keywords.setdefault("report_progress", False)
    return Environment("gitsweep", filename="hdf5/gitsweep.hdf5",
                       git_repository=repo.working_tree_dir, **keywords)


def git_config(traj):
    groups = [name for name in traj.f_get_config() if name.startswith("config.git.")]
    prefixes = {".".join(name.split(".")[:3]) for name in groups}
    assert len(prefixes) == 1, prefixes
    prefix = prefixes.pop()
    return prefix, {name[len(prefix) + 1:]: traj.f_get(name).f_get() for name in groups}


def test_clean_work_tree_uses_head_and_its_sha_as_environment_hash(repo):
    head = repo.head.commit
    env = make_env(repo)
    assert repo.head.commit == head  # no new commit
    assert env.hexsha == head.hexsha
    assert env.name.startswith("environment_%s_" % head.hexsha[:7])
    prefix, config = git_config(env.trajectory)
    assert re.fullmatch(r"config\.git\.commit_%s_\d{4}_\d\d_\d\d_\d\dh\d\dm\d\ds"
                        % head.hexsha[:7], prefix)
    assert config["hexsha"] == head.hexsha and config["message"] == "initial code"
    assert not config["new_commit"]
    assert config["author"] == "Test Author <author@example.org>"
    assert config["changed_files"].split("\n") == ["model.py", "other.py"]
    assert config["repository"] == os.path.abspath(repo.working_tree_dir)
    assert config["committed_date"] == head.committed_date
    environment = "config.environment.%s.hexsha" % env.name
    assert env.trajectory.f_get(environment).f_get() == head.hexsha


def test_tracked_changes_are_committed_with_an_augmented_message(repo):
    folder = Path(repo.working_tree_dir)
    (folder / "model.py").write_text("RATE = 2\n")
    (folder / "untracked.py").write_text("new file\n")
    before = repo.head.commit
    env = make_env(repo, git_message="faster rate", comment="a comment")
    commit = repo.head.commit
    assert commit != before and commit.parents == (before,)
    assert env.hexsha == commit.hexsha
    assert commit.message.startswith("faster rate -- Trajectory: `gitsweep`, Time: `")
    assert "Comment: `a comment`" in commit.message
    assert list(commit.stats.files) == ["model.py"]
    assert not repo.is_dirty(untracked_files=False)
    assert repo.untracked_files == ["untracked.py"]  # git add -u: new files are not added
    _, config = git_config(env.trajectory)
    assert config["new_commit"] and config["changed_files"] == "model.py"
    assert config["message"].startswith("faster rate -- Trajectory")


def test_staged_and_deleted_files_count_as_changes(repo):
    folder = Path(repo.working_tree_dir)
    (folder / "model.py").write_text("RATE = 3\n")
    repo.index.add(["model.py"])
    os.remove(folder / "other.py")
    make_env(repo)
    assert sorted(repo.head.commit.stats.files) == ["model.py", "other.py"]
    assert not repo.is_dirty()


def test_commit_info_is_stored_and_loadable(repo):
    (Path(repo.working_tree_dir) / "model.py").write_text("RATE = 4\n")
    env = make_env(repo)
    env.trajectory.f_add_parameter("x", 1)
    env.trajectory.f_explore({"x": [1, 2]})
    env.run(lambda traj: traj.x)
    loaded = load_trajectory("gitsweep", filename="hdf5/gitsweep.hdf5")
    _, config = git_config(loaded)
    assert config["hexsha"] == repo.head.commit.hexsha
    assert loaded.f_get("config.environment.%s.hexsha" % env.name).f_get() == env.hexsha
    assert len(loaded.results_frame()) == 2


def test_git_fail_raises_listing_the_files_before_anything_is_written(repo):
    folder = Path(repo.working_tree_dir)
    (folder / "model.py").write_text("RATE = 5\n")
    (folder / "other.py").write_text("changed\n")
    head = repo.head.commit
    with pytest.raises(GitDiffError, match=r"git_fail=True .* uncommitted changes in 2 tracked "
                                           r"file\(s\): model\.py, other\.py"):
        make_env(repo, git_fail=True)
    assert repo.head.commit == head and repo.is_dirty()
    assert not os.path.exists("hdf5") and not os.path.exists("logs")


def test_git_fail_with_a_clean_tree_is_fine(repo):
    env = make_env(repo, git_fail=True)
    assert env.hexsha == repo.head.commit.hexsha


def test_a_folder_that_is_not_a_repository_is_a_clear_error(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(ConfigurationError, match=r"git_repository='plain' is not a git "
                                                 r"repository: .*plain has no \.git"):
        Environment(git_repository="plain")
    assert not os.path.exists("logs")


def test_a_repository_without_commits_is_a_clear_error(tmp_path):
    git.Repo.init(tmp_path / "empty").close()
    with pytest.raises(ConfigurationError, match="has no commit yet"):
        Environment(git_repository=str(tmp_path / "empty"))


def test_missing_gitpython_names_the_extra(repo, monkeypatch):
    monkeypatch.setitem(sys.modules, "git", None)  # what an uninstalled package looks like
    with pytest.raises(MissingDependencyError, match=r"pip install distenv\[git\]"):
        make_env(repo)
