"""The pipeline as its rendered template declares it: stages, actions, CodeBuild projects.

Read from the template CloudFormation is given (never a copy of it), with every value the
rehearsal needs resolved the way CloudFormation resolves it for the stack that was launched:
parameters, pseudo parameters, ``Ref``/``Fn::GetAtt``/``Fn::Sub``/``Fn::Join`` on the stack's
resources (``Names``: what the launched stack's resources are called).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from delivery.errors import DeliveryError

CODEBUILD = "AWS::CodeBuild::Project"
PIPELINE = "AWS::CodePipeline::Pipeline"
ROLE = "AWS::IAM::Role"


@dataclass(frozen=True)
class Names:
    """What ``Ref`` and ``Fn::GetAtt`` give in the launched stack.

    ``values`` maps a parameter, a pseudo parameter (``AWS::Region``...) or a resource's logical
    id to its value, and ``<LogicalId>.<Attribute>`` to an attribute's.
    """

    values: Mapping[str, str]

    def resolve(self, value: Any) -> Any:  # noqa: PLR0911 - one return per intrinsic function
        """``value`` with its intrinsic functions replaced by their values."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self._get(str(value["Ref"]))
        if set(value) == {"Fn::GetAtt"}:
            resource, attribute = value["Fn::GetAtt"]
            return self._get(f"{resource}.{attribute}")
        if set(value) == {"Fn::Join"}:
            separator, items = value["Fn::Join"]
            return str(separator).join(str(i) for i in self.resolve(items))
        if set(value) == {"Fn::Sub"}:
            return self._sub(value["Fn::Sub"])
        return {key: self.resolve(item) for key, item in value.items()}

    def _get(self, name: str) -> str:
        if name not in self.values:
            raise DeliveryError(f"the pipeline template refers to {name}, which the stack lacks")
        return self.values[name]

    def _sub(self, body: Any) -> str:
        text, local = (body, {}) if isinstance(body, str) else (body[0], body[1])
        variables = {**self.values, **{k: str(self.resolve(v)) for k, v in local.items()}}
        for name, replacement in variables.items():
            text = text.replace("${" + name + "}", str(replacement))
        if "${" in text:
            raise DeliveryError(f"the pipeline template's Fn::Sub {text!r} has an unknown name")
        return str(text)


@dataclass(frozen=True)
class Project:
    """A CodeBuild project: what runs an action and how."""

    logical_id: str
    name: str
    buildspec: str
    image: str
    compute_type: str
    privileged: bool
    variables: Mapping[str, str]
    role: str  # the service role's logical id
    timeout_minutes: int
    cache_modes: tuple[str, ...]
    log_group: str
    log_stream: str
    kms_key: str


@dataclass(frozen=True)
class Rule:
    """One rule of a stage condition (the rehearsal evaluates VariableCheck rules)."""

    name: str
    provider: str
    configuration: Mapping[str, str]


@dataclass(frozen=True)
class Condition:
    """A BeforeEntry condition: if any of its rules fails, its result engages."""

    result: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class Action:
    """One action of a stage."""

    name: str
    category: str
    provider: str
    run_order: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    namespace: str | None
    configuration: Mapping[str, Any]
    project: Project | None = None

    @property
    def primary_source(self) -> str | None:
        """The input whose directory is CODEBUILD_SRC_DIR (CodePipeline's PrimarySource)."""
        primary = self.configuration.get("PrimarySource")
        return str(primary) if primary else (self.inputs[0] if self.inputs else None)

    def environment_overrides(self) -> list[dict[str, str]]:
        """The action's EnvironmentVariables: CodeBuild start-build overrides, as declared."""
        raw = self.configuration.get("EnvironmentVariables")
        if not raw:
            return []
        parsed = json.loads(str(raw))
        return [
            {"name": str(v["name"]), "value": str(v["value"]), "type": str(v.get("type", ""))}
            for v in parsed
        ]


@dataclass(frozen=True)
class Stage:
    """One stage: its actions in run order, and its entry conditions."""

    name: str
    actions: tuple[Action, ...]
    entry: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Pipeline:
    """The pipeline: its stages, the role CodePipeline acts with, where artifacts are kept."""

    logical_id: str
    role: str  # the pipeline role's logical id
    execution_mode: str
    stages: tuple[Stage, ...]
    artifact_bucket: str
    artifact_key: str
    projects: Mapping[str, Project] = field(default_factory=dict)
    # role logical id -> its policy statements, resolved (what the stack's roles hold)
    roles: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)


def _logical_of(value: Any, what: str) -> str:
    """The logical id a ``Ref`` or ``Fn::GetAtt`` names."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    raise DeliveryError(f"the pipeline template's {what} is not a reference to a resource")


def _project(logical_id: str, properties: Mapping[str, Any], names: Names) -> Project:
    environment = properties.get("Environment", {})
    logs = properties.get("LogsConfig", {}).get("CloudWatchLogs", {})
    variables = {
        str(v["Name"]): str(names.resolve(v["Value"]))
        for v in environment.get("EnvironmentVariables", [])
    }
    for v in environment.get("EnvironmentVariables", []):
        if v.get("Type", "PLAINTEXT") != "PLAINTEXT":
            raise DeliveryError(
                f"project {logical_id}: variable {v['Name']} is {v['Type']}, which the rehearsal "
                "cannot resolve (PLAINTEXT only)"
            )
    return Project(
        logical_id=logical_id,
        name=str(names.resolve(properties.get("Name", logical_id))),
        buildspec=str(properties.get("Source", {}).get("BuildSpec", "buildspec.yml")),
        image=str(environment.get("Image", "")),
        compute_type=str(environment.get("ComputeType", "")),
        privileged=bool(environment.get("PrivilegedMode", False)),
        variables=variables,
        role=_logical_of(properties.get("ServiceRole"), f"{logical_id}'s ServiceRole"),
        timeout_minutes=int(properties.get("TimeoutInMinutes", 60)),
        cache_modes=tuple(properties.get("Cache", {}).get("Modes", [])),
        log_group=str(names.resolve(logs.get("GroupName", ""))),
        log_stream=str(names.resolve(logs.get("StreamName", ""))),
        kms_key=str(names.resolve(properties.get("EncryptionKey", ""))),
    )


def _action(declared: Mapping[str, Any], projects: Mapping[str, Project], names: Names) -> Action:
    kind = declared["ActionTypeId"]
    configuration = dict(declared.get("Configuration", {}))
    project = None
    if kind["Provider"] == "CodeBuild":
        logical = _logical_of(configuration.get("ProjectName"), "ProjectName")
        if logical not in projects:
            raise DeliveryError(
                f"action {declared['Name']} runs {logical}, not a CodeBuild project"
            )
        project = projects[logical]
        configuration["ProjectName"] = project.name
    resolved = {
        key: (value if key == "ProjectName" else names.resolve(value))
        for key, value in configuration.items()
    }
    return Action(
        name=str(declared["Name"]),
        category=str(kind["Category"]),
        provider=str(kind["Provider"]),
        run_order=int(declared.get("RunOrder", 1)),
        inputs=tuple(str(a["Name"]) for a in declared.get("InputArtifacts", [])),
        outputs=tuple(str(a["Name"]) for a in declared.get("OutputArtifacts", [])),
        namespace=str(declared["Namespace"]) if declared.get("Namespace") else None,
        configuration=resolved,
        project=project,
    )


def _conditions(stage: Mapping[str, Any]) -> tuple[Condition, ...]:
    found = []
    for condition in stage.get("BeforeEntry", {}).get("Conditions", []):
        rules = tuple(
            Rule(
                name=str(rule["Name"]),
                provider=str(rule["RuleTypeId"]["Provider"]),
                configuration={k: str(v) for k, v in rule.get("Configuration", {}).items()},
            )
            for rule in condition.get("Rules", [])
        )
        found.append(Condition(result=str(condition["Result"]), rules=rules))
    return tuple(found)


def _statements(
    logical_id: str, properties: Mapping[str, Any], names: Names
) -> tuple[Mapping[str, Any], ...]:
    """A role's inline policy statements, resolved; one line for what cannot be judged here."""
    if properties.get("ManagedPolicyArns"):
        raise DeliveryError(
            f"role {logical_id} has managed policies, whose documents the rehearsal cannot read: "
            "give the pipeline's roles inline policies"
        )
    return tuple(
        dict(statement)
        for policy in properties.get("Policies", [])
        for statement in names.resolve(policy["PolicyDocument"])["Statement"]
    )


def read(template: Mapping[str, Any], names: Names) -> Pipeline:
    """The pipeline ``template`` declares, resolved with ``names``; one line if it has none."""
    resources = template.get("Resources", {})
    pipelines = [k for k, r in resources.items() if r.get("Type") == PIPELINE]
    if len(pipelines) != 1:
        raise DeliveryError(f"the pipeline template declares {len(pipelines)} pipelines, not 1")
    (logical_id,) = pipelines
    properties = resources[logical_id]["Properties"]
    projects = {
        k: _project(k, r.get("Properties", {}), names)
        for k, r in resources.items()
        if r.get("Type") == CODEBUILD
    }
    stages = tuple(
        Stage(
            name=str(stage["Name"]),
            actions=tuple(
                sorted(
                    (_action(a, projects, names) for a in stage.get("Actions", [])),
                    key=lambda action: action.run_order,
                )
            ),
            entry=_conditions(stage),
        )
        for stage in properties.get("Stages", [])
    )
    store = properties.get("ArtifactStore", {})
    roles = {
        k: _statements(k, r.get("Properties", {}), names)
        for k, r in resources.items()
        if r.get("Type") == ROLE
    }
    return Pipeline(
        logical_id=logical_id,
        role=_logical_of(properties.get("RoleArn"), "pipeline RoleArn"),
        execution_mode=str(properties.get("ExecutionMode", "SUPERSEDED")),
        stages=stages,
        artifact_bucket=str(names.resolve(store.get("Location", ""))),
        artifact_key=str(names.resolve(store.get("EncryptionKey", {}).get("Id", ""))),
        projects=projects,
        roles=roles,
    )
