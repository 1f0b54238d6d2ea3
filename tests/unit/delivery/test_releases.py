"""Releases and SemVer precedence: 1.10.0 is newer than 1.9.0; pre-releases sort below releases."""

from __future__ import annotations

import pytest

from delivery import releases


def test_precedence_is_numeric_and_puts_prereleases_below_their_release() -> None:
    # The ordering example of https://semver.org/#spec-item-11, plus two-digit components.
    expected = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.2.0",
        "1.9.0",
        "1.10.0-dev.g0123456789ab",
        "1.10.0",
        "2.0.0",
    ]
    assert releases.ordered(reversed(expected)) == expected
    assert releases.newest(["1.9.0", "1.10.0", "sha-0123456789ab", "latest"]) == "1.10.0"
    assert releases.newest(["1.10.0-dev.gabc", "1.9.0"]) == "1.10.0-dev.gabc"
    assert releases.newest(["sha-0123456789ab"]) is None


@pytest.mark.parametrize(
    ("version", "released"),
    [
        ("1.2.3", True),
        ("0.0.1", True),
        ("1.3.0-dev.g0123456789ab", False),
        ("1.0.0-rc.1", False),
        ("1.2", False),
        ("v1.2.3", False),
        ("sha-0123456789ab", False),
    ],
)
def test_a_release_is_x_y_z_without_prerelease(version: str, released: bool) -> None:
    assert releases.is_release(version) is released


def test_precedence_refuses_what_is_not_a_version() -> None:
    with pytest.raises(ValueError, match="not a semantic version"):
        releases.precedence("latest")
