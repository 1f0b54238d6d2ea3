"""Installing the image scanner: the pinned Trivy release, checked twice before it runs.

CodeBuild's standard image has no Trivy, so the Build action installs it (``invoke
install-scanner``). The tarball must match both the sha256 pinned here and the release's own
checksums file: a tampered download, or a release re-published under the same version, fails
the install instead of scanning with an unknown binary.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from delivery.errors import DeliveryError

VERSION = "0.74.0"
# sha256 of trivy_0.74.0_Linux-64bit.tar.gz, from the release's trivy_0.74.0_checksums.txt.
SHA256 = "2ae6fe3ee734b7fdf11335663e18c75ea12dccc76062f09f164a3b0f8be4371a"
RELEASES = "https://github.com/aquasecurity/trivy/releases/download"
DEFAULT_DESTINATION = Path("/usr/local/bin")
DOWNLOAD_TIMEOUT_S = 120.0

Fetch = Callable[[str], bytes]


@dataclass(frozen=True)
class Release:
    """One Trivy release for Linux x86-64: where it is and what its tarball must hash to."""

    version: str = VERSION
    sha256: str = SHA256
    base_url: str = RELEASES

    @property
    def tarball(self) -> str:
        """The release asset's file name."""
        return f"trivy_{self.version}_Linux-64bit.tar.gz"

    def url(self, name: str) -> str:
        """The URL of one asset of this release."""
        return f"{self.base_url}/v{self.version}/{name}"


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310  # nosec B310 - pinned https URL
            body: bytes = response.read()
            return body
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"downloading {url} failed: {reason}") from exc


def _listed_sha256(checksums: str, name: str) -> str | None:
    for line in checksums.splitlines():
        digest, _, listed = line.strip().partition("  ")
        if listed == name:
            return digest
    return None


def install(
    destination: Path = DEFAULT_DESTINATION, release: Release | None = None, fetch: Fetch = _fetch
) -> Path:
    """Download, verify and install ``trivy`` into ``destination``; its path."""
    release = release or Release()
    tarball = fetch(release.url(release.tarball))
    actual = hashlib.sha256(tarball).hexdigest()
    if actual != release.sha256:
        raise DeliveryError(
            f"{release.tarball} has sha256 {actual}, not the pinned {release.sha256}: "
            "not installed (update the pin in delivery/trivy.py only from the release's checksums)"
        )
    checksums = fetch(release.url(f"trivy_{release.version}_checksums.txt")).decode()
    listed = _listed_sha256(checksums, release.tarball)
    if listed != actual:
        raise DeliveryError(
            f"the release's checksums file lists {listed or 'no'} sha256 for {release.tarball}, "
            f"not {actual}: not installed"
        )
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            member = archive.getmember("trivy")
            extracted = archive.extractfile(member)
            if not member.isfile() or extracted is None:
                raise KeyError("trivy")
            binary = extracted.read()
    except (KeyError, tarfile.TarError):
        raise DeliveryError(f"{release.tarball} holds no trivy executable") from None
    destination.mkdir(parents=True, exist_ok=True)
    target = destination / "trivy"
    target.write_bytes(binary)
    target.chmod(0o755)
    return target
