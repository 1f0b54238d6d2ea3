"""The container-engine layer: detect docker/podman/buildah, build, inspect, run, push images.

Everything goes through a ``Runner`` (argv in, exit code and output out) so tests can inject a fake
one and check the exact command lines without mocking internals.

Podman and buildah run with configuration files generated under a project-local state directory
(``.local/containers/``): runc instead of crun, explicit ulimits, no short-name resolution and
overlay storage of our own. They reach the engine through ``CONTAINERS_*`` variables of its
subprocesses only; this process's environment and the user's own engine setup stay untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from delivery import platforms, reproducible
from delivery.errors import DeliveryError
from delivery.localbase import LOCAL_BASE_REF, ensure_local_base
from delivery.platforms import DEFAULT_PLATFORM, platform_for
from delivery.process import Completed, Runner, SubprocessRunner, last_line

__all__ = [
    "BASE_PYTHON",
    "DEFAULT_BASE_IMAGE",
    "DEFAULT_PLATFORM",
    "LOCAL_BASE_REF",
    "Bind",
    "Completed",
    "ContainerEngine",
    "ImageBuild",
    "Runner",
    "SubprocessRunner",
    "Wheels",
    "build_image",
    "detect_engine",
    "engine_environment",
    "ensure_local_base",
    "export_requirements",
    "manifest_from_archive",
    "platform_for",
    "prepare_wheels",
    "running",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
STATE_DIR = PROJECT_ROOT / ".local" / "containers"
WHEELS_DIR = PROJECT_ROOT / "build" / "wheels"
# The Dockerfile's own default (a test keeps the two equal); build_image() passes a base only when
# it differs. The official image from its ECR Public mirror, not Docker Hub, whose anonymous pull
# limit CodeBuild's shared addresses hit. Pinned by the digest of its multi-architecture index
# (amd64 and arm64 builds resolve their own image from it), the tag kept for Renovate/Dependabot.
# The digest is python:3.11.13-slim-bookworm, what 3.11-slim-bookworm named on 2025-10-01: seen
# resolved by BuildKit in a GitHub Actions log of that day and pinned for that tag in public
# Dockerfiles.
DEFAULT_BASE_IMAGE = (
    "public.ecr.aws/docker/library/python:3.11-slim-bookworm"
    "@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1"
)
# The Python of both bases (the public python:3.11 image and Debian bookworm's python3).
BASE_PYTHON = "3.11"

EngineName = Literal["docker", "podman", "buildah"]
ENGINES: tuple[EngineName, ...] = ("docker", "podman", "buildah")

DOCKER_V2_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_V2_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_V2_LAYER = "application/vnd.docker.image.rootfs.diff.tar"

# Build arguments that become the image's environment and OCI labels (see ContainerEngine.build).
# No version among them: the image is its commit, whatever version that is released as
# (the Dockerfile says why); the version is a tag in the registry and the task's APP_VERSION.
METADATA_ENV = ("GIT_SHA", "BUILD_TIME")
METADATA_LABELS = {
    "GIT_SHA": "org.opencontainers.image.revision",
    "BUILD_TIME": "org.opencontainers.image.created",
    "SOURCE_URL": "org.opencontainers.image.source",
}

INFO_TIMEOUT_S = 20.0
BUILD_TIMEOUT_S = 1800.0
# BuildKit rewrites the file times in layers to SOURCE_DATE_EPOCH from this version on
# (the image exporter's rewrite-timestamp option).
BUILDKIT_REWRITES_TIMESTAMPS = (0, 13)
_BUILDKIT_VERSION = re.compile(r"^\s*BuildKit(?: version)?:\s*v?(\d+)\.(\d+)", re.I | re.M)
COMMAND_TIMEOUT_S = 300.0


# --- engine configuration (podman / buildah) -----------------------------------------------------


def engine_environment(state_dir: Path | None = None) -> dict[str, str]:
    """Write podman/buildah configuration under ``state_dir`` and return the env that selects it.

    - ``containers.conf``: runc (crun cannot set RLIMIT_NOFILE without CAP_SYS_RESOURCE, nor run
      on hybrid cgroups), explicit ulimits, cgroupfs and file events (no systemd/journald needed);
    - ``registries.conf``: no short names, so ``FROM python`` can never pick a registry by guess;
    - ``storage.conf``: overlay with a graphroot under ``state_dir``, so images stay with the
      project and never mix with the machine's own storage.

    Run-time state (locks, sockets) goes to a short path under /run (or the user's runtime dir):
    unix sockets there must fit in 108 bytes, which a deep project path may not. Variables the user
    has already set win: they know their machine.
    """
    state = (state_dir or STATE_DIR).resolve()
    state.mkdir(parents=True, exist_ok=True)
    run_root = _run_root(state)
    files = {
        "containers.conf": (
            "# Generated by delivery/container.py: do not edit.\n"
            "[containers]\n"
            'default_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]\n'
            "[engine]\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'tmp_dir = "{run_root / "libpod"}"\n'
        ),
        "registries.conf": (
            "# Generated by delivery/container.py: do not edit.\n"
            "unqualified-search-registries = []\n"
            'short-name-mode = "disabled"\n'
        ),
        "storage.conf": (
            "# Generated by delivery/container.py: do not edit.\n"
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{state / "storage"}"\n'
            f'runroot = "{run_root / "storage"}"\n'
        ),
    }
    for name, text in files.items():
        path = state / name
        # Rewrite only on change: engines running right now keep reading a stable file.
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    variables = {
        "CONTAINERS_CONF": "containers.conf",
        "CONTAINERS_REGISTRIES_CONF": "registries.conf",
        "CONTAINERS_STORAGE_CONF": "storage.conf",
    }
    return {var: os.environ.get(var) or str(state / name) for var, name in variables.items()}


def _run_root(state: Path) -> Path:
    """A short per-state-dir path for run-time files (see engine_environment)."""
    digest = hashlib.sha256(str(state).encode()).hexdigest()[:12]
    if os.geteuid() == 0:
        base = Path("/run/flask-fargate")
    else:
        base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / "flask-fargate"
    return base / digest


# --- the engine -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bind:
    """A host directory mounted into a container at ``target`` (``--mount type=bind``)."""

    source: Path
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class ContainerEngine:
    """One container engine CLI (docker, podman or buildah) and the environment it runs with."""

    name: EngineName
    executable: str
    env: Mapping[str, str] = field(default_factory=dict)
    runner: Runner = field(default_factory=SubprocessRunner)
    # buildah, when it shares this engine's image store: it reads the manifest an image was
    # stored with (see ``manifest``) without exporting the whole image. None: export instead.
    manifest_reader: str | None = None

    @property
    def can_run(self) -> bool:
        """Whether this engine runs containers (buildah only builds)."""
        return self.name != "buildah"

    def command(
        self,
        *args: str,
        stdin: str | None = None,
        timeout: float = COMMAND_TIMEOUT_S,
        env: Mapping[str, str] | None = None,
    ) -> Completed:
        """Run ``<engine> args...`` and return what happened, whatever the exit code."""
        return self.runner(
            [self.executable, *args], env={**self.env, **(env or {})}, stdin=stdin, timeout=timeout
        )

    def check(
        self,
        *args: str,
        what: str,
        stdin: str | None = None,
        timeout: float = COMMAND_TIMEOUT_S,
        env: Mapping[str, str] | None = None,
    ) -> Completed:
        """Like ``command`` but a non-zero exit is a one-line DeliveryError naming ``what``."""
        result = self.command(*args, stdin=stdin, timeout=timeout, env=env)
        if not result.ok:
            raise DeliveryError(f"{self.name}: {what} failed: {last_line(result.stderr)}")
        return result

    # -- images

    def build(
        self,
        context: Path,
        dockerfile: Path,
        tags: Sequence[str],
        build_args: Mapping[str, str] | None = None,
        *,
        platform: str = DEFAULT_PLATFORM,
        source_date_epoch: int | None = None,
        network_none: bool = True,
        target: str | None = None,
        log_path: Path | None = None,
        cache_from: Sequence[str] = (),
        no_cache: bool = False,
    ) -> str:
        """Build ``dockerfile`` in ``context``, tag it, and return the image id (``sha256:...``).

        Podman and buildah build ``--format docker`` (the OCI format drops HEALTHCHECK) with the
        layer cache on (``no_cache`` turns it off). ``cache_from`` names images (usually the
        registry's last build) whose layers may be reused. ``source_date_epoch`` pins every
        timestamp the build writes (``reproducible``); podman/buildah images then lose the build
        container's identity from their config too. The full build output goes to ``log_path``
        when given; a failure is one line naming the log.
        """
        rewrite = source_date_epoch is not None and self.rewrites_timestamps()
        with tempfile.TemporaryDirectory(prefix="image-build-") as tmp:
            iidfile = Path(tmp) / "iid"
            argv = self.build_argv(
                context,
                dockerfile,
                tags,
                build_args or {},
                iidfile=iidfile,
                platform=platform,
                source_date_epoch=source_date_epoch,
                rewrite_timestamps=rewrite,
                network_none=network_none,
                target=target,
                cache_from=cache_from,
                no_cache=no_cache,
            )
            result = self.command(*argv, timeout=BUILD_TIMEOUT_S)
            if log_path is not None:
                log_path.parent.mkdir(parents=True, exist_ok=True)
                log_path.write_text(result.stdout + result.stderr)
            if not result.ok:
                where = f" (full log: {log_path})" if log_path else ""
                raise DeliveryError(
                    f"image build failed: {last_line(result.stderr or result.stdout)}{where}"
                )
            image_id = iidfile.read_text().strip() if iidfile.exists() else ""
        if not image_id:
            image_id = self.image_id(tags[0])
        image_id = image_id if image_id.startswith("sha256:") else f"sha256:{image_id}"
        if source_date_epoch is not None and self.name in ("podman", "buildah"):
            image_id = self.without_build_identity(image_id, tags)
        return image_id

    def rewrites_timestamps(self) -> bool:
        """Whether ``build`` can stamp SOURCE_DATE_EPOCH on the files of new layers.

        podman and buildah always can (``--timestamp``). docker only through BuildKit v0.13 or
        later (the image exporter's ``rewrite-timestamp``), asked of the builder here. Without
        it a docker build pins the config's times only: a rebuild that reuses the layer cache
        gives the same digest, one without the cache (another machine) does not.
        """
        if self.name != "docker":
            return True
        inspected = self.command("buildx", "inspect")
        match = _BUILDKIT_VERSION.search(inspected.stdout) if inspected.ok else None
        if match is None:
            return False
        return (int(match.group(1)), int(match.group(2))) >= BUILDKIT_REWRITES_TIMESTAMPS

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
            if self.name == "buildah":
                load = ["pull", "--quiet", f"docker-archive:{normalized}"]
            else:
                load = ["load", "--quiet", "--input", str(normalized)]
            self.check(*load, what="store the normalized image", timeout=BUILD_TIMEOUT_S)
        for tag in tags:
            # buildah would qualify a short name with docker.io/library/; the build named it
            # localhost/, as podman does.
            self.tag(new_id, _qualified(tag) if self.name == "buildah" else tag)
        self.command("rmi", image_id)
        return new_id

    def build_argv(
        self,
        context: Path,
        dockerfile: Path,
        tags: Sequence[str],
        build_args: Mapping[str, str],
        *,
        iidfile: Path,
        platform: str = DEFAULT_PLATFORM,
        source_date_epoch: int | None = None,
        rewrite_timestamps: bool = False,
        network_none: bool = True,
        target: str | None = None,
        cache_from: Sequence[str] = (),
        no_cache: bool = False,
    ) -> list[str]:
        """The arguments after the engine's name for ``build`` (exposed for tests).

        ``source_date_epoch`` becomes podman/buildah's ``--timestamp`` (config and file times) or
        docker's ``SOURCE_DATE_EPOCH`` build argument (config times), plus, with
        ``rewrite_timestamps``, BuildKit's exporter option that stamps it on the files too
        (https://github.com/moby/buildkit/blob/master/docs/build-repro.md).
        """
        argv = ["build"]
        if self.name in ("podman", "buildah"):
            argv += ["--format", "docker", "--layers"]
        # All three spell these the same; --platform picks the base image's variant and the
        # architecture every RUN step executes (emulated when it is not this machine's).
        argv += ["--platform", platform]
        if no_cache:
            argv.append("--no-cache")
        for source in cache_from:
            argv += ["--cache-from", source]
        if network_none:
            argv += ["--network", "none"]
        argv += ["--file", str(dockerfile), "--iidfile", str(iidfile)]
        if source_date_epoch is not None:
            argv += self._timestamp_argv(source_date_epoch, rewrite_timestamps)
            if self.name == "docker":
                build_args = {**build_args, "SOURCE_DATE_EPOCH": str(source_date_epoch)}
        for tag in tags:
            argv += ["--tag", tag]
        for key, value in sorted(build_args.items()):
            argv += ["--build-arg", f"{key}={value}"]
        if self.name in ("podman", "buildah"):
            argv += _final_metadata_argv(build_args)
        if target:
            argv += ["--target", target]
        argv.append(str(context))
        return argv

    def _timestamp_argv(self, source_date_epoch: int, rewrite_timestamps: bool) -> list[str]:
        if self.name in ("podman", "buildah"):
            return ["--timestamp", str(source_date_epoch)]
        # docker reads SOURCE_DATE_EPOCH from the build arguments; type=docker keeps the image in
        # the engine's own store, as a build without --output does.
        return ["--output", "type=docker,rewrite-timestamp=true"] if rewrite_timestamps else []

    def image_exists(self, ref: str) -> bool:
        """Whether ``ref`` is in the engine's local image store."""
        if self.name == "podman":
            return self.command("image", "exists", ref).ok
        if self.name == "buildah":
            return self.command("inspect", "--type", "image", ref).ok
        return self.command("image", "inspect", ref).ok

    def image_id(self, ref: str) -> str:
        """The local image id (``sha256:...``) of ``ref``."""
        if self.name == "buildah":
            data = self._buildah_image(ref)
            value = str(data.get("FromImageID", ""))
        else:
            value = self.check(
                "image", "inspect", "--format", "{{.Id}}", ref, what=f"inspect {ref}"
            ).stdout.strip()
        return value if value.startswith("sha256:") else f"sha256:{value}"

    def image_size(self, ref: str) -> int:
        """The unpacked size of image ``ref`` in bytes (all layers, base included)."""
        if self.name == "buildah":
            # buildah reports sizes only rounded for humans; its stored manifest lists every
            # layer with its (uncompressed, for a local build) size in bytes.
            manifest = json.loads(self._buildah_image(ref).get("Manifest") or "{}")
            return sum(int(layer.get("size", 0)) for layer in manifest.get("layers", []))
        result = self.check("image", "inspect", "--format", "{{.Size}}", ref, what=f"size of {ref}")
        return int(result.stdout.strip())

    def tag(self, source: str, target: str) -> None:
        """Give image ``source`` the extra name ``target``."""
        self.check("tag", source, target, what=f"tag {source} as {target}")

    def inspect(self, ref: str) -> dict[str, Any]:
        """The engine's inspect document for an image or container, as a dict."""
        if self.name == "buildah":
            return self._buildah_image(ref)
        result = self.check("inspect", ref, what=f"inspect {ref}")
        data = json.loads(result.stdout)
        if isinstance(data, list):
            data = data[0] if data else {}
        return cast(dict[str, Any], data)

    def _buildah_image(self, ref: str) -> dict[str, Any]:
        result = self.check("inspect", "--type", "image", ref, what=f"inspect {ref}")
        return cast(dict[str, Any], json.loads(result.stdout))

    def import_rootfs(self, tarball: Path, ref: str, changes: Sequence[str] = ()) -> str:
        """Make image ``ref`` from a root filesystem tarball (the local base); returns its id."""
        if self.name == "buildah":
            container = self.check(
                "from", "scratch", what="create a scratch container"
            ).stdout.strip()
            try:
                self.check("add", container, str(tarball), "/", what="add the root filesystem")
                for change in changes:
                    key, _, value = change.partition(" ")
                    if key == "ENV":
                        self.check("config", "--env", value, container, what="configure the base")
                self.check("commit", container, ref, what=f"commit {ref}", timeout=BUILD_TIMEOUT_S)
            finally:
                self.command("rm", container)
        else:
            argv = ["import"]
            for change in changes:
                argv += ["--change", change]
            self.check(*argv, str(tarball), ref, what=f"import {ref}", timeout=BUILD_TIMEOUT_S)
        return self.image_id(ref)

    def save(self, ref: str, archive: Path) -> None:
        """Write image ``ref`` to ``archive`` in the docker-archive format."""
        if self.name == "buildah":
            self.check("push", ref, f"docker-archive:{archive}:{ref}", what=f"save {ref}")
        elif self.name == "podman":
            self.check(
                "save", "--format", "docker-archive", "--output", str(archive), ref,
                what=f"save {ref}", timeout=BUILD_TIMEOUT_S,
            )  # fmt: skip
        else:
            self.check("save", "--output", str(archive), ref, what=f"save {ref}")

    def manifest(self, ref: str) -> tuple[str, bytes, str]:
        """The image's registry manifest: ``(media type, manifest bytes, sha256 digest)``.

        Derived from a docker-archive of the image, the same way for every engine: a Docker v2
        schema 2 manifest whose config digest is the image id and whose layers are the
        uncompressed layer tars. For recording an image in a registry that cannot receive a push
        (the local emulator's ECR, through put_image); the digest is sha256 of exactly the bytes.

        With podman/buildah, the manifest the image was stored with is read first (``buildah
        inspect``, well under a second): the same document, without exporting some 140 MB (about
        3 s). It is used only when it is a v2s2 manifest whose config is this very image.
        """
        stored = self.stored_manifest(ref)
        if stored is not None:
            return DOCKER_V2_MANIFEST, stored, "sha256:" + hashlib.sha256(stored).hexdigest()
        with tempfile.TemporaryDirectory(prefix="image-manifest-") as tmp:
            archive = Path(tmp) / "image.tar"
            self.save(ref, archive)
            body = manifest_from_archive(archive)
        return DOCKER_V2_MANIFEST, body, "sha256:" + hashlib.sha256(body).hexdigest()

    def stored_manifest(self, ref: str) -> bytes | None:
        """The v2s2 manifest buildah stored for image ``ref``; None when unavailable or unfit."""
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

    def push(self, local_ref: str, remote_ref: str, username: str, password: str) -> str:
        """Push ``local_ref`` to ``remote_ref`` (e.g. an ECR repository URI:tag); return the digest.

        The password goes on stdin to a login into a throw-away auth file, never on the command
        line (where ``ps`` would show it) and never into the user's own engine credentials.
        """
        registry = remote_ref.split("/", 1)[0]
        with tempfile.TemporaryDirectory(prefix="image-push-") as tmp:
            for argv, env, stdin in self.push_commands(
                local_ref,
                remote_ref,
                registry=registry,
                username=username,
                password=password,
                tmp=Path(tmp),
            ):
                result = self.command(*argv, env=env, stdin=stdin, timeout=BUILD_TIMEOUT_S)
                if not result.ok:
                    raise DeliveryError(
                        f"{self.name}: {argv[0]} to {registry} failed: {last_line(result.stderr)}"
                    )
            digest_file = Path(tmp) / "digest"
            if digest_file.exists():
                return digest_file.read_text().strip()
            match = re.search(r"digest: (sha256:[0-9a-f]{64})", result.stdout + result.stderr)
            if not match:
                raise DeliveryError(f"{self.name}: pushed {remote_ref} but found no digest")
            return match.group(1)

    def push_commands(
        self,
        local_ref: str,
        remote_ref: str,
        *,
        registry: str,
        username: str,
        password: str,
        tmp: Path,
    ) -> list[tuple[list[str], dict[str, str], str | None]]:
        """The commands ``push`` runs: ``(argv after the engine name, extra env, stdin)`` each."""
        if self.name == "docker":
            # DOCKER_CONFIG in a temp dir: the login never lands in ~/.docker/config.json.
            env = {"DOCKER_CONFIG": str(tmp)}
            return [
                (["login", "--username", username, "--password-stdin", registry], env, password),
                (["tag", local_ref, remote_ref], env, None),
                (["push", remote_ref], env, None),
            ]
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

    # -- containers

    def run(
        self,
        ref: str,
        *,
        env: Mapping[str, str] | None = None,
        publish: Mapping[int, int] | None = None,
        name: str | None = None,
        user: str | None = None,
        read_only: bool = True,
        binds: Sequence[Bind] = (),
        cap_drop_all: bool = True,
        no_new_privileges: bool = True,
        command: Sequence[str] = (),
    ) -> str:
        """Start a detached container from ``ref`` and return its id.

        The defaults are production's: read-only root, every capability dropped, no privilege
        gain. The only writable paths are ``binds`` (host directories, what Fargate gives a task
        volume; see delivery/taskvolumes.py): no tmpfs, which Fargate cannot give. ``publish``
        maps host port -> container port, on 127.0.0.1 only. Environment values reach the engine
        through its own environment (``-e NAME``), so they never appear on a command line.
        """
        argv = self.run_argv(
            ref,
            env_names=sorted(env or {}),
            publish=publish or {},
            name=name,
            user=user,
            read_only=read_only,
            binds=binds,
            cap_drop_all=cap_drop_all,
            no_new_privileges=no_new_privileges,
            command=command,
        )
        result = self.check(*argv, what=f"run {ref}", env=dict(env or {}))
        return last_line(result.stdout)

    def run_argv(
        self,
        ref: str,
        *,
        env_names: Sequence[str] = (),
        publish: Mapping[int, int] | None = None,
        name: str | None = None,
        user: str | None = None,
        read_only: bool = True,
        binds: Sequence[Bind] = (),
        cap_drop_all: bool = True,
        no_new_privileges: bool = True,
        command: Sequence[str] = (),
    ) -> list[str]:
        """The arguments after the engine's name for ``run`` (exposed for tests)."""
        if not self.can_run:
            raise DeliveryError(
                "buildah only builds images: install podman or docker to run containers"
            )
        argv = ["run", "--detach"]
        if name:
            argv += ["--name", name]
        if read_only:
            argv.append("--read-only")
            if self.name == "podman":
                # podman's default adds tmpfs on /tmp, /var/tmp and /run to a read-only root:
                # writable paths a Fargate task does not have.
                argv.append("--read-only-tmpfs=false")
        for bind in binds:
            mount = f"type=bind,source={bind.source},target={bind.target}"
            argv += ["--mount", mount + (",readonly=true" if bind.read_only else "")]
        if cap_drop_all:
            argv.append("--cap-drop=ALL")
        if no_new_privileges:
            argv += ["--security-opt", "no-new-privileges"]
        if user:
            argv += ["--user", user]
        for host_port, container_port in sorted((publish or {}).items()):
            argv += ["--publish", f"127.0.0.1:{host_port}:{container_port}"]
        for env_name in env_names:
            argv += ["--env", env_name]
        argv.append(ref)
        argv += list(command)
        return argv

    def create(self, ref: str) -> str:
        """Create (never start) a container of ``ref``; its id. For reading the image's files."""
        return last_line(self.check("create", ref, what=f"create a container of {ref}").stdout)

    def export(self, container: str, archive: Path) -> None:
        """Write ``container``'s whole filesystem, owners and modes included, to a tar file."""
        self.check(
            "export", "--output", str(archive), container,
            what=f"export {container}", timeout=BUILD_TIMEOUT_S,
        )  # fmt: skip

    def exec(self, container: str, argv: Sequence[str]) -> Completed:
        """Run ``argv`` inside a running container; the result, whatever its exit code."""
        return self.command("exec", container, *argv)

    def stop(self, container: str, timeout: int = 30) -> int:
        """Send the stop signal, wait up to ``timeout`` s (then SIGKILL); return the exit code."""
        self.check(
            "stop", "--time", str(timeout), container, what=f"stop {container}",
            timeout=timeout + 60,
        )  # fmt: skip
        state = self.inspect(container).get("State", {})
        return int(state.get("ExitCode", -1))

    def logs(self, container: str) -> str:
        """The container's output so far (stdout then stderr)."""
        result = self.command("logs", container)
        return result.stdout + result.stderr

    def remove(self, container: str) -> None:
        """Remove the container, stopping it first if needed; absent is fine."""
        self.command("rm", "--force", container)

    def discard(self, container: str) -> None:
        """Kill and remove the container at once, no graceful stop; absent is fine.

        For tear-downs where nothing is in flight (the local service at the end of a job): the
        graceful path would wait out the app's drain for nothing.
        """
        if self.name == "podman":
            self.command("rm", "--force", "--time", "0", container)
        else:
            self.command("rm", "--force", container)  # docker's rm --force kills at once

    def remove_image(self, ref: str) -> None:
        """Remove image ``ref`` if present (used by tests and clean-ups)."""
        self.command("rmi", "--force", ref)


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


# --- detection --------------------------------------------------------------------------------


def detect_engine(
    preferred: str | None = None,
    *,
    runner: Runner | None = None,
    which: Callable[[str], str | None] = shutil.which,
    environ: Mapping[str, str] | None = None,
    state_dir: Path | None = None,
) -> ContainerEngine:
    """The container engine to use: ``preferred``, else ``$CONTAINER_ENGINE``, else the first found.

    An engine is named (``podman``, looked up on PATH) or given by its absolute path
    (``/usr/bin/podman``: an engine that is not on PATH, as the pipeline rehearsal gives the
    stand-in for CodeBuild's docker). Auto-detection order: docker when its engine answers
    ``docker info`` (a docker client alone is not enough), then podman, then buildah (which only
    builds). Podman and buildah get the project's generated configuration
    (``engine_environment``).
    """
    runner = runner or SubprocessRunner()
    env = os.environ if environ is None else environ
    wanted = (preferred or env.get("CONTAINER_ENGINE") or "").strip()
    if wanted:
        name, path = _named_engine(wanted, which)
        if name == "docker" and not _docker_answers(path, runner):
            raise DeliveryError(
                "docker is installed but its engine does not answer `docker info`: start it, "
                "or use --engine podman"
            )
        return _engine(name, path, runner, state_dir, which)
    docker = which("docker")
    if docker and _docker_answers(docker, runner):
        return _engine("docker", docker, runner, state_dir, which)
    for candidate in ("podman", "buildah"):
        found = which(candidate)
        if found:
            return _engine(candidate, found, runner, state_dir, which)
    raise DeliveryError(
        "no container engine found: install podman or docker, or set CONTAINER_ENGINE"
    )


def _named_engine(wanted: str, which: Callable[[str], str | None]) -> tuple[EngineName, str]:
    """(engine, executable) for a name or an absolute path; a one-line error for anything else."""
    given = Path(wanted) if os.path.isabs(wanted) else None
    named = (given.name if given else wanted).lower()
    engine = next((e for e in ENGINES if e == named), None)
    if engine is None:
        raise DeliveryError(
            f"unknown container engine {wanted!r}: use one of {', '.join(ENGINES)} "
            "(or the absolute path of one)"
        )
    if given is not None:
        if not (given.is_file() and os.access(given, os.X_OK)):
            raise DeliveryError(f"container engine {wanted!r} is not an executable file")
        return engine, str(given)
    path = which(engine)
    if not path:
        raise DeliveryError(
            f"container engine {engine!r} not found on PATH: install it, or choose another "
            "with --engine / CONTAINER_ENGINE"
        )
    return engine, path


def _beside(engine: str, tool: str, which: Callable[[str], str | None]) -> str | None:
    """``tool`` on PATH, else in the folder of an engine given by its path (not on PATH)."""
    found = which(tool)
    if found or which(Path(engine).name) == engine:
        return found
    candidate = Path(engine).with_name(tool)
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def _docker_answers(path: str, runner: Runner) -> bool:
    """Whether a docker engine answers (the client alone is installed on many machines)."""
    try:
        return runner([path, "info", "--format", "{{.ServerVersion}}"], timeout=INFO_TIMEOUT_S).ok
    except DeliveryError:  # timed out: as good as absent
        return False


def _engine(
    name: EngineName,
    path: str,
    runner: Runner,
    state_dir: Path | None,
    which: Callable[[str], str | None] = shutil.which,
) -> ContainerEngine:
    env = engine_environment(state_dir) if name in ("podman", "buildah") else {}
    # podman and buildah share one image store (the same storage.conf), so buildah can read the
    # manifests podman stored.
    reader = (
        path if name == "buildah" else _beside(path, "buildah", which) if name == "podman" else None
    )
    return ContainerEngine(
        name=name, executable=path, env=env, runner=runner, manifest_reader=reader
    )


# --- manifests --------------------------------------------------------------------------------


def manifest_from_archive(archive: Path) -> bytes:
    """A Docker v2 schema 2 manifest (JSON bytes) for the single image in a docker-archive tar."""
    with tarfile.open(archive) as tar:
        index = json.loads(_member_bytes(tar, "manifest.json"))
        if not index:
            raise DeliveryError(f"{archive.name} holds no image")
        entry = index[0]
        config = _member_bytes(tar, entry["Config"])
        layers = [_digest_member(tar, name) for name in entry["Layers"]]
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_V2_MANIFEST,
        "config": {
            "mediaType": DOCKER_V2_CONFIG,
            "size": len(config),
            "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
        },
        "layers": [
            {"mediaType": DOCKER_V2_LAYER, "size": size, "digest": digest}
            for digest, size in layers
        ],
    }
    return json.dumps(manifest, indent=3).encode()


def _member_bytes(tar: tarfile.TarFile, name: str) -> bytes:
    handle = tar.extractfile(name)
    if handle is None:
        raise DeliveryError(f"image archive has no file {name}")
    with handle:
        return handle.read()


def _digest_member(tar: tarfile.TarFile, name: str) -> tuple[str, int]:
    handle = tar.extractfile(name)
    if handle is None:
        raise DeliveryError(f"image archive has no layer {name}")
    digest = hashlib.sha256()
    size = 0
    with handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return "sha256:" + digest.hexdigest(), size


# --- wheels -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wheels:
    """The host-prepared wheels of the locked runtime dependencies."""

    directory: Path
    requirements: Path
    files: tuple[Path, ...]
    downloaded: bool


def export_requirements(project_dir: Path = PROJECT_ROOT, runner: Runner | None = None) -> str:
    """The locked runtime requirements (``[project].dependencies``' closure) with their hashes."""
    runner = runner or SubprocessRunner()
    result = runner(
        [
            "uv", "export", "--locked", "--no-dev", "--no-default-groups", "--no-emit-project",
            "--no-header", "--quiet", "--project", str(project_dir),
        ],
        timeout=COMMAND_TIMEOUT_S,
    )  # fmt: skip
    if result.returncode == 127:
        raise DeliveryError("uv not found: run bin/bootstrap, or install uv")
    if not result.ok:
        raise DeliveryError(f"uv export from uv.lock failed: {last_line(result.stderr)}")
    return result.stdout


def prepare_wheels(
    dest: Path = WHEELS_DIR,
    *,
    project_dir: Path = PROJECT_ROOT,
    python_version: str = BASE_PYTHON,
    platform: str = DEFAULT_PLATFORM,
    runner: Runner | None = None,
) -> Wheels:
    """Download the locked runtime dependencies' wheels into ``dest`` for the image's Python.

    The wheels are for ``platform``, the image's architecture, whatever this machine's is.
    Writes ``requirements.txt`` (exported from uv.lock, with hashes), ``uv.lock.sha256`` (the
    Dockerfile refuses wheels prepared for another lock) and ``machine`` (the architecture they
    are for) beside them. Skips the download when all are up to date and every wheel is there;
    drops wheels the lock no longer names, so the build context stays small.
    """
    runner = runner or SubprocessRunner()
    machine = platforms.machine_of(platform)
    requirements_text = export_requirements(project_dir, runner)
    lock_stamp = f"{hashlib.sha256((project_dir / 'uv.lock').read_bytes()).hexdigest()}  uv.lock\n"
    dest.mkdir(parents=True, exist_ok=True)
    requirements = dest / "requirements.txt"
    stamp = dest / "uv.lock.sha256"
    machine_stamp = dest / "machine"
    if not machine_stamp.exists() or machine_stamp.read_text().strip() != machine:
        # Another architecture's wheels: none of them fits, and the lock names their hashes too.
        for path in dest.glob("*.whl"):
            path.unlink()
    wanted = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", requirements_text))
    present = {_sha256_file(path): path for path in dest.glob("*.whl")}
    wheel_count = len(re.findall(r"^[A-Za-z0-9][^\s=]*==", requirements_text, re.MULTILINE))
    up_to_date = (
        requirements.exists()
        and requirements.read_text() == requirements_text
        and stamp.exists()
        and stamp.read_text() == lock_stamp
        and len(wanted & present.keys()) >= wheel_count
    )
    if not up_to_date:
        requirements.write_text(requirements_text)
        result = runner(
            [*_pip_command(), *pip_download_args(requirements, dest, python_version, machine)],
            timeout=BUILD_TIMEOUT_S,
        )
        if not result.ok:
            raise DeliveryError(
                f"downloading the runtime wheels failed: {last_line(result.stderr)}"
            )
        stamp.write_text(lock_stamp)
        machine_stamp.write_text(f"{machine}\n")
        present = {_sha256_file(path): path for path in dest.glob("*.whl")}
    for digest, path in present.items():
        if digest not in wanted:
            path.unlink()
    files = tuple(sorted(path for digest, path in present.items() if digest in wanted))
    return Wheels(dest, requirements, files, downloaded=not up_to_date)


def pip_download_args(
    requirements: Path, dest: Path, python_version: str = BASE_PYTHON, machine: str = "x86_64"
) -> list[str]:
    """``pip download`` arguments for binary wheels for the image's Python and ``machine``."""
    # glibc 2.36 in bookworm: every manylinux tag up to 2_36 installs there.
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in (36, 28, 17)] + [
        f"manylinux2014_{machine}"
    ]
    args = [
        "download", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
        "--no-deps", "--require-hashes", "--python-version", python_version,
        "--implementation", "cp", "--dest", str(dest), "--requirement", str(requirements),
    ]  # fmt: skip
    for tag in platforms:
        args += ["--platform", tag]
    return args


def _pip_command() -> list[str]:
    """A pip to download with: this interpreter's, else uv's on-demand one."""
    import importlib.util  # noqa: PLC0415 - only needed here

    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    return ["uv", "tool", "run", "--quiet", "--from", "pip", "pip"]


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- the high-level build ---------------------------------------------------------------------


@dataclass(frozen=True)
class ImageBuild:
    """What ``build_image`` made."""

    image_id: str
    tags: tuple[str, ...]
    size_bytes: int
    base_image: str
    base_size_bytes: int
    seconds: float
    platform: str = DEFAULT_PLATFORM
    source_date_epoch: int = 0
    # Whether the files' times are pinned too, so a rebuild without the layer cache (another
    # machine, a re-run pipeline) gives the same digest (ContainerEngine.rewrites_timestamps).
    reproducible: bool = True

    @property
    def above_base_bytes(self) -> int:
        """What the image adds on top of its base: the service's own weight."""
        return self.size_bytes - self.base_size_bytes


def build_image(
    name: str,
    version: str,
    git_sha: str,
    *,
    engine: ContainerEngine | None = None,
    platform: str = DEFAULT_PLATFORM,
    source_date_epoch: int | None = None,
    local_base: bool | None = None,
    base_image: str | None = None,
    source_url: str | None = None,
    context: Path = PROJECT_ROOT,
    dockerfile: Path | None = None,
    wheels_dir: Path | None = None,
    log_path: Path | None = None,
    cache_from: Sequence[str] = (),
    no_cache: bool = False,
) -> ImageBuild:
    """Build the service image offline and tag it ``<name>:<version>`` and ``<name>:<git_sha>``.

    For ``platform``, the task definition's architecture (``platform_for(cpu_architecture)``);
    a machine that cannot build it is refused before anything runs. Reproducible: the time is
    ``source_date_epoch``, by default the committer time of ``git_sha`` in ``context``, and it is
    also the image's BUILD_TIME, so one commit and lock give one digest (delivery/reproducible.py).
    Prepares the wheels on the host, then builds with ``--network none``. The base is
    ``base_image`` when given; else the local Debian base (``ensure_local_base``, this machine's
    architecture) when ``local_base`` is true, or when it is None and the engine is
    podman/buildah (this project's registry-less machines); else the Dockerfile's default.
    ``cache_from`` images lend their layers to the build (the engine's ``--cache-from``);
    ``no_cache`` builds every layer anew.
    """
    engine = engine or detect_engine()
    started = time.monotonic()
    platforms.check_buildable(engine, platform)
    use_local = engine.name != "docker" if local_base is None else local_base
    if base_image is None and use_local and platform != platforms.host_platform():
        raise DeliveryError(
            f"the local base image is built for this {platforms.host_platform()} machine, not "
            f"for {platform} (the task definition's architecture): pass a base image for "
            f"{platform}, or build on a machine of that architecture"
        )
    if source_date_epoch is None:
        source_date_epoch = reproducible.commit_epoch(context, git_sha, engine.runner)
    wheels_dir = wheels_dir or context / "build" / "wheels"
    prepare_wheels(wheels_dir, project_dir=context, platform=platform, runner=engine.runner)
    if base_image is None:
        base_image = ensure_local_base(engine) if use_local else DEFAULT_BASE_IMAGE
    build_args = {
        "GIT_SHA": git_sha,
        "BUILD_TIME": reproducible.iso_utc(source_date_epoch),
    }
    if base_image != DEFAULT_BASE_IMAGE:
        build_args["BASE_IMAGE"] = base_image
    if source_url:
        build_args["SOURCE_URL"] = source_url
    tags = (f"{name}:{version}", f"{name}:{git_sha}")
    image_id = engine.build(
        context,
        dockerfile or context / "Dockerfile",
        tags,
        build_args,
        platform=platform,
        source_date_epoch=source_date_epoch,
        network_none=True,
        log_path=log_path or context / "build" / "logs" / "image-build.log",
        cache_from=cache_from,
        no_cache=no_cache,
    )
    return ImageBuild(
        image_id=image_id,
        tags=tags,
        size_bytes=engine.image_size(image_id),
        base_image=base_image,
        base_size_bytes=engine.image_size(base_image) if engine.image_exists(base_image) else 0,
        seconds=time.monotonic() - started,
        platform=platform,
        source_date_epoch=source_date_epoch,
        reproducible=engine.rewrites_timestamps(),
    )


@contextlib.contextmanager
def running(engine: ContainerEngine, ref: str, **options: Any) -> Iterator[str]:
    """``engine.run(ref, **options)`` as a context manager that always removes the container."""
    container = engine.run(ref, **options)
    try:
        yield container
    finally:
        engine.remove(container)
