"""``status``: what runs in an environment, read-only (stacks, live version, ECS, registry)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from delivery import credentials, ecs, environments, registry, stacks
from delivery.deploy import REGISTRY_STACK, SERVICE_STACK
from delivery.environments import Environment


@dataclass(frozen=True)
class Status:
    """An environment's state as AWS reports it."""

    env: str
    stacks: list[stacks.StackState]
    version: str = ""
    image_uri: str = ""
    service_url: str = ""
    deployments: list[ecs.Deployment] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)  # released versions in the registry

    def lines(self) -> list[str]:
        """Human-readable summary, one fact per line."""
        out = [f"environment {self.env}"]
        out += [f"  stack {s.name}: {s.status}" for s in self.stacks]
        if self.version:
            out.append(f"  live version: {self.version} ({self.image_uri})")
        if self.service_url:
            out.append(f"  url: {self.service_url}")
        out += [f"  {d}" for d in self.deployments]
        if self.versions:
            out.append(f"  versions in registry: {', '.join(self.versions)}")
        return out


def _parameters(stack_name: str) -> dict[str, str]:
    try:
        described = stacks.cloudformation().describe_stacks(StackName=stack_name)["Stacks"][0]
    except (ClientError, BotoCoreError):
        return {}
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}


def _registry_versions(env: Environment) -> list[str]:
    name = env.stack_name(REGISTRY_STACK, env.registry_group)
    if stacks.state(name).status == "NOT_CREATED":
        return []
    repo = stacks.outputs(name).get("RepositoryName", "")
    if not repo:
        return []
    tags = {tag for image in registry.list_images(repo) for tag in image.tags}
    return sorted(tag for tag in tags if not tag.startswith("sha-"))


def status(env_name: str | None, root: Path = environments.PROJECT_ROOT) -> Status:
    """The state of ``env_name``'s stacks, the live version and the registry's versions."""
    env = environments.load(env_name, root)
    credentials.check(env.region)
    names = (
        [env.stack_name(REGISTRY_STACK, env.registry_group)]
        if env.registry_group != env.name
        else []
    )
    names += [env.stack_name(stack) for stack in env.stacks()]
    states = [stacks.state(name) for name in names]
    service_name = env.stack_name(SERVICE_STACK)
    result = Status(env=env.name, stacks=states, versions=_registry_versions(env))
    service = next((s for s in states if s.name == service_name), None)
    if service is None or service.status == "NOT_CREATED":
        return result
    params = _parameters(service_name)
    outputs = stacks.outputs(service_name)
    found: list[ecs.Deployment] = []
    if outputs.get("ClusterName") and outputs.get("ServiceName"):
        try:
            described = ecs.client().describe_services(
                cluster=outputs["ClusterName"], services=[outputs["ServiceName"]]
            )
            for item in described.get("services", []):
                found += ecs.deployments(dict(item))
        except (ClientError, BotoCoreError):
            found = []
    return Status(
        env=env.name,
        stacks=states,
        version=params.get("AppVersion", ""),
        image_uri=params.get("ImageUri", ""),
        service_url=outputs.get("ServiceUrl", ""),
        deployments=found,
        versions=result.versions,
    )
