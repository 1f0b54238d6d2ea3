"""``invoke exec`` (delivery/exec_session.py): off where the settings say so, the plugin's
command line as the AWS CLI builds it, ECS calls checked against the API model (Stubber)."""

from __future__ import annotations

import io
import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.stub import Stubber

from delivery import environments, exec_session, stacks
from delivery.errors import DeliveryError
from delivery.local import runner as local_runner
from tests.support.ecs_responses import stubbed_ecs
from tests.support.fake_engine import engine
from tests.support.paths import ROOT
from tests.support.project import make_project

ACCOUNT = "arn:aws:ecs:eu-north-1:123456789012"
CLUSTER = "flask-fargate-dev-service-Cluster-abc"
SERVICE = "flask-fargate-dev-service"
TASK = f"{ACCOUNT}:task/{CLUSTER}/0123456789abcdef0123456789abcdef"
RUNTIME_ID = "0123456789abcdef0123456789abcdef-1234567890"
SESSION = {"sessionId": "ecs-execute-command-0abc", "streamUrl": "wss://x", "tokenValue": "t"}


@pytest.mark.parametrize(("env", "on"), [("local", True), ("dev", True), ("prod", False)])
def test_exec_follows_the_settings_of_each_env(env: str, on: bool) -> None:
    assert exec_session.enabled(environments.load(env, ROOT)) is on


def test_an_env_without_the_setting_has_exec_off(tmp_path: Path) -> None:
    env = environments.load("dev", make_project(tmp_path))
    with pytest.raises(DeliveryError, match=r"^ECS Exec is off for environment 'dev': set exec"):
        exec_session.check_enabled(env)


def test_a_missing_plugin_says_how_to_install_it() -> None:
    with pytest.raises(
        DeliveryError, match=r"^session-manager-plugin is not on PATH: .*install it \(https://"
    ):
        exec_session.check_plugin(lambda _: None)


@pytest.fixture
def ecs() -> Iterator[tuple[Any, Stubber]]:
    with stubbed_ecs() as stubbed:
        yield stubbed


def _running(stubber: Stubber, status: str = "RUNNING", agent: str = "RUNNING") -> None:
    stubber.add_response(
        "list_tasks",
        {"taskArns": [TASK]},
        {"cluster": CLUSTER, "serviceName": SERVICE, "desiredStatus": "RUNNING"},
    )
    container = {
        "name": "app",
        "runtimeId": RUNTIME_ID,
        "managedAgents": [{"name": "ExecuteCommandAgent", "lastStatus": agent}],
    }
    task = {"taskArn": TASK, "lastStatus": status, "containers": [container]}
    stubber.add_response("describe_tasks", {"tasks": [task]}, {"cluster": CLUSTER, "tasks": [TASK]})


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in session-manager-plugin on PATH that records its arguments."""
    record = tmp_path / "argv.json"
    script = tmp_path / "bin" / "session-manager-plugin"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\nsys.exit(7)\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(script.parent))
    monkeypatch.setenv("AWS_PROFILE", "ops")
    monkeypatch.setattr(
        stacks, "outputs", lambda _: {"ClusterName": CLUSTER, "ServiceName": SERVICE}
    )
    return record


def test_the_session_goes_to_the_plugin_as_the_aws_cli_hands_it(
    ecs: tuple[Any, Stubber], plugin: Path
) -> None:
    client, stubber = ecs
    _running(stubber)
    stubber.add_response(
        "execute_command",
        {
            "clusterArn": f"{ACCOUNT}:cluster/{CLUSTER}",
            "containerName": "app",
            "interactive": True,
            "session": SESSION,
            "taskArn": TASK,
        },
        {
            "cluster": CLUSTER,
            "task": TASK,
            "container": "app",
            "command": "python -c 'print(1)'",
            "interactive": True,
        },
    )
    env = environments.load("dev", ROOT)
    code = exec_session._on_aws(env, ["python", "-c", "print(1)"], client)
    assert code == 7  # the plugin's exit code is the command's
    assert json.loads(plugin.read_text()) == [
        json.dumps(SESSION),
        "eu-north-1",
        "StartSession",
        "ops",
        json.dumps({"Target": f"ecs:{CLUSTER}_0123456789abcdef0123456789abcdef_{RUNTIME_ID}"}),
        "https://ecs.eu-north-1.amazonaws.com",
    ]


def test_no_running_task_is_one_line(ecs: tuple[Any, Stubber], plugin: Path) -> None:
    client, stubber = ecs
    _running(stubber, status="PROVISIONING")
    with pytest.raises(DeliveryError, match=r"^no task of ECS service .* is running"):
        exec_session._on_aws(environments.load("dev", ROOT), [], client)
    assert not plugin.exists()


def test_a_task_without_the_exec_agent_is_one_line(ecs: tuple[Any, Stubber], plugin: Path) -> None:
    client, stubber = ecs
    _running(stubber, agent="STOPPED")
    with pytest.raises(DeliveryError, match=r"runs the ECS Exec agent .*deploy again$"):
        exec_session._on_aws(environments.load("dev", ROOT), [], client)
    assert not plugin.exists()


def test_the_default_command_is_a_shell() -> None:
    assert exec_session.command_line([]) == "/bin/sh"


def test_a_local_service_run_as_a_process_has_no_container_to_enter() -> None:
    session = SimpleNamespace(service=SimpleNamespace(mode="process"))
    with pytest.raises(DeliveryError, match=r"^exec needs the local service in a container"):
        exec_session._on_this_machine(session, [])


def test_local_exec_enters_the_services_container_as_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(local_runner, "container_engine", lambda name: engine("podman"))
    ran: list[list[str]] = []

    def call(argv: list[str]) -> int:
        ran.append(argv)
        return 0

    monkeypatch.setattr(subprocess, "call", call)
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # not a terminal: no --tty
    session = SimpleNamespace(service=SimpleNamespace(mode="container", engine="podman", id="c0"))
    assert exec_session._on_this_machine(session, []) == 0
    # ECS Exec's agent runs as root whatever the container's user: so does the local exec.
    assert ran == [["podman", "exec", "--interactive", "--user", "0", "c0", "/bin/sh"]]
