"""``status``: what runs in an environment, read-only, ordered for an on-call reader.

Alarms in ALARM first, then the stacks, the live version, which target group serves production,
the deployment in progress and its phase, the service's recent events, its last stopped tasks,
the error budget left, the other alarms, the registry's versions. Every stack is read in its own
region (``Environment.stack_ref``), the one Sceptre deployed it to. What cannot be read is said in
one line in its place, and the rest still stands (``delivery.status_sections``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

from delivery import credentials, ecs, environments, registry, releases, running, stacks
from delivery import status_sections as sections
from delivery.deploy_plan import REGISTRY_STACK, SERVICE_STACK
from delivery.environments import Environment
from delivery.errors import DeliveryError


@dataclass(frozen=True)
class Status:
    """An environment's state as AWS reports it."""

    env: str
    stacks: list[stacks.StackState]
    version: str = ""
    image_uri: str = ""
    service_url: str = ""
    deployments: list[ecs.Deployment] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)  # versions in the registry, lowest first
    service_deployment: ecs.ServiceDeployment | None = None
    ecs_error: str = ""  # why ECS could not be read (the rest of the status still stands)
    alarming: sections.Section = sections.NOTHING  # in ALARM: the first lines
    paused: sections.Section = sections.NOTHING  # the pipeline's promotion into env, if paused
    production: sections.Section = sections.NOTHING
    events: sections.Section = sections.NOTHING
    stopped: sections.Section = sections.NOTHING
    budget: sections.Section = sections.NOTHING
    other_alarms: sections.Section = sections.NOTHING

    def lines(self) -> list[str]:
        """Human-readable summary, one fact per line (a block for events and stopped tasks)."""
        out = [f"environment {self.env}", *self.alarming.lines(), *self.paused.lines()]
        out += [f"  stack {s.name}: {s.status}" for s in self.stacks]
        if self.version:
            out.append(f"  live version: {self.version} ({self.image_uri})")
        if self.service_url:
            out.append(f"  url: {self.service_url}")
        out += self.production.lines()
        if self.service_deployment is not None:
            out.append(f"  {self.service_deployment}")
        out += [f"  {d}" for d in self.deployments]
        if self.ecs_error:
            out.append(f"  ecs: {self.ecs_error}")
        out += self.events.lines() + self.stopped.lines() + self.budget.lines()
        out += self.other_alarms.lines()
        if self.versions:
            out.append(f"  versions in registry: {', '.join(self.versions)}")
        return out


def _registry_versions(env: Environment) -> list[str]:
    stack = env.stack_ref(REGISTRY_STACK, env.registry_group)
    if stacks.state(stack).status == "NOT_CREATED":
        return []
    repo = stacks.outputs(stack).get("RepositoryName", "")
    if not repo:
        return []
    images = registry.list_images(repo, registry.client(stack.region))
    return releases.ordered({tag for image in images for tag in image.tags})


def _stack_refs(env: Environment) -> list[environments.StackRef]:
    shared = (
        [env.stack_ref(REGISTRY_STACK, env.registry_group)]
        if env.registry_group != env.name
        else []
    )
    return shared + [env.stack_ref(stack) for stack in env.stacks()]


def status(
    env_name: str | None,
    root: Path = environments.PROJECT_ROOT,
    now: dt.datetime | None = None,
) -> Status:
    """The state of ``env_name``: alarms, stacks, live version, ECS, error budget, registry."""
    env = environments.load(env_name, root)
    credentials.check(env.region)
    refs = _stack_refs(env)
    states = [stacks.state(stack) for stack in refs]
    # The environment's own stacks hold its alarms (the shared registry is not its to read).
    own = {env.stack_ref(stack) for stack in env.stacks()}
    alarming, other_alarms = sections.alarm_sections(
        [
            ref
            for ref, s in zip(refs, states, strict=True)
            if ref in own and s.status != "NOT_CREATED"
        ]
    )
    service = env.stack_ref(SERVICE_STACK)
    result = Status(
        env=env.name,
        stacks=states,
        versions=_registry_versions(env),
        alarming=alarming,
        paused=sections.promotion_pause(env, root),
        other_alarms=other_alarms,
    )
    live = next((s for s in states if s.name == service.name), None)
    if live is None or live.status == "NOT_CREATED":
        return result
    live_image = running.from_parameters(stacks.parameters(service))
    outputs = stacks.outputs(service)
    found: list[ecs.Deployment] = []
    current: ecs.ServiceDeployment | None = None
    events = stopped = sections.NOTHING
    error = ""
    if outputs.get("ClusterName") and outputs.get("ServiceName"):
        cluster, name = outputs["ClusterName"], outputs["ServiceName"]
        client = ecs.client(service.region)
        try:
            description = ecs.describe_service(client, cluster, name)
            found = ecs.deployments(description)
            current = ecs.service_deployment(client, description)
            events = sections.events(description)
            stopped = sections.stopped(client, cluster, name)
        except DeliveryError as exc:  # a status shows what it can read, and says what not
            error = str(exc)
    return replace(
        result,
        version=live_image.version if live_image else "",
        image_uri=live_image.image_uri if live_image else "",
        service_url=outputs.get("ServiceUrl", ""),
        deployments=found,
        service_deployment=current,
        ecs_error=error,
        production=sections.production(service),
        events=events,
        stopped=stopped,
        budget=sections.budget(env, outputs, service.region, now or dt.datetime.now(dt.UTC)),
    )
