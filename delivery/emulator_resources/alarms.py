"""``AWS::CloudWatch::Alarm`` and ``AWS::CloudWatch::CompositeAlarm`` on moto's CloudWatch backend.

Both are named by ``AlarmName`` (create-only: a new name replaces the alarm), else moto's
generated ``<stack>-<logical id>-<suffix>``; Ref gives the name and ``Fn::GetAtt ... Arn`` the
ARN (the provider schemas cfn-lint ships: primaryIdentifier ``AlarmName``, readOnlyProperties
``Arn``). Properties are PutMetricAlarm's and PutCompositeAlarm's requests, by the API's own names
(``api_value``), the ``Metrics`` metric-math form included; any other key fails the resource.

The same calls serve the API (``delivery.strict_cloudwatch`` routes PutCompositeAlarm here):
``put_metric_alarm`` and ``put_composite_alarm`` take a request as the API names it.
A composite alarm's state follows its rule (``alarm_rule``): it is evaluated when the composite
is put and whenever an alarm it reads changes state (``evaluate_composites``).

Not modelled: metric alarms are never evaluated against metric data (their state changes only
through SetAlarmState); alarm actions are never run; a composite's ``ActionsSuppressor...``
properties are stored by nothing (moto's alarm has no such fields) but accepted.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.models import (
    Alarm,
    CloudWatchBackend,
    Dimension,
    Metric,
    MetricDataQuery,
    MetricStat,
    cloudwatch_backends,
)
from moto.core.common_models import CloudFormationModel

from delivery.emulator_resources import alarm_rule
from delivery.emulator_resources.properties import (
    ByName,
    api_shape,
    api_value,
    no_such_attribute,
    updated_name,
)

# PutMetricAlarm request members -> moto's put_metric_alarm arguments (Metrics: metric_queries).
_METRIC_ALARM_ARGS = {
    "AlarmName": "name",
    "Namespace": "namespace",
    "MetricName": "metric_name",
    "ComparisonOperator": "comparison_operator",
    "EvaluationPeriods": "evaluation_periods",
    "Period": "period",
    "Threshold": "threshold",
    "Statistic": "statistic",
    "AlarmDescription": "description",
    "Dimensions": "dimensions",
    "AlarmActions": "alarm_actions",
    "DatapointsToAlarm": "datapoints_to_alarm",
    "ExtendedStatistic": "extended_statistic",
    "OKActions": "ok_actions",
    "InsufficientDataActions": "insufficient_data_actions",
    "Unit": "unit",
    "ActionsEnabled": "actions_enabled",
    "TreatMissingData": "treat_missing_data",
    "EvaluateLowSampleCountPercentile": "evaluate_low_sample_count_percentile",
    "ThresholdMetricId": "threshold_metric_id",
    "Tags": "tags",
}
# PutCompositeAlarm request members moto's alarm holds (the rest is accepted, see above).
_COMPOSITE_ARGS = {
    "AlarmName": "name",
    "AlarmDescription": "description",
    "AlarmActions": "alarm_actions",
    "OKActions": "ok_actions",
    "InsufficientDataActions": "insufficient_data_actions",
    "ActionsEnabled": "actions_enabled",
    "Tags": "tags",
}


def _cloudwatch(account_id: str, region_name: str) -> CloudWatchBackend:
    return cloudwatch_backends[account_id][region_name]


def metric_queries(metrics: list[dict[str, Any]]) -> list[MetricDataQuery]:
    """PutMetricAlarm's ``Metrics`` (MetricDataQuery structures) as moto's objects."""
    queries = []
    for query in metrics:
        stat = query.get("MetricStat")
        metric_stat = None
        if stat is not None:
            metric = stat.get("Metric", {})
            dimensions = [
                Dimension(d.get("Name"), d.get("Value")) for d in metric.get("Dimensions", [])
            ]
            metric_stat = MetricStat(
                metric=Metric(metric.get("MetricName"), metric.get("Namespace"), dimensions),
                period=stat.get("Period"),
                stat=stat.get("Stat"),
                unit=stat.get("Unit"),
            )
        # moto's own PutMetricAlarm passes absent members on as None, whatever its hints say.
        fields: dict[str, Any] = {
            "query_id": query["Id"],
            "label": query.get("Label"),
            "period": query.get("Period"),
            "return_data": query.get("ReturnData"),
            "expression": query.get("Expression"),
            "metric_stat": metric_stat,
        }
        queries.append(MetricDataQuery(**fields))
    return queries


def put_metric_alarm(backend: CloudWatchBackend, request: dict[str, Any]) -> Alarm:
    """PutMetricAlarm with ``request`` as the API names it."""
    arguments: dict[str, Any] = {a: request.get(m) for m, a in _METRIC_ALARM_ARGS.items()}
    arguments["dimensions"] = arguments["dimensions"] or []
    arguments["alarm_actions"] = arguments["alarm_actions"] or []
    arguments["metric_data_queries"] = metric_queries(request.get("Metrics", []))
    return backend.put_metric_alarm(**arguments)


@functools.cache
def _rule(text: str) -> alarm_rule.Rule:
    return alarm_rule.parse(text)


def put_composite_alarm(backend: CloudWatchBackend, request: dict[str, Any]) -> Alarm:
    """PutCompositeAlarm with ``request`` as the API names it; its state is evaluated at once.

    Refused as CloudWatch refuses it (ValidationError): a rule outside the grammar, or one naming
    alarms that do not exist.
    """
    text = str(request.get("AlarmRule", ""))
    try:
        rule = _rule(text)
    except alarm_rule.RuleError as exc:
        raise ValidationError(str(exc)) from None
    missing = sorted(rule.alarms() - set(backend.alarms))
    if missing:
        raise ValidationError(
            f"Could not save the composite alarm as alarms {missing} in the alarm rule do not exist"
        )
    arguments: dict[str, Any] = {a: request.get(m) for m, a in _COMPOSITE_ARGS.items()}
    arguments["alarm_actions"] = arguments["alarm_actions"] or []
    # moto's alarm is a composite when it has a rule, and holds no metric then.
    metric = ("namespace", "metric_name", "comparison_operator", "evaluation_periods", "period")
    arguments |= dict.fromkeys((*metric, "threshold", "statistic"))
    alarm = backend.put_metric_alarm(**arguments, dimensions=[], rule=text)
    if _evaluate(backend, alarm):
        evaluate_composites(backend, {alarm.name})
    return alarm


def _evaluate(backend: CloudWatchBackend, composite: Alarm) -> bool:
    """Set the composite's state from its rule; whether it changed."""

    def state_of(name: str) -> str:
        child = backend.alarms.get(name)
        return str(child.state_value) if child is not None else "INSUFFICIENT_DATA"

    rule = _rule(str(composite.rule))
    state = "ALARM" if rule.holds(state_of) else "OK"
    if state == composite.state_value:
        return False
    reason_data = {c: state_of(c) for c in sorted(rule.alarms())}
    composite.update_state(
        f"AlarmRule is {'TRUE' if state == 'ALARM' else 'FALSE'}: {composite.rule}",
        json.dumps({"alarmStates": reason_data}),
        state,
    )
    return True


def evaluate_composites(backend: CloudWatchBackend, changed: set[str]) -> None:
    """Evaluate the composite alarms that read the ``changed`` alarms, and theirs in turn."""
    pending = set(changed)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        seen.add(name)
        for alarm in list(backend.alarms.values()):
            if alarm.rule is None or name not in _rule(str(alarm.rule)).alarms():
                continue
            if _evaluate(backend, alarm) and alarm.name not in seen:
                pending.add(alarm.name)


class _AlarmModel(ByName):
    """What both alarm types share: the name (``AlarmName``), Ref, GetAtt Arn, update, delete."""

    put: Any  # the module function that puts a request: put_metric_alarm or put_composite_alarm
    request_shape: str

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        """``Fn::GetAtt``: Arn."""
        if attribute_name == "Arn":
            alarm = _cloudwatch(self.account_id, self.region_name).alarms[self.name]
            return str(alarm.alarm_arn)
        raise no_such_attribute()

    @classmethod
    def _put(cls, name: str, properties: dict[str, Any], account_id: str, region_name: str) -> None:
        request: dict[str, Any] = api_value(properties, api_shape("cloudwatch", cls.request_shape))
        cls.put(_cloudwatch(account_id, region_name), {**request, "AlarmName": name})

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        """Put the alarm (a new one starts in INSUFFICIENT_DATA, as CloudWatch's do)."""
        properties = cloudformation_json.get("Properties", {})
        cls._put(resource_name, properties, account_id, region_name)
        return cls(account_id, region_name, resource_name, "AlarmName" in properties)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        """Put again, keeping the state ("When you update an existing alarm, its state is left
        unchanged"); a new AlarmName (create-only) replaces the alarm."""
        properties = cloudformation_json.get("Properties", {})
        name = updated_name(original_resource, new_resource_name, properties, "AlarmName")
        if name != original_resource.name:
            return cls.replace(
                original_resource, name, cloudformation_json, account_id, region_name
            )
        cls._put(name, properties, account_id, region_name)
        return original_resource

    @classmethod
    def remove(cls, account_id: str, region_name: str, name: str) -> None:
        """DeleteAlarms."""
        _cloudwatch(account_id, region_name).delete_alarms([name])


class CloudWatchAlarm(_AlarmModel, CloudFormationModel):
    """``AWS::CloudWatch::Alarm``: a metric alarm (a metric, or ``Metrics`` metric math)."""

    put = staticmethod(put_metric_alarm)
    request_shape = "PutMetricAlarmInput"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"


class CloudWatchCompositeAlarm(_AlarmModel, CloudFormationModel):
    """``AWS::CloudWatch::CompositeAlarm``: an alarm whose state its ``AlarmRule`` gives."""

    put = staticmethod(put_composite_alarm)
    request_shape = "PutCompositeAlarmInput"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::CompositeAlarm"
