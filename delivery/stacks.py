"""Sceptre orchestration: launch, preview, status, outputs and delete of the CloudFormation stacks.

The only module that imports Sceptre. It drives Sceptre's Python API (``SceptreContext`` and
``SceptrePlan``, what ``sceptre launch`` itself uses) in-process, so user variables such as
``image_uri`` and ``app_version`` reach the config exactly as ``--var`` would. Reads that need no
template (outputs, status, events) go straight to CloudFormation with boto3 by the stack's
CloudFormation name and region (``StackRef``), so they never have to render config or know the
deploy's variables; every client is made for an explicit region, never the shell's default.

Polling: Sceptre sleeps a fixed ``time.sleep(4)`` between stack-status polls (and 2 s between
change-set polls) in ``sceptre.plan.actions``; it exposes no setting for it. Against the local
emulator every stack completes at once, so that sleep is the whole launch time (~4 s per dependency
level). ``poll_interval()`` swaps the ``time`` name *inside that one module* for a clock whose
``sleep`` is capped, for the duration of a ``with`` block only; nothing else in the process sees it.
It is applied to the emulator only: Sceptre's ``stack_timeout`` counts elapsed time in its nominal
4 s steps, so on AWS we keep Sceptre's own pacing (and CloudFormation's API rate limits happy).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from delivery import aws_errors
from delivery.environments import PROJECT_ROOT, StackRef
from delivery.errors import DeliveryError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import ResourceChangeTypeDef

log = logging.getLogger(__name__)
EMULATOR_POLL_S = 0.1
_POLL_LOCK = threading.RLock()


@dataclass(frozen=True)
class StackState:
    """One stack's CloudFormation name and status (``NOT_CREATED`` when it does not exist)."""

    name: str
    status: str
    reason: str = ""


@dataclass(frozen=True)
class Change:
    """One line of a preview: what CloudFormation would do to a resource of a stack."""

    stack: str
    action: str  # Add, Modify, Remove, Import, Dynamic; Create (whole stack); or "none"
    resource: str = ""
    resource_type: str = ""
    replacement: str = ""  # True, False, Conditional
    causes: tuple[str, ...] = ()  # what changes and why, e.g. "ContainerDefinitions <- ImageUri"
    policy: str = ""  # what happens to the old resource: Delete, Retain, Snapshot, Replace...

    def __str__(self) -> str:
        if self.action == "none":
            return f"{self.stack}: no changes"
        if not self.resource:
            return f"{self.stack}: {self.action.lower()} stack"
        notes = [f"replacement: {self.replacement}"] if self.replacement else []
        notes += [f"policy: {self.policy}"] if self.policy else []
        shown = f" ({', '.join(notes)})" if notes else ""
        causes = f": {'; '.join(self.causes)}" if self.causes else ""
        return f"{self.stack}: {self.action} {self.resource} [{self.resource_type}]{shown}{causes}"


# How each ChangeSource names what caused a change (CloudFormation API reference,
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChangeDetail.html).
_CAUSES = {
    "ParameterReference": "parameter {}",
    "ResourceReference": "resource {}",
    "ResourceAttribute": "attribute {}",
    "DirectModification": "template",
    "Automatic": "nested stack",
}


def change_of(stack: str, change: ResourceChangeTypeDef) -> Change:
    """One ``ResourceChange`` of a DescribeChangeSet response as a preview line.

    Each ``Details`` entry says which part of the resource changes (``Target``: a property by
    ``Name``, or an attribute such as Tags) and what caused it (``ChangeSource`` and
    ``CausingEntity``); ``Evaluation: Dynamic`` means CloudFormation only knows at update time.
    """
    causes: list[str] = []
    for detail in change.get("Details", []):
        target = detail.get("Target", {})
        what = target.get("Name") or target.get("Attribute", "?")
        source = detail.get("ChangeSource", "")
        why = _CAUSES.get(source, source or "?").format(detail.get("CausingEntity", "?"))
        dynamic = " (decided at update time)" if detail.get("Evaluation") == "Dynamic" else ""
        line = f"{what} <- {why}{dynamic}"
        if line not in causes:
            causes.append(line)
    if not causes:  # no details (e.g. Add/Remove): say which parts are in scope, if any
        causes = list(change.get("Scope", []))
    return Change(
        stack,
        change.get("Action", "Modify"),
        change.get("LogicalResourceId", ""),
        change.get("ResourceType", ""),
        change.get("Replacement", ""),
        tuple(causes),
        change.get("PolicyAction", ""),
    )


class _PollClock:
    """Stands in for the ``time`` module inside ``sceptre.plan.actions``; caps ``sleep``."""

    def __init__(self, real: ModuleType, interval: float) -> None:
        self._real = real
        self.interval = interval

    def sleep(self, seconds: float) -> None:
        self._real.sleep(min(seconds, self.interval))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@contextlib.contextmanager
def poll_interval(seconds: float | None) -> Iterator[None]:
    """Cap Sceptre's status-poll sleeps at ``seconds`` inside the block (None: leave as is)."""
    if seconds is None:
        yield
        return
    if seconds < 0:
        raise DeliveryError(f"poll interval must be >= 0 seconds, not {seconds}")
    from sceptre.plan import actions  # noqa: PLC0415 - Sceptre loads only when stacks are touched

    with _POLL_LOCK:
        saved = actions.time
        real = saved._real if isinstance(saved, _PollClock) else saved
        if not isinstance(real, ModuleType) or real.__name__ != "time":
            # A Sceptre upgrade changed how it sleeps: run at its own pace rather than break.
            yield
            return
        actions.time = _PollClock(real, seconds)
        try:
            yield
        finally:
            actions.time = saved


class _SceptreLines(logging.Handler):
    """Passes Sceptre's INFO log lines (stack events among them) on as this module's, one line each.

    Sceptre's own format (and its root-logger handlers under ``invoke --debug``) is not
    delivery's: its lines join the deploy's other lines, on delivery's handler, at ``level``.
    """

    def __init__(self, level: int) -> None:
        super().__init__(logging.INFO)
        self.level_out = level

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a progress line must never break a deploy
            message = " ".join(record.getMessage().split())
            if message:
                log.log(self.level_out, message)


@contextlib.contextmanager
def _sceptre_lines(level: int = logging.INFO) -> Iterator[None]:
    """Within the block, Sceptre's INFO lines are this module's, at ``level``."""
    logger = logging.getLogger("sceptre")
    handler = _SceptreLines(level)
    saved_level, saved_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved_level)
        logger.propagate = saved_propagate


def fresh_connections() -> None:
    """Drop Sceptre's process-wide boto sessions so the current AWS environment applies."""
    from sceptre.connection_manager import ConnectionManager  # noqa: PLC0415

    with ConnectionManager._session_lock:
        ConnectionManager._boto_sessions.clear()
        ConnectionManager._boto_session_expirations.clear()
    with ConnectionManager._client_lock:
        ConnectionManager._clients.clear()


def _plan(path: str, variables: Mapping[str, str], root: Path, ignore_dependencies: bool) -> Any:
    from sceptre.context import SceptreContext  # noqa: PLC0415
    from sceptre.plan.plan import SceptrePlan  # noqa: PLC0415

    context = SceptreContext(
        project_path=str(root),
        command_path=path,
        user_variables=dict(variables),
        ignore_dependencies=ignore_dependencies,
    )
    return SceptrePlan(context)


@contextlib.contextmanager
def _sceptre_errors(action: str, path: str) -> Iterator[None]:
    """Every Sceptre/boto/Jinja failure as one line naming the action and the config path."""
    try:
        yield
    except DeliveryError:
        raise
    # Sceptre raises many unrelated types (its own, boto, Jinja, YAML); users get one line.
    except Exception as exc:
        raise DeliveryError(f"{action} {path} failed: {aws_errors.reason(exc)}") from exc


def cloudformation(region: str) -> CloudFormationClient:
    """A CloudFormation client for ``region``; endpoint and credentials from the environment.

    The region is always explicit: boto3 reads only AWS_DEFAULT_REGION or the profile, never
    AWS_REGION (https://github.com/boto/boto3/issues/3620), and Sceptre deploys each stack to the
    region its config names, whatever the shell says.
    """
    return boto3.client("cloudformation", region_name=region)


def _describe(stack: StackRef, cfn: CloudFormationClient | None) -> Any | None:
    """The stack's DescribeStacks entry; None when it does not exist; one line on any failure."""
    try:
        return (cfn or cloudformation(stack.region)).describe_stacks(StackName=stack.name)[
            "Stacks"
        ][0]
    except ClientError as exc:
        if "does not exist" in aws_errors.message(exc):
            return None
        raise DeliveryError(f"reading stack {stack.name} failed: {aws_errors.reason(exc)}") from exc
    except BotoCoreError as exc:
        raise DeliveryError(f"reading stack {stack.name} failed: {aws_errors.reason(exc)}") from exc


def failure_reason(stack: StackRef, cfn: CloudFormationClient | None = None) -> str:
    """The first failure reason among the stack's latest events (what actually went wrong)."""
    try:
        events = (cfn or cloudformation(stack.region)).describe_stack_events(StackName=stack.name)[
            "StackEvents"
        ]
    except (ClientError, BotoCoreError) as exc:
        return f"events unavailable ({aws_errors.reason(exc)})"
    # Events come newest first; the operation's first failure is the cause, later ones are fallout.
    failures = [
        event
        for event in events
        if event.get("ResourceStatus", "").endswith("FAILED") and event.get("ResourceStatusReason")
    ]
    if failures:
        first = failures[-1]
        return f"{first['LogicalResourceId']}: {first['ResourceStatusReason']}"
    for event in events:
        if event.get("ResourceStatusReason"):
            return str(event["ResourceStatusReason"])
    return "no reason recorded"


def state(stack: StackRef, cfn: CloudFormationClient | None = None) -> StackState:
    """The stack's status, ``NOT_CREATED`` when CloudFormation does not know it."""
    described = _describe(stack, cfn)
    if described is None:
        return StackState(stack.name, "NOT_CREATED")
    return StackState(stack.name, described["StackStatus"], described.get("StackStatusReason", ""))


def _existing(stack: StackRef, cfn: CloudFormationClient | None) -> Any:
    described = _describe(stack, cfn)
    if described is None:
        raise DeliveryError(
            f"stack {stack.name} does not exist in {stack.region}: deploy the environment first"
        )
    return described


def outputs(stack: StackRef, cfn: CloudFormationClient | None = None) -> dict[str, str]:
    """The stack's outputs by key; a one-line error when the stack does not exist."""
    described = _existing(stack, cfn)
    return {o["OutputKey"]: o.get("OutputValue", "") for o in described.get("Outputs", [])}


def parameters(stack: StackRef, cfn: CloudFormationClient | None = None) -> dict[str, str]:
    """The stack's current parameter values by key; a one-line error when it does not exist."""
    described = _existing(stack, cfn)
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])}


@dataclass(frozen=True)
class Resource:
    """One resource of a stack as ListStackResources names it."""

    logical_id: str
    physical_id: str  # an ARN for most types; a name for some (an alarm's name)
    type: str


def resources(stack: StackRef, cfn: CloudFormationClient | None = None) -> list[Resource]:
    """Every resource of the stack: ListStackResources, every page; one line on failure.

    One read for all of them (and the emulator answers it for every resource type, where its
    DescribeStackResource fails on types it does not model).
    """
    found: list[Resource] = []
    try:
        pages = (cfn or cloudformation(stack.region)).get_paginator("list_stack_resources")
        for page in pages.paginate(StackName=stack.name):
            found += [
                Resource(r["LogicalResourceId"], r.get("PhysicalResourceId", ""), r["ResourceType"])
                for r in page["StackResourceSummaries"]
            ]
    except (ClientError, BotoCoreError, ResponseParserError) as exc:
        raise DeliveryError(
            f"reading the resources of stack {stack.name} failed: {aws_errors.reason(exc)}"
        ) from exc
    return found


def resource_ids(stack: StackRef, cfn: CloudFormationClient | None = None) -> dict[str, str]:
    """Physical id (an ARN for most types) of each resource of the stack, by logical id."""
    return {r.logical_id: r.physical_id for r in resources(stack, cfn)}


def _ref(sceptre_stack: Any) -> StackRef:
    """Where Sceptre put one of its stacks: its CloudFormation name and its config's region."""
    return StackRef(sceptre_stack.external_name, sceptre_stack.region)


def _failed(stack: StackRef, status: str) -> DeliveryError:
    live = state(stack)
    shown = live.status if live.status != "NOT_CREATED" else status
    return DeliveryError(f"stack {stack.name} failed ({shown}): {failure_reason(stack)}")


def _unfinished(plan: Any) -> list[str]:
    """Stacks of a plan left in progress or failed (the ones an aborted launch was on)."""
    found = []
    with contextlib.suppress(Exception):  # only an aid for the message: never mask the error
        for stack in plan:
            status = state(_ref(stack)).status
            if status.endswith(("_IN_PROGRESS", "_FAILED")) or "ROLLBACK" in status:
                found.append(stack.external_name)
    return found


def launch(
    path: str,
    variables: Mapping[str, str] | None = None,
    *,
    root: Path = PROJECT_ROOT,
    poll: float | None = None,
    ignore_dependencies: bool = False,
    only_under: str | None = None,
) -> dict[str, str]:
    """Create or update the stacks under ``path`` (an env folder or one ``<env>/<stack>.yaml``).

    Dependencies are launched first unless ``ignore_dependencies``. With ``only_under`` (a config
    folder), dependencies outside that folder are not launched, only required to exist, settled:
    a deploy changes its environment's stacks and never the account's shared ones (an
    administrator's, ``invoke bootstrap``). Returns CloudFormation name -> final status. A stack
    that fails raises a one-line DeliveryError with the failing stack and its first failure
    event's reason.
    """
    fresh_connections()
    with (
        _sceptre_errors("launch", path),
        _sceptre_lines(),
        poll_interval(poll),
    ):
        plan = _plan(path, variables or {}, root, ignore_dependencies)
        if only_under is not None:
            _keep_under(plan, only_under)
        try:
            results = plan.launch()
        except Exception as exc:
            # An API error aborts Sceptre's launch (moto raises create errors synchronously):
            # name the stack it left half-done, not just the config path.
            unfinished = _unfinished(plan)
            if not unfinished:
                raise
            raise DeliveryError(
                f"launch {path} failed: stack {unfinished[0]}: {aws_errors.reason(exc)}"
            ) from exc
    for stack, status in results.items():
        if str(status) != "complete":
            raise _failed(_ref(stack), str(status))
    return {stack.external_name: state(_ref(stack)).status for stack in results}


# A stack another one depends on may be used in these states (CloudFormation's settled ones).
SETTLED = frozenset(
    {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}
)


def check_dependencies(
    folder: str, variables: Mapping[str, str] | None = None, *, root: Path = PROJECT_ROOT
) -> None:
    """The stacks ``folder``'s stacks depend on outside it exist, settled; one line otherwise.

    A deploy checks this before it builds or launches anything.
    """
    fresh_connections()
    with _sceptre_errors("read", folder):
        _check_outside(_plan(folder, variables or {}, root, ignore_dependencies=False), folder)


def _check_outside(plan: Any, folder: str) -> str:
    plan.resolve("launch")
    prefix = f"{folder.strip('/')}/"
    for stack in plan:
        if stack.name.startswith(prefix):
            continue
        live = state(_ref(stack))
        if live.status not in SETTLED:
            raise DeliveryError(
                f"stack {stack.external_name} ({stack.name}), which {folder} depends on, is "
                f"{live.status}: it is the account's, launched by an administrator with "
                "`invoke bootstrap`, never by a deploy"
            )
    return prefix


def _keep_under(plan: Any, folder: str) -> None:
    """Drop the plan's stacks outside ``folder`` after checking that each exists, settled."""
    prefix = _check_outside(plan, folder)
    plan.filter(lambda stack: stack.name.startswith(prefix))


def delete(
    path: str,
    *,
    root: Path = PROJECT_ROOT,
    poll: float | None = None,
    variables: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Delete the stacks under ``path``, dependents first (what they depend on is kept).

    Resources with a Retain deletion policy (the registry's images, log groups) stay behind.
    """
    fresh_connections()
    with (
        _sceptre_errors("delete", path),
        _sceptre_lines(),
        poll_interval(poll),
    ):
        # Sceptre resolves delete in reverse order: stacks that depend on these go first.
        plan = _plan(path, variables or {}, root, ignore_dependencies=False)
        results = plan.delete()
    for stack, status in results.items():
        if str(status) != "complete":
            raise _failed(_ref(stack), str(status))
    return {stack.external_name: str(status) for stack, status in results.items()}


def names(
    path: str, *, root: Path = PROJECT_ROOT, variables: Mapping[str, str] | None = None
) -> list[str]:
    """CloudFormation names of the stacks under ``path`` and their dependencies, launch order."""
    with _sceptre_errors("read", path):
        plan = _plan(path, variables or {}, root, ignore_dependencies=False)
        plan.resolve("launch")
        return [stack.external_name for stack in plan]


def generate(
    path: str, variables: Mapping[str, str] | None = None, *, root: Path = PROJECT_ROOT
) -> dict[str, str]:
    """Render the templates of the stacks under ``path`` exactly as a launch would; no AWS call.

    Runs each stack's template handler (``templates/*.py`` -> ``stacks.<name>.build(settings)``),
    so invalid settings fail here, before anything is built or changed.
    """
    with _sceptre_errors("render", path):
        plan = _plan(path, variables or {}, root, ignore_dependencies=False)
        return {stack.external_name: str(body) for stack, body in plan.generate().items()}


def change_set_request(stack: Any, change_set: str) -> dict[str, Any]:
    """CreateChangeSet arguments for a Sceptre stack: its rendered template and parameters, and
    its CloudFormation service role, as a launch passes it (a deploy role may create change sets
    only with its environment's role: the ``cloudformation:RoleArn`` condition)."""
    from sceptre.plan.actions import StackActions  # noqa: PLC0415

    actions = StackActions(stack)
    return {
        "StackName": stack.external_name,
        "ChangeSetName": change_set,
        "ChangeSetType": "UPDATE",
        "Parameters": actions._format_parameters(stack.parameters),
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        **actions._get_role_arn(),
        **stack.template.get_boto_call_parameter(),
    }


def preview_stack(cfn: CloudFormationClient, request: dict[str, Any], poll: float) -> list[Change]:
    """One stack's changes through a change set, created, read (every page) and deleted again.

    Driven with boto3 rather than Sceptre's change-set actions, which swallow errors (and
    CloudFormation's "No updates are to be performed" is an error on some endpoints).
    """
    name, change_set = request["StackName"], request["ChangeSetName"]
    try:
        cfn.create_change_set(**request)
    except ClientError as exc:
        if "No updates are to be performed" in aws_errors.message(exc):
            return [Change(name, "none")]
        raise
    try:
        while True:
            described = cfn.describe_change_set(StackName=name, ChangeSetName=change_set)
            if described["Status"] not in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
                break
            time.sleep(poll)
        if described["Status"] == "FAILED":
            reason = described.get("StatusReason", "")
            if "didn't contain changes" in reason or "No updates" in reason:
                return [Change(name, "none")]
            raise DeliveryError(f"previewing {name} failed: {reason}")
        found = []
        while True:
            found += [
                change_of(name, item["ResourceChange"])
                for item in described.get("Changes", [])
                if "ResourceChange" in item
            ]
            # Large change sets come in pages (DescribeChangeSet's NextToken).
            token = described.get("NextToken")
            if not token:
                break
            described = cfn.describe_change_set(
                StackName=name, ChangeSetName=change_set, NextToken=token
            )
        return found or [Change(name, "none")]
    finally:
        with contextlib.suppress(ClientError, BotoCoreError):
            cfn.delete_change_set(StackName=name, ChangeSetName=change_set)


def diff(
    path: str,
    variables: Mapping[str, str] | None = None,
    *,
    root: Path = PROJECT_ROOT,
    poll: float | None = None,
    only_under: str | None = None,
) -> list[Change]:
    """Preview what a launch would change, through CloudFormation change sets (then deleted).

    Stacks that do not exist yet are reported as "create" without a change set, because a
    change set on a new stack leaves an empty REVIEW_IN_PROGRESS stack behind. Each stack is
    previewed in its own region. ``only_under`` previews what ``launch`` with it would launch:
    that folder's stacks (the others must exist, settled).
    """
    fresh_connections()
    changes: list[Change] = []
    # diff's output is the changes: its steps and Sceptre's lines are DEBUG (`invoke diff` has
    # never shown them).
    with _sceptre_errors("diff", path), _sceptre_lines(logging.DEBUG):
        plan = _plan(path, variables or {}, root, ignore_dependencies=False)
        plan.resolve("launch")
        if only_under is not None:
            _keep_under(plan, only_under)
        for stack in plan:
            name = stack.external_name
            cfn = cloudformation(stack.region)
            if state(_ref(stack), cfn).status == "NOT_CREATED":
                changes.append(Change(name, "Create"))
                continue
            log.debug(f"diff: previewing {name}")
            request = change_set_request(stack, f"delivery-preview-{int(time.time() * 1000)}")
            changes.extend(preview_stack(cfn, request, 2.0 if poll is None else poll))
    return changes
