"""The Source stage: the commit, as a full clone detached at it; a release tag in the copy only."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from delivery.errors import DeliveryError
from delivery.rehearsal import source


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "--quiet", "--initial-branch", "main")
    for n in (1, 2):
        (root / "file").write_text(str(n))
        git(root, "add", "file")
        git(root, "commit", "--quiet", "--message", f"feat: {n}")
    return root


def test_a_build_clones_the_history_detached_at_the_commit(
    repository: Path, tmp_path: Path
) -> None:
    revision = source.current(repository, "main")
    assert not revision.dirty
    published = source.publish(repository, revision, tmp_path / "bare.git")
    clone = published.clone(tmp_path / "build")
    assert git(clone, "rev-parse", "HEAD") == revision.commit
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD") == "HEAD"  # detached
    assert git(clone, "rev-list", "--count", "HEAD") == "2"  # the history, not a shallow copy
    with pytest.raises(DeliveryError, match="already exists"):
        published.clone(tmp_path / "build")


def test_a_release_tag_is_added_to_the_rehearsals_copy_only(
    repository: Path, tmp_path: Path
) -> None:
    commit = source.current(repository, "main").commit
    release = source.Revision(commit, "main", "v1.0.0")
    clone = source.publish(repository, release, tmp_path / "bare.git").clone(tmp_path / "b")
    assert git(clone, "tag", "--points-at", "HEAD") == "v1.0.0"
    assert git(repository, "tag") == ""


def test_uncommitted_changes_are_noticed(repository: Path) -> None:
    (repository / "file").write_text("changed")
    assert source.current(repository, "main").dirty
