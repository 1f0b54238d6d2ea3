"""Network, registry, monitoring and pipeline templates: the properties that matter."""

from __future__ import annotations

import pytest

from tests.unit.stacks.cfn import Template, one, resources

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
    log_filter = one(monitoring, "AWS::Logs::MetricFilter")["Properties"]
    assert log_filter["FilterPattern"] == '{ $.level = "ERROR" }'
    budget = one(monitoring, "AWS::Budgets::Budget")["Properties"]["Budget"]
    assert budget["CostFilters"] == {"TagKeyValue": ["user:Environment$prod"]}
    assert "KmsMasterKeyId" in one(monitoring, "AWS::SNS::Topic")["Properties"]
    assert one(monitoring, "AWS::CloudWatch::Dashboard")


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
    assert build["Cache"]["Modes"] == ["LOCAL_DOCKER_LAYER_CACHE", "LOCAL_SOURCE_CACHE"]
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
