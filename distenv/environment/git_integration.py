"""``git_repository``, ``git_message``, ``git_fail``: a snapshot of the code that ran.

When the Environment is created, the changes of *tracked* files in the repository are
committed (``git add -u`` then ``git commit``; new files are never added) with ``git_message``
followed by the trajectory name and time. Without changes the current ``HEAD`` commit is used.
With ``git_fail=True`` a dirty work tree raises :class:`~distenv.errors.GitDiffError` listing
the changed files instead, before anything is written.

The commit's SHA-1 becomes the environment's hash (``config.environment.environment_<sha7>_...``)
and ``config.git.commit_<sha7>_<YYYY_MM_DD_HHhMMmSSs>`` records the commit (as pypet): its
``hexsha``, ``name_rev``, ``committed_date``, ``message``, ``author``, the ``changed_files`` of
the commit, whether distenv made it (``new_commit``) and the ``repository`` folder.

Needs GitPython (``pip install distenv[git]``) and the ``git`` program.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from distenv.environment.specs import ProvenanceSpec
from distenv.errors import ConfigurationError, GitDiffError, MissingDependencyError
from distenv.trajectory.trajectory import format_time


@dataclass(frozen=True)
class GitCommit:
    """The commit a sweep ran with."""

    hexsha: str
    message: str
    author: str
    committed_date: int
    name_rev: str
    changed_files: tuple
    new_commit: bool
    repository: str

    @property
    def config_group(self) -> str:
        """``git.commit_<sha7>_<YYYY_MM_DD_HHhMMmSSs>`` below ``config``."""
        return "git.commit_%s_%s" % (self.hexsha[:7], format_time(self.committed_date))

    def add_to(self, traj: Any) -> None:
        """Add ``config.git.commit_...`` to ``traj`` (once per commit; items are locked)."""
        base = self.config_group
        if traj.f_contains("config." + base, shortcuts=False):
            return
        for name, value, comment in (
                ("hexsha", self.hexsha, "SHA-1 of the commit"),
                ("name_rev", self.name_rev, "The commit described by the closest reference"),
                ("committed_date", self.committed_date, "Commit time (seconds since epoch)"),
                ("message", self.message, "The commit message"),
                ("author", self.author, "Author of the commit"),
                ("changed_files", "\n".join(self.changed_files),
                 "Files the commit changed, one per line"),
                ("new_commit", self.new_commit, "Whether the Environment made the commit"),
                ("repository", self.repository, "The repository folder")):
            traj.f_add_config("%s.%s" % (base, name), value, comment=comment).f_lock()


def _import_git() -> Any:
    try:
        import git
    except ImportError as exc:
        raise MissingDependencyError("git_repository needs GitPython and the git program: "
                                     "pip install distenv[git] (%s)" % exc) from exc
    return git


def commit_message(user_message: str, trajectory_name: str, time: str, comment: str) -> str:
    """``'<git_message> -- Trajectory: `name`, Time: `time`, Comment: `comment`'``."""
    message = "%sTrajectory: `%s`, Time: `%s`" % (user_message + " -- " if user_message else "",
                                                  trajectory_name, time)
    return message + (", Comment: `%s`" % comment if comment else "")


def changed_files(repo: Any) -> list[str]:
    """Tracked files with changes, staged or not (untracked files do not count)."""
    paths = set()
    for diff in list(repo.index.diff(None)) + list(repo.index.diff("HEAD")):
        paths.update(path for path in (diff.a_path, diff.b_path) if path)
    return sorted(paths)


def commit_code(spec: ProvenanceSpec, trajectory_name: str, comment: str,
                timestamp: float) -> GitCommit | None:
    """Commit tracked changes (or take ``HEAD``) when ``spec.git_repository`` is set.

    Raises
    ------
    MissingDependencyError
        GitPython (or git) is missing.
    ConfigurationError
        The folder is not a git repository, has no commit yet, or git refused the commit
        (no user.name/user.email, a hook failed); the message has git's words.
    GitDiffError
        ``git_fail=True`` and tracked files changed; the message lists them.
    """
    if spec.git_repository is None:
        return None
    git = _import_git()
    path = os.path.abspath(spec.git_repository)
    try:
        repo = git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise ConfigurationError("git_repository=%r is not a git repository: %s has no .git; "
                                 "pass the folder that contains .git"
                                 % (spec.git_repository, path)) from None
    with repo:
        if repo.bare:
            raise ConfigurationError("git_repository=%r is a bare repository; pass the folder "
                                     "of a work tree" % spec.git_repository)
        try:
            repo.head.commit
        except ValueError:
            raise ConfigurationError("git_repository=%r has no commit yet; commit your code "
                                     "once, then distenv commits later changes"
                                     % spec.git_repository) from None
        changed = changed_files(repo)
        if changed and spec.git_fail:
            raise GitDiffError("git_fail=True and the git repository %s has uncommitted changes "
                               "in %d tracked file(s): %s; commit them, or leave git_fail=False "
                               "so that distenv commits them" % (path, len(changed),
                                                                 ", ".join(changed)))
        if changed:
            message = commit_message(spec.git_message, trajectory_name, format_time(timestamp),
                                     comment)
            try:
                repo.git.add(update=True)
                repo.git.commit("-m", message)
            except git.GitCommandError as exc:
                raise ConfigurationError("git_repository=%r: git could not commit the changes "
                                         "of %s: %s" % (spec.git_repository, ", ".join(changed),
                                                        (exc.stderr or str(exc)).strip())
                                         ) from exc
        commit = repo.head.commit
        try:
            name_rev = commit.name_rev
        except Exception:  # noqa: BLE001 -- a description only
            name_rev = commit.hexsha
        try:
            files = tuple(sorted(commit.stats.files))
        except Exception:  # noqa: BLE001 -- e.g. a shallow clone without the parent
            files = tuple(changed)
        return GitCommit(hexsha=commit.hexsha, message=str(commit.message).strip(),
                         author="%s <%s>" % (commit.author.name, commit.author.email),
                         committed_date=int(commit.committed_date), name_rev=name_rev,
                         changed_files=files, new_commit=bool(changed), repository=path)
