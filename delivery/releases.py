"""Which versions are releases, and in which order versions come (Semantic Versioning 2.0.0).

A release is ``X.Y.Z``; anything with a pre-release part (``1.3.0-dev.g1a2b3c``, what a build of an
untagged commit carries) is not. Order is SemVer precedence (https://semver.org/#spec-item-11):
numbers compare as numbers (1.10.0 > 1.9.0) and a pre-release sorts below its release.
"""

from __future__ import annotations

from collections.abc import Iterable

from delivery import versioning

# Precedence of one pre-release identifier: numeric ones compare numerically and sort below
# alphanumeric ones, which compare in ASCII order (spec item 11.4).
_Identifier = tuple[int, int, str]


def is_version(text: str) -> bool:
    """Whether ``text`` is a semantic version (``1.2.3`` or ``1.2.3-rc.1``)."""
    return versioning.SEMVER.match(text) is not None


def is_release(version: str) -> bool:
    """Whether ``version`` is a released version: ``X.Y.Z`` with no pre-release part."""
    return is_version(version) and "-" not in version


def precedence(version: str) -> tuple[int, int, int, int, tuple[_Identifier, ...]]:
    """A sort key giving SemVer precedence; ValueError for anything that is not a version."""
    if not is_version(version):
        raise ValueError(f"'{version}' is not a semantic version")
    core, _, prerelease = version.partition("-")
    major, minor, patch = (int(part) for part in core.split("."))
    identifiers = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in prerelease.split(".")
        if prerelease
    )
    # A release (no identifiers) sorts above every pre-release of the same X.Y.Z.
    return major, minor, patch, 0 if prerelease else 1, identifiers


def newest(versions: Iterable[str]) -> str | None:
    """The highest of ``versions`` by SemVer precedence (None when there is none)."""
    found = sorted((v for v in versions if is_version(v)), key=precedence)
    return found[-1] if found else None


def ordered(versions: Iterable[str]) -> list[str]:
    """``versions`` (only the semantic ones) from lowest to highest precedence."""
    return sorted((v for v in versions if is_version(v)), key=precedence)
