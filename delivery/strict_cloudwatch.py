"""moto's CloudWatch alarms, made to behave as CloudWatch's do (installed by delivery.strict_moto).

moto 5.2.5 differs from CloudWatch in four ways the project's alarms depend on:

- PutCompositeAlarm is not implemented (the server answers "has not been implemented"). Here it
  puts the composite alarm through ``emulator_resources.alarms.put_composite_alarm``, which
  checks the rule and evaluates it
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html);
- DescribeAlarms ignores ``AlarmTypes`` and answers composite alarms always. CloudWatch: "If you
  omit this parameter, only metric alarms are returned, even if composite alarms exist in the
  account"; and it applies every filter given (moto only the first of AlarmNames,
  AlarmNamePrefix, ActionPrefix, StateValue)
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html);
- a new alarm starts OK, and putting an existing one again resets it to OK. CloudWatch: "When
  this operation creates an alarm, the alarm state is immediately set to INSUFFICIENT_DATA ...
  When you update an existing alarm, its state is left unchanged"
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html);
- SetAlarmState changes one alarm only. CloudWatch evaluates the composite alarms that read it,
  so a composite whose rule now holds goes to ALARM (``alarms.evaluate_composites``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult, EmptyResult

from delivery.emulator_resources import alarms

_REQUEST_MEMBERS = (
    "AlarmName",
    "AlarmRule",
    "AlarmDescription",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "ActionsEnabled",
    "Tags",
)


def _put_composite_alarm(self: Any) -> ActionResult:
    request = {m: self._get_param(m) for m in _REQUEST_MEMBERS if self._get_param(m) is not None}
    alarms.put_composite_alarm(self.cloudwatch_backend, request)
    return EmptyResult()


def described(
    every: list[Any],
    *,
    names: list[str],
    prefix: str | None,
    action_prefix: str | None,
    state: str | None,
    types: list[str],
) -> dict[str, list[Any]]:
    """DescribeAlarms' answer: the alarms every given filter keeps, by type."""
    kept = [
        a
        for a in every
        if (not names or a.name in names)
        and (not prefix or a.name.startswith(prefix))
        and (not action_prefix or any(x.startswith(action_prefix) for x in a.alarm_actions))
        and (not state or a.state_value == state)
    ]
    return {
        "MetricAlarms": [a for a in kept if a.rule is None] if "MetricAlarm" in types else [],
        "CompositeAlarms": (
            [a for a in kept if a.rule is not None] if "CompositeAlarm" in types else []
        ),
    }


def _describe_alarms(self: Any) -> ActionResult:
    answer = described(
        list(self.cloudwatch_backend.describe_alarms()),
        names=self._get_param("AlarmNames", []),
        prefix=self._get_param("AlarmNamePrefix"),
        action_prefix=self._get_param("ActionPrefix"),
        state=self._get_param("StateValue"),
        types=self._get_param("AlarmTypes") or ["MetricAlarm"],
    )
    return ActionResult(answer)


def _keeping_state(put: Callable[..., Any]) -> Callable[..., Any]:
    def put_keeping_state(self: CloudWatchBackend, *args: Any, **kwargs: Any) -> Any:
        name = kwargs["name"] if "name" in kwargs else args[0]
        before = self.alarms.get(name)
        alarm = put(self, *args, **kwargs)
        if before is None:
            alarm.state_value = "INSUFFICIENT_DATA"
        else:
            for kept in ("state_value", "state_reason", "state_reason_data", "history"):
                setattr(alarm, kept, getattr(before, kept))
            alarm.state_updated_timestamp = before.state_updated_timestamp
        return alarm

    return put_keeping_state


def _evaluating_composites(set_state: Callable[..., None]) -> Callable[..., None]:
    def set_state_and_evaluate(self: CloudWatchBackend, alarm_name: str, *args: Any) -> None:
        set_state(self, alarm_name, *args)
        alarms.evaluate_composites(self, {alarm_name})

    return set_state_and_evaluate


def install() -> None:
    """Patch moto's CloudWatch classes in this process (before the server starts)."""
    # Patching moto's classes is the point here; mypy rightly objects to assigning methods.
    response = CloudWatchResponse
    response.put_composite_alarm = _put_composite_alarm  # type: ignore[attr-defined]
    response.describe_alarms = _describe_alarms  # type: ignore[method-assign]
    backend = CloudWatchBackend
    backend.put_metric_alarm = _keeping_state(backend.put_metric_alarm)  # type: ignore[method-assign]
    backend.set_alarm_state = _evaluating_composites(backend.set_alarm_state)  # type: ignore[method-assign]
