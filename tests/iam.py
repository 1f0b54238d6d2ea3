"""IAM for the tests: record the AWS calls a code path makes, and judge them as AWS would.

The local emulator enforces IAM only roughly (moto checks action names, compares every resource
with "*" and ignores conditions), so the tests that hold the pipeline's roles against the deploy
path do three things with the pieces here:

- ``Recorder`` / ``recording_environment``: every botocore call of a process (Sceptre's clients
  included), as the IAM action it needs plus its parameters, in-process or in a subprocess;
- ``resolve``: a role's policy document from the rendered template, its intrinsic functions
  replaced by the emulator account's values;
- ``Evaluator``: AWS's evaluation of identity policies for those calls: actions and resources
  with wildcards, StringEquals/StringLike/ArnEquals/ArnLike conditions, explicit Deny first;
  ``resource_of`` names the resource ARN of each call, per the Service Authorization Reference.
"""

from __future__ import annotations

import fnmatch
import json
import os
import textwrap
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A botocore service's signing name -> IAM's service prefix, where they differ.
_PREFIXES = {"monitoring": "cloudwatch"}
ACCOUNT = "123456789012"  # moto's default account
# Emitted once per API call with the parameters as the caller gave them (botocore/client.py).
EVENT = "before-parameter-build"
PARTITION = "aws"


@dataclass(frozen=True)
class Call:
    """One AWS API call: the IAM action it needs, its region and its parameters."""

    action: str
    region: str
    params: Mapping[str, Any]


def _action(model: Any) -> str:
    signing = model.service_model.signing_name
    return f"{_PREFIXES.get(signing, signing)}:{model.name}"


@dataclass
class Recorder:
    """Records every botocore call made in this process by clients created after ``install``."""

    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, params: Mapping[str, Any], model: Any, context: Any, **_: Any) -> None:
        """botocore's ``before-parameter-build`` handler: the call's API parameters, as given."""
        call = Call(_action(model), str(context.get("client_region")), dict(params))
        with self._lock:
            self.calls.append(call)

    def __enter__(self) -> Recorder:
        import botocore.handlers  # noqa: PLC0415

        botocore.handlers.BUILTIN_HANDLERS.append((EVENT, self.record))
        return self

    def __exit__(self, *_: object) -> None:
        import botocore.handlers  # noqa: PLC0415

        botocore.handlers.BUILTIN_HANDLERS.remove((EVENT, self.record))


# A sitecustomize for subprocesses: Python imports it at start-up from PYTHONPATH, before any
# botocore session exists, so every client the process creates (Sceptre's too) is recorded.
_SITECUSTOMIZE = textwrap.dedent(
    """
    import json, os, threading
    import botocore.handlers

    _PREFIXES = {"monitoring": "cloudwatch"}
    _LOCK = threading.Lock()

    def _record(params, model, context, **_):
        signing = model.service_model.signing_name
        line = json.dumps({
            "action": f"{_PREFIXES.get(signing, signing)}:{model.name}",
            "region": context.get("client_region"),
            "params": params,
        }, default=str)
        with _LOCK, open(os.environ["AWS_CALL_LOG"], "a") as log:
            log.write(line + "\\n")

    botocore.handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _record))
    """
)


def recording_environment(folder: Path) -> dict[str, str]:
    """Environment variables that make a Python subprocess record its AWS calls in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    existing = os.environ.get("PYTHONPATH", "")
    return {
        "PYTHONPATH": os.pathsep.join(p for p in (str(folder), existing) if p),
        "AWS_CALL_LOG": str(folder / "calls.jsonl"),
    }


def recorded_calls(folder: Path) -> list[Call]:
    """What a subprocess started with ``recording_environment(folder)`` called."""
    log = folder / "calls.jsonl"
    if not log.exists():
        return []
    return [
        Call(data["action"], str(data["region"]), data["params"])
        for data in map(json.loads, log.read_text().splitlines())
    ]


# --- policies ---------------------------------------------------------------------------------


def resolve(value: Any, names: Mapping[str, str]) -> Any:  # noqa: PLR0911 - one per function
    """``value`` with Ref/Fn::Sub/Fn::GetAtt/Fn::Join resolved (``names``: Ref and GetAtt values).

    ``names`` maps a parameter or resource to its value, and ``<Resource>.<Attribute>`` to an
    attribute's; the pseudo parameters come from the emulator's account and the region given as
    ``AWS::Region``.
    """
    pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Partition": PARTITION, **names}
    if isinstance(value, list):
        return [resolve(item, names) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return pseudo[value["Ref"]]
    if set(value) == {"Fn::GetAtt"}:
        resource, attribute = value["Fn::GetAtt"]
        return pseudo[f"{resource}.{attribute}"]
    if set(value) == {"Fn::Join"}:
        separator, items = value["Fn::Join"]
        return separator.join(resolve(items, names))
    if set(value) == {"Fn::Sub"}:
        body = value["Fn::Sub"]
        text, local = (body, {}) if isinstance(body, str) else (body[0], body[1])
        variables = {**pseudo, **{k: resolve(v, names) for k, v in local.items()}}
        for name, replacement in variables.items():
            text = text.replace("${" + name + "}", str(replacement))
        if "${" in text:
            raise KeyError(f"unresolved variable in {text}")
        return text
    return {key: resolve(item, names) for key, item in value.items()}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str, *, case: bool = True) -> bool:
    """IAM's wildcard match: ``*`` any run of characters, ``?`` any one."""
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _equals(wanted: str, actual: str) -> bool:
    return wanted == actual


def _bool(wanted: str, actual: str) -> bool:
    return str(wanted).lower() == str(actual).lower()


_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": _equals,
    "StringLike": _like,
    "ArnEquals": _equals,
    "ArnLike": _like,
    "Bool": _bool,
}


def _conditions_hold(block: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    """Every operator, every key: some wanted value matches (a missing key fails)."""
    for operator, keys in block.items():
        compare = _OPERATORS.get(operator)
        if compare is None:
            raise ValueError(f"condition operator {operator} is not evaluated here")
        for key, wanted in keys.items():
            actual = context.get(key)
            if actual is None or not any(compare(w, actual) for w in _as_list(wanted)):
                return False
    return True


@dataclass(frozen=True)
class Request:
    """One authorization question: an action on a resource, with its request context keys."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        keys = ", ".join(f"{k}={v}" for k, v in sorted(self.context.items()))
        return f"{self.action} on {self.resource}" + (f" ({keys})" if keys else "")


@dataclass(frozen=True)
class Evaluator:
    """AWS's identity-policy logic over resolved statements: a Deny wins, else an Allow must."""

    statements: Sequence[Mapping[str, Any]]

    def _matches(self, statement: Mapping[str, Any], request: Request) -> bool:
        actions = _as_list(statement.get("Action", []))
        if not any(_like(a, request.action, case=False) for a in actions):
            return False
        if not any(_like(r, request.resource) for r in _as_list(statement.get("Resource", []))):
            return False
        return _conditions_hold(statement.get("Condition", {}), request.context)

    def allows(self, request: Request) -> bool:
        """Whether the policy allows ``request``."""
        matching = [s for s in self.statements if self._matches(s, request)]
        if any(s["Effect"] == "Deny" for s in matching):
            return False
        return any(s["Effect"] == "Allow" for s in matching)


def role_statements(template: Mapping[str, Any], role: str) -> list[dict[str, Any]]:
    """The statements of ``role``'s inline policies (as rendered, not yet resolved)."""
    properties = template["Resources"][role]["Properties"]
    return [s for p in properties.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]


# --- what each call touches -------------------------------------------------------------------


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{ACCOUNT}:{resource}"


def _stack(region: str, name: str) -> str:
    # A stack id or a name: the policy patterns match any id ("stack/<name>/*").
    if name.startswith("arn:"):
        return name
    return _arn("cloudformation", region, f"stack/{name}/00000000-0000-0000-0000-000000000000")


def requests(call: Call) -> Iterator[Request]:  # noqa: PLR0911 - one return per service
    """The authorization requests one call makes (Service Authorization Reference, per action).

    Calls on operations this project does not make raise: a new one must be mapped here first.
    """
    service, operation = call.action.split(":")
    params, region = call.params, call.region
    if service == "sts" and operation == "GetCallerIdentity":
        return  # needs no permission (IAM User Guide, "GetCallerIdentity")
    if service == "cloudformation":
        name = params.get("StackName")
        resource = _stack(region, name) if name else "*"
        role = params.get("RoleARN")
        context = {"cloudformation:RoleArn": role} if role else {}
        yield Request(call.action, resource, context)
        if role:
            # Passing a role: iam:PassRole on it, to CloudFormation.
            yield Request(
                "iam:PassRole", role, {"iam:PassedToService": "cloudformation.amazonaws.com"}
            )
        return
    if service == "ecr":
        repository = params.get("repositoryName")
        resource = _arn("ecr", region, f"repository/{repository}") if repository else "*"
        yield Request(call.action, resource)
        return
    if service == "ecs":
        cluster = str(params.get("cluster", "default")).rsplit("/", 1)[-1]
        if operation == "DescribeServices":
            for service_name in params.get("services", []):
                name = str(service_name).rsplit("/", 1)[-1]
                yield Request(call.action, _arn("ecs", region, f"service/{cluster}/{name}"))
            return
        if operation == "ListServiceDeployments":
            name = str(params["service"]).rsplit("/", 1)[-1]
            yield Request(call.action, _arn("ecs", region, f"service/{cluster}/{name}"))
            return
        if operation == "DescribeServiceDeployments":
            for arn in params.get("serviceDeploymentArns", []):
                yield Request(call.action, str(arn))
            return
    if service == "elasticloadbalancing" and operation.startswith("Describe"):
        yield Request(call.action, "*")  # no resource-level permission for Describe*
        return
    raise ValueError(f"no resource mapping for {call.action}: add it to tests/iam.py")
