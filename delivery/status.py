"""``status``: what runs in an environment, read-only (stacks, live version, ECS, registry).

Every stack is read in its own region (``Environment.stack_ref``), the one Sceptre deployed it to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from delivery import credentials, ecs, environments, registry, releases, running, stacks
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

    def lines(self) -> list[str]:
        """Human-readable summary, one fact per line."""
        out = [f"environment {self.env}"]
        out += [f"  stack {s.name}: {s.status}" for s in self.stacks]
        if self.version:
            out.append(f"  live version: {self.version} ({self.image_uri})")
        if self.service_url:
            out.append(f"  url: {self.service_url}")
        if self.service_deployment is not None:
            out.append(f"  {self.service_deployment}")
        out += [f"  {d}" for d in self.deployments]
        if self.ecs_error:
            out.append(f"  ecs: {self.ecs_error}")
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


def status(env_name: str | None, root: Path = environments.PROJECT_ROOT) -> Status:
    """The state of ``env_name``'s stacks, the live version and the registry's versions."""
    env = environments.load(env_name, root)
    credentials.check(env.region)
    states = [stacks.state(stack) for stack in _stack_refs(env)]
    service = env.stack_ref(SERVICE_STACK)
    result = Status(env=env.name, stacks=states, versions=_registry_versions(env))
    live = next((s for s in states if s.name == service.name), None)
    if live is None or live.status == "NOT_CREATED":
        return result
    live_image = running.from_parameters(stacks.parameters(service))
    outputs = stacks.outputs(service)
    found: list[ecs.Deployment] = []
    current: ecs.ServiceDeployment | None = None
    error = ""
    if outputs.get("ClusterName") and outputs.get("ServiceName"):
        client = ecs.client(service.region)
        try:
            description = ecs.describe_service(
                client, outputs["ClusterName"], outputs["ServiceName"]
            )
            found = ecs.deployments(description)
            current = ecs.service_deployment(client, description)
        except DeliveryError as exc:  # a status shows what it can read, and says what not
            error = str(exc)
    return Status(
        env=env.name,
        stacks=states,
        version=live_image.version if live_image else "",
        image_uri=live_image.image_uri if live_image else "",
        service_url=outputs.get("ServiceUrl", ""),
        deployments=found,
        versions=result.versions,
        service_deployment=current,
        ecs_error=error,
    )
