"""The Source stage: the rehearsed commit, as CodePipeline's full-clone source hands it on.

A CodeStarSourceConnection action with ``OutputArtifactFormat: CODEBUILD_CLONE_REF`` passes a
reference to the repository; each CodeBuild action that takes it clones the repository itself
(history included) and checks out the execution's commit, detached
(https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html).
Here the repository is a bare copy of this one at the rehearsed commit, so whatever this working
tree holds beyond the commit (uncommitted changes, other branches' work) is not in it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from delivery.errors import DeliveryError
from delivery.process import last_line

GIT_TIMEOUT_S = 120.0


def _git(*args: str, cwd: Path | None = None) -> str:
    git = shutil.which("git")
    if git is None:
        raise DeliveryError("git is not installed: install it (bin/bootstrap does)")
    try:
        done = subprocess.run(  # noqa: S603 - fixed git argv
            [git, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=GIT_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DeliveryError(f"git {args[0]} failed: {exc}") from exc
    if done.returncode != 0:
        reason = last_line(done.stderr or done.stdout, default=str(done.returncode))
        raise DeliveryError(f"git {args[0]} failed: {reason}")
    return done.stdout.strip()


@dataclass(frozen=True)
class Revision:
    """What a pipeline execution is for: a commit of a branch, or a tag on it."""

    commit: str
    branch: str
    tag: str | None = None  # a release tag's execution (the pipeline's tag trigger)
    dirty: bool = False  # the working tree had changes the commit does not hold

    @property
    def short(self) -> str:
        """The commit's first 12 characters."""
        return self.commit[:12]


def current(root: Path, branch: str) -> Revision:
    """This checkout's HEAD, to be rehearsed as a push to ``branch``."""
    commit = _git("rev-parse", "HEAD", cwd=root)
    dirty = bool(_git("status", "--porcelain", cwd=root))
    return Revision(commit=commit, branch=branch, dirty=dirty)


@dataclass(frozen=True)
class Repository:
    """The bare repository the Source stage points at (a stand-in for the GitHub repository)."""

    path: Path
    revision: Revision

    def clone(self, into: Path) -> Path:
        """A CodeBuild full clone: the history, the execution's commit checked out (detached)."""
        if into.exists():
            raise DeliveryError(f"{into} already exists: each build clones into a fresh folder")
        _git("clone", "--quiet", "--no-checkout", str(self.path), str(into))
        _git("checkout", "--quiet", "--detach", self.revision.commit, cwd=into)
        return into


def publish(root: Path, revision: Revision, into: Path) -> Repository:
    """The repository as the pipeline sees it at ``revision`` (the release tag added if any)."""
    if into.exists():
        raise DeliveryError(f"{into} already exists: the Source stage writes a fresh repository")
    _git("clone", "--quiet", "--bare", "--no-local", str(root), str(into))
    if revision.tag:
        # Only in the rehearsal's copy: this repository's own tags are never touched.
        _git("tag", "--force", revision.tag, revision.commit, cwd=into)
    return Repository(into, revision)
