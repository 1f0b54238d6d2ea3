"""podman: builds as buildah does (``podman build`` is buildah's code) and runs containers.

Where its CLI differs from docker's: ``image exists``, ``save --format docker-archive``, a read-only
root with no tmpfs of its own, and a removal that does not wait for a graceful stop.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from delivery.engines.buildah import BuildahBuilds
from delivery.engines.cli import BUILD_TIMEOUT_S, EngineName


class PodmanEngine(BuildahBuilds):
    """podman, with buildah (when installed beside it) reading the manifests it stores."""

    name: ClassVar[EngineName] = "podman"

    def image_exists(self, ref: str) -> bool:
        """Whether ``ref`` is in podman's image store."""
        return self.command("image", "exists", ref).ok

    def save(self, ref: str, archive: Path) -> None:
        """Write image ``ref`` to ``archive`` in the docker-archive format (not podman's OCI)."""
        self.check(
            "save", "--format", "docker-archive", "--output", str(archive), ref,
            what=f"save {ref}", timeout=BUILD_TIMEOUT_S,
        )  # fmt: skip

    def _load_argv(self, archive: Path) -> list[str]:
        return ["load", "--quiet", "--input", str(archive)]

    def _read_only_argv(self) -> list[str]:
        # podman's default adds tmpfs on /tmp, /var/tmp and /run to a read-only root: writable
        # paths a Fargate task does not have.
        return ["--read-only", "--read-only-tmpfs=false"]

    def discard(self, container: str) -> None:
        """Kill and remove the container at once (``--time 0``: no graceful stop first)."""
        self.command("rm", "--force", "--time", "0", container)
