"""IAM as AWS judges it: which request a call makes, and whether a role's policy allows it.

The local emulator enforces IAM only roughly (moto checks action names against a resource of
"*", ignores conditions, and treats an unmet condition as an explicit deny), so the rehearsal
judges every AWS call itself, at the client, before it leaves the process:

- ``requests``: the authorization requests one API call makes (action, resource ARN, condition
  keys), per the Service Authorization Reference;
- ``Evaluator``: AWS's evaluation of identity policies over them: actions and resources with
  wildcards, StringEquals/StringLike/ArnEquals/ArnLike/Bool conditions, an explicit Deny first
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html);
- ``Guard``: a botocore event handler that answers a denied call with AWS's own AccessDenied
  error instead of sending it, and logs the denial for the rehearsal's report.

This module is also copied, as one file, into every rehearsed CodeBuild action's processes (see
``sitecustomize``): it imports only the standard library at module level, and botocore inside
the functions that need it.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import textwrap
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A botocore service's signing name -> IAM's service prefix, where they differ.
_PREFIXES = {"monitoring": "cloudwatch"}
# The variable naming the guard's settings file in an action's processes (``sitecustomize``).
SETTINGS_VARIABLE = "REHEARSAL_IAM_GUARD"
MODULE_NAME = "rehearsal_policy"


@dataclass(frozen=True)
class Call:
    """One AWS API call: the IAM action it needs, its region and its parameters."""

    action: str
    region: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Request:
    """One authorization question: an action on a resource, with its request context keys."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        keys = ", ".join(f"{k}={v}" for k, v in sorted(self.context.items()))
        return f"{self.action} on {self.resource}" + (f" ({keys})" if keys else "")


# --- policies ---------------------------------------------------------------------------------


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


def statements_of(documents: Sequence[Mapping[str, Any] | str]) -> list[dict[str, Any]]:
    """Every statement of the policy documents (JSON text or parsed), as a flat list."""
    found: list[dict[str, Any]] = []
    for document in documents:
        parsed = json.loads(document) if isinstance(document, str) else document
        found += [dict(s) for s in _as_list(parsed.get("Statement", []))]
    return found


# --- what each call touches -------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """The account and partition ARNs are built in, and what S3 encrypts each bucket with."""

    id: str
    partition: str = "aws"
    # bucket name -> KMS key ARN of its default encryption: a put or get of an object there is
    # also a kms:GenerateDataKey or kms:Decrypt by the caller (S3 asks KMS on its behalf).
    bucket_keys: Mapping[str, str] = field(default_factory=dict)

    def arn(self, service: str, region: str, resource: str) -> str:
        """``arn:<partition>:<service>:<region>:<account>:<resource>``."""
        return f"arn:{self.partition}:{service}:{region}:{self.id}:{resource}"


class UnmappedCallError(ValueError):
    """A call this module cannot name the resources of: it must be mapped before it is judged."""

    def __init__(self, call: Call, detail: str = "") -> None:
        why = f" ({detail})" if detail else ""
        super().__init__(
            f"no resource mapping for {call.action}{why}: add it to delivery/rehearsal/policy.py"
        )


def _stack(account: Account, region: str, name: str) -> str:
    # A stack id or a name: the policy patterns match any id ("stack/<name>/*").
    if name.startswith("arn:"):
        return name
    return account.arn(
        "cloudformation", region, f"stack/{name}/00000000-0000-0000-0000-000000000000"
    )


def _cloudformation(call: Call, account: Account) -> Iterator[Request]:
    params = call.params
    name = params.get("StackName")
    resource = _stack(account, call.region, str(name)) if name else "*"
    role = params.get("RoleARN")
    context = {"cloudformation:RoleArn": str(role)} if role else {}
    yield Request(call.action, resource, context)
    if role:
        # Passing a role: iam:PassRole on it, to CloudFormation.
        yield Request(
            "iam:PassRole", str(role), {"iam:PassedToService": "cloudformation.amazonaws.com"}
        )


def _ecr(call: Call, account: Account) -> Iterator[Request]:
    if call.action == "ecr:GetAuthorizationToken":
        yield Request(call.action, "*")  # no resource-level permission
        return
    repository = call.params.get("repositoryName")
    if not repository:
        raise UnmappedCallError(call, "no repositoryName")
    yield Request(call.action, account.arn("ecr", call.region, f"repository/{repository}"))


def _ecs_resources(call: Call, account: Account) -> list[str]:
    """The ECS resources a call names (Service Authorization Reference, Amazon ECS)."""
    params, operation = call.params, call.action.split(":")[1]
    cluster = str(params.get("cluster", "default")).rsplit("/", 1)[-1]

    def ecs(resource: str) -> str:
        return (
            resource if resource.startswith("arn:") else account.arn("ecs", call.region, resource)
        )

    def named(kind: str, value: Any) -> str:
        return ecs(str(value) if str(value).startswith("arn:") else f"{kind}/{cluster}/{value}")

    if operation == "DescribeServices":
        return [
            ecs(f"service/{cluster}/{str(s).rsplit('/', 1)[-1]}")
            for s in params.get("services", [])
        ]
    if operation == "ListServiceDeployments":
        return [ecs(f"service/{cluster}/{str(params['service']).rsplit('/', 1)[-1]}")]
    if operation == "DescribeServiceDeployments":
        return [str(arn) for arn in params.get("serviceDeploymentArns", [])]
    if operation == "DescribeTasks":
        return [named("task", task) for task in params.get("tasks", [])]
    if operation == "StopServiceDeployment":
        # Resource types: the deployment and its service (service-deployment/<c>/<s>/<id>).
        arn = str(params["serviceDeploymentArn"])
        _, service_cluster, service, _ = arn.split(":", 5)[5].split("/")
        return [arn, ecs(f"service/{service_cluster}/{service}")]
    raise UnmappedCallError(call)


def _ecs(call: Call, account: Account) -> Iterator[Request]:
    operation = call.action.split(":")[1]
    if operation == "DescribeTaskDefinition":
        yield Request(call.action, "*")  # no resource-level permission
        return
    if operation == "ListTasks":
        # Its resource type is the container instance (Fargate has none): the cluster is the
        # ecs:cluster condition key.
        cluster = str(call.params.get("cluster", "default")).rsplit("/", 1)[-1]
        arn = account.arn("ecs", call.region, f"cluster/{cluster}")
        yield Request(call.action, "*", {"ecs:cluster": arn})
        return
    for resource in _ecs_resources(call, account):
        yield Request(call.action, resource)


def _s3(call: Call, account: Account) -> Iterator[Request]:
    operation = call.action.split(":")[1]
    bucket = str(call.params.get("Bucket", ""))
    key = call.params.get("Key")
    actions = {
        "PutObject": "s3:PutObject",
        "GetObject": "s3:GetObject",
        "HeadObject": "s3:GetObject",
    }
    if operation not in actions or not bucket or key is None:
        raise UnmappedCallError(call)
    yield Request(actions[operation], f"arn:{account.partition}:s3:::{bucket}/{key}")
    kms_key = account.bucket_keys.get(bucket)
    if kms_key:
        # SSE-KMS: S3 asks KMS with the caller's permissions (kms:ViaService is S3).
        needs = "kms:GenerateDataKey" if operation == "PutObject" else "kms:Decrypt"
        via = {"kms:ViaService": f"s3.{call.region}.amazonaws.com"}
        yield Request(needs, kms_key, via)


def _log_group_name(identifier: str) -> str:
    """A log group's name from its name or ARN (``...:log-group:<name>[:*]``)."""
    if not identifier.startswith("arn:"):
        return identifier
    name = identifier.split(":log-group:", 1)[1]
    return name[:-2] if name.endswith(":*") else name


def _logs(call: Call, account: Account) -> Iterator[Request]:
    params = call.params
    groups = [params.get("logGroupName") or params.get("logGroupIdentifier")]
    if call.action == "logs:StartLiveTail":
        groups = list(params.get("logGroupIdentifiers", []))
    stream = params.get("logStreamName")
    if not all(groups) or not groups:
        raise UnmappedCallError(call)
    for group in groups:
        base = f"log-group:{_log_group_name(str(group))}"
        resource = f"{base}:log-stream:{stream}" if stream else f"{base}:*"
        yield Request(call.action, account.arn("logs", call.region, resource))


def _cloudwatch(call: Call, account: Account) -> Iterator[Request]:
    operation = call.action.split(":")[1]
    if operation == "GetMetricData":
        yield Request(call.action, "*")  # no resource type (CloudWatch's permissions reference)
        return
    if operation == "DescribeAlarms":
        names = call.params.get("AlarmNames") or []
        if not names:
            yield Request(call.action, "*")  # by prefix, state or all: no alarm named
            return
        for name in names:
            yield Request(call.action, account.arn("cloudwatch", call.region, f"alarm:{name}"))
        return
    raise UnmappedCallError(call)


def _codepipeline(call: Call, account: Account) -> Iterator[Request]:
    operation = call.action.split(":")[1]
    if operation in ("GetPipeline", "GetPipelineState"):
        name = call.params.get("name")
        yield Request(call.action, account.arn("codepipeline", call.region, str(name)))
        return
    if operation in ("DisableStageTransition", "EnableStageTransition"):
        # Their resource type is the stage: <pipeline>/<stage>.
        stage = f"{call.params.get('pipelineName')}/{call.params.get('stageName')}"
        yield Request(call.action, account.arn("codepipeline", call.region, stage))
        return
    raise UnmappedCallError(call)


def _codebuild(call: Call, account: Account) -> Iterator[Request]:
    operation = call.action.split(":")[1]
    if operation == "StartBuild":
        name = call.params["projectName"]
        yield Request(call.action, account.arn("codebuild", call.region, f"project/{name}"))
        return
    if operation == "BatchGetBuilds":
        for build_id in call.params.get("ids", []):
            name = str(build_id).split(":", 1)[0].rsplit("/", 1)[-1]
            yield Request(call.action, account.arn("codebuild", call.region, f"project/{name}"))
        return
    raise UnmappedCallError(call)


def _sns(call: Call, account: Account) -> Iterator[Request]:
    topic = call.params.get("TopicArn")
    if call.action != "sns:Publish" or not topic:
        raise UnmappedCallError(call)
    yield Request(call.action, str(topic))


def _connections(call: Call, account: Account) -> Iterator[Request]:
    arn = call.params.get("ConnectionArn")
    if not arn:
        raise UnmappedCallError(call)
    yield Request(call.action, str(arn))


# X-Ray's actions that have no resource type: "*" (Service Authorization Reference, AWS X-Ray:
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html); others,
# such as CreateGroup, name a group or sampling rule and are not mapped here.
_XRAY_WITHOUT_RESOURCE = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    }
)


def _xray(call: Call, account: Account) -> Iterator[Request]:
    if call.action not in _XRAY_WITHOUT_RESOURCE:
        raise UnmappedCallError(call)
    yield Request(call.action, "*")


_SERVICES: dict[str, Callable[[Call, Account], Iterator[Request]]] = {
    "cloudformation": _cloudformation,
    "ecr": _ecr,
    "ecs": _ecs,
    "s3": _s3,
    "logs": _logs,
    "cloudwatch": _cloudwatch,
    "codepipeline": _codepipeline,
    "codebuild": _codebuild,
    "sns": _sns,
    "codeconnections": _connections,
    "codestar-connections": _connections,
    "xray": _xray,
}


def requests(call: Call, account: Account) -> Iterator[Request]:
    """The authorization requests one call makes (Service Authorization Reference, per action).

    A call this module has no mapping for raises ``UnmappedCallError``: map it here first, so
    that no call is ever judged on a guessed resource.
    """
    service, operation = call.action.split(":")
    if call.action == "sts:GetCallerIdentity":
        return  # needs no permission (IAM User Guide, "GetCallerIdentity")
    if service == "elasticloadbalancing" and operation.startswith("Describe"):
        yield Request(call.action, "*")  # no resource-level permission for Describe*
        return
    if service == "ec2" and operation.startswith("Describe"):
        yield Request(call.action, "*")  # EC2's Describe* take no resource-level permission
        return
    mapper = _SERVICES.get(service)
    if mapper is None:
        raise UnmappedCallError(call)
    yield from mapper(call, account)


def denial_message(principal: str, request: Request) -> str:
    """AWS's wording of an implicit deny by an identity policy."""
    return (
        f"User: {principal} is not authorized to perform: {request.action} on resource: "
        f"{request.resource} because no identity-based policy allows the {request.action} action"
    )


# --- the guard: judge each call before it is sent ---------------------------------------------


@dataclass(frozen=True)
class GuardSettings:
    """Who calls (a role's session), with which policy, towards which endpoint."""

    principal: str  # arn:aws:sts::<account>:assumed-role/<role>/<session>
    role: str  # the role's name, for the report
    statements: Sequence[Mapping[str, Any]]
    endpoint: str  # only calls to this endpoint are judged (the emulator standing in for AWS)
    account: Account
    log: str  # JSON lines: one per denied request

    def to_json(self) -> str:
        """The settings as the file ``install_from`` reads."""
        data = {
            "principal": self.principal,
            "role": self.role,
            "statements": list(self.statements),
            "endpoint": self.endpoint,
            "account": {
                "id": self.account.id,
                "partition": self.account.partition,
                "bucket_keys": dict(self.account.bucket_keys),
            },
            "log": self.log,
        }
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> GuardSettings:
        """Settings from ``to_json``'s text."""
        data = json.loads(text)
        account = data["account"]
        return cls(
            principal=data["principal"],
            role=data["role"],
            statements=data["statements"],
            endpoint=data["endpoint"],
            account=Account(account["id"], account["partition"], account["bucket_keys"]),
            log=data["log"],
        )


def _action_of(model: Any) -> str:
    signing = model.service_model.signing_name
    return f"{_PREFIXES.get(signing, signing)}:{model.name}"


@dataclass
class Guard:
    """botocore handlers that refuse, with AWS's AccessDenied, what the policy does not allow."""

    settings: GuardSettings
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._evaluator = Evaluator(self.settings.statements)

    def remember(self, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        """``before-parameter-build``: keep the call's parameters, as given, for ``judge``."""
        context["rehearsal_params"] = dict(params)

    def judge(
        self, model: Any, params: Mapping[str, Any], context: Mapping[str, Any], **_: Any
    ) -> tuple[Any, dict[str, Any]] | None:
        """``before-call``: None lets the call go; a (response, parsed) pair answers it denied."""
        if not str(params.get("url", "")).startswith(self.settings.endpoint):
            return None
        call = Call(
            _action_of(model),
            str(context.get("client_region")),
            context.get("rehearsal_params", {}),
        )
        try:
            found = list(requests(call, self.settings.account))
        except UnmappedCallError as exc:
            return self._deny(model, call, Request(call.action, "?"), str(exc))
        for request in found:
            if not self._evaluator.allows(request):
                return self._deny(model, call, request, None)
        return None

    def _deny(
        self, model: Any, call: Call, request: Request, problem: str | None
    ) -> tuple[Any, dict[str, Any]]:
        from botocore.awsrequest import AWSResponse, HTTPHeaders  # noqa: PLC0415 - botocore here

        message = problem or denial_message(self.settings.principal, request)
        entry = {
            "role": self.settings.role,
            "call": call.action,
            "action": request.action,
            "resource": request.resource,
            "context": dict(request.context),
            "unmapped": problem is not None,
        }
        with self._lock, open(self.settings.log, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")
        # The code AWS answers with: AccessDeniedException on JSON protocols, AccessDenied else.
        protocol = model.service_model.metadata.get("protocol", "")
        code = "AccessDeniedException" if "json" in protocol else "AccessDenied"
        parsed = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 403, "HTTPHeaders": {}},
        }
        return AWSResponse(str(self.settings.endpoint), 403, HTTPHeaders(), None), parsed

    def handlers(self) -> list[tuple[str, Callable[..., Any]]]:
        """(event, handler) pairs to register on a client or in botocore's built-ins."""
        return [("before-parameter-build", self.remember), ("before-call", self.judge)]

    def register(self, client: Any) -> Any:
        """Guard one client (in this process); the client."""
        for event, handler in self.handlers():
            client.meta.events.register(event, handler)
        return client


@dataclass(frozen=True)
class Denial:
    """One denied request, as the guard logged it."""

    role: str
    call: str
    action: str
    resource: str
    context: Mapping[str, str]
    unmapped: bool

    def __str__(self) -> str:
        if self.unmapped:
            return f"{self.call} has no IAM mapping in the rehearsal (delivery/rehearsal/policy.py)"
        keys = ", ".join(f"{k}={v}" for k, v in sorted(self.context.items()))
        where = f" on {self.resource}" + (f" ({keys})" if keys else "")
        via = "" if self.call == self.action else f" (needed by {self.call})"
        return f"role {self.role} lacks {self.action}{where}{via}"


def denials(log: Path) -> list[Denial]:
    """What the guard writing ``log`` denied, in order."""
    if not log.exists():
        return []
    return [Denial(**json.loads(line)) for line in log.read_text().splitlines() if line.strip()]


def install_from(path: str) -> None:
    """Guard every botocore client this process will create (a sitecustomize calls it)."""
    import botocore.handlers  # noqa: PLC0415

    guard = Guard(GuardSettings.from_json(Path(path).read_text()))
    botocore.handlers.BUILTIN_HANDLERS.extend(guard.handlers())


_SITECUSTOMIZE = textwrap.dedent(
    f"""
    # Written by the pipeline rehearsal: IAM judged at every AWS call of this process.
    import os

    if os.environ.get("{SETTINGS_VARIABLE}"):
        try:
            import botocore  # noqa: F401
        except ImportError:  # a Python without botocore makes no AWS call to judge
            pass
        else:
            import {MODULE_NAME}

            {MODULE_NAME}.install_from(os.environ["{SETTINGS_VARIABLE}"])
    """
)


def sitecustomize(folder: Path, settings: GuardSettings) -> dict[str, str]:
    """Environment variables that guard every Python process started with them.

    Python imports ``sitecustomize`` from ``PYTHONPATH`` at start-up, before any botocore
    session exists, so every client of the process (Sceptre's, the AWS CLI's) is guarded.
    """
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__), folder / f"{MODULE_NAME}.py")
    (folder / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    (folder / "guard.json").write_text(settings.to_json())
    return {"PYTHONPATH": str(folder), SETTINGS_VARIABLE: str(folder / "guard.json")}


__all__ = [
    "Account",
    "Call",
    "Denial",
    "Evaluator",
    "Guard",
    "GuardSettings",
    "Request",
    "UnmappedCallError",
    "denial_message",
    "denials",
    "install_from",
    "requests",
    "sitecustomize",
    "statements_of",
]
