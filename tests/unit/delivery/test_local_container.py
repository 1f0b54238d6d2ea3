"""The local service's container, run exactly as the task definition says Fargate runs it.

On the fake runner: the exact ``run`` command line (user, read-only root with no tmpfs, dropped
capabilities, environment and secrets by name only, the task volumes as host folders) and the
folders' life: made before the container starts, gone when it stops or fails to start.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from delivery.engines.base import ContainerEngine
from delivery.environments import load
from delivery.errors import DeliveryError
from delivery.local import runner as local_runner
from delivery.local.record import read_record, state_path
from delivery.local.runner import LocalService, start_container, stop_service
from delivery.local.task_definition import AwsLogs, ServiceSpec
from delivery.taskvolumes import MountPoint
from tests.support.fake_engine import FakeRunner, engine
from tests.support.project import make_project
from tests.support.rootfs import rootfs_tar

SPEC = ServiceSpec(
    image="1.dkr.ecr.eu-north-1.amazonaws.com/flask-fargate@sha256:" + "a" * 64,
    version="1.0.0",
    environment={"APP_VERSION": "1.0.0", "LOG_LEVEL": "DEBUG"},
    container_port=8000,
    user="10001:10001",
    read_only=True,
    drop_all=True,
    source="task definition flask-fargate-local-service:1",
    volumes=("tmp",),
    mounts=(MountPoint("tmp", "/tmp"),),
    secrets={"SECRET_KEY": "arn:aws:secretsmanager:eu-north-1:1:secret:app-AbCdEf"},
)
PROJECT_CODE = "flask-fargate"
NAME = f"{PROJECT_CODE}-local-18080"


def podman_with_tmp_volume(runner: FakeRunner) -> ContainerEngine:
    """A podman whose image declares VOLUME /tmp (a 1777 /tmp, as the Dockerfile's)."""
    runner.on("podman", "inspect", stdout=json.dumps([{"Config": {"Volumes": {"/tmp": {}}}}]))
    runner.on("podman", "create", stdout="reader\n")
    runner.on("podman", "export")
    runner.on("podman", "rm", "--force", "reader")

    def export(argv: Sequence[str]) -> None:
        if tuple(argv[:2]) == ("podman", "export"):
            rootfs_tar(Path(argv[argv.index("--output") + 1]), [("tmp", 0o1777, 0, None, "")])

    runner.effects.append(export)
    return engine("podman", runner)


def test_the_container_runs_as_the_task_definition_says_and_nothing_more(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on("podman", "run", stdout="c0ffee\n")
    podman = podman_with_tmp_volume(runner)
    service = start_container(
        podman, SPEC, "flask-fargate:1.0.0", 18080,
        project=tmp_path, project_code=PROJECT_CODE, secrets={"SECRET_KEY": "s3cret"},
    )  # fmt: skip
    volumes = tmp_path / ".local" / "volumes" / NAME
    run = next(call for call in runner.calls if call.argv[1] == "run")
    assert list(run.argv) == [
        "podman", "run", "--detach", "--name", NAME,
        "--read-only", "--read-only-tmpfs=false",
        "--mount", f"type=bind,source={volumes / 'tmp'},target=/tmp",
        "--cap-drop=ALL", "--security-opt", "no-new-privileges", "--user", "10001:10001",
        "--publish", "127.0.0.1:18080:8000",
        "--env", "APP_VERSION", "--env", "LOG_LEVEL", "--env", "SECRET_KEY",
        "flask-fargate:1.0.0",
    ]  # fmt: skip
    # Values reach podman through its environment only.
    assert "s3cret" not in " ".join(run.argv)
    assert run.env["SECRET_KEY"] == "s3cret"  # noqa: S105 - a test value
    assert run.env["LOG_LEVEL"] == "DEBUG"
    # /tmp is the image's /tmp (VOLUME), as Fargate copies it: world-writable and sticky.
    assert stat.S_IMODE((volumes / "tmp").stat().st_mode) == 0o1777
    # No awslogs options in SPEC: a task id (an ECS task id's shape), no log stream.
    assert re.fullmatch(r"[0-9a-f]{32}", service.task_id)
    assert service == LocalService(
        "container", "c0ffee", 18080, "1.0.0", "flask-fargate:1.0.0", "podman",
        volumes=str(volumes), task_id=service.task_id,
    )  # fmt: skip


def test_the_container_s_output_goes_to_the_stream_its_awslogs_options_name(
    tmp_path: Path,
) -> None:
    runner = FakeRunner()
    runner.on("podman", "run", stdout="c0ffee\n")
    podman = podman_with_tmp_volume(runner)
    logs = AwsLogs(
        group="svc-LogGroup-1", region="eu-north-1", stream_prefix="app", container="app"
    )
    first = start_container(
        podman,
        replace(SPEC, awslogs=logs),
        "flask-fargate:1.0.0",
        18080,
        project=tmp_path,
        project_code=PROJECT_CODE,
    )
    assert (first.log_group, first.log_region) == ("svc-LogGroup-1", "eu-north-1")
    assert first.log_stream == f"app/app/{first.task_id}"
    assert (first.shipped, first.shipped_stderr) == (0, 0)
    # Every start is a new task: a new id, a new stream.
    second = start_container(
        podman,
        replace(SPEC, awslogs=logs),
        "flask-fargate:1.0.0",
        18081,
        project=tmp_path,
        project_code=PROJECT_CODE,
    )
    assert second.task_id != first.task_id


def test_stopping_the_container_removes_its_volume_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = FakeRunner()
    runner.on("podman", "run", stdout="c0ffee\n")
    runner.on("podman", "rm", "--force", "--time", "0", "c0ffee")
    podman = podman_with_tmp_volume(runner)
    monkeypatch.setattr(local_runner, "container_engine", lambda name: podman)
    service = start_container(
        podman, SPEC, "flask-fargate:1.0.0", 18080, project=tmp_path, project_code=PROJECT_CODE
    )
    assert Path(service.volumes).is_dir()
    stop_service(service)
    assert runner.argvs()[-1] == ("podman", "rm", "--force", "--time", "0", "c0ffee")
    assert not Path(service.volumes).exists()
    assert (tmp_path / ".local" / "volumes").is_dir()  # other containers' folders stay


def test_a_container_that_fails_to_start_leaves_no_volume_folder(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on("podman", "run", returncode=125, stderr="Error: name is already in use\n")
    podman = podman_with_tmp_volume(runner)
    with pytest.raises(DeliveryError, match="name is already in use"):
        start_container(
            podman, SPEC, "flask-fargate:1.0.0", 18080, project=tmp_path, project_code=PROJECT_CODE
        )
    assert not (tmp_path / ".local" / "volumes" / NAME).exists()


def test_a_record_written_before_volumes_were_recorded_still_reads(tmp_path: Path) -> None:
    env = load("local", make_project(tmp_path))
    state_path(env).parent.mkdir(parents=True, exist_ok=True)
    state_path(env).write_text(
        json.dumps(
            {
                "endpoint": "http://127.0.0.1:5000",
                "region": "eu-north-1",
                "pid": 1,
                "service": {"mode": "container", "id": "c", "port": 1, "version": "1",
                            "image": "i", "engine": "podman", "log": ""},
            }
        )
    )  # fmt: skip
    record = read_record(env)
    assert record is not None
    assert record.service is not None
    assert record.service.volumes == ""
