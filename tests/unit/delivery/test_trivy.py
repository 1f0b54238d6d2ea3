"""Installing Trivy: only a tarball matching both the pin and the release's checksums lands."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from delivery import trivy
from delivery.errors import DeliveryError

BINARY = b"#!/bin/sh\necho 'Version: 0.74.0'\n"


def tarball(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def release_serving(
    body: bytes, listed: str | None = None, pin: str | None = None
) -> tuple[trivy.Release, dict[str, bytes]]:
    """A release whose assets are ``body`` and a checksums file listing ``listed``."""
    digest = hashlib.sha256(body).hexdigest()
    release = trivy.Release(
        version="9.9.9", sha256=pin or digest, base_url="https://example.invalid"
    )
    checksums = (
        f"{'0' * 64}  trivy_9.9.9_Linux-ARM64.tar.gz\n{listed or digest}  {release.tarball}\n"
    )
    assets = {
        release.url(release.tarball): body,
        release.url("trivy_9.9.9_checksums.txt"): checksums.encode(),
    }
    return release, assets


def test_a_verified_release_installs_its_executable(tmp_path: Path) -> None:
    release, assets = release_serving(tarball({"LICENSE": b"Apache", "trivy": BINARY}))
    installed = trivy.install(tmp_path / "bin", release, fetch=assets.__getitem__)
    assert installed == tmp_path / "bin" / "trivy"
    assert installed.read_bytes() == BINARY
    assert installed.stat().st_mode & 0o777 == 0o755


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    release, assets = release_serving(tarball({"trivy": BINARY}), pin="f" * 64)
    with pytest.raises(DeliveryError, match=r"has sha256 [0-9a-f]{64}, not the pinned f{64}"):
        trivy.install(tmp_path, release, fetch=assets.__getitem__)
    assert not (tmp_path / "trivy").exists()


def test_a_release_whose_checksums_disagree_is_refused(tmp_path: Path) -> None:
    release, assets = release_serving(tarball({"trivy": BINARY}), listed="e" * 64)
    with pytest.raises(DeliveryError, match=r"checksums file lists e{64} sha256"):
        trivy.install(tmp_path, release, fetch=assets.__getitem__)
    assert not (tmp_path / "trivy").exists()


def test_a_tarball_without_trivy_is_one_line(tmp_path: Path) -> None:
    release, assets = release_serving(tarball({"README.md": b"nothing"}))
    with pytest.raises(DeliveryError, match=r"holds no trivy executable"):
        trivy.install(tmp_path, release, fetch=assets.__getitem__)


def test_the_pin_is_the_version_and_a_sha256() -> None:
    assert trivy.Release().tarball == f"trivy_{trivy.VERSION}_Linux-64bit.tar.gz"
    assert len(trivy.SHA256) == 64
    assert int(trivy.SHA256, 16) >= 0
