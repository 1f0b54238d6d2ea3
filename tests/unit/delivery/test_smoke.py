"""The smoke test reads each environment's task definition as ECS would run it."""

from __future__ import annotations

import json

import pytest

from delivery import environments, smoke
from delivery.errors import DeliveryError
from stacks.service.exec import AGENT_PATHS


@pytest.mark.parametrize(("env", "agent_volumes"), [("dev", True), ("prod", False)])
def test_the_container_is_run_as_the_task_definition_declares(
    env: str, agent_volumes: bool
) -> None:
    task = smoke.task_container(environments.load(env), "flask-fargate:1.2.3", "1.2.3")
    spec = task.spec
    assert spec.image == "flask-fargate:1.2.3"
    assert spec.version == "1.2.3"
    assert spec.environment["APP_VERSION"] == "1.2.3"  # the parameter, resolved
    assert spec.user == "10001:10001"
    assert spec.read_only
    assert spec.drop_all
    # The task volume, not a tmpfs; and where ECS Exec is on (dev), the SSM agent's volumes.
    agent = sorted(AGENT_PATHS.values()) if agent_volumes else []
    assert [m.container_path for m in spec.mounts] == ["/tmp", *agent]
    assert set(spec.secrets) == {"SECRET_KEY"}
    assert task.health_check[0] == "python"  # "CMD" dropped: run as argv, as ECS does
    # ECS replaces a task that is not healthy after the start period plus its retries.
    assert task.ready_within_s == 15 + 10 * 3
    assert task.stop_timeout_s == 30


def test_a_shell_health_check_runs_through_sh() -> None:
    command, within = smoke._health_check(
        {"HealthCheck": {"Command": ["CMD-SHELL", "curl -f localhost || exit 1"], "Retries": 2}}
    )
    assert command == ("sh", "-c", "curl -f localhost || exit 1")
    assert within == 0 + 30 * 2  # ECS's defaults for the start period and interval


def test_an_environment_without_a_service_is_one_line() -> None:
    with pytest.raises(DeliveryError, match="no service stack"):
        smoke.task_container(
            environments.Environment(
                "nothing",
                "eu-north-1",
                "shared",
                False,
                False,
                False,
                "x",
                environments.PROJECT_ROOT / "tests",
            ),
            "img",
            "1",
        )


def test_the_line_reported_is_the_error_not_gunicorns_farewell() -> None:
    logs = (
        "[INFO] Booting worker with pid: 8\n"
        "Traceback (most recent call last):\n"
        '  File "/srv/app/app/wsgi.py", line 12, in <module>\n'
        "OSError: [Errno 30] Read-only file system: '/srv/app/started'\n"
        "[INFO] Worker exiting (pid: 8)\n"
        "[ERROR] Reason: Worker failed to boot.\n"
    )
    # gunicorn's last word ("[ERROR] Reason: ...") says only that a worker died: the app's own
    # error is what is said, whichever stream the engine prints first.
    assert smoke.telling_line(logs) == (
        "OSError: [Errno 30] Read-only file system: '/srv/app/started'"
    )
    assert smoke.telling_line("starting\nlistening on 8000\n") == "listening on 8000"


def test_the_apps_error_is_found_inside_its_json_log_lines() -> None:
    traceback = (
        'Traceback (most recent call last):\n  File "/srv/app/app/wsgi.py", line 12\n'
        "OSError: [Errno 30] Read-only file system: '/srv/app/started'"
    )
    logs = "\n".join(
        [
            json.dumps({"level": "ERROR", "message": "Exception in worker", "exc_info": traceback}),
            json.dumps({"level": "ERROR", "message": "Worker (pid:7) exited with code 3."}),
        ]
    )
    assert (
        smoke.telling_line(logs) == "OSError: [Errno 30] Read-only file system: '/srv/app/started'"
    )
    gunicorn_only = json.dumps({"level": "ERROR", "message": "Worker (pid:7) exited with code 3."})
    assert smoke.telling_line(f"booting\n{gunicorn_only}\n") == "Worker (pid:7) exited with code 3."
