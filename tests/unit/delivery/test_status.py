"""What ``invoke status`` prints, one fact per line, from what AWS reported."""

from __future__ import annotations

from delivery import ecs, slo, stacks
from delivery import status_sections as sections
from delivery.alarms import AlarmState
from delivery.errors import DeliveryError
from delivery.status import Status

ARN = "arn:aws:ecs:eu-north-1:123456789012:service-deployment/c/s/ejGvqq2ilnbKT9qj0vLJe"
NEW = "arn:aws:ecs:eu-north-1:123456789012:task-definition/flask-fargate-prod:7"


def test_a_blue_green_deployment_in_bake_time_is_shown() -> None:
    shown = Status(
        env="prod",
        stacks=[stacks.StackState("flask-fargate-prod-service", "UPDATE_COMPLETE")],
        version="1.4.0",
        image_uri="r@sha256:" + "a" * 64,
        service_url="https://api.example.com",
        deployments=[ecs.Deployment("ecs-svc/7", "PRIMARY", "", "", NEW, 3, 3)],
        versions=["1.9.0", "1.10.0"],
        service_deployment=ecs.ServiceDeployment(ARN, "IN_PROGRESS", "BAKE_TIME", ""),
    ).lines()
    assert shown == [
        "environment prod",
        "  stack flask-fargate-prod-service: UPDATE_COMPLETE",
        "  live version: 1.4.0 (r@sha256:" + "a" * 64 + ")",
        "  url: https://api.example.com",
        "  service deployment ejGvqq2ilnbKT9qj0vLJe: IN_PROGRESS (BAKE_TIME)",
        "  deployment ecs-svc/7 PRIMARY flask-fargate-prod:7: 3/3 running",
        "  versions in registry: 1.9.0, 1.10.0",
    ]


def test_what_could_not_be_read_is_said() -> None:
    shown = Status(
        env="dev", stacks=[], ecs_error="reading ECS service s failed: Throttling"
    ).lines()
    assert shown == ["environment dev", "  ecs: reading ECS service s failed: Throttling"]


def test_an_on_call_reads_alarms_first_then_traffic_events_tasks_and_budget() -> None:
    fast = AlarmState("prod-fast", "FastBurnRateAlarm", "m", "ALARM", "Long and short in ALARM")
    ok = AlarmState("prod-cpu", "CpuAlarm", "m", "OK")
    waiting = AlarmState("prod-mem", "MemoryAlarm", "m", "INSUFFICIENT_DATA")
    found = [fast, ok, waiting]
    task = ecs.StoppedTask(
        "arn:aws:ecs:eu-north-1:1:task/c/abc",
        NEW,
        "EssentialContainerExited",
        "exited",
        None,
        (ecs.StoppedContainer("app", 3, ""),),
    )
    shown = Status(
        env="prod",
        stacks=[stacks.StackState("flask-fargate-prod-service", "UPDATE_COMPLETE")],
        version="1.4.0",
        image_uri="r@sha256:" + "a" * 64,
        service_deployment=ecs.ServiceDeployment(ARN, "IN_PROGRESS", "BAKE_TIME", ""),
        alarming=sections.Section("alarms", sections.alarm_lines(found)),
        other_alarms=sections.Section("alarms", sections.alarm_summary(found)),
        production=sections.Section("production", ["production traffic: Green target group"]),
        events=sections.Section("events", ["recent events:", "  2026-01-01T12:00:00 steady"]),
        stopped=sections.Section("stopped tasks", ["stopped tasks:", *task.lines()]),
        budget=sections.Section("error budget", [slo.Budget(0.999, 5, 10_000, 30).line()]),
    ).lines()
    assert shown == [
        "environment prod",
        "  ALARM FastBurnRateAlarm (prod-fast) ALARM: Long and short in ALARM",
        "  stack flask-fargate-prod-service: UPDATE_COMPLETE",
        "  live version: 1.4.0 (r@sha256:" + "a" * 64 + ")",
        "  production traffic: Green target group",
        "  service deployment ejGvqq2ilnbKT9qj0vLJe: IN_PROGRESS (BAKE_TIME)",
        "  recent events:",
        "    2026-01-01T12:00:00 steady",
        "  stopped tasks:",
        "  stopped task abc (flask-fargate-prod:7): EssentialContainerExited: exited",
        "    app: exit code 3",
        "  error budget left: 50.0% (SLO 99.90% over 30 days: 5 failed of 10000 requests)",
        "  other alarms: 1 INSUFFICIENT_DATA, 1 OK",
    ]


def test_each_part_that_cannot_be_read_is_one_line_in_its_place() -> None:
    def refused() -> list[str]:
        raise DeliveryError("reading the stopped tasks of s failed: AccessDeniedException: no")

    shown = Status(
        env="dev",
        stacks=[],
        stopped=sections.read("stopped tasks", refused),
        budget=sections.read("error budget", lambda: ["error budget: no requests measured"]),
    ).lines()
    assert shown == [
        "environment dev",
        "  stopped tasks: reading the stopped tasks of s failed: AccessDeniedException: no",
        "  error budget: no requests measured",
    ]
    assert sections.alarm_summary([]) == ["alarms: none found in the stacks"]
