"""Versions come from Conventional Commits through commitizen, on throwaway git repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from delivery import versioning
from delivery.errors import DeliveryError
from tests.support.git import git
from tests.support.project import make_project


def commit(root: Path, message: str, name: str | None = None) -> None:
    """Commit a new file with ``message``."""
    path = root / (name or f"file-{len(list(root.glob('file-*')))}.txt")
    path.write_text(message)
    git(root, "add", path.name)
    git(root, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository released as v1.0.0."""
    make_project(tmp_path, git_init=True)
    git(tmp_path, "tag", "v1.0.0")
    return tmp_path


@pytest.mark.parametrize(
    ("messages", "increment", "expected"),
    [
        (["fix: off by one"], "PATCH", "1.0.1"),
        (["feat: greet by name"], "MINOR", "1.1.0"),
        (["fix: a", "feat: b", "docs: c"], "MINOR", "1.1.0"),
        (["feat!: drop the v1 API"], "MAJOR", "2.0.0"),
        (["feat: new API\n\nBREAKING CHANGE: the v1 API is gone"], "MAJOR", "2.0.0"),
    ],
)
def test_next_version_follows_the_commits(
    repo: Path, messages: list[str], increment: str, expected: str
) -> None:
    for message in messages:
        commit(repo, message)
    planned = versioning.bump(repo)
    assert (planned.current, planned.next, planned.increment) == ("1.0.0", expected, increment)


def test_no_release_worthy_commit_keeps_the_version(repo: Path) -> None:
    assert versioning.bump(repo).increment is None  # nothing since the tag
    commit(repo, "chore: tidy")
    planned = versioning.bump(repo)
    assert (planned.next, planned.increment) == ("1.0.0", None)
    with pytest.raises(DeliveryError, match="nothing to release"):
        versioning.check_release(repo)


def test_release_tags_and_writes_the_changelog(repo: Path) -> None:
    commit(repo, "feat: greet by name")
    planned = versioning.release(repo)
    assert planned.next == "1.1.0"
    assert versioning.tagged_version(repo) == "1.1.0"
    assert git(repo, "cat-file", "-t", "v1.1.0") == "tag"  # annotated: --follow-tags pushes it
    assert "greet by name" in (repo / "CHANGELOG.md").read_text()
    assert not versioning.is_dirty(repo)
    assert versioning.build_version(repo) == "1.1.0"


def test_major_needs_the_explicit_flag(repo: Path) -> None:
    commit(repo, "feat!: drop the v1 API")
    with pytest.raises(DeliveryError) as info:
        versioning.release(repo)
    assert str(info.value) == (
        "the commits since v1.0.0 contain a breaking change (major bump to 2.0.0): "
        "pass --allow-major to release it"
    )
    assert versioning.tagged_version(repo) is None  # nothing was tagged
    assert versioning.release(repo, allow_major=True).next == "2.0.0"
    assert versioning.tagged_version(repo) == "2.0.0"


def test_dirty_tree_refuses_release_before_anything(repo: Path) -> None:
    commit(repo, "feat: x")
    (repo / "config" / "config.yaml").write_text("changed: true\n")
    with pytest.raises(DeliveryError, match="uncommitted changes"):
        versioning.release(repo)
    assert versioning.tagged_version(repo) is None


def test_first_release_without_any_tag(tmp_path: Path) -> None:
    make_project(tmp_path, git_init=True)
    planned = versioning.bump(tmp_path)
    assert planned.current == "0.0.0"
    assert planned.increment is not None


def test_untagged_build_is_a_unique_prerelease(repo: Path) -> None:
    commit(repo, "fix: a")
    version = versioning.build_version(repo)
    sha = versioning.git_sha(repo, short=True)
    assert version == f"1.0.1-dev.g{sha}"
    assert versioning.SEMVER.match(version)


def test_image_tags_are_version_release_mark_and_commit() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert versioning.image_tags("1.2.3", sha) == ["1.2.3", "v1.2.3", "sha-0123456789ab"]
    # Only a release carries the mark the registry keeps releases by (stacks/registry.py).
    assert versioning.image_tags("1.3.0-dev.g0123456789ab", sha) == [
        "1.3.0-dev.g0123456789ab",
        "sha-0123456789ab",
    ]
    with pytest.raises(DeliveryError, match="not a semantic version"):
        versioning.image_tags("latest", sha)
    with pytest.raises(DeliveryError, match="not a git commit"):
        versioning.image_tags("1.2.3", "HEAD")


def test_outside_a_git_repository_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError, match="git rev-parse HEAD failed") as info:
        versioning.git_sha(tmp_path)
    assert "\n" not in str(info.value)
