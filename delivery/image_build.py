"""The service image's build recipe: the locked wheels, the base, the build arguments, the tags.

``build_image`` builds the service image offline with whichever engine it is given: the runtime
dependencies' wheels are downloaded on the host (``prepare_wheels``) and copied in, so the build
runs with ``--network none``; the time is the commit's (delivery/reproducible.py).
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from delivery import platforms, reproducible
from delivery.engines.base import ContainerEngine
from delivery.engines.cli import BUILD_TIMEOUT_S, COMMAND_TIMEOUT_S
from delivery.engines.detect import detect_engine
from delivery.errors import DeliveryError
from delivery.localbase import ensure_local_base
from delivery.platforms import DEFAULT_PLATFORM
from delivery.process import Runner, SubprocessRunner, last_line

PROJECT_ROOT = Path(__file__).resolve().parents[1]
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
    engine.check_buildable(platform)
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
