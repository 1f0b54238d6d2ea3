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
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from delivery.errors import DeliveryError
from delivery.localbase import LOCAL_BASE_REF, ensure_local_base

__all__ = [
    "BASE_PYTHON",
    "DEFAULT_BASE_IMAGE",
    "LOCAL_BASE_REF",
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
    "prepare_wheels",
    "running",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
STATE_DIR = PROJECT_ROOT / ".local" / "containers"
WHEELS_DIR = PROJECT_ROOT / "build" / "wheels"
# The Dockerfile's own default; build_image() passes a base only when it differs.
DEFAULT_BASE_IMAGE = "docker.io/library/python:3.11-slim-bookworm"
# The Python of both bases (the public python:3.11 image and Debian bookworm's python3).
BASE_PYTHON = "3.11"

EngineName = Literal["docker", "podman", "buildah"]
ENGINES: tuple[EngineName, ...] = ("docker", "podman", "buildah")

DOCKER_V2_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_V2_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_V2_LAYER = "application/vnd.docker.image.rootfs.diff.tar"

# Build arguments that become the image's environment and OCI labels (see ContainerEngine.build).
METADATA_ENV = ("APP_VERSION", "GIT_SHA", "BUILD_TIME")
METADATA_LABELS = {
    "APP_VERSION": "org.opencontainers.image.version",
    "GIT_SHA": "org.opencontainers.image.revision",
    "BUILD_TIME": "org.opencontainers.image.created",
    "SOURCE_URL": "org.opencontainers.image.source",
}

INFO_TIMEOUT_S = 20.0
# The one writable path in a running container (a tmpfs there), not this machine's /tmp.
CONTAINER_TMP = "/tmp"  # noqa: S108 - inside the container  # nosec B108
BUILD_TIMEOUT_S = 1800.0
COMMAND_TIMEOUT_S = 300.0


# --- running commands -------------------------------------------------------------------------


@dataclass(frozen=True)
class Completed:
    """What a command did: its argv, exit code and captured output."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        """Whether the command exited 0."""
        return self.returncode == 0


class Runner(Protocol):
    """Runs one command to completion. Never raises for a non-zero exit: callers decide."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        timeout: float | None = None,
    ) -> Completed:
        """Run ``argv`` with ``env`` added to this process's environment."""
        ...


class SubprocessRunner:
    """The real runner: ``subprocess.run`` with captured text output."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        timeout: float | None = None,
    ) -> Completed:
        """Run ``argv``; a missing program is exit code 127, like a shell reports it."""
        full_env = {**os.environ, **(env or {})}
        try:
            proc = subprocess.run(  # noqa: S603 - argv lists built by this module, never a shell
                list(argv),
                env=full_env,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            return Completed(tuple(argv), 127, "", f"{argv[0]}: command not found")
        except subprocess.TimeoutExpired as exc:
            raise DeliveryError(
                f"{' '.join(argv[:2])} did not finish within {timeout:.0f} s"
            ) from exc
        return Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


def last_line(text: str) -> str:
    """The last non-empty line of a command's output: usually the one that says what failed."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


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
        network_none: bool = True,
        target: str | None = None,
        log_path: Path | None = None,
        cache_from: Sequence[str] = (),
    ) -> str:
        """Build ``dockerfile`` in ``context``, tag it, and return the image id (``sha256:...``).

        Podman and buildah build ``--format docker`` (the OCI format drops HEALTHCHECK) with the
        layer cache on. ``cache_from`` names images (usually the registry's last build) whose
        layers may be reused. The full build output goes to ``log_path`` when given; a failure is
        one line naming the log.
        """
        with tempfile.TemporaryDirectory(prefix="image-build-") as tmp:
            iidfile = Path(tmp) / "iid"
            argv = self.build_argv(
                context,
                dockerfile,
                tags,
                build_args or {},
                iidfile=iidfile,
                network_none=network_none,
                target=target,
                cache_from=cache_from,
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
        return image_id if image_id.startswith("sha256:") else f"sha256:{image_id}"

    def build_argv(
        self,
        context: Path,
        dockerfile: Path,
        tags: Sequence[str],
        build_args: Mapping[str, str],
        *,
        iidfile: Path,
        network_none: bool = True,
        target: str | None = None,
        cache_from: Sequence[str] = (),
    ) -> list[str]:
        """The arguments after the engine's name for ``build`` (exposed for tests)."""
        argv = ["build"]
        if self.name in ("podman", "buildah"):
            argv += ["--format", "docker", "--layers"]
        # docker, podman and buildah all spell it --cache-from, once per image.
        for source in cache_from:
            argv += ["--cache-from", source]
        if network_none:
            argv += ["--network", "none"]
        argv += ["--file", str(dockerfile), "--iidfile", str(iidfile)]
        for tag in tags:
            argv += ["--tag", tag]
        for key, value in sorted(build_args.items()):
            argv += ["--build-arg", f"{key}={value}"]
        if self.name in ("podman", "buildah"):
            # buildah's layer cache ignores build-argument values in LABEL and ENV steps
            # (buildah issue 5501): a cached image would report the previous build's version. So
            # the per-build metadata is also set on the final image directly, which it always
            # applies, and which leaves the cached layers above it untouched.
            for key, value in sorted(build_args.items()):
                if key in METADATA_ENV:
                    argv += ["--env", f"{key}={value}"]
                if key in METADATA_LABELS:
                    argv += ["--label", f"{METADATA_LABELS[key]}={value}"]
        if target:
            argv += ["--target", target]
        argv.append(str(context))
        return argv

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
        tmpfs: Sequence[str] = (CONTAINER_TMP,),
        cap_drop_all: bool = True,
        no_new_privileges: bool = True,
        command: Sequence[str] = (),
    ) -> str:
        """Start a detached container from ``ref`` and return its id.

        The defaults are production's: read-only root, writable tmpfs /tmp only, every capability
        dropped, no privilege gain. ``publish`` maps host port -> container port, on 127.0.0.1
        only. Environment values reach the engine through its own environment (``-e NAME``), so
        they never appear on a command line.
        """
        argv = self.run_argv(
            ref,
            env_names=sorted(env or {}),
            publish=publish or {},
            name=name,
            user=user,
            read_only=read_only,
            tmpfs=tmpfs,
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
        tmpfs: Sequence[str] = (CONTAINER_TMP,),
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
        for path in tmpfs:
            argv += ["--tmpfs", f"{path}:rw,nosuid,nodev,mode=1777"]
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

    Auto-detection order: docker when its engine answers ``docker info`` (a docker client alone
    is not enough), then podman, then buildah (which only builds). Podman and buildah get the
    project's generated configuration (``engine_environment``).
    """
    runner = runner or SubprocessRunner()
    env = os.environ if environ is None else environ
    wanted = (preferred or env.get("CONTAINER_ENGINE") or "").strip().lower()
    if wanted:
        if wanted not in ENGINES:
            raise DeliveryError(
                f"unknown container engine {wanted!r}: use one of {', '.join(ENGINES)}"
            )
        path = which(wanted)
        if not path:
            raise DeliveryError(
                f"container engine {wanted!r} not found on PATH: install it, or choose another "
                "with --engine / CONTAINER_ENGINE"
            )
        name: EngineName = wanted
        if name == "docker" and not _docker_answers(path, runner):
            raise DeliveryError(
                "docker is installed but its engine does not answer `docker info`: start it, "
                "or use --engine podman"
            )
        return _engine(name, path, runner, state_dir, which)
    docker = which("docker")
    if docker and _docker_answers(docker, runner):
        return _engine("docker", docker, runner, state_dir, which)
    for name in ("podman", "buildah"):
        path = which(name)
        if path:
            return _engine(name, path, runner, state_dir, which)
    raise DeliveryError(
        "no container engine found: install podman or docker, or set CONTAINER_ENGINE"
    )


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
    reader = path if name == "buildah" else which("buildah") if name == "podman" else None
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
    arch: str | None = None,
    runner: Runner | None = None,
) -> Wheels:
    """Download the wheels of the locked runtime dependencies into ``dest`` for the image's Python.

    Writes ``requirements.txt`` (exported from uv.lock, with hashes) and ``uv.lock.sha256`` (the
    Dockerfile refuses wheels prepared for another lock) beside them. Skips the download when both
    are up to date and every wheel is there; drops wheels the lock no longer names, so the build
    context stays small.
    """
    runner = runner or SubprocessRunner()
    requirements_text = export_requirements(project_dir, runner)
    lock_stamp = f"{hashlib.sha256((project_dir / 'uv.lock').read_bytes()).hexdigest()}  uv.lock\n"
    dest.mkdir(parents=True, exist_ok=True)
    requirements = dest / "requirements.txt"
    stamp = dest / "uv.lock.sha256"
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
            [*_pip_command(), *pip_download_args(requirements, dest, python_version, arch)],
            timeout=BUILD_TIMEOUT_S,
        )
        if not result.ok:
            raise DeliveryError(
                f"downloading the runtime wheels failed: {last_line(result.stderr)}"
            )
        stamp.write_text(lock_stamp)
        present = {_sha256_file(path): path for path in dest.glob("*.whl")}
    for digest, path in present.items():
        if digest not in wanted:
            path.unlink()
    files = tuple(sorted(path for digest, path in present.items() if digest in wanted))
    return Wheels(dest, requirements, files, downloaded=not up_to_date)


def pip_download_args(
    requirements: Path, dest: Path, python_version: str = BASE_PYTHON, arch: str | None = None
) -> list[str]:
    """``pip download`` arguments for binary wheels that install on the image's Python and arch."""
    machine = arch or _machine_arch()
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


def _machine_arch() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


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
    build_time: str | None = None,
    local_base: bool | None = None,
    base_image: str | None = None,
    source_url: str | None = None,
    context: Path = PROJECT_ROOT,
    dockerfile: Path | None = None,
    wheels_dir: Path | None = None,
    log_path: Path | None = None,
    cache_from: Sequence[str] = (),
) -> ImageBuild:
    """Build the service image offline and tag it ``<name>:<version>`` and ``<name>:<git_sha>``.

    Prepares the wheels on the host, then builds with ``--network none``. The base is
    ``base_image`` when given; else the local Debian base (``ensure_local_base``) when
    ``local_base`` is true, or when it is None and the engine is podman/buildah (this project's
    registry-less machines); else the Dockerfile's public default. ``cache_from`` images lend
    their layers to the build (the engine's ``--cache-from``).
    """
    engine = engine or detect_engine()
    started = time.monotonic()
    wheels_dir = wheels_dir or context / "build" / "wheels"
    prepare_wheels(wheels_dir, project_dir=context, runner=engine.runner)
    if base_image is None:
        use_local = engine.name != "docker" if local_base is None else local_base
        base_image = ensure_local_base(engine) if use_local else DEFAULT_BASE_IMAGE
    build_args = {
        "APP_VERSION": version,
        "GIT_SHA": git_sha,
        "BUILD_TIME": build_time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
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
        network_none=True,
        log_path=log_path or context / "build" / "logs" / "image-build.log",
        cache_from=cache_from,
    )
    return ImageBuild(
        image_id=image_id,
        tags=tags,
        size_bytes=engine.image_size(image_id),
        base_image=base_image,
        base_size_bytes=engine.image_size(base_image) if engine.image_exists(base_image) else 0,
        seconds=time.monotonic() - started,
    )


@contextlib.contextmanager
def running(engine: ContainerEngine, ref: str, **options: Any) -> Iterator[str]:
    """``engine.run(ref, **options)`` as a context manager that always removes the container."""
    container = engine.run(ref, **options)
    try:
        yield container
    finally:
        engine.remove(container)
