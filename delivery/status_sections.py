"""The parts of ``invoke status`` an on-call reads after the stacks: each read on its own.

Each part is a ``Section``: its lines, or the one line saying why it could not be read (a missing
permission, throttling), so one failed read never hides the rest of the status.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from delivery import alarms, ecs, promotion, slo, traffic
from delivery.alarms import AlarmState
from delivery.environments import Environment, StackRef
from delivery.errors import DeliveryError

LOAD_BALANCER_OUTPUT = "LoadBalancerFullName"  # the service stack's, as the monitoring stack reads


@dataclass(frozen=True)
class Section:
    """A titled part of the status: its lines, or why it could not be read."""

    title: str
    body: list[str] = field(default_factory=list)
    error: str = ""

    def lines(self) -> list[str]:
        """Indented for the status; the error in one line in place of the body."""
        if self.error:
            return [f"  {self.title}: {self.error}"]
        return [f"  {line}" for line in self.body]


NOTHING = Section("")  # a part not read (no service yet): no lines


def read(title: str, body: Callable[[], list[str]]) -> Section:
    """``body()``'s lines as a section, or the one-line DeliveryError it raised."""
    try:
        return Section(title, body())
    except DeliveryError as exc:
        return Section(title, error=str(exc))


def alarm_sections(refs: list[StackRef]) -> tuple[Section, Section]:
    """The alarms in ALARM (for the top of the status), and a one-line count of the rest."""
    try:
        found = alarms.of_stacks(refs)
    except DeliveryError as exc:
        return Section("alarms", error=str(exc)), Section("alarms")
    return Section("alarms", alarm_lines(found)), Section("alarms", alarm_summary(found))


def alarm_lines(found: list[AlarmState]) -> list[str]:
    """One line per alarm in ALARM: its name and CloudWatch's reason."""
    return [f"ALARM {alarm}" for alarm in alarms.in_alarm(found)]


def alarm_summary(found: list[AlarmState]) -> list[str]:
    """How many alarms are in each other state, one line; nothing when there are none."""
    rest = [a for a in found if not a.alarming]
    if not found:
        return ["alarms: none found in the stacks"]
    if not rest:
        return []
    counts: dict[str, int] = {}
    for alarm in rest:
        counts[alarm.state] = counts.get(alarm.state, 0) + 1
    return ["other alarms: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))]


def promotion_pause(env: Environment, root: Path) -> Section:
    """Whether the pipeline's promotion into ``env`` is paused (``invoke pipeline-pause``)."""
    return read(
        "promotion",
        lambda: [line] if (line := promotion.promotion_pause(env.name, root)) else [],
    )


def production(service: StackRef) -> Section:
    """Which target group serves production (``delivery.traffic``)."""
    return read(
        "production",
        lambda: [f"production traffic: {traffic.production_target_group(service)} target group"],
    )


def events(description: dict[str, Any]) -> Section:
    """The service's most recent events (already read with the service)."""
    shown = ecs.service_events(description)
    return Section("events", ["recent events:", *(f"  {e}" for e in shown)] if shown else [])


def stopped(client: Any, cluster: str, service: str) -> Section:
    """The service's last stopped tasks: why, and each container's exit code."""

    def body() -> list[str]:
        tasks = ecs.stopped_tasks(client, cluster, service)
        # DescribeTasks shows stopped tasks for at least an hour, and no longer (delivery.ecs).
        if not tasks:
            return ["stopped tasks: none in the last hour"]
        return ["stopped tasks:", *(f"  {line}" for task in tasks for line in task.lines())]

    return read("stopped tasks", body)


def budget(env: Environment, outputs: dict[str, str], region: str, now: dt.datetime) -> Section:
    """The error budget left over the SLO's window (``delivery.slo``)."""

    def body() -> list[str]:
        load_balancer = outputs.get(LOAD_BALANCER_OUTPUT)
        if not load_balancer:
            return [f"error budget: not measured (the service stack has no {LOAD_BALANCER_OUTPUT})"]
        return [slo.budget(env, load_balancer, region, now).line()]

    return read("error budget", body)
