"""``smoke``: the image about to be pushed, run as an environment's task definition runs it.

The pipeline's Build stage runs this between the build and the push, once per environment the
pipeline deploys to, so an image that cannot start on Fargate never reaches the registry. The task
definition is read from the environment's service template (rendered offline, as a deploy would
render it), and the container gets what Fargate gives it and nothing more: the template's
environment, user, read-only root, dropped capabilities and task volumes (``taskvolumes``: an
empty root-owned directory unless the image declares the path a VOLUME). Then, in order:

1. ``GET /health/ready`` answers 200 within the container health check's start period plus its
   retries (what ECS allows before it replaces the task);
2. ``GET /version`` reports the version the image was built as;
3. the task definition's own container health check command exits 0 inside the container;
4. the stop ECS makes (SIGTERM, SIGKILL after ``stopTimeout``) ends it with exit code 0.

Secrets come from Secrets Manager on ECS: here each gets a throw-away random value, and the
result says so.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from delivery import environments, platforms, running, taskvolumes, versioning
from delivery.deploy_plan import SERVICE_STACK, task_platform
from delivery.emulator import HOST, free_port
from delivery.errors import DeliveryError
from delivery.images import IMAGE_NAME
from delivery.local import gunicorn
from delivery.local.runner import VERSION_PATH, version_at
from delivery.local.task_definition import ServiceSpec, spec_from_template
from delivery.process import last_line, stop_commands_on_interrupt

if TYPE_CHECKING:
    from delivery.engines.base import ContainerEngine

log = logging.getLogger(__name__)
POLL_S = 0.2
# A quoted log line ends a one-line error: a JSON log line can run to kilobytes.
LINE_WIDTH = 300
# ECS's defaults when the task definition's health check leaves them out.
DEFAULT_START_PERIOD_S = 0
DEFAULT_INTERVAL_S = 30
DEFAULT_RETRIES = 3
DEFAULT_STOP_TIMEOUT_S = 30


@dataclass(frozen=True)
class TaskContainer:
    """The app container of an environment's task definition, as the smoke test runs it."""

    spec: ServiceSpec
    health_check: tuple[str, ...]  # the command after "CMD" ("CMD-SHELL" becomes sh -c)
    ready_within_s: float
    stop_timeout_s: int


@dataclass(frozen=True)
class SmokeResult:
    """What the smoke test saw, for the progress lines."""

    env: str
    image: str
    version: str
    ready_s: float
    exit_code: int
    stop_s: float
    notes: tuple[str, ...] = field(default_factory=tuple)


def _service_template(env: environments.Environment) -> dict[str, Any]:
    from delivery import render  # noqa: PLC0415 - it needs the stacks group

    path = env.config_dir / f"{SERVICE_STACK}.yaml"
    if not path.is_file():
        raise DeliveryError(f"environment '{env.name}' has no service stack ({path})")
    try:
        body = render.render_stack(render.read_stack_config(path, env.name))
    except Exception as exc:  # SettingsError and the handlers' own: one line for users
        raise DeliveryError(f"settings of environment '{env.name}' are invalid: {exc}") from exc
    template: dict[str, Any] = json.loads(body)
    return template


def _container_definition(template: Mapping[str, Any]) -> dict[str, Any]:
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::ECS::TaskDefinition":
            for container in resource.get("Properties", {}).get("ContainerDefinitions", []):
                if container.get("PortMappings"):
                    return dict(container)
    raise DeliveryError("the service template declares no task definition with a port")


def _health_check(container: Mapping[str, Any]) -> tuple[tuple[str, ...], float]:
    """(command, seconds ECS gives the container to become healthy)."""
    check = container.get("HealthCheck") or {}
    command = [str(part) for part in check.get("Command", [])]
    if command[:1] == ["CMD-SHELL"]:
        command = ["sh", "-c", " ".join(command[1:])]
    elif command[:1] == ["CMD"]:
        command = command[1:]
    start = int(check.get("StartPeriod", DEFAULT_START_PERIOD_S))
    interval = int(check.get("Interval", DEFAULT_INTERVAL_S))
    retries = int(check.get("Retries", DEFAULT_RETRIES))
    return tuple(command), float(start + interval * retries)


def task_container(env: environments.Environment, image: str, version: str) -> TaskContainer:
    """The app container ``env``'s task definition declares, running ``image`` as ``version``."""
    template = _service_template(env)
    parameters = {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }
    parameters |= running.Running(image_uri=image, version=version).parameters()
    spec = replace(
        # The app container alone, as ECS keeps serving when the non-essential collector fails.
        spec_from_template(
            template, parameters, source=f"{env.name}'s task definition", with_collector=False
        ),
        version=version,
    )
    container = _container_definition(template)
    command, ready_within = _health_check(container)
    stop = int(container.get("StopTimeout", DEFAULT_STOP_TIMEOUT_S))
    return TaskContainer(spec, command, ready_within, stop)


def _wait_ready(engine: ContainerEngine, container: str, url: str, within_s: float) -> float:
    def running() -> bool:
        return bool(engine.inspect(container).get("State", {}).get("Running", False))

    try:
        return gunicorn.wait_ready(
            url + gunicorn.READY_PATH, within_s, running=running, interval_s=POLL_S
        )
    except gunicorn.NotReadyError as exc:
        if exc.exited:
            code = engine.inspect(container).get("State", {}).get("ExitCode")
            raise DeliveryError(
                f"the container exited (code {code}) before it was ready: "
                f"{telling_line(engine.logs(container))}"
            ) from exc
        raise DeliveryError(
            f"not ready within {within_s:g} s (the health check's start period plus its "
            f"retries): {telling_line(engine.logs(container))}"
        ) from exc


# A Python exception's last line ("OSError: [Errno 30] ..."), and a JSON log line at ERROR.
_EXCEPTION = re.compile(r"^\w+(?:Error|Exception|Exit)\b.*")
_ERROR_LEVELS = ("ERROR", "CRITICAL")


def _expanded(logs: str) -> list[str]:
    """The output's lines, a JSON log line replaced by the lines of its string fields (the app
    logs JSON: a traceback is one field of one line)."""
    found: list[str] = []
    for line in logs.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            found.append(line)
            continue
        if not isinstance(record, dict):
            found.append(line)
            continue
        for value in record.values():
            if isinstance(value, str):
                found += value.splitlines()
    return found


def telling_line(logs: str) -> str:
    """What a container's output says went wrong: the last exception the app raised, else the
    last line logged at ERROR (gunicorn's "Worker failed to boot" comes after the app's own
    error, in whichever order the engine prints the two streams), else the last line."""
    exceptions = [line for line in _expanded(logs) if _EXCEPTION.match(line.strip())]
    if exceptions:
        return last_line(exceptions[-1], width=LINE_WIDTH)
    for line in reversed(logs.splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("level") in _ERROR_LEVELS:
            return last_line(str(record.get("message", line)), width=LINE_WIDTH)
    return last_line(logs, width=LINE_WIDTH)


def local_image(engine: ContainerEngine, root: Path) -> tuple[str, str]:
    """(ref, version) of the image a build of this checkout made; one line when there is none."""
    version = versioning.build_version(root)
    ref = f"{IMAGE_NAME}:{version}"
    if not engine.image_exists(ref):
        raise DeliveryError(f"image {ref} is not built: run `invoke build` first")
    return ref, version


def smoke(
    env_name: str,
    engine: ContainerEngine,
    *,
    root: Path = environments.PROJECT_ROOT,
) -> SmokeResult:
    """Run this checkout's image as ``env_name``'s task definition says; one line on failure."""
    env = environments.load(env_name, root)
    platform = task_platform(env)
    if platform != platforms.host_platform():
        raise DeliveryError(
            f"{env.name}'s tasks run {platform}, this machine is {platforms.host_platform()}: "
            "the image cannot be run here"
        )
    ref, version = local_image(engine, root)
    task = task_container(env, ref, version)
    notes: list[str] = []
    given = {name: secrets.token_urlsafe(32) for name in task.spec.secrets}
    if given:
        notes.append(
            f"secrets {', '.join(sorted(given))}: a throw-away value each (ECS reads them from "
            "Secrets Manager)"
        )
    port = free_port()
    name = f"{IMAGE_NAME}-smoke-{port}"
    volumes = taskvolumes.volumes_root(root, name)
    binds = taskvolumes.prepare(engine, ref, task.spec.volumes, task.spec.mounts, volumes)
    log.info(f"smoke: {ref} as {env.name}'s task definition runs it, on {HOST}:{port}")
    try:
        container = engine.run(
            ref,
            env={**task.spec.environment, **given},
            publish={port: task.spec.container_port},
            name=name,
            user=task.spec.user,
            read_only=task.spec.read_only,
            binds=binds,
            cap_drop_all=task.spec.drop_all,
        )
        try:
            ready, stopped = _exercise(engine, container, task, f"http://{HOST}:{port}")
        finally:
            engine.discard(container)
    finally:
        taskvolumes.remove(volumes, engine)
    return SmokeResult(env.name, ref, version, ready, 0, stopped, tuple(notes))


def _exercise(
    engine: ContainerEngine, container: str, task: TaskContainer, url: str
) -> tuple[float, float]:
    """Readiness, version, health check, stop: (seconds to ready, seconds to stop)."""
    ready = _wait_ready(engine, container, url, task.ready_within_s)
    live = version_at(url)
    if live != task.spec.version:
        raise DeliveryError(
            f"GET {VERSION_PATH} reports {live!r}, not the built {task.spec.version}"
        )
    if task.health_check:
        checked = engine.exec(container, task.health_check)
        if not checked.ok:
            reason = last_line(checked.stderr or checked.stdout, width=LINE_WIDTH)
            raise DeliveryError(
                f"the task definition's health check fails in the container (exit "
                f"{checked.returncode}): {reason}"
            )
    started = time.monotonic()
    code = engine.stop(container, timeout=task.stop_timeout_s)
    stopped = time.monotonic() - started
    if code != 0:
        raise DeliveryError(
            f"stopped as ECS stops it (SIGTERM, {task.stop_timeout_s} s), the container exited "
            f"{code}, not 0: {telling_line(engine.logs(container))}"
        )
    return ready, stopped


def smoke_all(
    names: Sequence[str],
    engine: ContainerEngine,
    *,
    root: Path = environments.PROJECT_ROOT,
) -> list[SmokeResult]:
    """``smoke`` for each environment, side by side (each waits out its own drain); in order.

    Every name is checked before any container starts; the first failure is the error.
    """
    if not names:
        raise DeliveryError("no environment given: pass --env (repeatable), e.g. --env dev")
    for name in names:
        environments.load(name, root)
    with (
        ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="smoke") as pool,
        stop_commands_on_interrupt(),  # on Ctrl-C, the engine commands the workers run
    ):
        running = [pool.submit(smoke, name, engine, root=root) for name in names]
        return [future.result() for future in running]
