"""The local emulator's server: moto, made to behave as AWS does where the project depends on it.

``python -m delivery.strict_moto -H 127.0.0.1 -p PORT`` is what ``delivery.emulator.Emulator``
runs (``bin/deploy``, the tests): every environment on the emulator gets these rules.

moto 5.2.5 is kinder than CloudFormation in five ways the project's deploys depend on:

- UpdateTerminationProtection is not implemented (the server answers HTTP 500). CloudFormation
  sets the flag and answers the StackId
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateTerminationProtection.html);
- DeleteStack deletes a protected stack. CloudFormation refuses: "If a user attempts to delete a
  stack with termination protection enabled, the operation fails and the stack remains unchanged"
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html);
- a resource that fails to create makes CreateStack itself fail, leaving the stack
  CREATE_IN_PROGRESS. CloudFormation accepts the stack, fails the resource and, by default
  (``OnFailure: ROLLBACK``,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html), rolls
  the stack back to ROLLBACK_COMPLETE, which can then only be deleted (Sceptre's launch deletes
  such a stack before it creates it again). Such a stack has no outputs here (moto would
  evaluate them against the resource that failed, and fail DescribeStacks);
- a resource that fails during an update (UpdateStack, or ExecuteChangeSet of an UPDATE change
  set) makes that call itself fail with the last retry's error, and leaves the stack half-updated
  under its old status: it reports the new parameters (and, after UpdateStack, the new template),
  the resources changed or deleted before the failure stay so, and no event ends the
  UPDATE_IN_PROGRESS. CloudFormation fails the resource (UPDATE_FAILED, or CREATE_FAILED for one
  the update adds), rolls the stack back (UPDATE_ROLLBACK_IN_PROGRESS) and ends in
  UPDATE_ROLLBACK_COMPLETE (stack status codes,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html): "a
  working state (the UPDATE_ROLLBACK_COMPLETE state)" from which you can "try to update the stack
  again"
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ContinueUpdateRollback.html),
  the stack returned "to its original settings"
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-continueupdaterollback.html).
  Here the failed resource's first error becomes its ``*_FAILED`` event (moto retries a failing
  update four times; later errors are fallout), then the stack's previous template and
  parameters are applied again through moto's own update path. Restored: the template body, the
  parameters, the outputs (evaluated again against the restored resources) and the resources as
  the backends hold them: resources the update added are deleted, ones it changed are updated
  back. Not restored as on AWS, which never deleted them: a resource the update removes (moto
  deletes those first, CloudFormation last) and the resource whose update failed (deleted if
  still there: moto's replacements delete the old resource first) are created again from their
  old properties, so they get a new physical id where the name is generated and lose what they
  held (an ECR repository's images); a half-made new resource a failed update created is left
  behind. A rollback that itself fails ends UPDATE_ROLLBACK_FAILED.
  What CloudFormation validates before it starts an update (the template parses, the parameters
  resolve) still fails the call itself, leaving the stack untouched, as on AWS.

- an update of a listener rule's ``Priority`` is dropped: moto's rule update applies its conditions
  and actions only. CloudFormation updates the priority in place ("Update requires: No
  interruption",
  https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-elasticloadbalancingv2-listenerrule.html),
  which is SetRulePriorities, refused with PriorityInUse when another rule of the listener has it
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_SetRulePriorities.html):
  here the new priority is set the same way, so a clash fails the update and rolls it back.
  moto also never deletes a listener rule it made for a stack (a stack's deletion, or a rollback
  that removes the rule, left it on the listener); here it is deleted with DeleteRule.

It is stricter than AWS in one way the project's pipeline depends on: CreatePipeline refuses a
role whose trust policy lists its service principals (``"Service": ["codepipeline..."]``), which
the IAM policy grammar allows
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html): moto compares
each statement's Service to one string. Here moto's check reads one service per statement.

moto's PutLogEvents checks only a batch's order and its events' age. CloudWatch Logs also refuses
a batch of more than 10,000 events, of more than 1,048,576 bytes (each message's UTF-8 bytes
plus 26), or spanning more than 24 hours, and an empty message
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html,
``InputLogEvent.message`` minimum length 1): here such a batch is refused with
InvalidParameterException, so the local log shipping is held to AWS's limits.

X-Ray's PutTraceSegments checks (a segment document's trace id, ids and size) are
``delivery.strict_xray``'s.

ECS's own behaviours where moto is kinder (a stack update's task definition revision, a task's
lifetime, Fargate's task-level memory) are ``delivery.strict_ecs``'s.

moto's CloudFormation also lacks models for ``AWS::CodeBuild::Project``,
``AWS::CodePipeline::Pipeline``, ``AWS::SecretsManager::Secret``, ``AWS::CloudWatch::Alarm`` and
``AWS::CloudWatch::CompositeAlarm``; ``delivery.emulator_resources`` adds them, backed by moto's
own backends, and ``install`` registers them first. moto's CloudWatch alarms are made to behave
as CloudWatch's (PutCompositeAlarm, DescribeAlarms' AlarmTypes, an alarm's initial and updated
state, composite alarms following their children) by ``delivery.strict_cloudwatch``. Its
CodePipeline lacks the stage transitions (DisableStageTransition, EnableStageTransition,
GetPipelineState) that pause promotion; ``delivery.emulator_transitions`` adds them.

This module adds exactly these behaviours to moto's own classes, then runs moto's server.
It adds no other behaviour; tests/integration/test_delivery_stacks.py says what AWS must confirm.
IAM is enforced by moto itself when asked (``POST /moto-api/reset-auth``), coarsely: actions only.
"""

from __future__ import annotations

import contextlib
import copy
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from moto.cloudformation import models, parsing, responses
from moto.cloudformation.exceptions import ValidationError
from moto.codepipeline.models import CodePipelineBackend
from moto.core.responses import ActionResult
from moto.elbv2.models import FakeListenerRule, elbv2_backends
from moto.logs.exceptions import InvalidParameterException
from moto.logs.models import LogsBackend

from delivery import (
    emulator_resources,
    emulator_transitions,
    strict_cloudwatch,
    strict_ecs,
    strict_xray,
)
from delivery.log_limits import (
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_SPAN_MS,
)

# A failed resource's event status, and the verb CloudFormation's rollback reason gives it.
_FAILED_VERB = {"CREATE_FAILED": "create", "UPDATE_FAILED": "update"}


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _update_termination_protection(self: Any) -> ActionResult:
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    stack.enable_termination_protection = self._get_bool_param("EnableTerminationProtection")
    return ActionResult({"StackId": stack.stack_id})


def _refusing_protected(delete_stack: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def delete_protected_never(self: Any) -> Any:
        name = self._get_param("StackName")
        for stack in self.cloudformation_backend.stacks.values():
            if name in (stack.name, stack.stack_id) and stack.enable_termination_protection:
                raise ValidationError(
                    message=(
                        f"Stack [{stack.stack_id}] cannot be deleted while TerminationProtection "
                        "is enabled"
                    )
                )
        return delete_stack(self)

    return delete_protected_never


def _rolling_back(create_resources: Callable[[Any], None]) -> Callable[[Any], None]:
    def create_or_roll_back(self: Any) -> None:
        try:
            create_resources(self)
        except Exception as exc:  # any resource failure rolls the create back
            reason = _reason(exc)
            self._add_stack_event("CREATE_FAILED", resource_status_reason=reason)
            self._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
            self._add_stack_event("ROLLBACK_COMPLETE")
            self.status = "ROLLBACK_COMPLETE"
            # A rolled-back stack has no outputs; moto would evaluate them on DescribeStacks,
            # creating the failed resource again, and answer HTTP 500.
            self.output_map = parsing.OutputMap(self.resource_map, {}, self.stack_id)

    return create_or_roll_back


# --- which resource failed ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Failure:
    """A resource whose create or update raised, with its first error."""

    logical_id: str
    resource_type: str
    status: str  # CREATE_FAILED or UPDATE_FAILED
    reason: str
    error: BaseException


def _failures(resource_map: Any) -> dict[str, _Failure]:
    """The resources of this stack's current operation that failed, in the order they failed."""
    found: dict[str, _Failure] = resource_map.__dict__.setdefault("_strict_moto_failures", {})
    return found


def _noting_failures(parse: Callable[..., Any], status: str) -> Callable[..., Any]:
    """Wrap moto's per-resource create or update so the resource map learns which one failed."""

    def parse_or_note(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, **kwargs: Any
    ) -> Any:
        failures = _failures(resources_map)
        try:
            resource = parse(logical_id, resource_json, resources_map, **kwargs)
        except Exception as exc:
            # The first error is the cause: moto retries a failing update, and a resource whose
            # creation pulled in a failing dependency (Ref) re-raises that dependency's error.
            if logical_id not in failures and all(f.error is not exc for f in failures.values()):
                kind = str(resource_json.get("Type", ""))
                failures[logical_id] = _Failure(logical_id, kind, status, _reason(exc), exc)
            raise
        failures.pop(logical_id, None)  # a retry that succeeded
        return resource

    return parse_or_note


# --- a failed update rolls back ----------------------------------------------------------------


@dataclass(frozen=True)
class _Before:
    """What an update may change on a stack, as it was before."""

    template: Any  # the body as submitted
    template_dict: dict[str, Any]
    parameters: dict[str, Any]
    input_parameters: dict[str, Any]
    resolved_parameters: dict[str, Any]
    no_echo_keys: list[str]

    @classmethod
    def of(cls, stack: Any) -> _Before:
        """The stack's template, parameters and resolved parameters right now."""
        resources = stack.resource_map
        return cls(
            template=stack.template,
            template_dict=copy.deepcopy(stack.template_dict),
            parameters=dict(stack.parameters),
            input_parameters=dict(resources.input_parameters),
            resolved_parameters=dict(resources.resolved_parameters),
            no_echo_keys=list(getattr(resources, "no_echo_parameter_keys", [])),
        )


def _checked(stack: Any, template: Any, parameters: dict[str, Any] | None) -> dict[str, Any]:
    """The new template, parsed; raises what CloudFormation rejects before an update starts.

    moto resolves an update's parameters only after it has deleted the resources the update
    removes; CloudFormation refuses a bad template or parameters in the call itself.
    """
    template_dict: dict[str, Any] = (
        template if isinstance(template, dict) else stack.parse_template(template)
    )
    probe = parsing.ResourceMap(
        stack.stack_id,
        stack.name,
        parameters or stack.resource_map.input_parameters,
        stack.tags,
        region_name=stack.region_name,
        account_id=stack.account_id,
        template=copy.deepcopy(template_dict),
        cross_stack_resources=stack.cross_stack_resources,
    )
    probe.load_mapping()
    probe.load_parameters()
    probe.load_conditions()
    return template_dict


@contextlib.contextmanager
def _rolled_back_on_failure(stack: Any, new_template: dict[str, Any]) -> Iterator[None]:
    """Run an update; if a resource fails, roll the stack back and swallow the error."""
    before = _Before.of(stack)
    _failures(stack.resource_map).clear()
    try:
        yield
    except Exception as exc:  # any failure inside the update rolls it back
        _roll_back(stack, before, new_template, exc)


def _roll_back(stack: Any, before: _Before, new_template: dict[str, Any], exc: Exception) -> None:
    failures = list(_failures(stack.resource_map).values())
    _report_failure(stack, failures, exc)
    try:
        _restore(stack, before, new_template, failures)
    except Exception as again:  # the rollback itself failed, as CloudFormation reports it
        stack._add_stack_event("UPDATE_ROLLBACK_FAILED", resource_status_reason=_reason(again))
        stack.status = "UPDATE_ROLLBACK_FAILED"
        return
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
    stack.status = "UPDATE_ROLLBACK_COMPLETE"


def _report_failure(stack: Any, failures: list[_Failure], exc: Exception) -> None:
    """The failed resource's event, then the stack's UPDATE_ROLLBACK_IN_PROGRESS with the reason."""
    if not failures:  # no resource to blame (moto failed deleting a removed one): the stack
        stack._add_stack_event("UPDATE_FAILED", resource_status_reason=_reason(exc))
        stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=_reason(exc))
        return
    for failure in failures:
        _add_resource_event(stack, failure)
    # CloudFormation's own wording, one sentence per kind of failure.
    summary = " ".join(
        f"The following resource(s) failed to {verb}: "
        f"[{', '.join(f.logical_id for f in failures if f.status == status)}]."
        for status, verb in _FAILED_VERB.items()
        if any(f.status == status for f in failures)
    )
    stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=summary)


def _add_resource_event(stack: Any, failure: _Failure) -> None:
    resource = stack.resource_map._parsed_resources.get(failure.logical_id)
    event = models.Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=failure.logical_id,
        physical_resource_id=getattr(resource, "physical_resource_id", ""),
        resource_type=failure.resource_type,
        resource_status=failure.status,
        resource_status_reason=failure.reason,
        resource_properties=None,
    )
    event.sendToSns(stack.account_id, stack.region_name, stack.notification_arns)
    stack.events.append(event)


def _restore(
    stack: Any, before: _Before, new_template: dict[str, Any], failures: list[_Failure]
) -> None:
    """Apply the previous template and parameters again, from wherever the update stopped."""
    resource_map = stack.resource_map
    old = before.template_dict.get("Resources", {})
    new = new_template.get("Resources", {})
    # moto deleted what the update removes before it failed, and a failed update may have deleted
    # its resource: forget both (deleting what is left), so moto's update creates them again.
    gone = [name for name in old if name not in new]
    gone += [f.logical_id for f in failures if f.logical_id in old and f.logical_id in new]
    for name in gone:
        _forget(resource_map, name, old[name])
    # Whatever phase moto stopped in, diff from the new template back to the old one.
    resource_map._template = new_template
    resource_map._resource_json_map = new
    resource_map.update(copy.deepcopy(before.template_dict), before.input_parameters)
    for name in new:  # moto deletes what it removes but keeps it in the map: a re-add would reuse
        if name not in old:
            resource_map._parsed_resources.pop(name, None)
    resource_map.input_parameters = before.input_parameters
    resource_map.resolved_parameters = before.resolved_parameters
    resource_map.no_echo_parameter_keys = before.no_echo_keys
    stack.template = before.template
    stack.template_dict = resource_map._template
    stack.parameters = before.parameters
    stack.output_map = stack._create_output_map()


def _forget(resource_map: Any, name: str, resource_json: dict[str, Any]) -> None:
    resource = resource_map._parsed_resources.pop(name, None)
    if resource is not None:
        # Already deleted (moto removed it, or its failed update did) is what is expected here.
        with contextlib.suppress(Exception):
            resource_map._delete_resource(resource, resource_json)


def _rolling_back_update(update: Callable[..., None]) -> Callable[..., None]:
    def update_or_roll_back(
        self: Any,
        template: str,
        role_arn: str | None = None,
        parameters: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        new_template = _checked(self, template, parameters)
        with _rolled_back_on_failure(self, new_template):
            update(self, template, role_arn, parameters, tags)

    return update_or_roll_back


def _change_set(backend: Any, name: str) -> Any:
    """The change set by ARN or name, as moto's execute_change_set looks it up; None if unknown."""
    if name in backend.change_sets:
        return backend.change_sets[name]
    found = [cs for cs in backend.change_sets.values() if cs.change_set_name == name]
    return found[-1] if found else None


def _rolling_back_change_set(execute: Callable[..., None]) -> Callable[..., None]:
    def execute_or_roll_back(
        self: Any, change_set_name: str, stack_name: str | None = None
    ) -> None:
        change_set = _change_set(self, change_set_name)
        if change_set is None or change_set.change_set_type != "UPDATE":
            execute(self, change_set_name, stack_name)
            return
        stack = change_set.stack
        new_template = _checked(stack, change_set.template, change_set.parameters)
        failed = True
        with _rolled_back_on_failure(stack, new_template):
            execute(self, change_set_name, stack_name)
            failed = False
        if failed:
            change_set.execution_status = "EXECUTE_FAILED"

    return execute_or_roll_back


# --- CodePipeline reads trust policies as IAM does ---------------------------------------------


def _one_service_per_statement(document: str) -> str:
    """The trust policy with one service principal per Allow statement (what moto can read)."""
    policy = json.loads(document)
    statements = policy.get("Statement", [])
    split = []
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal")
        services = principal.get("Service") if isinstance(principal, dict) else None
        if statement.get("Effect") != "Allow" or services is None:
            continue  # trusts no service; moto's check would fail on its missing Service key
        for service in services if isinstance(services, list) else [services]:
            split.append({**statement, "Principal": {"Service": service}})
    return json.dumps({**policy, "Statement": split})


def _reading_service_lists(create_pipeline: Callable[..., Any]) -> Callable[..., Any]:
    def create_reading_lists(self: Any, pipeline: dict[str, Any], tags: Any) -> Any:
        try:
            role = self.iam_backend.get_role_by_arn(pipeline.get("roleArn"))
        except Exception:  # no such role: moto's own check says so
            return create_pipeline(self, pipeline, tags)
        written = role.assume_role_policy_document
        # Only for moto's check, and only during it: GetRole still answers the policy as written.
        role.assume_role_policy_document = _one_service_per_statement(written)
        try:
            return create_pipeline(self, pipeline, tags)
        finally:
            role.assume_role_policy_document = written

    return create_reading_lists


def _updating_priority(update: Any) -> Any:
    """A listener rule's update that also moves its priority, as SetRulePriorities does."""

    def update_with_priority(cls: Any, original_resource: Any, *args: Any, **kwargs: Any) -> Any:
        # moto's signature: (original_resource, new_resource_name, cloudformation_json,
        # account_id, region_name), by position or by name.
        rule = update.__func__(cls, original_resource, *args, **kwargs)
        names = ("new_resource_name", "cloudformation_json", "account_id", "region_name")
        given = {**dict(zip(names, args, strict=False)), **kwargs}
        wanted = given["cloudformation_json"].get("Properties", {}).get("Priority")
        if wanted is not None and int(wanted) != int(original_resource.priority):
            backend = elbv2_backends[given["account_id"]][given["region_name"]]
            moved = {"RuleArn": original_resource.arn, "Priority": int(wanted)}
            backend.set_rule_priorities([moved])
        return rule

    return classmethod(update_with_priority)


def _delete_rule(self: Any, account_id: str, region_name: str) -> None:
    """Delete a listener rule CloudFormation made (moto's CloudFormation leaves it behind)."""
    elbv2_backends[account_id][region_name].delete_rule(self.arn)


def _check_log_batch(events: list[dict[str, Any]]) -> None:
    """PutLogEvents' batch limits (see the module docstring); one InvalidParameterException."""
    if len(events) > MAX_BATCH_EVENTS:
        raise InvalidParameterException(
            f"{len(events)} log events in one PutLogEvents request: at most {MAX_BATCH_EVENTS}"
        )
    if any(not event.get("message") for event in events):
        raise InvalidParameterException("a log event's message is empty (minimum length 1)")
    size = sum(len(str(e["message"]).encode()) + EVENT_OVERHEAD_BYTES for e in events)
    if size > MAX_BATCH_BYTES:
        raise InvalidParameterException(
            f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )
    stamps = [int(event["timestamp"]) for event in events]
    if stamps and max(stamps) - min(stamps) > MAX_SPAN_MS:
        raise InvalidParameterException(
            "The batch of log events in a single PutLogEvents request cannot span more than "
            "24 hours."
        )


def _within_batch_limits(put: Callable[..., Any]) -> Callable[..., Any]:
    def put_log_events(
        self: Any, log_group_name: str, log_stream_name: str, log_events: list[dict[str, Any]]
    ) -> Any:
        _check_log_batch(log_events)
        return put(self, log_group_name, log_stream_name, log_events)

    return put_log_events


def install() -> None:
    """Patch moto's classes in this process (before the server starts)."""
    # First, before anything fills moto's model cache: the resource types moto has no model for.
    emulator_resources.register()
    # Patching moto's classes is the point here; mypy rightly objects to assigning methods.
    response = responses.CloudFormationResponse
    response.update_termination_protection = _update_termination_protection  # type: ignore[attr-defined]
    response.delete_stack = _refusing_protected(response.delete_stack)  # type: ignore[method-assign,assignment]
    models.Stack.create_resources = _rolling_back(models.Stack.create_resources)  # type: ignore[method-assign,assignment]
    models.Stack.update = _rolling_back_update(models.Stack.update)  # type: ignore[method-assign]
    backend = models.CloudFormationBackend
    backend.execute_change_set = _rolling_back_change_set(backend.execute_change_set)  # type: ignore[method-assign]
    parsing.parse_and_create_resource = _noting_failures(
        parsing.parse_and_create_resource, "CREATE_FAILED"
    )
    parsing.parse_and_update_resource = _noting_failures(
        parsing.parse_and_update_resource, "UPDATE_FAILED"
    )
    rules = FakeListenerRule
    rules.delete = _delete_rule  # type: ignore[attr-defined]
    rules.update_from_cloudformation_json = _updating_priority(  # type: ignore[method-assign]
        rules.update_from_cloudformation_json
    )
    pipelines = CodePipelineBackend
    pipelines.create_pipeline = _reading_service_lists(pipelines.create_pipeline)  # type: ignore[method-assign]
    strict_ecs.install()
    LogsBackend.put_log_events = _within_batch_limits(LogsBackend.put_log_events)  # type: ignore[method-assign]
    strict_cloudwatch.install()
    strict_xray.install()
    emulator_transitions.install()


if __name__ == "__main__":
    from moto import server

    install()
    server.main(sys.argv[1:])
