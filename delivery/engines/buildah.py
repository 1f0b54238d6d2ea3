"""buildah, and the builds podman shares with it (``podman build`` is buildah's code).

``BuildahBuilds`` is what both build alike: ``--format docker`` images with the layer cache,
``--timestamp`` for reproducible times, the per-build metadata repeated on the final image, the
build container's identity dropped from the config, and a v2s2 push through a private auth file.
``BuildahEngine`` is buildah's own CLI: it only builds, and keeps its images' details in
``buildah inspect``.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, cast

from delivery import platforms, reproducible
from delivery.engines.base import ContainerEngine, PushCommand
from delivery.engines.cli import BUILD_TIMEOUT_S, INFO_TIMEOUT_S, EngineName
from delivery.errors import DeliveryError
from delivery.image_archive import DOCKER_V2_MANIFEST

# Build arguments that become the image's environment and OCI labels (the Dockerfile's ARGs).
# No version among them: the image is its commit, whatever version that is released as
# (the Dockerfile says why); the version is a tag in the registry and the task's APP_VERSION.
METADATA_ENV = ("GIT_SHA", "BUILD_TIME")
METADATA_LABELS = {
    "GIT_SHA": "org.opencontainers.image.revision",
    "BUILD_TIME": "org.opencontainers.image.created",
    "SOURCE_URL": "org.opencontainers.image.source",
}


class BuildahBuilds(ContainerEngine):
    """An engine whose builds are buildah's: buildah itself and podman."""

    def rewrites_timestamps(self) -> bool:
        """Always: ``--timestamp`` stamps the config and every file of the new layers."""
        return True

    def _format_argv(self) -> list[str]:
        # The OCI format drops HEALTHCHECK; --layers keeps the layer cache on.
        return ["--format", "docker", "--layers"]

    def _timestamp_argv(self, source_date_epoch: int, rewrite_timestamps: bool) -> list[str]:
        return ["--timestamp", str(source_date_epoch)]

    def _final_argv(self, build_args: Mapping[str, str]) -> list[str]:
        return _final_metadata_argv(build_args)

    def buildable_platforms(self, binfmt_dir: Path | None = None) -> set[str]:
        """This machine's own platform, plus whatever binfmt_misc emulates.

        The build's RUN steps run on this machine's kernel, not in a VM of another architecture.
        """
        native = platforms.host_platform()
        return {native} | {
            name
            for name in platforms.MACHINES
            if name != native and platforms.emulated(name, binfmt_dir)
        }

    def without_build_identity(self, image_id: str, tags: Sequence[str]) -> str:
        """Re-store image ``image_id`` with a normalized config (``reproducible``); its new id.

        Layers stay as they are; the image keeps ``tags``. An already normalized image is left
        alone. The superseded image is removed (it is never more than a cache entry).
        """
        with tempfile.TemporaryDirectory(prefix="image-normalize-") as tmp:
            saved, normalized = Path(tmp) / "saved.tar", Path(tmp) / "normalized.tar"
            self.save(tags[0], saved)  # by name: buildah's docker-archive needs one
            new_id = reproducible.normalize_archive(saved, normalized)
            if new_id is None:
                return image_id
            self.check(
                *self._load_argv(normalized),
                what="store the normalized image",
                timeout=BUILD_TIMEOUT_S,
            )
        for tag in tags:
            name = self._stored_name(tag)
            self.check("tag", new_id, name, what=f"tag {new_id} as {name}")
        self.command("rmi", image_id)
        return new_id

    @abstractmethod
    def _load_argv(self, archive: Path) -> list[str]:
        """The arguments that store the image in docker-archive ``archive``."""

    def _stored_name(self, tag: str) -> str:
        """The name ``tag`` has in this engine's store (the one its build gave)."""
        return tag

    def stored_manifest(self, ref: str) -> bytes | None:
        """The v2s2 manifest buildah stored for image ``ref``; None when unavailable or unfit.

        ``buildah inspect`` answers well under a second, where exporting the image (some 140 MB)
        takes about 3 s. The manifest is used only when it is a v2s2 one whose config is this
        very image.
        """
        if self.manifest_reader is None:
            return None
        result = self.runner(
            [self.manifest_reader, "inspect", "--type", "image", ref],
            env=self.env,
            timeout=INFO_TIMEOUT_S,
        )
        if not result.ok:
            return None
        try:
            data = json.loads(result.stdout)
            body = str(data["Manifest"]).encode()
            manifest = json.loads(body)
            config_digest = "sha256:" + hashlib.sha256(str(data["Config"]).encode()).hexdigest()
        except (ValueError, KeyError, TypeError):
            return None
        fits = (
            isinstance(manifest, dict)
            and manifest.get("mediaType") == DOCKER_V2_MANIFEST
            and manifest.get("config", {}).get("digest") == config_digest
            and f"sha256:{str(data.get('FromImageID', '')).removeprefix('sha256:')}"
            == config_digest
        )
        return body if fits else None

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
        """A login into an auth file under ``tmp``, then a v2s2 push that writes its digest."""
        auth = str(tmp / "auth.json")
        return [
            (
                ["login", "--authfile", auth, "--username", username, "--password-stdin", registry],
                {},
                password,
            ),
            (
                [
                    "push", "--authfile", auth, "--format", "v2s2",
                    "--digestfile", str(tmp / "digest"), local_ref, f"docker://{remote_ref}",
                ],
                {},
                None,
            ),
        ]  # fmt: skip


class BuildahEngine(BuildahBuilds):
    """buildah: builds images, runs no containers."""

    name: ClassVar[EngineName] = "buildah"

    @property
    def can_run(self) -> bool:
        """Never: buildah only builds."""
        return False

    def run_argv(self, ref: str, **options: Any) -> list[str]:
        """Refused in one line: buildah cannot run a container."""
        raise DeliveryError(
            "buildah only builds images: install podman or docker to run containers"
        )

    def image_exists(self, ref: str) -> bool:
        """Whether ``ref`` is in buildah's image store."""
        return self.command("inspect", "--type", "image", ref).ok

    def image_id(self, ref: str) -> str:
        """The local image id (``sha256:...``) of ``ref``."""
        value = str(self._image(ref).get("FromImageID", ""))
        return value if value.startswith("sha256:") else f"sha256:{value}"

    def image_size(self, ref: str) -> int:
        """The unpacked size of image ``ref`` in bytes (all layers, base included)."""
        # buildah reports sizes only rounded for humans; its stored manifest lists every
        # layer with its (uncompressed, for a local build) size in bytes.
        manifest = json.loads(self._image(ref).get("Manifest") or "{}")
        return sum(int(layer.get("size", 0)) for layer in manifest.get("layers", []))

    def inspect(self, ref: str) -> dict[str, Any]:
        """buildah's inspect document for image ``ref``."""
        return self._image(ref)

    def _image(self, ref: str) -> dict[str, Any]:
        result = self.check("inspect", "--type", "image", ref, what=f"inspect {ref}")
        return cast(dict[str, Any], json.loads(result.stdout))

    def import_rootfs(self, tarball: Path, ref: str, changes: Sequence[str] = ()) -> str:
        """Make image ``ref`` from a root filesystem tarball, through a scratch container.

        buildah has no ``import``; of ``changes`` only ``ENV`` lines apply (the local base's).
        """
        container = self.check("from", "scratch", what="create a scratch container").stdout.strip()
        try:
            self.check("add", container, str(tarball), "/", what="add the root filesystem")
            for change in changes:
                key, _, value = change.partition(" ")
                if key == "ENV":
                    self.check("config", "--env", value, container, what="configure the base")
            self.check("commit", container, ref, what=f"commit {ref}", timeout=BUILD_TIMEOUT_S)
        finally:
            self.command("rm", container)
        return self.image_id(ref)

    def save(self, ref: str, archive: Path) -> None:
        """Write image ``ref`` to ``archive`` in the docker-archive format."""
        self.check("push", ref, f"docker-archive:{archive}:{ref}", what=f"save {ref}")

    def _load_argv(self, archive: Path) -> list[str]:
        return ["pull", "--quiet", f"docker-archive:{archive}"]

    def _stored_name(self, tag: str) -> str:
        # buildah would qualify a short name with docker.io/library/; the build named it
        # localhost/, as podman does.
        return _qualified(tag)


def _qualified(name: str) -> str:
    """``name`` with ``localhost/`` in front when it names no registry (a short name)."""
    first, slash, _ = name.partition("/")
    has_registry = slash and ("." in first or ":" in first or first == "localhost")
    return name if has_registry else f"localhost/{name}"


def _final_metadata_argv(build_args: Mapping[str, str]) -> list[str]:
    """podman/buildah ``--env``/``--label`` arguments repeating the per-build metadata.

    buildah's layer cache ignores build-argument values in LABEL and ENV steps (buildah issue
    5501): a cached image would report the previous build's version. So the per-build metadata is
    also set on the final image directly, which it always applies, and which leaves the cached
    layers above it untouched.
    """
    argv: list[str] = []
    for key, value in sorted(build_args.items()):
        if key in METADATA_ENV:
            argv += ["--env", f"{key}={value}"]
        if key in METADATA_LABELS:
            argv += ["--label", f"{METADATA_LABELS[key]}={value}"]
    return argv
