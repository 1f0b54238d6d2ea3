"""docker: BuildKit builds, whose reproducibility depends on its version, and a private login.

What BuildKit can do is asked of the builder (``docker buildx inspect``): whether it stamps
SOURCE_DATE_EPOCH on the files of new layers, and which platforms it builds for.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from delivery import platforms
from delivery.engines.base import ContainerEngine, PushCommand
from delivery.engines.cli import EngineName

# BuildKit rewrites the file times in layers to SOURCE_DATE_EPOCH from this version on
# (the image exporter's rewrite-timestamp option).
BUILDKIT_REWRITES_TIMESTAMPS = (0, 13)
_BUILDKIT_VERSION = re.compile(r"^\s*BuildKit(?: version)?:\s*v?(\d+)\.(\d+)", re.I | re.M)
_BUILDX_PLATFORMS = re.compile(r"^\s*Platforms:\s*(.+)$", re.MULTILINE)


class DockerEngine(ContainerEngine):
    """docker, when its engine answers (a docker client alone is not enough)."""

    name: ClassVar[EngineName] = "docker"

    def rewrites_timestamps(self) -> bool:
        """Whether the builder's BuildKit is v0.13 or later (the image exporter's
        ``rewrite-timestamp``), asked of the builder.

        Without it a docker build pins the config's times only: a rebuild that reuses the layer
        cache gives the same digest, one without the cache (another machine) does not.
        """
        inspected = self.command("buildx", "inspect")
        match = _BUILDKIT_VERSION.search(inspected.stdout) if inspected.ok else None
        if match is None:
            return False
        return (int(match.group(1)), int(match.group(2))) >= BUILDKIT_REWRITES_TIMESTAMPS

    def _timestamp_argv(self, source_date_epoch: int, rewrite_timestamps: bool) -> list[str]:
        # docker reads SOURCE_DATE_EPOCH from the build arguments; type=docker keeps the image in
        # the engine's own store, as a build without --output does.
        return ["--output", "type=docker,rewrite-timestamp=true"] if rewrite_timestamps else []

    def _timestamp_build_args(self, source_date_epoch: int) -> dict[str, str]:
        return {"SOURCE_DATE_EPOCH": str(source_date_epoch)}

    def buildable_platforms(self, binfmt_dir: Path | None = None) -> set[str]:
        """What docker's builder lists (``docker buildx inspect``).

        Docker Desktop's VM emulates amd64 on arm64 Macs; without buildx, this machine's own
        platform only.
        """
        listed = self.command("buildx", "inspect")
        match = _BUILDX_PLATFORMS.search(listed.stdout) if listed.ok else None
        if match:
            # "linux/amd64, linux/amd64/v2, linux/arm64*": the variant and the marker for
            # platforms the builder was configured with do not matter here.
            return {
                "/".join(item.strip().rstrip("*").split("/")[:2])
                for item in match.group(1).split(",")
            }
        return {platforms.host_platform()}

    def push_commands(
        self,
        local_ref: str,
        remote_ref: str,
        *,
        registry: str,
        username: str,
        password: str,
        tmp: Path,
    ) -> list[PushCommand]:
        """A login, a tag with the remote name and a push, all with a private configuration."""
        # DOCKER_CONFIG in a temp dir: the login never lands in ~/.docker/config.json.
        env = {"DOCKER_CONFIG": str(tmp)}
        return [
            (["login", "--username", username, "--password-stdin", registry], env, password),
            (["tag", local_ref, remote_ref], env, None),
            (["push", remote_ref], env, None),
        ]
