"""The task-definition read-back: what the emulator says the service runs, as a ``ServiceSpec``.

The registered task definition when it is complete, else the service stack's template with its
parameters (moto leaves the revision a stack *update* registers empty); either way checked against
the stack's ``ImageUri`` and ``AppVersion``, the wiring a deploy relies on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

from delivery import awslogs, deploy_plan, running, stacks
from delivery.environments import Environment
from delivery.errors import DeliveryError
from delivery.local.collector.config import CONTAINER as COLLECTOR_CONTAINER
from delivery.local.collector.config import SOURCE as COLLECTOR_CONFIG
from delivery.taskvolumes import MountPoint


@dataclass(frozen=True)
class AwsLogs(awslogs.AwsLogs):
    """Where the awslogs driver sends the app container's output (``delivery.awslogs.read``),
    with the region known (where the local run ships it) and the container's name, which the
    stream name carries (``delivery.logs.stream_name``)."""

    region: str
    container: str


@dataclass(frozen=True)
class CollectorSpec:
    """The task definition's collector sidecar: its image and its configuration's YAML text."""

    image: str
    config: str
    region: str = ""  # the service stack's: where its exporters send (ADOT's task region)


@dataclass(frozen=True)
class ServiceSpec:
    """How the service stack says to run the app container: what the local run copies."""

    image: str  # <repository-uri>@sha256:<digest>
    version: str
    environment: dict[str, str]
    container_port: int
    user: str | None = None
    read_only: bool = True
    drop_all: bool = True
    source: str = ""  # where the spec was read, for the progress line
    volumes: tuple[str, ...] = ()  # the task definition's (bind mount) volumes, by name
    mounts: tuple[MountPoint, ...] = ()  # the container's mount points of those volumes
    secrets: dict[str, str] = field(default_factory=dict)  # name -> valueFrom ("": none)
    awslogs: AwsLogs | None = None  # None: no awslogs driver (or one without a stream prefix)
    collector: CollectorSpec | None = None  # None: no otel-collector container

    @property
    def digest(self) -> str:
        """The image digest the task definition names."""
        return self.image.rpartition("@")[2]


def _name(container: Mapping[str, Any]) -> Any:
    """A container definition's name (the API's ``name`` or the template's ``Name``)."""
    return container.get("name", container.get("Name"))


def _app_container(definitions: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    """The container that serves (has port mappings), else the first one; never the collector."""
    app = [d for d in definitions if _name(d) != COLLECTOR_CONTAINER]
    serving = [d for d in app if d.get(key)]
    found = serving or app
    return found[0] if found else None


def _collector(
    definitions: list[dict[str, Any]],
    keys: tuple[str, str, str, str],
    resolve: Callable[[Any], str | None],
    source: str,
) -> CollectorSpec | None:
    """The ``otel-collector`` container's image and AOT_CONFIG_CONTENT, read with the
    definition's key spelling ``keys`` (image, environment, a variable's name, its value)."""
    image_key, environment_key, name_key, value_key = keys
    found = [d for d in definitions if _name(d) == COLLECTOR_CONTAINER]
    if not found:
        return None
    container = found[0]
    values = {
        str(item.get(name_key)): resolve(item.get(value_key))
        for item in container.get(environment_key) or []
    }
    config = values.get(COLLECTOR_CONFIG)
    if not config:
        raise DeliveryError(
            f"{source}: container {COLLECTOR_CONTAINER} has no {COLLECTOR_CONFIG} that can be "
            "read here: the collector's configuration is that variable's literal text"
        )
    return CollectorSpec(image=resolve(container.get(image_key)) or "", config=config)


def _from_task_definition(arn: str, region: str) -> ServiceSpec | None:
    """The spec from the registered task definition; None when it has no container image.

    moto registers a complete revision when the stack is created, but the revision a stack
    *update* registers has empty container definitions (an emulator limit).
    """
    try:
        ecs = boto3.client("ecs", region_name=region)
        described = ecs.describe_task_definition(taskDefinition=arn)
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(f"reading task definition {arn} failed: {exc}") from exc
    task = described["taskDefinition"]
    definitions = [dict(d) for d in task.get("containerDefinitions", [])]
    container = _app_container(definitions, "portMappings")
    if container is None or not container.get("image"):
        return None
    linux = container.get("linuxParameters") or {}
    ports = container.get("portMappings") or [{}]
    source = f"task definition {arn.rsplit('/', 1)[-1]}"
    return ServiceSpec(
        image=str(container["image"]),
        version="",
        environment={e["name"]: e.get("value", "") for e in container.get("environment", [])},
        container_port=int(ports[0].get("containerPort", 8000)),
        user=container.get("user"),
        read_only=bool(container.get("readonlyRootFilesystem", False)),
        drop_all="ALL" in (linux.get("capabilities") or {}).get("drop", []),
        source=source,
        volumes=_bind_volumes([dict(v) for v in task.get("volumes", [])], "name", source),
        mounts=tuple(
            MountPoint(
                str(m.get("sourceVolume", "")),
                str(m.get("containerPath", "")),
                bool(m.get("readOnly", False)),
            )
            for m in container.get("mountPoints", [])
        ),
        secrets={str(s["name"]): str(s.get("valueFrom", "")) for s in container.get("secrets", [])},
        awslogs=_awslogs(container, awslogs.API, awslogs.text),
        collector=_collector(
            definitions,
            ("image", "environment", "name", "value"),
            lambda value: str(value) if value else None,
            source,
        ),
    )


def _awslogs(
    container: dict[str, Any], keys: awslogs.Keys, resolve: awslogs.Resolve
) -> AwsLogs | None:
    """The container's awslogs target, read with the definition's key spelling ``keys`` (the
    API's camelCase or the template's PascalCase); None without one, without a region, or
    without a name the stream can carry.
    """
    found = awslogs.read(container, keys, resolve)
    name = resolve(_name(container))
    if found is None or not found.region or not name:
        return None
    return AwsLogs(
        group=found.group, region=found.region, stream_prefix=found.stream_prefix, container=name
    )


def _bind_volumes(volumes: list[dict[str, Any]], name_key: str, source: str) -> tuple[str, ...]:
    """The names of ``volumes``; one line for a kind other than a bind mount.

    A volume with no configuration (or ``host`` without a source path) is what Fargate provides
    as a task-scoped bind mount; EFS and the rest cannot be made on this machine.
    """
    names = []
    for volume in volumes:
        name = str(volume.get(name_key, ""))
        kinds = sorted(key for key, value in volume.items() if key != name_key and value)
        if any(kind.lower() != "host" for kind in kinds):
            raise DeliveryError(
                f"{source}: volume {name} is {', '.join(kinds)}: the local run provides bind "
                "mount volumes only (no configuration, as Fargate's scratch volumes)"
            )
        names.append(name)
    return tuple(names)


def resolve(
    value: Any, parameters: Mapping[str, str], conditions: Mapping[str, Any] | None = None
) -> str | None:
    """A literal, or what the intrinsic functions the service template uses give with these
    ``parameters`` (a ``Ref`` to a parameter or resource; ``Fn::Sub``, ``Fn::Join``, ``Fn::Select``,
    ``Fn::Split``, ``Fn::If`` on ``conditions``, the template's ``Fn::Equals``); None for
    anything only AWS can know."""
    found = _evaluate(value, parameters, conditions or {})
    return found if isinstance(found, str) else None


def _select(index: Any, items: Any) -> Any:
    return items[int(index)] if isinstance(items, list) and int(index) < len(items) else None


# Functions of evaluated arguments; Fn::Split keeps empty fields, as CloudFormation's does.
_FUNCTIONS: dict[str, Any] = {
    "Fn::Join": lambda delimiter, items: (
        str(delimiter).join(items) if isinstance(items, list) else None
    ),
    "Fn::Split": lambda delimiter, text: str(text).split(str(delimiter)),
    "Fn::Select": _select,
    "Fn::Equals": lambda left, right: left == right,
}


def _literal(value: Any) -> str | None:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, str | int | float) else None


def _evaluate(value: Any, parameters: Mapping[str, str], conditions: Mapping[str, Any]) -> Any:
    """``value`` evaluated as CloudFormation would, or None where it cannot be known here."""
    if isinstance(value, list):
        items = [_evaluate(item, parameters, conditions) for item in value]
        return None if any(item is None for item in items) else items
    if not isinstance(value, dict):
        return _literal(value)
    if len(value) != 1:
        return None
    ((function, argument),) = value.items()
    if function == "Ref":
        return parameters.get(argument)
    if function in _OWN_ARGUMENTS:  # functions that read their arguments themselves
        return _OWN_ARGUMENTS[function](argument, parameters, conditions)
    arguments = _evaluate(argument, parameters, conditions)
    apply = _FUNCTIONS.get(function)
    return apply(*arguments) if apply is not None and isinstance(arguments, list) else None


# ${Name}, ${Resource.Attribute}, and ${!Literal} (written as ${Literal}).
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _sub(argument: Any, parameters: Mapping[str, str], conditions: Mapping[str, Any]) -> Any:
    """``Fn::Sub`` (its string form, or ``[text, {name: value}]``) as CloudFormation fills it in:
    each ``${Name}`` from the variables, else a parameter, pseudo parameter or resource; None
    when one of them cannot be known here
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-sub.html)."""
    if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
        text = argument[0]
        variables = {
            str(name): _evaluate(value, parameters, conditions)
            for name, value in argument[1].items()
        }
    else:
        text, variables = argument, {}
    if not isinstance(text, str):
        return None
    unknown: list[str] = []

    def fill(found: re.Match[str]) -> str:
        name = found.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        value = variables[name] if name in variables else parameters.get(name)
        if not isinstance(value, str):
            unknown.append(name)
            return ""
        return value

    filled = _SUB_VARIABLE.sub(fill, text)
    return None if unknown else filled


def _if(argument: Any, parameters: Mapping[str, str], conditions: Mapping[str, Any]) -> Any:
    """``Fn::If``: the branch its condition chooses (None: the condition is unknown here)."""
    name, then, otherwise = argument
    chosen = _condition(name, parameters, conditions)
    return (
        None if chosen is None else _evaluate(then if chosen else otherwise, parameters, conditions)
    )


_OWN_ARGUMENTS: dict[str, Callable[[Any, Mapping[str, str], Mapping[str, Any]], Any]] = {
    "Fn::If": _if,
    "Fn::Sub": _sub,
}


def _condition(name: str, parameters: Mapping[str, str], conditions: Mapping[str, Any]) -> Any:
    """The template condition ``name``'s truth with these parameters (None: unknown here)."""
    if name not in conditions:
        return None
    found = _evaluate(conditions[name], parameters, conditions)
    return found if isinstance(found, bool) else None


def _from_template(stack_name: str, parameters: Mapping[str, str], region: str) -> ServiceSpec:
    """The spec from the service stack's template as the emulator holds it, with its parameters.

    What CloudFormation registers for the stack; read here when moto's update left the new
    revision empty.
    """
    try:
        cfn = boto3.client("cloudformation", region_name=region)
        body = cfn.get_template(StackName=stack_name)["TemplateBody"]
        described = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(f"reading the template of {stack_name} failed: {exc}") from exc
    # A Ref to a resource is its physical id: for a secret, the ARN valueFrom takes.
    resources = {
        str(r.get("LogicalResourceId", "")): str(r.get("PhysicalResourceId", "")) for r in described
    }
    template = body if isinstance(body, dict) else yaml.safe_load(body)
    return spec_from_template(
        template,
        parameters,
        source=f"stack {stack_name}'s template (moto left the updated revision empty)",
        resources=resources,
        region=region,
    )


def spec_from_template(
    template: Mapping[str, Any],
    parameters: Mapping[str, str],
    *,
    source: str,
    resources: Mapping[str, str] | None = None,
    region: str = "",
    with_collector: bool = True,
) -> ServiceSpec:
    """The spec a service template's task definition gives, with its parameters' values.

    ``resources`` maps logical ids to physical ids (a ``Ref`` to a resource is its physical id:
    for a secret, the ARN ``valueFrom`` takes; for a log group, its name); a secret whose value
    cannot be known is "". ``region`` is what ``AWS::Region`` stands for (the stack's).
    ``with_collector=False``: the app container alone (the collector's configuration names
    resources only a launched stack has).
    """
    tasks = [
        resource.get("Properties", {})
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == "AWS::ECS::TaskDefinition"
    ]
    task = tasks[0] if tasks else {}
    container = _app_container(task.get("ContainerDefinitions", []), "PortMappings")
    image = resolve(container.get("Image"), parameters) if container else None
    if container is None or image is None:
        raise DeliveryError(f"{source} declares no task definition with an image")
    environment = {
        str(item["Name"]): resolved
        for item in container.get("Environment", [])
        if (resolved := resolve(item.get("Value"), parameters)) is not None
    }
    linux = container.get("LinuxParameters") or {}
    ports = container.get("PortMappings") or [{}]
    return ServiceSpec(
        image=image,
        version="",
        environment=environment,
        container_port=int(ports[0].get("ContainerPort", 8000)),
        user=resolve(container.get("User"), parameters) if container.get("User") else None,
        read_only=str(container.get("ReadonlyRootFilesystem", False)).lower() == "true",
        drop_all="ALL" in (linux.get("Capabilities") or {}).get("Drop", []),
        source=source,
        volumes=_bind_volumes(list(task.get("Volumes", [])), "Name", source),
        mounts=tuple(
            MountPoint(
                str(m.get("SourceVolume", "")),
                str(m.get("ContainerPath", "")),
                str(m.get("ReadOnly", False)).lower() == "true",
            )
            for m in container.get("MountPoints", [])
        ),
        secrets={
            str(s["Name"]): resolve(
                s.get("ValueFrom"),
                {**(resources or {}), **_with_defaults(template, parameters)},
                template.get("Conditions", {}),
            )
            or ""
            for s in container.get("Secrets", [])
        },
        awslogs=_awslogs(
            container,
            awslogs.TEMPLATE,
            lambda value: resolve(
                value,
                {**(resources or {}), **parameters, **_pseudo(region)},
                template.get("Conditions", {}),
            ),
        ),
        collector=None
        if not with_collector
        else _collector(
            list(task.get("ContainerDefinitions", [])),
            ("Image", "Environment", "Name", "Value"),
            lambda value: resolve(
                value,
                {**(resources or {}), **_with_defaults(template, parameters), **_pseudo(region)},
                template.get("Conditions", {}),
            ),
            source,
        ),
    )


def _pseudo(region: str) -> dict[str, str]:
    """The pseudo parameters known here: ``AWS::Region``, when the stack's region is."""
    return {"AWS::Region": region} if region else {}


def _with_defaults(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, str]:
    """``parameters``, and the template's default for each parameter they do not give."""
    declared = template.get("Parameters", {})
    defaults = {name: str(spec["Default"]) for name, spec in declared.items() if "Default" in spec}
    return {**defaults, **parameters}


def service_spec(env: Environment, outputs: Mapping[str, str]) -> ServiceSpec:
    """What the emulator says the service runs, checked against the stack's parameters.

    The task definition must name the stack's ``ImageUri`` and set ``APP_VERSION`` to its
    ``AppVersion``: that is the wiring a deploy relies on.
    """
    stack = deploy_plan.service_stack(env)  # its region is where Sceptre put it, not the shell's
    name, region = stack.name, stack.region
    parameters = stacks.parameters(stack)
    image = parameters.get(running.IMAGE_URI, "")
    version = parameters.get(running.APP_VERSION, "")
    arn = outputs.get("TaskDefinitionArn", "")
    spec = (_from_task_definition(arn, region) if arn else None) or _from_template(
        name, parameters, region
    )
    if spec.image != image:
        raise DeliveryError(
            f"{spec.source} runs {spec.image}, but stack {name} has ImageUri {image}"
        )
    if spec.environment.get("APP_VERSION") != version:
        raise DeliveryError(
            f"{spec.source} sets APP_VERSION={spec.environment.get('APP_VERSION')}, but stack "
            f"{name} has AppVersion {version}"
        )
    collector = spec.collector and replace(spec.collector, region=region)
    return replace(spec, version=version, collector=collector)
