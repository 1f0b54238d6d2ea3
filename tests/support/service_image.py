"""The service image under test: its build identity, and containers run as Fargate runs them.

Containers run as the local environment's task definition says Fargate runs them (rendered from
the service stack, offline): its user, read-only root, dropped capabilities, and its volumes as
Fargate provides them (delivery/taskvolumes.py), nothing more: no tmpfs. The environment is the
tests' own (short drain timings).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from delivery import render, taskvolumes
from delivery.emulator import HOST, free_port
from delivery.engines.base import ContainerEngine
from delivery.image_build import ImageBuild
from delivery.local import gunicorn
from delivery.local.task_definition import ServiceSpec, spec_from_template
from delivery.reproducible import iso_utc

IMAGE_NAME = "flask-fargate-e2e"
VERSION = "0.0.0-e2e"
GIT_SHA = "e2e0000000000000000000000000000000000000"  # no such commit: its time is given
SOURCE_DATE_EPOCH = 1767323045
BUILD_TIME = iso_utc(SOURCE_DATE_EPOCH)  # 2026-01-02T03:04:05Z
# Short on purpose: the stop test waits DRAIN_SECONDS + GRACEFUL_TIMEOUT_SECONDS at most.
DRAIN_SECONDS = 1
GRACEFUL_TIMEOUT_SECONDS = 3
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class BuiltImage:
    """The image under test and what its build measured."""

    build: ImageBuild
    ref: str


def task_definition() -> ServiceSpec:
    """The local environment's task definition, as its service stack renders (no AWS)."""
    (stack,) = [
        s for s in render.stack_configs(render.CONFIG_DIR, ["local"]) if s.name == "service"
    ]
    return spec_from_template(
        json.loads(render.render_stack(stack)),
        {"ImageUri": f"{IMAGE_NAME}@sha256:{'0' * 64}", "AppVersion": VERSION},
        source=f"{stack.environment}/{stack.path.name}",
        with_collector=False,  # the image's tests run the app container alone
    )


@dataclass(frozen=True)
class Running:
    """A container of the service image, published on 127.0.0.1:port."""

    id: str
    port: int

    @property
    def url(self) -> str:
        """The service's base URL on this machine."""
        return f"http://{HOST}:{self.port}"


def start_service(engine: ContainerEngine, ref: str, volumes: Path) -> Running:
    """Run the image as the task definition says Fargate runs it, its volumes under ``volumes``.

    Non-root, read-only root, every capability dropped, and /tmp the task's volume: an empty
    root-owned 0755 folder, or the image's own /tmp when the image declares ``VOLUME /tmp``.
    """
    task = task_definition()
    port = free_port()
    binds = taskvolumes.prepare(engine, ref, task.volumes, task.mounts, volumes)
    container = engine.run(
        ref,
        env={
            # The task definition's: the deploy names the version (the image is its commit).
            "APP_VERSION": VERSION,
            "DRAIN_SECONDS": str(DRAIN_SECONDS),
            "GRACEFUL_TIMEOUT_SECONDS": str(GRACEFUL_TIMEOUT_SECONDS),
            "WEB_CONCURRENCY": "2",
        },
        publish={port: task.container_port},
        user=task.user,
        read_only=task.read_only,
        binds=binds,
        cap_drop_all=task.drop_all,
    )
    running = Running(container, port)
    try:
        wait_ready(engine, running)
    except BaseException:
        engine.remove(container)
        raise
    return running


def wait_ready(engine: ContainerEngine, running: Running) -> None:
    """Poll /health/ready until 200; fail with the container's logs when it never comes."""
    try:
        gunicorn.wait_ready(running.url + gunicorn.READY_PATH, READY_TIMEOUT_S, interval_s=0.2)
    except gunicorn.NotReadyError:
        logs = engine.logs(running.id)[-3000:]
        pytest.fail(f"service not ready in {READY_TIMEOUT_S:.0f} s:\n{logs}")
