"""The emulator's executor of one-off tasks (delivery/oneoff.py): this machine runs the command.

RunTask went to the emulator, which records the task (and checks its cluster and task
definition) but runs nothing. Here the command runs as the local service runs: in a container
made from the same task definition (user, read-only root, dropped capabilities, task volumes as
Fargate makes them, environment and secrets; delivery/local/runner.py) when the service runs as a
container, else as a process with the task definition's environment. Its output goes into the
emulator's log stream named as on AWS (delivery/local/log_shipping.py), and when it ends the
emulator's task is stopped (StopTask) with the reason ECS gives an exited essential container; the
exit code it observed is the container's. The waiting, log following and exit code are then
delivery/oneoff.py's, the same code as on AWS.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from delivery import ecs, taskvolumes
from delivery import project as project_name
from delivery.errors import DeliveryError
from delivery.local import log_shipping
from delivery.local.runner import container_engine, container_prefix, local_image
from delivery.local.task_definition import ServiceSpec

if TYPE_CHECKING:
    from delivery.engines.base import ContainerEngine
    from delivery.oneoff import Started

# What ECS reports when a task's essential container exits (DescribeTasks stoppedReason).
EXITED = "Essential container in task exited"
SHIP_EVERY_S = 0.2
READ_BYTES = 65536


@dataclass
class LocalExecutor:
    """Runs a one-off task's command here: a container (``engine``) or a process (None)."""

    spec: ServiceSpec
    project: Path
    engine: ContainerEngine | None = None
    # The project's name (``Environment.project_code``): its containers' names start with it.
    project_code: str = project_name.NAME
    secrets: Mapping[str, str] = field(default_factory=dict)
    code: int | None = field(default=None, init=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _container: str = field(default="", init=False, repr=False)
    _stopping: bool = field(default=False, init=False, repr=False)

    def start(self, task: Started) -> None:
        """Run the command in a thread of its own; returns at once."""
        self._thread = threading.Thread(target=self._run, args=(task,), daemon=True)
        self._thread.start()

    def exit_code(self, container: Mapping[str, Any]) -> int | None:
        """The exit code observed here (the emulator reports none of its own)."""
        if self._thread is not None:
            self._thread.join(timeout=5)
        return self.code

    def stop(self) -> None:
        """Kill the command (its process group, or its container) at once."""
        self._stopping = True
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
        if self._container and self.engine is not None:
            self.engine.discard(self._container)
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- the thread

    def _run(self, task: Started) -> None:
        reason = EXITED
        try:
            if self.engine is not None:
                self.code = self._in_container(task, self.engine)
            else:
                self.code = self._as_process(task)
        except (DeliveryError, OSError) as exc:
            self.code = None
            reason = f"the local runner failed: {exc}"
        finally:
            if not self._stopping:
                with contextlib.suppress(Exception):
                    ecs.client(task.region).stop_task(
                        cluster=task.cluster, task=task.arn, reason=reason
                    )

    def _ship(self, task: Started, lines: list[str]) -> None:
        if task.log_group and lines:
            log_shipping.ship(
                lines, group=task.log_group, stream=task.log_stream, region=task.region
            )

    def _as_process(self, task: Started) -> int:
        # The task definition's environment on top of what a process needs here; no AWS_*
        # variables (the app's task role has no permissions), as the local service.
        base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        variables = {
            **base,
            **self.spec.environment,
            **self.secrets,
            "PYTHONPATH": str(self.project),
        }
        process = subprocess.Popen(  # noqa: S603 - the operator's own command, no shell
            list(task.command),
            env=variables,
            cwd=self.project,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stopped as one
        )
        self._process = process
        with process:
            if process.stdout is not None:  # a pipe: stdout=PIPE above
                self._ship_as_it_comes(task, process.stdout.fileno())
            return process.wait()

    def _ship_as_it_comes(self, task: Started, fd: int) -> None:
        """Ship the lines read from ``fd`` until its end, at most SHIP_EVERY_S after each.

        Read unbuffered: a line must not wait in a reader's buffer for the next one (a script
        that prints "starting" and then works for minutes shows "starting" at once, as on ECS).
        """
        pending: list[str] = []
        partial = b""
        shipped_at = time.monotonic()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                ready = selector.select(timeout=SHIP_EVERY_S)
                if ready:
                    chunk = os.read(fd, READ_BYTES)
                    if not chunk:
                        break
                    *lines, partial = (partial + chunk).split(b"\n")
                    pending += [line.decode(errors="replace") for line in lines]
                quiet = not ready or time.monotonic() - shipped_at >= SHIP_EVERY_S
                if pending and quiet:
                    self._ship(task, pending)
                    pending, shipped_at = [], time.monotonic()
        if partial:
            pending.append(partial.decode(errors="replace"))
        self._ship(task, pending)

    def _in_container(self, task: Started, engine: ContainerEngine) -> int:
        ref = local_image(engine, self.spec)
        name = f"{container_prefix(self.project_code)}-run-{task.id[:12]}"
        root = taskvolumes.volumes_root(self.project, name)
        binds = taskvolumes.prepare(engine, ref, self.spec.volumes, self.spec.mounts, root)
        try:
            self._container = engine.run(
                ref,
                env={**self.spec.environment, **self.secrets},
                name=name,
                user=self.spec.user,
                read_only=self.spec.read_only,
                binds=binds,
                cap_drop_all=self.spec.drop_all,
                command=task.command,
            )
            code = engine.wait(self._container)
            self._ship(task, engine.logs(self._container).splitlines())
            return code
        finally:
            if self._container:
                engine.discard(self._container)
            taskvolumes.remove(root, engine)


def executor(
    spec: ServiceSpec, project: Path, mode: str, engine_name: str | None, project_code: str
) -> LocalExecutor:
    """The executor for ``project_code``'s local service run in ``mode`` (``container`` or
    ``process``)."""
    from delivery import tasksecrets  # noqa: PLC0415 - Secrets Manager only where it is read

    secrets = tasksecrets.resolve(spec.secrets)
    engine = container_engine(engine_name) if mode == "container" else None
    return LocalExecutor(
        spec=spec, project=project, engine=engine, secrets=secrets, project_code=project_code
    )
