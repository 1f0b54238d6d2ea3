"""The container-engine wrapper's shared part: what docker, podman and buildah do alike.

One class per engine (``docker.py``, ``podman.py``, ``buildah.py`` beside this module) builds on
``ContainerEngine``, the type callers hold. The commands the CLIs spell alike live here, in
docker's spelling (podman's copies it); each engine's class overrides what its CLI spells its own
way, and fills in the abstract methods: the protocol every engine keeps. The commands themselves
run through ``EngineCommands`` (cli.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from delivery import platforms
from delivery.engines.cli import BUILD_TIMEOUT_S, EngineCommands
from delivery.errors import DeliveryError
from delivery.image_archive import DOCKER_V2_MANIFEST, manifest_from_archive
from delivery.process import Completed, last_line

# How long ``wait`` may wait for a container: its callers bound the time themselves (and stop it).
WAIT_TIMEOUT_S = 7 * 24 * 3600.0
# What ``push_commands`` returns: ``(argv after the engine name, extra env, stdin)`` per command.
PushCommand = tuple[list[str], dict[str, str], str | None]


@dataclass(frozen=True)
class Bind:
    """A host directory mounted into a container at ``target`` (``--mount type=bind``)."""

    source: Path
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class ContainerEngine(EngineCommands, ABC):
    """One container engine: builds, images and containers, the same calls whichever it is."""

    # buildah, when it shares this engine's image store: it reads the manifest an image was
    # stored with (see ``manifest``) without exporting the whole image. None: export instead.
    manifest_reader: str | None = None

    @property
    def can_run(self) -> bool:
        """Whether this engine runs containers (buildah only builds)."""
        return True

    # -- builds

    def build(
        self,
        context: Path,
        dockerfile: Path,
        tags: Sequence[str],
        build_args: Mapping[str, str] | None = None,
        *,
        platform: str = platforms.DEFAULT_PLATFORM,
        source_date_epoch: int | None = None,
        network_none: bool = True,
        target: str | None = None,
        log_path: Path | None = None,
        cache_from: Sequence[str] = (),
        no_cache: bool = False,
    ) -> str:
        """Build ``dockerfile`` in ``context``, tag it, and return the image id (``sha256:...``).

        The layer cache is on (``no_cache`` turns it off). ``cache_from`` names images (usually
        the registry's last build) whose layers may be reused. ``source_date_epoch`` pins every
        timestamp the build writes (``reproducible``), and the image then loses what identifies
        the build machine (``without_build_identity``). The full build output goes to
        ``log_path`` when given; a failure is one line naming the log.
        """
        rewrite = source_date_epoch is not None and self.rewrites_timestamps()
        with tempfile.TemporaryDirectory(prefix="image-build-") as tmp:
            iidfile = Path(tmp) / "iid"
            argv = self.build_argv(
                context, dockerfile, tags, build_args or {}, iidfile=iidfile, platform=platform,
                source_date_epoch=source_date_epoch, rewrite_timestamps=rewrite,
                network_none=network_none, target=target, cache_from=cache_from, no_cache=no_cache,
            )  # fmt: skip
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
        if source_date_epoch is not None:
            image_id = self.without_build_identity(image_id, tags)
        return image_id

    @abstractmethod
    def rewrites_timestamps(self) -> bool:
        """Whether ``build`` can stamp SOURCE_DATE_EPOCH on the files of new layers.

        Without it a build pins the config's times only: a rebuild that reuses the layer cache
        gives the same digest, one without the cache (another machine) does not.
        """

    def without_build_identity(self, image_id: str, tags: Sequence[str]) -> str:
        """Image ``image_id`` (tagged ``tags``) with no trace of the build machine; its id.

        Called after a build with a ``source_date_epoch``. This default keeps the image as it
        is: only buildah's builds (podman's too) write their build container's identity into
        the image (delivery/reproducible.py).
        """
        return image_id

    def build_argv(
        self,
        context: Path,
        dockerfile: Path,
        tags: Sequence[str],
        build_args: Mapping[str, str],
        *,
        iidfile: Path,
        platform: str = platforms.DEFAULT_PLATFORM,
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
        argv = ["build", *self._format_argv()]
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
            build_args = {**build_args, **self._timestamp_build_args(source_date_epoch)}
        for tag in tags:
            argv += ["--tag", tag]
        for key, value in sorted(build_args.items()):
            argv += ["--build-arg", f"{key}={value}"]
        argv += self._final_argv(build_args)
        if target:
            argv += ["--target", target]
        argv.append(str(context))
        return argv

    def _format_argv(self) -> list[str]:
        """Arguments right after ``build``: none unless the engine needs a format chosen."""
        return []

    @abstractmethod
    def _timestamp_argv(self, source_date_epoch: int, rewrite_timestamps: bool) -> list[str]:
        """The ``build`` options that pin the build's times to ``source_date_epoch``."""

    def _timestamp_build_args(self, source_date_epoch: int) -> dict[str, str]:
        """Build arguments (``--build-arg``) that carry ``source_date_epoch``: none by default."""
        return {}

    def _final_argv(self, build_args: Mapping[str, str]) -> list[str]:
        """Arguments after the build arguments, set on the final image: none by default."""
        return []

    @abstractmethod
    def buildable_platforms(self, binfmt_dir: Path | None = None) -> set[str]:
        """The platforms (``linux/amd64``) this engine can build for on this machine."""

    def check_buildable(self, platform: str, binfmt_dir: Path | None = None) -> None:
        """One line, before any build, when this engine cannot build ``platform`` images here."""
        machine = platforms.machine_of(platform)  # an unknown platform is its own one-line error
        if platform in self.buildable_platforms(binfmt_dir):
            return
        raise DeliveryError(
            f"{self.name} on this {platforms.host_platform()} machine cannot build {platform} "
            f"images (the task definition's architecture): enable emulation for {machine} "
            "(e.g. the qemu-user-static package), or build on a machine of that architecture"
        )

    # -- images

    def image_exists(self, ref: str) -> bool:
        """Whether ``ref`` is in the engine's local image store."""
        return self.command("image", "inspect", ref).ok

    def image_id(self, ref: str) -> str:
        """The local image id (``sha256:...``) of ``ref``."""
        value = self.check(
            "image", "inspect", "--format", "{{.Id}}", ref, what=f"inspect {ref}"
        ).stdout.strip()
        return value if value.startswith("sha256:") else f"sha256:{value}"

    def image_size(self, ref: str) -> int:
        """The unpacked size of image ``ref`` in bytes (all layers, base included)."""
        result = self.check("image", "inspect", "--format", "{{.Size}}", ref, what=f"size of {ref}")
        return int(result.stdout.strip())

    def inspect(self, ref: str) -> dict[str, Any]:
        """The engine's inspect document for an image or container, as a dict."""
        result = self.check("inspect", ref, what=f"inspect {ref}")
        data = json.loads(result.stdout)
        if isinstance(data, list):
            data = data[0] if data else {}
        return cast(dict[str, Any], data)

    def import_rootfs(self, tarball: Path, ref: str, changes: Sequence[str] = ()) -> str:
        """Make image ``ref`` from a root filesystem tarball (the local base); returns its id."""
        argv = ["import"]
        for change in changes:
            argv += ["--change", change]
        self.check(*argv, str(tarball), ref, what=f"import {ref}", timeout=BUILD_TIMEOUT_S)
        return self.image_id(ref)

    def save(self, ref: str, archive: Path) -> None:
        """Write image ``ref`` to ``archive`` in the docker-archive format."""
        self.check("save", "--output", str(archive), ref, what=f"save {ref}")

    def manifest(self, ref: str) -> tuple[str, bytes, str]:
        """The image's registry manifest: ``(media type, manifest bytes, sha256 digest)``.

        Derived from a docker-archive of the image, the same way for every engine: a Docker v2
        schema 2 manifest whose config digest is the image id and whose layers are the
        uncompressed layer tars. For recording an image in a registry that cannot receive a push
        (the local emulator's ECR, through put_image); the digest is sha256 of exactly the bytes.
        The manifest the engine stored the image with comes first, when it has a fit one
        (``stored_manifest``): the same document, without exporting the image.
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
        """The v2s2 manifest image ``ref`` was stored with, if the engine keeps one; else None."""
        return None

    def push(self, local_ref: str, remote_ref: str, username: str, password: str) -> str:
        """Push ``local_ref`` to ``remote_ref`` (e.g. an ECR repository URI:tag); return the digest.

        The password goes on stdin to a login into a throw-away auth file, never on the command
        line (where ``ps`` would show it) and never into the user's own engine credentials.
        """
        registry = remote_ref.split("/", 1)[0]
        with tempfile.TemporaryDirectory(prefix="image-push-") as tmp:
            commands = self.push_commands(
                local_ref, remote_ref, registry=registry, username=username, password=password,
                tmp=Path(tmp),
            )  # fmt: skip
            for argv, env, stdin in commands:
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

    @abstractmethod
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
        """The commands ``push`` runs: ``(argv after the engine name, extra env, stdin)`` each."""

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
            ref, env_names=sorted(env or {}), publish=publish or {}, name=name, user=user,
            read_only=read_only, binds=binds, cap_drop_all=cap_drop_all,
            no_new_privileges=no_new_privileges, command=command,
        )  # fmt: skip
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
        argv = ["run", "--detach"]
        if name:
            argv += ["--name", name]
        if read_only:
            argv += self._read_only_argv()
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

    def _read_only_argv(self) -> list[str]:
        """What makes the container's root read-only, and nothing writable beside it."""
        return ["--read-only"]

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

    def interactive_exec_argv(
        self, container: str, argv: Sequence[str], *, tty: bool = True, user: str | None = None
    ) -> list[str]:
        """The whole command line of an interactive ``exec`` (this terminal's stdin, and a TTY
        when ``tty``), as ``user`` when given: for a person at the keyboard, so it is run with
        the terminal, not captured.
        """
        return [
            self.executable,
            "exec",
            "--interactive",
            *(["--tty"] if tty else []),
            *(["--user", user] if user else []),
            container,
            *argv,
        ]

    def wait(self, container: str, timeout: float = WAIT_TIMEOUT_S) -> int:
        """Wait until ``container`` exits; its exit code (``wait`` prints it, docker and podman)."""
        result = self.check("wait", container, what=f"wait for {container}", timeout=timeout)
        return int(last_line(result.stdout))

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
        graceful path would wait out the app's drain for nothing. docker's ``rm --force`` kills
        at once.
        """
        self.command("rm", "--force", container)
