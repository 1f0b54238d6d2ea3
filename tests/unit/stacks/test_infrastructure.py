"""Network, registry, monitoring and pipeline templates: the properties that matter."""

from __future__ import annotations

import itertools

import pytest

from tests.support.cfn import Template, one, resources
from tests.support.metric_math import evaluate

Rendered = dict[str, dict[str, Template]]


@pytest.mark.parametrize(("env", "azs", "nats"), [("local", 2, 1), ("dev", 2, 1), ("prod", 3, 3)])
def test_network_subnets_and_nat_per_environment(
    rendered: Rendered, env: str, azs: int, nats: int
) -> None:
    network = rendered[env]["network"]
    subnets = resources(network, "AWS::EC2::Subnet")
    assert len(subnets) == 2 * azs
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    assert len(resources(network, "AWS::EC2::NatGateway")) == nats
    assert (
        one(network, "AWS::EC2::FlowLog")["Properties"]["LogDestinationType"] == "cloud-watch-logs"
    )
    assert "RetentionInDays" in one(network, "AWS::Logs::LogGroup")["Properties"]
    assert "Fn::Cidr" not in str(network)


def test_prod_network_has_endpoints_dev_does_not(rendered: Rendered) -> None:
    prod = resources(rendered["prod"]["network"], "AWS::EC2::VPCEndpoint")
    assert {"EndpointEcrApi", "EndpointEcrDkr", "EndpointLogs", "EndpointS3"} <= set(prod)
    assert not resources(rendered["dev"]["network"], "AWS::EC2::VPCEndpoint")


@pytest.mark.parametrize("env", ["local", "shared"])
def test_registry_is_immutable_scanned_encrypted(rendered: Rendered, env: str) -> None:
    repository = one(rendered[env]["registry"], "AWS::ECR::Repository")
    props = repository["Properties"]
    assert props["ImageTagMutability"] == "IMMUTABLE"
    assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert props["EncryptionConfiguration"]["EncryptionType"] == "KMS"
    assert "untagged" in props["LifecyclePolicy"]["LifecyclePolicyText"]


def test_shared_registry_is_retained_local_is_not(rendered: Rendered) -> None:
    shared = one(rendered["shared"]["registry"], "AWS::ECR::Repository")
    local = one(rendered["local"]["registry"], "AWS::ECR::Repository")
    assert (shared["DeletionPolicy"], shared["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert local["DeletionPolicy"] == "Delete"


def test_monitoring_golden_signals_and_burn_rates(rendered: Rendered) -> None:
    monitoring = rendered["prod"]["monitoring"]
    alarms = resources(monitoring, "AWS::CloudWatch::Alarm")
    assert alarms["CpuAlarm"]["Properties"]["Statistic"] == "Average"
    assert alarms["MemoryAlarm"]["Properties"]["Statistic"] == "Average"
    assert alarms["LatencyP99Alarm"]["Properties"]["ExtendedStatistic"] == "p99"
    assert alarms["FastBurnLongAlarm"]["Properties"]["Threshold"] == pytest.approx(0.0144)
    assert alarms["SlowBurnLongAlarm"]["Properties"]["Threshold"] == pytest.approx(0.006)
    assert alarms["FastBurnShortAlarm"]["Properties"]["Metrics"][0]["MetricStat"]["Period"] == 300
    assert len(resources(monitoring, "AWS::CloudWatch::CompositeAlarm")) == 2
    running = alarms["RunningBelowDesiredAlarm"]["Properties"]["Metrics"]
    assert {m["MetricStat"]["Metric"]["Namespace"] for m in running if "MetricStat" in m} == {
        "ECS/ContainerInsights"
    }
    log_filter = resources(monitoring, "AWS::Logs::MetricFilter")["ErrorLogFilter"]["Properties"]
    assert log_filter["FilterPattern"] == '{ $.level = "ERROR" }'
    assert "KmsMasterKeyId" in one(monitoring, "AWS::SNS::Topic")["Properties"]
    assert one(monitoring, "AWS::CloudWatch::Dashboard")


def _burn_ratio(
    template: Template, alarm: str, target_5xx: float, elb_5xx: float, routed: float
) -> float | None:
    """The burn alarm's error ratio for one period's target 5xx, ALB 5xx and RequestCount."""
    metrics = template["Resources"][alarm]["Properties"]["Metrics"]
    names = {m["Id"]: m["MetricStat"]["Metric"]["MetricName"] for m in metrics if "MetricStat" in m}
    values = {"HTTPCode_Target_5XX_Count": target_5xx, "HTTPCode_ELB_5XX_Count": elb_5xx}
    values["RequestCount"] = routed
    (expression,) = [m["Expression"] for m in metrics if m.get("ReturnData")]
    return evaluate(expression, {id_: values[name] for id_, name in names.items()})


@pytest.mark.parametrize("alarm", ["FastBurnLongAlarm", "FastBurnShortAlarm", "SlowBurnLongAlarm"])
def test_slo_error_ratio_counts_alb_errors_in_both_terms(rendered: Rendered, alarm: str) -> None:
    """RequestCount leaves out requests the ALB failed before choosing a target: the ratio must
    count those in the denominator too, so it is a share (0..1) and an outage reads as 1."""
    monitoring = rendered["prod"]["monitoring"]
    # Every request refused by the ALB (no healthy target): RequestCount is 0.
    assert _burn_ratio(monitoring, alarm, 0, 120, 0) == 1.0
    # 100 routed requests (10 of them app 5xx) and 50 the ALB failed: 60 of 150 failed.
    assert _burn_ratio(monitoring, alarm, 10, 50, 100) == pytest.approx(0.4)
    assert _burn_ratio(monitoring, alarm, 0, 0, 0) == 0
    assert _burn_ratio(monitoring, alarm, 0, 0, 500) == 0
    counts = [0, 1, 7, 100, 5000]
    for target_5xx, elb_5xx, routed in itertools.product(counts, repeat=3):
        if target_5xx > routed:
            continue  # target 5xx are routed requests
        ratio = _burn_ratio(monitoring, alarm, target_5xx, elb_5xx, routed)
        assert ratio is not None
        assert 0 <= ratio <= 1, (target_5xx, elb_5xx, routed)


def test_pipeline_stages_trigger_and_projects(rendered: Rendered) -> None:
    pipeline = rendered["shared"]["pipeline"]
    props = one(pipeline, "AWS::CodePipeline::Pipeline")["Properties"]
    assert props["PipelineType"] == "V2"
    assert [s["Name"] for s in props["Stages"]] == [
        "Source",
        "Build",
        "DeployDev",
        "ApproveProd",
        "DeployProd",
    ]
    trigger = props["Triggers"][0]["GitConfiguration"]["Push"][0]["Branches"]["Includes"]
    assert trigger == ["main"]
    source = props["Stages"][0]["Actions"][0]["Configuration"]
    assert source["ConnectionArn"] == {"Ref": "ConnectionArn"}
    deploy = props["Stages"][2]["Actions"][0]["Configuration"]
    assert '"value": "dev"' in deploy["EnvironmentVariables"]
    projects = resources(pipeline, "AWS::CodeBuild::Project")
    build = projects["Build"]["Properties"]
    assert build["Source"]["BuildSpec"] == "buildspec.yml"
    assert build["Environment"]["PrivilegedMode"] is True
    assert build["Cache"]["Modes"] == [
        "LOCAL_DOCKER_LAYER_CACHE",
        "LOCAL_SOURCE_CACHE",
        "LOCAL_CUSTOM_CACHE",
    ]
    assert projects["DeployProd"]["Properties"]["Source"]["BuildSpec"] == "buildspec-deploy.yml"
    assert one(pipeline, "AWS::CodeStarNotifications::NotificationRule")


def test_artifact_bucket_is_encrypted_versioned_private_tls_only(rendered: Rendered) -> None:
    pipeline = rendered["shared"]["pipeline"]
    bucket = one(pipeline, "AWS::S3::Bucket")["Properties"]
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    statement = one(pipeline, "AWS::S3::BucketPolicy")["Properties"]["PolicyDocument"]["Statement"][
        0
    ]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
