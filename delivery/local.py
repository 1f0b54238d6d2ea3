"""The ``local`` environment: the emulator's lifecycle across commands, and the service run locally.

A deploy to an emulator environment (``--env local``) runs inside a ``Session``:

- it uses an emulator that is already there, or starts its own. "Already there" is either
  ``AWS_ENDPOINT_URL`` pointing at a loopback endpoint (an emulator someone else runs, e.g. a test
  fixture; never started or stopped here) or the one recorded in ``.local/emulator.json`` by an
  earlier ``deploy --keep`` whose process still answers;
- clients reach the emulator only through the standard AWS variables (``emulator.environment``);
- after the stacks are up, the service itself runs on this machine, configured from what the
  emulator holds: the task definition the service stack registered (image, environment, secrets,
  port, user, read-only root, dropped capabilities, volumes). As a container where an engine can
  run one, run as Fargate runs it (delivery/taskvolumes.py: no writable path Fargate would not
  give), else under gunicorn from the same entry point. Then readiness, and ``/version`` must
  report the deployed version;
- at the end it stops what it started (service, emulator) unless ``keep``: then both stay up and
  are recorded, for ``status``/``rollback``/``diff`` and the AWS CLI. A failure always stops what
  this command started, so nothing is left running.

The emulator proves wiring and orchestration, not AWS semantics (docs/LOCAL.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from delivery import credentials, deploy, loopback, registry, tasksecrets, taskvolumes
from delivery.emulator import HOST, Emulator, aws_env, environment, free_port, port_in_use
from delivery.environments import Environment
from delivery.errors import DeliveryError
from delivery.taskvolumes import MountPoint

if TYPE_CHECKING:
    from delivery.engines.base import ContainerEngine

Progress = Callable[[str], None]
ServeMode = Literal["auto", "container", "process"]
SERVE_MODES: tuple[ServeMode, ...] = ("auto", "container", "process")
STATE_FILE = Path(".local") / "emulator.json"
NOT_RUNNING = "no local emulator running: run `invoke deploy --env local --keep` first"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
READY_PATH = "/health/ready"
VERSION_PATH = "/version"
# The container's name carries the host port, so two projects' services never clash.
CONTAINER_PREFIX = "flask-fargate-local"


def _quiet(_: str) -> None:
    """Default progress sink."""


# --- what runs locally ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSpec:
    """How the service stack says to run the app container: what the local run copies."""

    image: str  # <repository-uri>@sha256:<digest>
    version: str
    environment: dict[str, str]
    container_port: int
    user: str | None = None
    read_only: bool = True
    drop_all: bool = True
    source: str = ""  # where the spec was read, for the progress line
    volumes: tuple[str, ...] = ()  # the task definition's (bind mount) volumes, by name
    mounts: tuple[MountPoint, ...] = ()  # the container's mount points of those volumes
    secrets: dict[str, str] = field(default_factory=dict)  # name -> valueFrom ("": none)

    @property
    def digest(self) -> str:
        """The image digest the task definition names."""
        return self.image.rpartition("@")[2]


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

    @property
    def url(self) -> str:
        """Where the service answers."""
        return f"http://{HOST}:{self.port}"


@dataclass(frozen=True)
class Record:
    """``.local/emulator.json``: what a ``--keep`` left running."""

    endpoint: str
    region: str
    pid: int | None  # None: an emulator this project did not start (AWS_ENDPOINT_URL)
    log: str = ""
    service: LocalService | None = None


def state_path(env: Environment) -> Path:
    """``<project>/.local/emulator.json``."""
    return env.root / STATE_FILE


def read_record(env: Environment) -> Record | None:
    """The recorded emulator, or None (absent or unreadable: nothing trustworthy is recorded)."""
    path = state_path(env)
    try:
        data = json.loads(path.read_text())
        service = data.pop("service", None)
        return Record(**data, service=LocalService(**service) if service else None)
    except (OSError, ValueError, TypeError):
        return None


def write_record(env: Environment, record: Record) -> None:
    """Record what stays running (atomically: a reader never sees half a file)."""
    path = state_path(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(asdict(record), indent=2) + "\n")
    partial.replace(path)


def clear_record(env: Environment) -> None:
    """Forget the recorded emulator."""
    state_path(env).unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    """The process's command line where /proc has it ('' elsewhere: then names are not checked)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _answers(endpoint: str) -> bool:
    parsed = urlparse(endpoint)
    return bool(parsed.hostname and parsed.port and port_in_use(parsed.port, parsed.hostname))


def record_alive(record: Record) -> bool:
    """Whether the recorded emulator still runs and answers (a reused pid or port is not it)."""
    if record.pid is not None and not (
        _pid_alive(record.pid) and "moto" in (_cmdline(record.pid) or "moto")
    ):
        return False
    return _answers(record.endpoint)


def _terminate(pid: int, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not _pid_alive(pid) or _reaped(pid):
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)


def _reaped(pid: int) -> bool:
    """Reap ``pid`` if it is our exited child (else a zombie would look alive)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


# --- reading the service stack ----------------------------------------------------------------


def _stack(name: str, region: str) -> dict[str, Any]:
    try:
        cfn = boto3.client("cloudformation", region_name=region)
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(f"reading stack {name} failed: {exc}") from None
    return dict(stacks[0])


def _app_container(definitions: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The container that serves (has port mappings), else the first one."""
    serving = [d for d in definitions if d.get(key)]
    found = serving or definitions
    return found[0] if found else None


def _from_task_definition(arn: str, region: str) -> ServiceSpec | None:
    """The spec from the registered task definition; None when it has no container image.

    moto registers a complete revision when the stack is created, but the revision a stack
    *update* registers has empty container definitions (an emulator limit).
    """
    try:
        ecs = boto3.client("ecs", region_name=region)
        described = ecs.describe_task_definition(taskDefinition=arn)
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(f"reading task definition {arn} failed: {exc}") from None
    task = described["taskDefinition"]
    definitions = [dict(d) for d in task.get("containerDefinitions", [])]
    container = _app_container(definitions, "portMappings")
    if container is None or not container.get("image"):
        return None
    linux = container.get("linuxParameters") or {}
    ports = container.get("portMappings") or [{}]
    source = f"task definition {arn.rsplit('/', 1)[-1]}"
    return ServiceSpec(
        image=str(container["image"]),
        version="",
        environment={e["name"]: e.get("value", "") for e in container.get("environment", [])},
        container_port=int(ports[0].get("containerPort", 8000)),
        user=container.get("user"),
        read_only=bool(container.get("readonlyRootFilesystem", False)),
        drop_all="ALL" in (linux.get("capabilities") or {}).get("drop", []),
        source=source,
        volumes=_bind_volumes([dict(v) for v in task.get("volumes", [])], "name", source),
        mounts=tuple(
            MountPoint(
                str(m.get("sourceVolume", "")),
                str(m.get("containerPath", "")),
                bool(m.get("readOnly", False)),
            )
            for m in container.get("mountPoints", [])
        ),
        secrets={str(s["name"]): str(s.get("valueFrom", "")) for s in container.get("secrets", [])},
    )


def _bind_volumes(volumes: list[dict[str, Any]], name_key: str, source: str) -> tuple[str, ...]:
    """The names of ``volumes``; one line for a kind other than a bind mount.

    A volume with no configuration (or ``host`` without a source path) is what Fargate provides
    as a task-scoped bind mount; EFS and the rest cannot be made on this machine.
    """
    names = []
    for volume in volumes:
        name = str(volume.get(name_key, ""))
        kinds = sorted(key for key, value in volume.items() if key != name_key and value)
        if any(kind.lower() != "host" for kind in kinds):
            raise DeliveryError(
                f"{source}: volume {name} is {', '.join(kinds)}: the local run provides bind "
                "mount volumes only (no configuration, as Fargate's scratch volumes)"
            )
        names.append(name)
    return tuple(names)


def _resolve(value: Any, parameters: Mapping[str, str]) -> str | None:
    """A literal or a ``Ref`` to a parameter (or resource); anything else needs AWS to know."""
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        return parameters[value["Ref"]]
    return None


def _from_template(stack_name: str, parameters: Mapping[str, str], region: str) -> ServiceSpec:
    """The spec from the service stack's template as the emulator holds it, with its parameters.

    What CloudFormation registers for the stack; read here when moto's update left the new
    revision empty.
    """
    try:
        cfn = boto3.client("cloudformation", region_name=region)
        body = cfn.get_template(StackName=stack_name)["TemplateBody"]
        described = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(f"reading the template of {stack_name} failed: {exc}") from None
    # A Ref to a resource is its physical id: for a secret, the ARN valueFrom takes.
    resources = {
        str(r.get("LogicalResourceId", "")): str(r.get("PhysicalResourceId", "")) for r in described
    }
    template = body if isinstance(body, dict) else yaml.safe_load(body)
    return spec_from_template(
        template,
        parameters,
        source=f"stack {stack_name}'s template (moto left the updated revision empty)",
        resources=resources,
    )


def spec_from_template(
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    *,
    source: str,
    resources: Mapping[str, str] | None = None,
) -> ServiceSpec:
    """The spec a service template's task definition gives, with its parameters' values.

    ``resources`` maps logical ids to physical ids (a ``Ref`` to a resource is its physical id:
    for a secret, the ARN ``valueFrom`` takes); a secret whose value cannot be known is "".
    """
    tasks = [
        resource.get("Properties", {})
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == "AWS::ECS::TaskDefinition"
    ]
    task = tasks[0] if tasks else {}
    container = _app_container(task.get("ContainerDefinitions", []), "PortMappings")
    image = _resolve(container.get("Image"), parameters) if container else None
    if container is None or image is None:
        raise DeliveryError(f"{source} declares no task definition with an image")
    environment = {
        str(item["Name"]): resolved
        for item in container.get("Environment", [])
        if (resolved := _resolve(item.get("Value"), parameters)) is not None
    }
    linux = container.get("LinuxParameters") or {}
    ports = container.get("PortMappings") or [{}]
    return ServiceSpec(
        image=image,
        version="",
        environment=environment,
        container_port=int(ports[0].get("ContainerPort", 8000)),
        user=_resolve(container.get("User"), parameters) if container.get("User") else None,
        read_only=str(container.get("ReadonlyRootFilesystem", False)).lower() == "true",
        drop_all="ALL" in (linux.get("Capabilities") or {}).get("Drop", []),
        source=source,
        volumes=_bind_volumes(list(task.get("Volumes", [])), "Name", source),
        mounts=tuple(
            MountPoint(
                str(m.get("SourceVolume", "")),
                str(m.get("ContainerPath", "")),
                str(m.get("ReadOnly", False)).lower() == "true",
            )
            for m in container.get("MountPoints", [])
        ),
        secrets={
            str(s["Name"]): _resolve(s.get("ValueFrom"), {**(resources or {}), **parameters}) or ""
            for s in container.get("Secrets", [])
        },
    )


def service_spec(env: Environment, outputs: Mapping[str, str]) -> ServiceSpec:
    """What the emulator says the service runs, checked against the stack's parameters.

    The task definition must name the stack's ``ImageUri`` and set ``APP_VERSION`` to its
    ``AppVersion``: that is the wiring a deploy relies on.
    """
    name = env.stack_name(deploy.SERVICE_STACK)
    region = deploy.service_stack(env).region  # where Sceptre put it, not the shell's default
    stack = _stack(name, region)
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack["Parameters"]}
    image, version = parameters.get("ImageUri", ""), parameters.get("AppVersion", "")
    arn = outputs.get("TaskDefinitionArn", "")
    spec = (_from_task_definition(arn, region) if arn else None) or _from_template(
        name, parameters, region
    )
    if spec.image != image:
        raise DeliveryError(
            f"{spec.source} runs {spec.image}, but stack {name} has ImageUri {image}"
        )
    if spec.environment.get("APP_VERSION") != version:
        raise DeliveryError(
            f"{spec.source} sets APP_VERSION={spec.environment.get('APP_VERSION')}, but stack "
            f"{name} has AppVersion {version}"
        )
    return replace(spec, version=version)


# --- running the service ----------------------------------------------------------------------


def local_image(engine: ContainerEngine, spec: ServiceSpec) -> str:
    """The local image the task definition's digest names (built here; ECR holds its manifest)."""
    ref = f"{deploy.IMAGE_NAME}:{spec.version}"
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


def start_container(
    engine: ContainerEngine,
    spec: ServiceSpec,
    ref: str,
    port: int,
    *,
    project: Path,
    secrets: Mapping[str, str] | None = None,
) -> LocalService:
    """Run ``ref`` as the task definition says, with nothing Fargate would not give it.

    Its environment plus ``secrets`` (resolved values, passed like the environment: never on a
    command line), user, read-only root, dropped capabilities, and its volumes as Fargate makes
    them (taskvolumes: host folders under ``project``/.local/volumes/, gone when it stops).
    """
    name = f"{CONTAINER_PREFIX}-{port}"
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
    return LocalService(
        "container", container, port, spec.version, ref, engine=engine.name, volumes=str(root)
    )


def start_process(root: Path, spec: ServiceSpec, port: int, log: Path) -> LocalService:
    """gunicorn from the container's entry point, on 127.0.0.1 only, in its own process group.

    The working tree's code runs (not the image): said so by the caller. ``--bind`` on the
    command line overrides the config's ``0.0.0.0`` (gunicorn: command line beats config file).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    # The task definition's environment, on top of what Python needs to run; no AWS variables:
    # the app calls no AWS API, on ECS or here.
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    variables = {**base, **spec.environment, "PORT": str(port), "PYTHONPATH": str(root)}
    argv = [
        sys.executable, "-m", "gunicorn", "--config", "python:app.gunicorn_conf",
        "--bind", f"{HOST}:{port}", "app.wsgi:app",
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            argv,
            cwd=root,
            env=variables,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stopped as one, outlives a --keep command
        )
    return LocalService("process", str(process.pid), port, spec.version, str(root), log=str(log))


def _engine(name: str | None) -> ContainerEngine:
    from delivery.engines.detect import detect_engine  # noqa: PLC0415 - engine layer on use only

    return detect_engine(name)


def service_logs(service: LocalService) -> str:
    """The service's output so far."""
    if service.mode == "container":
        return _engine(service.engine).logs(service.id)
    with contextlib.suppress(OSError):
        return Path(service.log).read_text(errors="replace")
    return ""


def last_line(text: str, width: int = 300) -> str:
    """The last non-empty line of a service's output, cut to ``width`` characters."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else "no output"
    return line if len(line) <= width else line[: width - 3] + "..."


def service_running(service: LocalService) -> bool:
    """Whether the service's container or process is still up."""
    if service.mode == "container":
        state = _engine(service.engine).command(
            "inspect", "--format", "{{.State.Running}}", service.id
        )
        return state.ok and state.stdout.strip() == "true"
    pid = int(service.id)
    return _pid_alive(pid) and not _reaped(pid)


def _get(url: str) -> tuple[int, bytes]:
    return loopback.get(url, timeout_s=2)


def wait_ready(service: LocalService, timeout_s: float = READY_TIMEOUT_S) -> float:
    """Seconds until ``GET /health/ready`` answers 200; one line with the last log line if not."""
    started = time.monotonic()
    next_check = started + 1.0
    while True:
        status, _ = _get(service.url + READY_PATH)
        if status == 200:
            return time.monotonic() - started
        now = time.monotonic()
        if now >= next_check:  # is it still running? (an engine call: not every poll)
            next_check = now + 1.0
            if not service_running(service):
                last = last_line(service_logs(service))
                raise DeliveryError(f"service exited before it was ready: {last}")
        if now - started >= timeout_s:
            last = last_line(service_logs(service))
            raise DeliveryError(f"service not ready within {timeout_s:g} s: {last}")
        time.sleep(0.1)


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

    A container is killed and removed, and its volume folders with it. gunicorn gets SIGQUIT, its
    quick shutdown (SIGTERM would
    run the app's drain): workers stop at once and the master still removes its metrics folder;
    whatever of the group is left after ``STOP_TIMEOUT_S`` is killed.
    """
    if service.mode == "container":
        engine = _engine(service.engine)
        engine.discard(service.id)
        if service.volumes:
            taskvolumes.remove(Path(service.volumes), engine)
        return
    pid = int(service.id)
    # A recorded pid may have been reused by now: only a gunicorn is ours to stop.
    if not (_pid_alive(pid) and "gunicorn" in (_cmdline(pid) or "gunicorn")):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _pid_alive(pid) and not _reaped(pid):
            if time.monotonic() >= deadline:
                os.killpg(pid, signal.SIGKILL)
                break
            time.sleep(0.05)


def stop_emulator(record: Record) -> None:
    """Stop a recorded emulator this project started, and remove its log."""
    if (
        record.pid is not None
        and _pid_alive(record.pid)
        and "moto" in (_cmdline(record.pid) or "moto")
    ):
        _terminate(record.pid)
    if record.log:
        Path(record.log).unlink(missing_ok=True)


# --- the session ------------------------------------------------------------------------------


def check_serve(mode: str) -> None:
    """``--serve`` is one of SERVE_MODES; one line otherwise."""
    if mode not in SERVE_MODES:
        raise DeliveryError(f"unknown --serve '{mode}': choose one of {', '.join(SERVE_MODES)}")


@dataclass
class Session:
    """One command's use of an emulator environment (see the module docstring)."""

    env: Environment
    keep: bool = False
    port: int = 0
    serve_mode: ServeMode = "auto"
    engine_name: str | None = None
    ready_timeout_s: float = READY_TIMEOUT_S
    progress: Progress = _quiet
    endpoint: str = field(default="", init=False)
    service: LocalService | None = field(default=None, init=False)
    _emulator: Emulator | None = field(default=None, init=False, repr=False)
    _record: Record | None = field(default=None, init=False, repr=False)
    _external: bool = field(default=False, init=False, repr=False)
    _started: list[LocalService] = field(default_factory=list, init=False, repr=False)
    _engine: ContainerEngine | None = field(default=None, init=False, repr=False)

    # -- opening: which emulator

    def open(self, start: bool = True) -> dict[str, str]:
        """Pick (or, with ``start``, start) the emulator; the AWS variables that point at it."""
        check_serve(self.serve_mode)
        ambient = os.environ.get("AWS_ENDPOINT_URL", "")
        if ambient:
            return self._use_ambient(ambient)
        record = read_record(self.env)
        if record is not None and record_alive(record):
            self._record, self.endpoint, self.service = record, record.endpoint, record.service
            self.progress(f"emulator: using the kept one at {record.endpoint}")
            return aws_env(record.endpoint, record.region)
        if record is not None:  # recorded, but gone: clean up what may be left of it
            self._forget(record)
        if not start:
            raise DeliveryError(NOT_RUNNING)
        if self.port and port_in_use(self.port):
            raise DeliveryError(
                f"emulator port {self.port} on {HOST} is already in use: stop what listens "
                "there, or leave out --emulator-port to pick a free one"
            )
        emulator = Emulator(port=self.port, region=self.env.region, detach=self.keep)
        self._emulator = emulator.start(wait=False)  # moto imports while we validate
        self.endpoint = emulator.endpoint
        self.progress(f"emulator: starting moto on {emulator.endpoint} (pid {emulator.pid})")
        return emulator.env()

    def _use_ambient(self, endpoint: str) -> dict[str, str]:
        host = urlparse(endpoint).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise DeliveryError(
                f"environment '{self.env.name}' runs on the local emulator but AWS_ENDPOINT_URL "
                f"is {endpoint}: unset it (deploy starts its own emulator) or point it at one "
                "on 127.0.0.1"
            )
        if not _answers(endpoint):
            raise DeliveryError(
                f"AWS_ENDPOINT_URL {endpoint} does not answer: start that emulator, or unset "
                "AWS_ENDPOINT_URL and run `invoke deploy --env local`"
            )
        self._external, self.endpoint = True, endpoint
        record = read_record(self.env)
        if record is not None and record.endpoint == endpoint:
            self._record, self.service = record, record.service
        self.progress(f"emulator: using AWS_ENDPOINT_URL {endpoint} (not started here)")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return aws_env(endpoint, region or self.env.region)

    def _forget(self, record: Record) -> None:
        if record.service is not None:
            with contextlib.suppress(DeliveryError):
                stop_service(record.service)
        stop_emulator(record)
        clear_record(self.env)

    def ready(self) -> None:
        """Wait for an emulator this session started (no-op otherwise)."""
        if self._emulator is not None:
            self._emulator.wait_until_ready()
            self.progress(f"emulator: ready on {self._emulator.endpoint}")

    # -- closing: what stays up

    @property
    def kept(self) -> bool:
        """Whether things stay up after this command: asked for, or kept by an earlier one."""
        return self.keep or self._record is not None

    def close(self, ok: bool) -> None:
        """Keep and record, or stop what this session started. Never raises."""
        if ok and self.kept:
            self._write()
            return
        for service in self._started:
            with contextlib.suppress(DeliveryError, OSError):
                stop_service(service)
                self.progress(f"local service: stopped {service.mode} {service.id[:12]}")
        if self.service in self._started:
            self.service = None
        if self._emulator is not None:
            self._emulator.stop()
            self.progress(f"emulator: stopped ({self._emulator.endpoint})")
            clear_record(self.env)
        elif self._record is not None or (self._external and self.keep):
            self._write()  # a kept emulator stays; the record loses the service that stopped

    def _write(self) -> None:
        emulator = self._emulator
        if emulator is not None:
            pid, log = emulator.pid, str(emulator.log_path or "")
            region = emulator.region
        elif self._record is not None:
            pid, log, region = self._record.pid, self._record.log, self._record.region
        else:
            pid, log, region = None, "", os.environ.get("AWS_REGION") or self.env.region
        write_record(self.env, Record(self.endpoint, region, pid, log, self.service))

    # -- the deploy steps

    def steps(self, base: deploy.Steps | None = None) -> deploy.Steps:
        """Deploy steps for this session: wait for the emulator, then serve after the launch."""
        base = base or deploy.Steps()

        def check_credentials(env: Environment) -> str:
            self.ready()
            return credentials.check(env.region)

        return replace(base, check_credentials=check_credentials, after_launch=self.serve)

    def engine(self) -> ContainerEngine | None:
        """The engine that runs the service, or None for gunicorn (``serve_mode``)."""
        if self.serve_mode == "process":
            return None
        if self._engine is None:
            try:
                found = _engine(self.engine_name)
            except DeliveryError:
                if self.serve_mode == "container":
                    raise
                return None
            if not found.can_run:
                if self.serve_mode == "container":
                    raise DeliveryError(
                        f"{found.name} cannot run containers: install podman or docker, or "
                        "use --serve process"
                    )
                return None
            self._engine = found
        return self._engine

    def serve(self, plan: deploy.Plan, outputs: dict[str, str], progress: Progress) -> None:
        """``after_launch``: the ECS read, then run the new version here and check it."""
        deploy.check_service(plan, outputs, progress)
        spec = service_spec(plan.env, outputs)
        progress(
            f"local service: {spec.version} from {spec.source} "
            f"(image {registry.split_uri(spec.image.rpartition('@')[0])[1]}@{spec.digest[:19]})"
        )
        engine = self.engine()
        ref = local_image(engine, spec) if engine is not None else None
        port = self.service.port if self.service is not None else 0
        if self.service is not None:
            progress(f"local service: stopping {self.service.version} ({self.service.url})")
            stop_service(self.service)
            self.service = None
        port = port if port and not port_in_use(port) else free_port()
        if engine is not None and ref is not None:
            secrets, missing = tasksecrets.resolve(spec.secrets)
            if missing:
                progress(
                    f"local service: secret {', '.join(missing)} not set: the emulator created "
                    "no value for it (moto skips AWS::SecretsManager::Secret)"
                )
            service = start_container(
                engine, spec, ref, port, project=plan.env.root, secrets=secrets
            )
            mounted = ", ".join(f"{m.source_volume} at {m.container_path}" for m in spec.mounts)
            progress(
                f"local service: {engine.name} container {service.id[:12]} of {ref} "
                f"(read-only: {spec.read_only}, user {spec.user or 'image default'}, "
                f"caps dropped: {spec.drop_all}, volumes: {mounted or 'none'}) on {service.url}"
            )
        else:
            log = plan.env.root / ".local" / f"service-{port}.log"
            service = start_process(plan.env.root, spec, port, log)
            progress(
                f"local service: gunicorn (pid {service.id}) on {service.url}, running the "
                f"working tree's code with the task definition's environment (no container "
                f"engine that can run one; the image itself is not run)"
            )
        self._started.append(service)
        self.service = service
        seconds = wait_ready(service, self.ready_timeout_s)
        reported = live_version(service)
        if reported != spec.version:
            raise DeliveryError(
                f"service on {service.url} reports version {reported}, expected {spec.version}"
            )
        progress(f"local service: ready in {seconds:.1f} s, {VERSION_PATH} reports {reported}")


@contextlib.contextmanager
def session(
    env: Environment,
    *,
    keep: bool = False,
    port: int = 0,
    serve: str = "auto",
    engine: str | None = None,
    ready_timeout_s: float = READY_TIMEOUT_S,
    start: bool = True,
    progress: Progress = _quiet,
) -> Iterator[Session]:
    """A ``Session`` with this process's AWS environment pointed at its emulator.

    ``start=False`` (status, rollback, diff): only an emulator that is already there is used;
    none is a one-line error. Closing keeps or stops things (``Session.close``), also on errors
    and Ctrl-C.
    """
    current = Session(
        env,
        keep=keep,
        port=port,
        serve_mode=serve,  # type: ignore[arg-type]  # checked in open()
        engine_name=engine,
        ready_timeout_s=ready_timeout_s,
        progress=progress,
    )
    ok = False
    try:
        variables = current.open(start=start)
        with environment(variables):
            yield current
        ok = True
    finally:
        current.close(ok)


def stop(env: Environment, progress: Progress = _quiet) -> bool:
    """Stop what a ``--keep`` left running (service, then emulator); False when nothing was."""
    record = read_record(env)
    if record is None:
        return False
    if record.service is not None:
        with contextlib.suppress(DeliveryError):
            stop_service(record.service)
        progress(f"local service: stopped ({record.service.url}, {record.service.version})")
    if record.pid is not None:
        stop_emulator(record)
        progress(f"emulator: stopped ({record.endpoint}, pid {record.pid})")
    else:
        progress(f"emulator: {record.endpoint} was not started here: left running")
    clear_record(env)
    return True


def status_lines(current: Session) -> list[str]:
    """What runs on this machine for the session's env, for ``invoke status``."""
    record = current._record
    where = (
        "not started here"
        if current._external or record is None or record.pid is None
        else f"pid {record.pid}"
    )
    lines = [f"  emulator: {current.endpoint} ({where})"]
    service = current.service
    if service is None:
        return [*lines, "  local service: none running"]
    reported = live_version(service)
    answer = f"{VERSION_PATH} reports {reported}" if reported else "NOT answering"
    return [
        *lines,
        f"  local service: {service.url} ({service.mode} {service.id[:12]}, {answer})",
    ]
