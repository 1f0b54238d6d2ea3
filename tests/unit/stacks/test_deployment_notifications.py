"""A rolled-back deployment notifies people: ECS's event -> EventBridge -> the alarm topic.

The deployment alarms live in the service stack and the topic in the monitoring stack, which
reads the service's outputs; the notification is wired in monitoring so the stacks stay acyclic.
"""

from __future__ import annotations

import pytest

from tests.support.cfn import Template, one, resources
from tests.support.paths import ROOT

Rendered = dict[str, dict[str, Template]]
ENVS = ("local", "dev", "prod")


@pytest.mark.parametrize("env", ENVS)
def test_failed_deployment_event_goes_to_the_alarm_topic(rendered: Rendered, env: str) -> None:
    monitoring = rendered[env]["monitoring"]
    rule = one(monitoring, "AWS::Events::Rule")["Properties"]
    assert rule["State"] == "ENABLED"
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.ecs"]
    assert pattern["detail-type"] == ["ECS Deployment State Change"]
    assert pattern["detail"] == {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]}
    (service,) = pattern["resources"]
    assert service["Fn::Sub"][0].endswith(":service/${C}/${S}")
    assert service["Fn::Sub"][1] == {"C": {"Ref": "ClusterName"}, "S": {"Ref": "ServiceName"}}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "AlarmTopic"}
    assert "RoleArn" not in target  # SNS: the topic policy authorizes EventBridge


@pytest.mark.parametrize("env", ENVS)
def test_eventbridge_may_publish_only_from_that_rule(rendered: Rendered, env: str) -> None:
    monitoring = rendered[env]["monitoring"]
    policy = one(monitoring, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]
    events = [s for s in policy["Statement"] if "events.amazonaws.com" in s["Principal"]["Service"]]
    assert len(events) == 1
    assert events[0]["Principal"]["Service"] == ["events.amazonaws.com"]
    assert events[0]["Action"] == ["sns:Publish"]
    assert events[0]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["DeploymentFailedRule", "Arn"]}}
    }
    # The topic is KMS-encrypted: EventBridge must be able to use the key, or delivery fails.
    key = one(monitoring, "AWS::KMS::Key")["Properties"]["KeyPolicy"]["Statement"]
    services = {
        service for statement in key for service in statement["Principal"].get("Service", [])
    }
    assert services == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}


@pytest.mark.parametrize("env", ENVS)
def test_service_stack_does_not_read_monitoring(rendered: Rendered, env: str) -> None:
    """No cycle: monitoring reads the service, never the other way round."""
    config = (ROOT / "config" / env / "service.yaml").read_text()
    assert "monitoring.yaml" not in config
    assert not resources(rendered[env]["service"], "AWS::Events::Rule")
