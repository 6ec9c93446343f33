"""Real git repositories for the provenance tests (git_repository=, sumatra_project=)."""

from __future__ import annotations

from pathlib import Path

import git


def init_repository(folder: Path, files: dict[str, str], message: str) -> git.Repo:
    """``git init`` in ``folder`` (made if needed) with its own identity and no commit
    signing, then one commit of ``files`` (name -> text). The caller closes the repository."""
    folder.mkdir(parents=True, exist_ok=True)
    repository = git.Repo.init(folder)
    with repository.config_writer() as config:
        config.set_value("user", "name", "Test Author")
        config.set_value("user", "email", "author@example.org")
        config.set_value("commit", "gpgsign", "false")
    for name, text in files.items():
        (folder / name).write_text(text)
    repository.index.add(list(files))
    repository.index.commit(message)
    return repository
