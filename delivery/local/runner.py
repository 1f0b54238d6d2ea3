"""The service on this machine: as a container run as Fargate runs it, or under gunicorn.

Start it from a ``ServiceSpec`` (delivery/local/task_definition.py), wait for its readiness, ask
its version, read its output, stop it. What was started is a ``LocalService``, which a ``--keep``
records so that a later command can find and stop it.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from delivery import images, loopback, taskvolumes
from delivery.emulator import HOST
from delivery.errors import DeliveryError
from delivery.local import gunicorn
from delivery.local.collector.launch import stop_collector
from delivery.local.processes import STOP_TIMEOUT_S, alive
from delivery.local.task_definition import ServiceSpec
from delivery.logs import stream_name

if TYPE_CHECKING:
    from delivery.engines.base import ContainerEngine

READY_TIMEOUT_S = 30.0
VERSION_PATH = "/version"


def container_prefix(project_code: str) -> str:
    """What the names of ``project_code``'s local containers start with (its project_code)."""
    return f"{project_code}-local"


@dataclass(frozen=True)
class LocalService:
    """A service running on this machine: a container or a gunicorn process group."""

    mode: Literal["container", "process"]
    id: str  # container id, or the gunicorn master's pid
    port: int
    version: str
    image: str  # the local image, or the project folder gunicorn runs from
    engine: str = ""  # container mode: docker or podman
    log: str = ""  # process mode: its output file
    volumes: str = ""  # container mode: the host folder of its task volumes (removed at stop)
    # Its output goes where the task definition's awslogs options say (log_shipping), in a stream
    # named as ECS names a task's, with this id standing for the ECS task id.
    task_id: str = ""
    log_group: str = ""  # "": no awslogs options, nothing is shipped
    log_region: str = ""
    log_stream: str = ""
    shipped: int = 0  # lines of its output (a container's stdout, the process's log) shipped
    shipped_stderr: int = 0  # lines of a container's stderr shipped
    # The stand-in for the task's collector sidecar (delivery/local/collector), if it has one:
    # it lives and stops with the service.
    collector_pid: int = 0
    collector_log: str = ""

    @property
    def url(self) -> str:
        """Where the service answers."""
        return f"http://{HOST}:{self.port}"


def _with_logs(service: LocalService, spec: ServiceSpec) -> LocalService:
    """A new service with its task id and, with awslogs options, the log stream of its output.

    The id has an ECS task id's shape (32 hex digits) and is fresh for every start, as a new task
    gets a new id and so a new stream.
    """
    task_id = uuid.uuid4().hex
    if spec.awslogs is None:
        return replace(service, task_id=task_id)
    return replace(
        service,
        task_id=task_id,
        log_group=spec.awslogs.group,
        log_region=spec.awslogs.region,
        log_stream=stream_name(spec.awslogs.stream_prefix, spec.awslogs.container, task_id),
    )


def local_image(engine: ContainerEngine, spec: ServiceSpec) -> str:
    """The local image the task definition's digest names (built here; ECR holds its manifest)."""
    ref = f"{images.IMAGE_NAME}:{spec.version}"
    if not engine.image_exists(ref):
        raise DeliveryError(
            f"image {ref} is not in the local {engine.name} store: deploy it again from its "
            "commit (the emulator's ECR holds only its manifest)"
        )
    _, _, digest = engine.manifest(ref)
    if digest != spec.digest:
        raise DeliveryError(
            f"local image {ref} has digest {digest}, but the task definition names {spec.digest}"
        )
    return ref


def container_name(project_code: str, port: int) -> str:
    """The name of ``project_code``'s service container published on ``port``.

    It carries the project's name and the host port, so two projects' services never clash.
    """
    return f"{container_prefix(project_code)}-{port}"


def start_container(
    engine: ContainerEngine,
    spec: ServiceSpec,
    ref: str,
    port: int,
    *,
    project: Path,
    project_code: str,
    secrets: Mapping[str, str] | None = None,
) -> LocalService:
    """Run ``ref`` as the task definition says, with nothing Fargate would not give it.

    Its environment plus ``secrets`` (resolved values, passed like the environment: never on a
    command line), user, read-only root, dropped capabilities, and its volumes as Fargate makes
    them (taskvolumes: host folders under ``project``/.local/volumes/, gone when it stops).
    """
    name = container_name(project_code, port)
    root = taskvolumes.volumes_root(project, name)
    binds = taskvolumes.prepare(engine, ref, spec.volumes, spec.mounts, root)
    try:
        container = engine.run(
            ref,
            env={**spec.environment, **(secrets or {})},
            publish={port: spec.container_port},
            name=name,
            user=spec.user,
            read_only=spec.read_only,
            binds=binds,
            cap_drop_all=spec.drop_all,
        )
    except BaseException:
        taskvolumes.remove(root, engine)
        raise
    started = LocalService(
        "container", container, port, spec.version, ref, engine=engine.name, volumes=str(root)
    )
    return _with_logs(started, spec)


def start_process(
    root: Path,
    spec: ServiceSpec,
    port: int,
    log: Path,
    *,
    outlive: bool = False,
    secrets: Mapping[str, str] | None = None,
) -> LocalService:
    """gunicorn from the container's entry point, on 127.0.0.1 only, in its own process group.

    Its environment is the task definition's plus ``secrets`` (resolved values), as ECS gives it.
    The working tree's code runs (not the image): said so by the caller. Its own group: stopped
    as one. It dies with this process unless it is to ``outlive`` it (a ``--keep`` command).
    """
    # The task definition's environment, on top of what Python needs to run; no AWS variables:
    # the app calls no AWS API, on ECS or here.
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    variables = {**base, **spec.environment, **(secrets or {}), "PYTHONPATH": str(root)}
    server = gunicorn.launch(
        port, log, variables, cwd=root, host=HOST, own_session=True, die_with_parent=not outlive
    )
    started = LocalService("process", str(server.pid), port, spec.version, str(root), log=str(log))
    return _with_logs(started, spec)


def container_engine(name: str | None) -> ContainerEngine:
    """The engine ``name`` (None: detected), imported on use: the process mode needs none."""
    from delivery.engines.detect import detect_engine  # noqa: PLC0415 - engine layer on use only

    return detect_engine(name)


def service_output(service: LocalService) -> tuple[str, str]:
    """The service's output so far: a container's stdout and stderr, apart; a process's log
    file (both streams, as written) and ""."""
    if service.mode == "container":
        result = container_engine(service.engine).command("logs", service.id)
        return result.stdout, result.stderr
    with contextlib.suppress(OSError):
        return Path(service.log).read_text(errors="replace"), ""
    return "", ""


def service_logs(service: LocalService) -> str:
    """The service's output so far."""
    if service.mode == "container":
        return container_engine(service.engine).logs(service.id)
    return service_output(service)[0]


def last_line(text: str, width: int = 300) -> str:
    """The last non-empty line of a service's output, cut to ``width`` characters."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else "no output"
    return line if len(line) <= width else line[: width - 3] + "..."


def service_running(service: LocalService) -> bool:
    """Whether the service's container or process is still up."""
    if service.mode == "container":
        state = container_engine(service.engine).command(
            "inspect", "--format", "{{.State.Running}}", service.id
        )
        return state.ok and state.stdout.strip() == "true"
    return alive(int(service.id))


def _get(url: str) -> tuple[int, bytes]:
    return loopback.get(url, timeout_s=2)


def wait_ready(service: LocalService, timeout_s: float = READY_TIMEOUT_S) -> float:
    """Seconds until ``GET /health/ready`` answers 200; one line with the last log line if not."""
    try:
        return gunicorn.wait_ready(
            service.url + gunicorn.READY_PATH,
            timeout_s,
            running=lambda: service_running(service),
            check_every_s=1.0,  # is it still running? an engine call: not on every poll
            interval_s=0.1,
        )
    except gunicorn.NotReadyError as exc:
        last = last_line(service_logs(service))
        if exc.exited:
            raise DeliveryError(f"service exited before it was ready: {last}") from exc
        raise DeliveryError(f"service not ready within {timeout_s:g} s: {last}") from exc


def live_version(service: LocalService) -> str | None:
    """What ``GET /version`` reports now (None when the service does not answer)."""
    return version_at(service.url)


def version_at(url: str) -> str | None:
    """What ``GET <url>/version`` reports now (None when nothing answers it)."""
    status, body = _get(url + VERSION_PATH)
    if status != 200:
        return None
    try:
        return str(json.loads(body)["version"])
    except (ValueError, KeyError, TypeError):
        return None


def stop_service(service: LocalService) -> None:
    """Stop it at once: nothing is in flight at a local tear-down, so no drain is waited out.

    A container is killed and removed, and its volume folders with it. gunicorn gets its quick
    stop (``gunicorn.quit_master``: a pid reused since it was recorded is left alone). The
    collector stand-in, if any, goes after it.
    """
    if service.mode == "container":
        engine = container_engine(service.engine)
        engine.discard(service.id)
        if service.volumes:
            taskvolumes.remove(Path(service.volumes), engine)
    else:
        gunicorn.quit_master(int(service.id), STOP_TIMEOUT_S)
    if service.collector_pid:  # after the app: what it exported last is still taken
        stop_collector(service.collector_pid)
