"""The monitoring stack: alarm topic, golden-signal, SLO and service alarms, log metrics, dashboard.

It reads the service stack's outputs as parameters; the service stack never reads this one
(its deployment alarms live with it), so there is no cycle.

A failed (rolled-back) ECS deployment is announced on the alarm topic through an EventBridge
rule here, not through alarm actions on the service stack's deployment alarms: those would need
this stack's topic ARN in the service stack, i.e. a cycle (monitoring reads the service's
outputs) or a third stack for the topic. ECS's own "deployment failed" event is also the better
signal: it fires for every rollback (deployment alarm or circuit breaker), once per deployment,
whether the deploy came from the pipeline or from a person, and it names the reason.

The cost budget is not here: AWS::Budgets::Budget exists only in us-east-1 (stacks/budget.py).
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Parameter, Ref, Sub, Template, events, logs

from stacks.common.alarms import Alarm, Metric, add_alarm
from stacks.common.kms import CLOUDWATCH, EVENTS
from stacks.common.service_metrics import metric_namespace
from stacks.common.settings import EVERY_FEATURE_PROJECT
from stacks.common.template import add_output, new_template
from stacks.common.topic import encrypted_topic
from stacks.monitoring.alarms import burn_rate, golden_signals
from stacks.monitoring.dashboard import add_dashboard
from stacks.monitoring.own_metrics import ERROR_LOG_LINES, add_latency_filter
from stacks.monitoring.service_alarms import service_alarms
from stacks.monitoring.settings import Settings

__all__ = ["STACK", "Settings", "build"]

STACK = "monitoring"

PARAMETERS = (
    "ClusterName",
    "ServiceName",
    "LogGroupName",
    "LoadBalancerFullName",
    "BlueTargetGroupFullName",
    "GreenTargetGroupFullName",
)
# Who publishes to the alarm topic: CloudWatch alarms (any alarm of this account), and EventBridge
# (only through the deployment-failed rule).
PUBLISHERS = (CLOUDWATCH,)
DEPLOYMENT_FAILED_RULE = "DeploymentFailedRule"

# Every optional feature on: what CloudFormation may be asked to create for this stack in any
# environment (stacks/cloudformation_roles.py derives the environment's permissions from it).
EVERY_FEATURE = Settings(
    project=EVERY_FEATURE_PROJECT, environment="every-feature", alarm_email="alerts@example.com"
)


def _deployment_failed(template: Template, topic: Any) -> events.Rule:
    """ECS reports SERVICE_DEPLOYMENT_FAILED when a deployment fails and rolls back: tell people.

    The whole event goes to the topic (its ``detail.reason`` says which alarm or the circuit
    breaker); no input transformer, so a reason with quotes cannot break the message.
    """
    service_arn = Sub(
        "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/${C}/${S}",
        C=Ref("ClusterName"),
        S=Ref("ServiceName"),
    )
    return template.add_resource(
        events.Rule(
            DEPLOYMENT_FAILED_RULE,
            Description=Sub("${AWS::StackName}: ECS deployment failed and rolled back"),
            State="ENABLED",
            EventPattern={
                "source": ["aws.ecs"],
                "detail-type": ["ECS Deployment State Change"],
                "resources": [service_arn],
                "detail": {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]},
            },
            # SNS has a resource policy (the topic's): no role here (EventBridge's advice).
            Targets=[events.Target(Id="AlarmTopic", Arn=Ref(topic))],
        )
    )


def _undelivered(template: Template, rule: events.Rule, topic: Any) -> None:
    """Alarm when the rollback notifications cannot reach the topic (the rule's target fails).

    EventBridge publishes to the KMS-encrypted topic through a key-policy grant that no test can
    exercise outside AWS (ECS's deployment event cannot be sent by hand): a refusal would drop
    the notices silently. EventBridge counts such refusals (AWS/Events FailedInvocations); the
    alarm reaches the topic through CloudWatch's own grant.
    """
    add_alarm(
        template,
        "DeploymentNotificationFailedAlarm",
        Alarm(
            description="rollback notices are not delivered: the deployment-failed rule's "
            "invocations of the alarm topic fail",
            metrics=[Metric("AWS/Events", "FailedInvocations", {"RuleName": Ref(rule)})],
            threshold=0,
            period=300,
            periods=1,
            datapoints=1,
            actions=[Ref(topic)],
        ),
    )


def _error_logs(template: Template, settings: Settings, namespace: str, topic: Any) -> None:
    """Count JSON log lines at level ERROR; alarm when they pile up."""
    template.add_resource(
        logs.MetricFilter(
            "ErrorLogFilter",
            LogGroupName=Ref("LogGroupName"),
            FilterPattern='{ $.level = "ERROR" }',
            MetricTransformations=[
                logs.MetricTransformation(
                    MetricNamespace=namespace, MetricName=ERROR_LOG_LINES, MetricValue="1"
                )
            ],
        )
    )
    add_alarm(
        template,
        "ErrorLogAlarm",
        Alarm(
            description="ERROR log lines per 5 minutes",
            metrics=[Metric(namespace, ERROR_LOG_LINES, {})],
            threshold=settings.error_log_lines_per_5_minutes,
            period=300,
            periods=1,
            datapoints=1,
            actions=[Ref(topic)],
        ),
    )


def build(settings: Settings) -> Template:
    """The monitoring template for ``settings``."""
    template = new_template(
        settings.project, f"{settings.environment} monitoring: alarms, dashboard"
    )
    for name in PARAMETERS:
        template.add_parameter(
            Parameter(name, Type="String", Description=f"service stack output {name}")
        )
    namespace = metric_namespace(settings.project, settings.environment)
    topic = encrypted_topic(
        template,
        "AlarmTopic",
        PUBLISHERS,
        email=settings.alarm_email,
        sources={EVENTS: GetAtt(DEPLOYMENT_FAILED_RULE, "Arn")},
    )
    _undelivered(template, _deployment_failed(template, topic), topic)
    golden_signals(template, settings, topic)
    burn_rate(template, settings, topic)
    _error_logs(template, settings, namespace, topic)
    add_latency_filter(template, namespace)
    service_alarms(template, settings, namespace, topic)
    add_dashboard(template, namespace)
    add_output(template, "AlarmTopicArn", Ref(topic), "where alarms are sent")
    add_output(template, "DashboardName", Ref("Dashboard"), "the golden-signals dashboard")
    return template
