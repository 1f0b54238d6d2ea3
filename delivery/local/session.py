"""One command's use of an emulator environment: which emulator, the deploy steps, what stays up.

``session()`` opens a ``Session`` (an emulator that is already there, or one it starts), points this
process's AWS variables at it, and on the way out keeps and records, or stops, what it started
(see the package docstring, delivery/local/__init__.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlparse

from delivery import (
    credentials,
    deploy,
    deploy_plan,
    environments,
    registry,
    tasksecrets,
    taskvolumes,
)
from delivery.emulator import HOST, Emulator, aws_env, environment, free_port, port_in_use
from delivery.environments import Environment
from delivery.errors import DeliveryError
from delivery.lifetime import sigterm_as_interrupt
from delivery.local.collector import config as collector_config
from delivery.local.collector import launch as collector_launch
from delivery.local.lifeline import Lifeline
from delivery.local.log_shipping import ship
from delivery.local.record import (
    Record,
    answers,
    clear_record,
    read_record,
    record_alive,
    stop_emulator,
    write_record,
)
from delivery.local.runner import (
    READY_TIMEOUT_S,
    VERSION_PATH,
    LocalService,
    container_engine,
    container_name,
    live_version,
    local_image,
    service_output,
    start_container,
    start_process,
    stop_service,
    wait_ready,
)
from delivery.local.task_definition import ServiceSpec, service_spec

if TYPE_CHECKING:
    from delivery.engines.base import ContainerEngine

log = logging.getLogger(__name__)
ServeMode = Literal["auto", "container", "process"]
SERVE_MODES: tuple[ServeMode, ...] = ("auto", "container", "process")
NOT_RUNNING = "no local emulator running: run `invoke deploy --env local --keep` first"
EMULATOR = "emulator"  # the lifeline's key of a kept emulator this session started


def _whole_lines(text: str) -> list[str]:
    """The lines of ``text`` that are finished (end in a newline)."""
    return text[: text.rfind("\n") + 1].splitlines()


def _key(port: int) -> str:
    """The lifeline's key of the service on ``port`` (known before a container starts)."""
    return f"service-{port}"


def _collector_key(port: int) -> str:
    """The lifeline's key of the collector stand-in of the service on ``port``."""
    return f"collector-{port}"


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
    endpoint: str = field(default="", init=False)
    # The level of the session's own lines: a command that only attaches to a running emulator
    # (status, diff, rollback, destroy) prints its own output, not the emulator's.
    _level: int = field(default=logging.INFO, init=False, repr=False)
    service: LocalService | None = field(default=None, init=False)
    _emulator: Emulator | None = field(default=None, init=False, repr=False)
    _record: Record | None = field(default=None, init=False, repr=False)
    _external: bool = field(default=False, init=False, repr=False)
    _started: list[LocalService] = field(default_factory=list, init=False, repr=False)
    _engine: ContainerEngine | None = field(default=None, init=False, repr=False)
    # What the kernel cannot stop with this process: the container, a kept process.
    _lifeline: Lifeline = field(default_factory=Lifeline, init=False, repr=False)

    # -- opening: which emulator

    def open(self, start: bool = True) -> dict[str, str]:
        """Pick (or, with ``start``, start) the emulator; the AWS variables that point at it."""
        check_serve(self.serve_mode)
        self._level = logging.INFO if start else logging.DEBUG
        ambient = os.environ.get("AWS_ENDPOINT_URL", "")
        if ambient:
            return self._use_ambient(ambient)
        record = read_record(self.env)
        if record is not None and record_alive(record):
            self._record, self.endpoint, self.service = record, record.endpoint, record.service
            if self.serve_mode == "auto" and record.service is not None:
                # A kept service restarts (rollback, secret set) the way it was kept.
                self.serve_mode = record.service.mode
            log.log(self._level, f"emulator: using the kept one at {record.endpoint}")
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
        if self.keep:  # detached, so it may outlive this command: but only a command that ends well
            self._lifeline.guard(EMULATOR, pid=emulator.pid)
        self.endpoint = emulator.endpoint
        log.log(self._level, f"emulator: starting moto on {emulator.endpoint} (pid {emulator.pid})")
        return emulator.env()

    def _use_ambient(self, endpoint: str) -> dict[str, str]:
        host = urlparse(endpoint).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise DeliveryError(
                f"environment '{self.env.name}' runs on the local emulator but AWS_ENDPOINT_URL "
                f"is {endpoint}: unset it (deploy starts its own emulator) or point it at one "
                "on 127.0.0.1"
            )
        if not answers(endpoint):
            raise DeliveryError(
                f"AWS_ENDPOINT_URL {endpoint} does not answer: start that emulator, or unset "
                "AWS_ENDPOINT_URL and run `invoke deploy --env local`"
            )
        self._external, self.endpoint = True, endpoint
        record = read_record(self.env)
        if record is not None and record.endpoint == endpoint:
            self._record, self.service = record, record.service
        log.log(self._level, f"emulator: using AWS_ENDPOINT_URL {endpoint} (not started here)")
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
            log.log(self._level, f"emulator: ready on {self._emulator.endpoint}")

    # -- closing: what stays up

    @property
    def kept(self) -> bool:
        """Whether things stay up after this command: asked for, or kept by an earlier one."""
        return self.keep or self._record is not None

    def close(self, ok: bool) -> None:
        """Keep and record, or stop what this session started. Never raises."""
        try:
            self._close(ok)
        finally:
            # Kept or stopped, all is released by now: the watcher (if any) exits with nothing
            # to do, unless a stop above failed, which it then retries.
            self._lifeline.close()

    def _close(self, ok: bool) -> None:
        if ok and self.kept:
            self._write()
            for service in self._started:
                self._lifeline.release(_key(service.port))
                self._lifeline.release(_collector_key(service.port))
            self._lifeline.release(EMULATOR)
            return
        for service in self._started:
            with contextlib.suppress(DeliveryError, OSError):
                stop_service(service)
                self._lifeline.release(_key(service.port))
                self._lifeline.release(_collector_key(service.port))
                log.log(self._level, f"local service: stopped {service.mode} {service.id[:12]}")
        if self.service in self._started:
            self.service = None
        if self._emulator is not None:
            self._emulator.stop()
            self._lifeline.release(EMULATOR)
            log.log(self._level, f"emulator: stopped ({self._emulator.endpoint})")
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

    # -- the service's output, into the emulator's CloudWatch Logs

    def ship_logs(self) -> None:
        """Ship what the local service wrote since the last time into its log stream. Never raises.

        Only whole lines (a line still being written waits for the next time); how far it got is
        kept with the service (``LocalService.shipped``), which the record holds between commands.
        A failure is said and left: the service's output is not worth failing a command for.
        """
        service = self.service
        if service is None or not service.log_stream:
            return
        try:
            stdout, stderr = service_output(service)
            out, err = _whole_lines(stdout), _whole_lines(stderr)
            new = out[service.shipped :] + err[service.shipped_stderr :]
            if new:
                ship(
                    new,
                    group=service.log_group,
                    stream=service.log_stream,
                    region=service.log_region,
                )
        except (DeliveryError, OSError) as exc:
            log.info(f"local service: its output was not shipped to {service.log_group}: {exc}")
            return
        self.service = replace(
            service,
            shipped=max(service.shipped, len(out)),
            shipped_stderr=max(service.shipped_stderr, len(err)),
        )
        if service in self._started:
            self._started[self._started.index(service)] = self.service
        if new:
            log.log(
                self._level,
                f"local service: {len(new)} line(s) of output shipped to {service.log_group} "
                f"{service.log_stream}",
            )

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
                found = container_engine(self.engine_name)
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

    def serve(self, plan: deploy_plan.Plan, outputs: dict[str, str]) -> None:
        """``after_launch``: the ECS read, then run the new version here and check it."""
        deploy.check_service(plan, outputs)
        spec = service_spec(plan.env, outputs)
        log.info(
            f"local service: {spec.version} from {spec.source} "
            f"(image {registry.split_uri(spec.image.rpartition('@')[0])[1]}@{spec.digest[:19]})"
        )
        engine = self.engine()
        ref = local_image(engine, spec) if engine is not None else None
        # Both ways of running get the secrets' values, as ECS gives them to the container; read
        # before the running service stops, so a secret that cannot be read leaves it running.
        secrets = tasksecrets.resolve(spec.secrets)
        port = self.service.port if self.service is not None else 0
        if self.service is not None:
            self.ship_logs()  # its last lines, before it goes
            log.info(f"local service: stopping {self.service.version} ({self.service.url})")
            stop_service(self.service)
            self._lifeline.release(_key(self.service.port))
            self._lifeline.release(_collector_key(self.service.port))
            self.service = None
        port = port if port and not port_in_use(port) else free_port()
        collector, spec = self._start_collector(plan.env, spec, port, in_container=ref is not None)
        if engine is not None and ref is not None:
            # Guarded by name before it starts: no moment when a dying command would leave it.
            name = container_name(plan.env.project_code, port)
            # engine.discard's command, for the watcher: kill and remove at once.
            quick = ("--time", "0") if engine.name == "podman" else ()
            self._lifeline.guard(
                _key(port),
                argv=[engine.executable, "rm", "--force", *quick, name],
                env=engine.env,
                paths=[taskvolumes.volumes_root(plan.env.root, name)],
            )
            try:
                service = start_container(
                    engine,
                    spec,
                    ref,
                    port,
                    project=plan.env.root,
                    project_code=plan.env.project_code,
                    secrets=secrets,
                )
            except DeliveryError:
                # The engine refused (a name in use, say): nothing of ours to remove then.
                self._lifeline.release(_key(port))
                raise
            mounted = ", ".join(f"{m.source_volume} at {m.container_path}" for m in spec.mounts)
            log.info(
                f"local service: {engine.name} container {service.id[:12]} of {ref} "
                f"(read-only: {spec.read_only}, user {spec.user or 'image default'}, "
                f"caps dropped: {spec.drop_all}, volumes: {mounted or 'none'}) on {service.url}"
            )
        else:
            log_path = plan.env.root / ".local" / f"service-{port}.log"
            service = start_process(
                plan.env.root, spec, port, log_path, outlive=self.kept, secrets=secrets
            )
            if self.kept:  # no parent-death signal: it may outlive this command if it ends well
                self._lifeline.guard(_key(service.port), pid=int(service.id), sig=signal.SIGQUIT)
            log.info(
                f"local service: gunicorn (pid {service.id}) on {service.url}, running the "
                f"working tree's code with the task definition's environment (no container "
                f"engine that can run one; the image itself is not run)"
            )
        if collector is not None:
            service = replace(service, collector_pid=collector[0], collector_log=collector[1])
        self._started.append(service)
        self.service = service
        seconds = wait_ready(service, self.ready_timeout_s)
        reported = live_version(service)
        if reported != spec.version:
            raise DeliveryError(
                f"service on {service.url} reports version {reported}, expected {spec.version}"
            )
        log.info(f"local service: ready in {seconds:.1f} s, {VERSION_PATH} reports {reported}")

    def _start_collector(
        self, env: Environment, spec: ServiceSpec, port: int, *, in_container: bool
    ) -> tuple[tuple[int, str] | None, ServiceSpec]:
        """The stand-in for the task's collector sidecar, if it has one, started before the app
        (as ECS starts a task's containers together, and the app does not wait for it); its pid
        and log, and the spec with the app's OTLP endpoint at the stand-in's receiver."""
        if spec.collector is None:
            return None, spec
        config = collector_config.parse(spec.collector.config)  # refused before anything runs
        ports = collector_launch.task_ports(config, spec.container_port, port)
        log_path = env.root / ".local" / f"collector-{port}.log"
        pid = collector_launch.start(
            spec.collector.config,
            config,
            ports,
            log_path,
            region=spec.collector.region or env.region,
            outlive=self.kept,
        )
        if self.kept:  # no parent-death signal: it may outlive this command if it ends well
            self._lifeline.guard(_collector_key(port), pid=pid)
        published = ", ".join(f"{c}->{HOST}:{h}" for c, h in sorted(ports.items()))
        reach = (
            "the app's spans cannot reach it from inside its container (the stand-in listens on "
            "this machine's loopback only)"
            if in_container
            else "the app's OTLP endpoint points at its receiver"
        )
        log.info(
            f"local collector: stand-in for ADOT ({spec.collector.image or 'no image'}) from the "
            f"task definition's {collector_config.SOURCE}, python -m {collector_launch.MODULE} "
            f"(pid {pid}), exporting to the emulator's X-Ray and CloudWatch Logs; ports "
            f"{published}; {reach}; log {log_path}"
        )
        if in_container:
            return (pid, str(log_path)), spec
        environment = collector_launch.app_environment(spec.environment, config, ports)
        return (pid, str(log_path)), replace(spec, environment=environment)


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
) -> Iterator[Session]:
    """A ``Session`` with this process's AWS environment pointed at its emulator.

    ``start=False`` (status, rollback, diff): only an emulator that is already there is used;
    none is a one-line error. Closing keeps or stops things (``Session.close``), also on errors,
    Ctrl-C and SIGTERM; what it started dies with this process even on SIGKILL (delivery/
    lifetime.py, delivery/local/lifeline.py).
    """
    current = Session(
        env,
        keep=keep,
        port=port,
        serve_mode=serve,  # type: ignore[arg-type]  # checked in open()
        engine_name=engine,
        ready_timeout_s=ready_timeout_s,
    )
    ok = False
    # SIGTERM (a CI runner cancelling the job) takes the path of Ctrl-C: close() runs.
    with sigterm_as_interrupt():
        try:
            variables = current.open(start=start)
            with environment(variables):
                yield current
                # Still pointed at the emulator: its log group, never one of the shell's account.
                current.ship_logs()
            ok = True
        finally:
            current.close(ok)


def stop(env: Environment) -> bool:
    """Stop what a ``--keep`` left running (service, then emulator); False when nothing was."""
    record = read_record(env)
    if record is None:
        return False
    if record.service is not None:
        with contextlib.suppress(DeliveryError):
            stop_service(record.service)
        log.info(f"local service: stopped ({record.service.url}, {record.service.version})")
    if record.pid is not None:
        stop_emulator(record)
        log.info(f"emulator: stopped ({record.endpoint}, pid {record.pid})")
    else:
        log.info(f"emulator: {record.endpoint} was not started here: left running")
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
    lines.append(f"  local service: {service.url} ({service.mode} {service.id[:12]}, {answer})")
    if service.collector_pid:
        state = "running" if collector_launch.collector_running(service.collector_pid) else "GONE"
        lines.append(
            f"  local collector: stand-in for ADOT, pid {service.collector_pid} ({state}), "
            f"log {service.collector_log}"
        )
    return lines


@contextlib.contextmanager
def attached(env_name: str | None, root: Path) -> Iterator[Session | None]:
    """On an emulator env, this process's AWS pointed at its running emulator (never started
    here: none is a one-line error); on any other env, nothing to do."""
    target = environments.load(env_name, root)
    if not target.emulator:
        yield None
        return
    with session(target, start=False) as current:
        # What the kept service wrote since the last command is in its log stream before this
        # command reads anything (``invoke logs --env local``).
        current.ship_logs()
        yield current
