"""Which IAM requests the on-call's calls make (Service Authorization Reference, per action)."""

from __future__ import annotations

from typing import Any

import pytest

from delivery.rehearsal.policy import Account, Call, Request, UnmappedCallError, requests

ACCOUNT = Account("123456789012")
REGION = "eu-north-1"
ARN = f"arn:aws:{{}}:{REGION}:123456789012:{{}}"


def made(action: str, **params: Any) -> list[Request]:
    return list(requests(Call(action, REGION, params), ACCOUNT))


def test_codepipeline_names_the_pipeline_and_for_transitions_the_stage() -> None:
    assert made("codepipeline:GetPipelineState", name="p") == [
        Request("codepipeline:GetPipelineState", ARN.format("codepipeline", "p"))
    ]
    assert made(
        "codepipeline:DisableStageTransition",
        pipelineName="p",
        stageName="DeployProd",
        transitionType="Inbound",
        reason="x",
    ) == [
        Request("codepipeline:DisableStageTransition", ARN.format("codepipeline", "p/DeployProd"))
    ]


def test_ecs_tasks_are_named_by_cluster_and_listing_by_the_cluster_condition() -> None:
    assert made("ecs:ListTasks", cluster="c", serviceName="s") == [
        Request("ecs:ListTasks", "*", {"ecs:cluster": ARN.format("ecs", "cluster/c")})
    ]
    task = ARN.format("ecs", "task/c/abc")
    assert made("ecs:DescribeTasks", cluster="c", tasks=["abc", task]) == [
        Request("ecs:DescribeTasks", task),
        Request("ecs:DescribeTasks", task),
    ]


def test_stopping_a_deployment_names_it_and_its_service() -> None:
    deployment = ARN.format("ecs", "service-deployment/c/s/xyz")
    assert made("ecs:StopServiceDeployment", serviceDeploymentArn=deployment) == [
        Request("ecs:StopServiceDeployment", deployment),
        Request("ecs:StopServiceDeployment", ARN.format("ecs", "service/c/s")),
    ]


def test_logs_by_name_or_arn_and_metrics_on_any_resource() -> None:
    group = ARN.format("logs", "log-group:g:*")
    assert made("logs:FilterLogEvents", logGroupName="g") == [
        Request("logs:FilterLogEvents", group)
    ]
    assert made("logs:FilterLogEvents", logGroupIdentifier=group) == [
        Request("logs:FilterLogEvents", group)
    ]
    assert made("logs:GetLogEvents", logGroupName="g", logStreamName="s") == [
        Request("logs:GetLogEvents", ARN.format("logs", "log-group:g:log-stream:s"))
    ]
    assert made("cloudwatch:GetMetricData", MetricDataQueries=[]) == [
        Request("cloudwatch:GetMetricData", "*")
    ]
    assert made("cloudwatch:DescribeAlarms", AlarmNames=["a"]) == [
        Request("cloudwatch:DescribeAlarms", ARN.format("cloudwatch", "alarm:a"))
    ]


def test_an_ecs_call_not_mapped_is_refused_until_it_is() -> None:
    with pytest.raises(UnmappedCallError, match="ecs:UpdateService"):
        made("ecs:UpdateService", cluster="c", service="s")


def test_x_ray_actions_without_a_resource_type_are_on_star_and_the_others_unmapped() -> None:
    # The ADOT collector's awsxray exporter (stacks/service/collector.py).
    assert made("xray:PutTraceSegments", TraceSegmentDocuments=["{}"]) == [
        Request("xray:PutTraceSegments", "*")
    ]
    # CreateGroup names an X-Ray group: never judged on "*".
    with pytest.raises(UnmappedCallError, match="xray:CreateGroup"):
        made("xray:CreateGroup", GroupName="g")
