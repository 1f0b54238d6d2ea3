"""The emulator's CloudWatch alarms as AWS answers for them (part of ``delivery.strict_moto``).

moto 5.2.5 differs from CloudWatch in two ways the project's alarm reads depend on:

- PutCompositeAlarm is not implemented (the server answers HTTP 500), though moto's alarm model
  holds a composite's rule. CloudWatch creates the composite alarm, state INSUFFICIENT_DATA until
  evaluated, and SetAlarmState works on it
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html);
  here it is stored through moto's own model, starting OK as moto's metric alarms do;
- DescribeAlarms returns composite alarms whatever ``AlarmTypes`` says. CloudWatch: "If you omit
  this parameter, only metric alarms are returned, even if composite alarms exist in the
  account" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html);
  here the answer keeps only the types asked for (``MetricAlarm`` when none is).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult, EmptyResult

DEFAULT_TYPES = ("MetricAlarm",)  # what DescribeAlarms returns without AlarmTypes
_RESULT_KEY = {"MetricAlarm": "MetricAlarms", "CompositeAlarm": "CompositeAlarms"}


def _put_composite_alarm(self: Any) -> EmptyResult:
    self.cloudwatch_backend.put_metric_alarm(
        name=self._get_param("AlarmName"),
        namespace=None,
        metric_name=None,
        comparison_operator=None,
        evaluation_periods=None,
        period=None,
        threshold=None,
        statistic=None,
        description=self._get_param("AlarmDescription"),
        dimensions=[],
        alarm_actions=self._get_param("AlarmActions", []),
        ok_actions=self._get_param("OKActions", []),
        insufficient_data_actions=self._get_param("InsufficientDataActions", []),
        actions_enabled=self._get_bool_param("ActionsEnabled"),
        rule=self._get_param("AlarmRule"),
        tags=self._get_param("Tags", []),
    )
    return EmptyResult()


def _only_types_asked(describe: Callable[[Any], ActionResult]) -> Callable[[Any], ActionResult]:
    def describe_alarms(self: Any) -> ActionResult:
        asked = set(self._get_param("AlarmTypes", []) or DEFAULT_TYPES)
        result = describe(self)
        found = result.result if isinstance(result.result, dict) else {}
        return ActionResult(
            {key: found.get(key, []) if kind in asked else [] for kind, key in _RESULT_KEY.items()}
        )

    return describe_alarms


def install() -> None:
    """Patch moto's CloudWatch responses in this process (before the server starts)."""
    response = CloudWatchResponse
    response.put_composite_alarm = _put_composite_alarm  # type: ignore[attr-defined]
    response.describe_alarms = _only_types_asked(response.describe_alarms)  # type: ignore[method-assign,assignment]
