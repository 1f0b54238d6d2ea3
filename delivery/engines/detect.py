"""Which container engine to use (one the user names, else the first that works), set up to run.

``detect_engine`` is how every caller gets its engine: an object of the engine's own class.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from delivery.engines.base import ContainerEngine
from delivery.engines.buildah import BuildahEngine
from delivery.engines.cli import INFO_TIMEOUT_S, EngineName
from delivery.engines.config import engine_environment
from delivery.engines.docker import DockerEngine
from delivery.engines.podman import PodmanEngine
from delivery.errors import DeliveryError
from delivery.process import Runner, SubprocessRunner

# Each engine's class by its name, in the order detection tries them.
ENGINES: dict[EngineName, type[ContainerEngine]] = {
    engine.name: engine for engine in (DockerEngine, PodmanEngine, BuildahEngine)
}


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
    """The engine ``name`` at ``path``, with what its kind needs to run here."""
    env = engine_environment(state_dir) if name in ("podman", "buildah") else {}
    # podman and buildah share one image store (the same storage.conf), so buildah can read the
    # manifests podman stored.
    reader = (
        path if name == "buildah" else _beside(path, "buildah", which) if name == "podman" else None
    )
    return ENGINES[name](executable=path, env=env, runner=runner, manifest_reader=reader)
