"""The emulator's one-off task executor (delivery/local/oneoff_runner.py), container path.

On the fake runner: the command runs in a container made exactly as the local service's (user,
read-only root with no tmpfs, dropped capabilities, task volumes), with the command after the
image and no published port; its output is shipped to the stream named as awslogs names it, the
emulator's task is stopped with ECS's reason, and nothing is left behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from delivery import ecs as ecs_module
from delivery.local import log_shipping, oneoff_runner
from delivery.oneoff import Started
from tests.support.fake_engine import FakeRunner
from tests.unit.delivery.test_local_container import SPEC, podman_with_tmp_volume

TASK = Started(
    arn="arn:aws:ecs:eu-north-1:123456789012:task/c/0123456789abcdef0123456789abcdef",
    cluster="flask-fargate-local-service",
    region="eu-north-1",
    container="app",
    command=("python", "-m", "app.migrate"),
    log_group="flask-fargate-local-service-LogGroup-x",
    log_stream="app/app/0123456789abcdef0123456789abcdef",
)


class FakeEcs:
    """What the executor asks of the emulator's ECS: StopTask only."""

    def __init__(self) -> None:
        self.stopped: list[dict[str, Any]] = []

    def stop_task(self, **request: Any) -> dict[str, Any]:
        self.stopped.append(request)
        return {}


def test_the_command_runs_in_the_services_container_and_its_output_is_shipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner()
    runner.on("podman", "run", stdout="c0ffee\n")
    runner.on("podman", "wait", "c0ffee", stdout="3\n")
    runner.on("podman", "logs", "c0ffee", stdout="migrating\ndone\n")
    runner.on("podman", "rm", "--force", "--time", "0", "c0ffee")
    podman = podman_with_tmp_volume(runner)
    monkeypatch.setattr(oneoff_runner, "local_image", lambda engine, spec: "flask-fargate:1.0.0")
    shipped: list[tuple[list[str], str, str]] = []

    def ship(lines: Iterable[str], *, group: str, stream: str, region: str) -> int:
        shipped.append((list(lines), group, stream))
        return len(shipped[-1][0])

    monkeypatch.setattr(log_shipping, "ship", ship)
    ecs = FakeEcs()
    monkeypatch.setattr(ecs_module, "client", lambda region: ecs)

    executor = oneoff_runner.LocalExecutor(
        spec=SPEC, project=tmp_path, engine=podman, secrets={"SECRET_KEY": "s3cret"}
    )
    executor.start(TASK)
    assert executor.exit_code({}) == 3

    name = "flask-fargate-local-run-0123456789ab"
    volumes = tmp_path / ".local" / "volumes" / name
    run = next(call for call in runner.calls if call.argv[1] == "run")
    assert list(run.argv) == [
        "podman", "run", "--detach", "--name", name,
        "--read-only", "--read-only-tmpfs=false",
        "--mount", f"type=bind,source={volumes / 'tmp'},target=/tmp",
        "--cap-drop=ALL", "--security-opt", "no-new-privileges", "--user", "10001:10001",
        "--env", "APP_VERSION", "--env", "LOG_LEVEL", "--env", "SECRET_KEY",
        "flask-fargate:1.0.0", "python", "-m", "app.migrate",
    ]  # fmt: skip
    assert shipped == [(["migrating", "done"], TASK.log_group, TASK.log_stream)]
    assert ecs.stopped == [
        {"cluster": TASK.cluster, "task": TASK.arn, "reason": "Essential container in task exited"}
    ]
    assert runner.argvs()[-1] == ("podman", "rm", "--force", "--time", "0", "c0ffee")
    assert not volumes.exists()


def test_a_runner_failure_stops_the_task_with_its_reason_and_no_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner()
    runner.on("podman", "run", returncode=125, stderr="Error: no such image\n")
    podman = podman_with_tmp_volume(runner)
    monkeypatch.setattr(oneoff_runner, "local_image", lambda engine, spec: "flask-fargate:1.0.0")
    ecs = FakeEcs()
    monkeypatch.setattr(ecs_module, "client", lambda region: ecs)
    executor = oneoff_runner.LocalExecutor(spec=SPEC, project=tmp_path, engine=podman)
    executor.start(TASK)
    assert executor.exit_code({}) is None
    (stop,) = ecs.stopped
    assert stop["reason"].startswith("the local runner failed: podman: run flask-fargate:1.0.0")
