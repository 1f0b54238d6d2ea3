"""``invoke run`` on the emulator after a local deploy: exit code, output, the task's record.

The sample project (``make_project``) with the repository's ``app/`` linked in, its service's task
definition given an awslogs configuration and a log group, deployed with ``--keep`` in process
mode (fake build and scan, as tests/integration/test_local_session.py). Then the real command line
runs one-off tasks on the kept emulator.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import psutil
import pytest

from delivery import deploy, environments, oneoff
from delivery.local.session import session as local_session
from delivery.local.session import stop as stop_local
from tests.support.cli import run_invoke
from tests.support.deploy_steps import fake_steps
from tests.support.project import make_project, service_template

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
STACK = "flask-fargate-local-service"


def _with_awslogs(template_text: str) -> str:
    """The sample service with the real one's awslogs options and an ``app`` stream prefix."""
    template = json.loads(template_text)
    resources = template["Resources"]
    resources["LogGroup"] = {"Type": "AWS::Logs::LogGroup", "Properties": {}}
    container = resources["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    container["LogConfiguration"] = {
        "LogDriver": "awslogs",
        "Options": {
            "awslogs-group": {"Ref": "LogGroup"},
            "awslogs-region": {"Ref": "AWS::Region"},
            "awslogs-stream-prefix": "app",
        },
    }
    return json.dumps(template)


@pytest.fixture(autouse=True)
def no_ambient_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS_* from the shell or other tests: the deploy starts (and keeps) its own emulator."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A sample project deployed to local with --keep, the service under gunicorn."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    for name in saved:
        del os.environ[name]
    root = make_project(tmp_path_factory.mktemp("oneoff"))
    (root / "app").symlink_to(REPO / "app")
    (root / "templates" / "service.json").write_text(_with_awslogs(service_template()))
    with (root / "config" / "local" / "service.yaml").open("a") as config:
        config.write("sceptre_user_data:\n  exec:\n    enabled: true\n")
    env = environments.load("local", root)
    try:
        with local_session(env, serve="process", keep=True) as session:
            deploy.deploy(
                "local", skip_scan=True, root=root, steps=session.steps(fake_steps("1.0.0"))
            )
        yield root
    finally:
        stop_local(env)
        os.environ.update(saved)


def _tasks(root: Path) -> list[dict[str, object]]:
    """The emulator's tasks of the service's cluster, described."""
    env = environments.load("local", root)
    with local_session(env, start=False):
        ecs = boto3.client("ecs", region_name=env.region)
        arns = ecs.list_tasks(cluster=STACK)["taskArns"]
        return (
            [dict(t) for t in ecs.describe_tasks(cluster=STACK, tasks=arns)["tasks"]]
            if arns
            else []
        )


def test_run_exits_with_the_commands_code_and_prints_its_output(deployed: Path) -> None:
    result = run_invoke(
        deployed,
        *("run", "--env", "local", "--"),
        *("python", "-c", "print('migrating 3 tables', flush=True); raise SystemExit(3)"),
        ambient_aws=False,
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "migrating 3 tables" in result.stdout.splitlines()
    assert "Traceback" not in result.stdout + result.stderr

    # The emulator recorded the task: the live task definition, the command as the app
    # container's override, started by the project, stopped; its output in the stream named as
    # awslogs names it.
    (task,) = [t for t in _tasks(deployed) if t.get("startedBy") == oneoff.STARTED_BY]
    assert task["lastStatus"] == "STOPPED"
    assert task["stoppedReason"] == "Essential container in task exited"
    overrides = task["overrides"]["containerOverrides"]  # type: ignore[index]
    assert overrides[0]["name"] == "app"
    assert overrides[0]["command"][-1].endswith("raise SystemExit(3)")
    task_id = str(task["taskArn"]).rsplit("/", 1)[-1]
    env = environments.load("local", deployed)
    with local_session(env, start=False):
        logs = boto3.client("logs", region_name=env.region)
        (group,) = [
            g["logGroupName"]
            for g in logs.describe_log_groups()["logGroups"]
            if g["logGroupName"].startswith(STACK)
        ]
        events = logs.get_log_events(
            logGroupName=group, logStreamName=f"app/app/{task_id}", startFromHead=True
        )["events"]
    assert [e["message"] for e in events] == ["migrating 3 tables"]


def test_a_run_longer_than_its_timeout_is_stopped(deployed: Path) -> None:
    result = run_invoke(
        deployed,
        *("run", "--env", "local", "--timeout", "0.1", "--"),
        *("python", "-c", "import time; time.sleep(60)"),
        ambient_aws=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: task ")
    assert "did not finish within 0.1 min: stopped it" in result.stderr
    stopped = [
        t
        for t in _tasks(deployed)
        if t.get("startedBy") == oneoff.STARTED_BY and "timed out" in str(t.get("stoppedReason"))
    ]
    assert len(stopped) == 1
    assert stopped[0]["lastStatus"] == "STOPPED"


def test_exec_into_a_service_run_as_a_process_says_it_needs_a_container(deployed: Path) -> None:
    result = run_invoke(deployed, "exec", "--env", "local", ambient_aws=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "error: exec needs the local service in a container, but it runs as a gunicorn "
        "process: deploy again with --serve container (needs podman or docker)"
    ]


def test_sigterm_stops_the_task_and_its_process(deployed: Path) -> None:
    marker = f"oneoff-{uuid.uuid4().hex}"
    command = f"import time; print('started {marker}', flush=True); time.sleep(120)  # {marker}"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ["DELIVERY_PROJECT_ROOT"] = str(deployed)
    with subprocess.Popen(
        [sys.executable, "-m", "invoke", "run", "--env", "local", "--", "python", "-c", command],
        cwd=REPO,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as run:
        assert run.stdout is not None
        # Its first line arrives while it still runs: the output streams. (Not within 60 s:
        # killed, and the test fails below instead of waiting out the sleep.)
        guard = threading.Timer(60, run.kill)
        guard.start()
        for line in run.stdout:
            if line.strip() == f"started {marker}":
                break
        guard.cancel()
        run.send_signal(signal.SIGTERM)
        try:
            _, stderr = run.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            # Fail now, with where it hung (lifetime's stack dump), not at pytest's timeout.
            run.kill()
            _, stderr = run.communicate()
            pytest.fail(f"invoke run still ran 60 s after SIGTERM; its stderr:\n{stderr}")
    assert run.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.splitlines() == ["error: terminated (SIGTERM)"]
    stopped = [t for t in _tasks(deployed) if "interrupted" in str(t.get("stoppedReason"))]
    assert [t["lastStatus"] for t in stopped] == ["STOPPED"]
    assert not [
        p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])
    ]


def test_run_after_a_second_deploy_uses_the_new_revision(deployed: Path) -> None:
    # Last in this module: it deploys 1.1.0 over the kept 1.0.0.
    env = environments.load("local", deployed)
    with local_session(env, serve="process") as session:
        deploy.deploy(
            "local", skip_scan=True, root=deployed, steps=session.steps(fake_steps("1.1.0"))
        )
    result = run_invoke(
        deployed,
        *("run", "--env", "local", "--", "python", "-c"),
        "import os; print(os.environ['APP_VERSION'])",
        ambient_aws=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The task definition's environment: the version the second deploy registered.
    assert "1.1.0" in result.stdout.splitlines()
    assert "of flask-fargate-local-service:2," in result.stdout
