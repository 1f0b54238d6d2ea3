"""Semantic versions from Conventional Commits, through commitizen (never a parser of our own).

commitizen is configured in pyproject.toml (``[tool.commitizen]``: tags ``v<version>``, version
from git tags via ``version_provider = "scm"``, CHANGELOG.md updated on bump). We run its CLI as
``python -m commitizen`` with stdin closed and ``--yes``, because it otherwise prompts ("Is this the
first tag created?") and crashes without a terminal.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from delivery.errors import DeliveryError
from delivery.process import last_line

# commitizen's documented exit codes for "nothing to bump" (commitizen.exceptions.ExitCode).
_NO_COMMITS_FOUND = 3
_NO_COMMITS_TO_BUMP = 21
_BUMP_LINE = re.compile(r"^bump: version (\S+) \S+ (\S+)$", re.MULTILINE)
_INCREMENT_LINE = re.compile(r"^increment detected: (\w+)$", re.MULTILINE)
# A build of an untagged commit: ``<next>-dev.g<12 hex of the commit>`` (build_version).
_DEV_BUILD = re.compile(r"-dev\.g([0-9a-f]{12})$")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")


@dataclass(frozen=True)
class Bump:
    """What commitizen would do now: current and next version and the increment (or None)."""

    current: str
    next: str
    increment: str | None  # "MAJOR", "MINOR", "PATCH" or None when no commit asks for a release

    @property
    def is_major(self) -> bool:
        """Whether the commits since the last tag contain a breaking change."""
        return self.increment == "MAJOR"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(  # noqa: S603 - fixed argv, no shell
            args, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
        )
    except FileNotFoundError:
        raise DeliveryError(f"'{args[0]}' is not installed: install it and retry") from None


def git(cwd: Path, *args: str) -> str:
    """``git <args>`` in ``cwd``: its stdout, stripped; one line naming the failure otherwise."""
    result = _run(["git", *args], cwd)
    if result.returncode != 0:
        reason = last_line(result.stderr or result.stdout, default=f"exit {result.returncode}")
        raise DeliveryError(f"git {' '.join(args)} failed in {cwd}: {reason}")
    return result.stdout.strip()


def _cz(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "commitizen", "--no-raise", "3,21", *args], cwd)


def git_sha(cwd: Path, short: bool = False) -> str:
    """The commit checked out in ``cwd`` (full, or 12 characters with ``short``)."""
    sha = git(cwd, "rev-parse", "HEAD")
    return sha[:12] if short else sha


def is_dirty(cwd: Path) -> bool:
    """Whether tracked or untracked files differ from HEAD."""
    return bool(git(cwd, "status", "--porcelain"))


def current_version(cwd: Path) -> str:
    """The version of the last ``v*`` tag reachable from HEAD (``0.0.0`` before the first release).

    Read with ``git describe``, as commitizen's scm provider does, without paying for a second
    commitizen process (each costs about 1.5 s of imports).
    """
    result = _run(["git", "describe", "--tags", "--abbrev=0", "--match", "v[0-9]*"], cwd)
    version = result.stdout.strip()[1:] if result.returncode == 0 else ""
    return version if SEMVER.match(version) else "0.0.0"


def bump(cwd: Path) -> Bump:
    """What the Conventional Commits since the last tag ask for (a dry run of ``cz bump``)."""
    git_sha(cwd)  # a clear error outside a git repository, before commitizen's own
    result = _cz(cwd, "bump", "--dry-run", "--yes")
    line = _BUMP_LINE.search(result.stdout)
    increment = _INCREMENT_LINE.search(result.stdout)
    if result.returncode in (0, _NO_COMMITS_FOUND, _NO_COMMITS_TO_BUMP) and increment is None:
        current = line.group(1) if line else current_version(cwd)
        return Bump(current=current, next=current, increment=None)
    if result.returncode != 0:
        reason = last_line(result.stderr + result.stdout, default=f"exit {result.returncode}")
        raise DeliveryError(f"commitizen could not compute the next version: {reason}")
    if line is None or increment is None:
        raise DeliveryError("commitizen's dry run did not report a version: upgrade commitizen")
    return Bump(current=line.group(1), next=line.group(2), increment=increment.group(1))


def tagged_version(cwd: Path) -> str | None:
    """The version HEAD is tagged with (``v1.2.3`` -> ``1.2.3``), if any."""
    tags = git(cwd, "tag", "--points-at", "HEAD", "--list", "v*").split()
    versions = [tag[1:] for tag in tags if SEMVER.match(tag[1:])]
    return sorted(versions)[-1] if versions else None


def build_version(cwd: Path) -> str:
    """The version an image built from HEAD carries.

    A released commit (tagged ``vX.Y.Z``) is ``X.Y.Z``. Anything else is a pre-release of the
    version the commits ask for, made unique by the commit (``1.3.0-dev.g1a2b3c4d5e6f``), so
    immutable registry tags never collide between two builds of different commits.
    """
    tagged = tagged_version(cwd)
    if tagged:
        return tagged
    planned = bump(cwd)
    return f"{planned.next}-dev.g{git_sha(cwd, short=True)}"  # build_commit reads it back


def build_commit(version: str) -> str | None:
    """The (12-character) commit a dev build's version names, or None for any other version."""
    found = _DEV_BUILD.search(version)
    return found.group(1) if found else None


def image_tags(version: str, sha: str) -> list[str]:
    """Immutable tags of one image: its semantic version, ``v<version>`` for a release, and its
    git commit (``sha-<12>``, always last).

    The ``v`` tag marks a release for the registry's lifecycle rules (stacks/registry.py): a
    release tagged on main's earlier build of its commit keeps that build's ``-dev.`` tag, and
    only a rule that selects the mark first keeps it from expiring among the dev builds.
    """
    if not SEMVER.match(version):
        raise DeliveryError(f"'{version}' is not a semantic version (like 1.2.3)")
    if not re.fullmatch(r"[0-9a-f]{7,40}", sha):
        raise DeliveryError(f"'{sha}' is not a git commit SHA")
    mark = [] if "-" in version else [f"v{version}"]
    return [version, *mark, f"sha-{sha[:12]}"]


def check_release(cwd: Path, allow_major: bool = False) -> Bump:
    """Everything ``release`` checks before it changes anything; the planned bump."""
    if is_dirty(cwd):
        raise DeliveryError(
            "the git tree has uncommitted changes: commit or stash them before a release"
        )
    planned = bump(cwd)
    if planned.increment is None:
        raise DeliveryError(
            f"nothing to release: no feat/fix/breaking commit since v{planned.current}"
        )
    if planned.is_major and not allow_major:
        raise DeliveryError(
            f"the commits since v{planned.current} contain a breaking change "
            f"(major bump to {planned.next}): pass --allow-major to release it"
        )
    return planned


def release(cwd: Path, allow_major: bool = False) -> Bump:
    """Tag ``v<next>`` and update CHANGELOG.md (commitizen commits it); checks first."""
    planned = check_release(cwd, allow_major=allow_major)
    result = _cz(cwd, "bump", "--yes", "--changelog")
    if result.returncode != 0:
        reason = last_line(result.stderr + result.stdout, default=f"exit {result.returncode}")
        raise DeliveryError(f"commitizen bump failed: {reason}")
    tagged = tagged_version(cwd)
    if tagged != planned.next:
        raise DeliveryError(f"commitizen tagged {tagged!r}, expected {planned.next!r}")
    return planned
