"""The service template: hardened task, private tasks, ALB-only ingress, native blue/green."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from stacks import service
from stacks.common.handler import render
from tests.unit.stacks.cfn import Template, one, resources

ENVS = ("local", "dev", "prod")
DIGEST = "a" * 64
REPO = "123456789012.dkr.ecr.eu-north-1.amazonaws.com/flask-fargate"


def _container(template: Template) -> dict[str, Any]:
    (container,) = one(template, "AWS::ECS::TaskDefinition")["Properties"]["ContainerDefinitions"]
    return dict(container)


def _service(template: Template) -> dict[str, Any]:
    return dict(one(template, "AWS::ECS::Service")["Properties"])


@pytest.fixture(params=ENVS)
def template(request: pytest.FixtureRequest, rendered: dict[str, dict[str, Template]]) -> Template:
    """The service template of each environment."""
    return rendered[request.param]["service"]


def test_container_runs_non_root_on_a_read_only_root(template: Template) -> None:
    container = _container(template)
    assert container["User"] == "10001:10001"
    assert container["ReadonlyRootFilesystem"] is True
    assert container["MountPoints"] == [
        {"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"}
    ]
    assert container["LinuxParameters"]["Capabilities"] == {"Drop": ["ALL"]}


def test_container_contract_env_secret_health_logs(template: Template) -> None:
    container = _container(template)
    names = {e["Name"] for e in container["Environment"]}
    assert {
        "APP_VERSION",
        "LOG_LEVEL",
        "GREETING",
        "DRAIN_SECONDS",
        "GRACEFUL_TIMEOUT_SECONDS",
        "KEEPALIVE_SECONDS",
    } <= names
    version = next(e for e in container["Environment"] if e["Name"] == "APP_VERSION")
    assert version["Value"] == {"Ref": "AppVersion"}
    assert container["Image"] == {"Ref": "ImageUri"}
    assert container["Secrets"] == [{"Name": "SECRET_KEY", "ValueFrom": {"Ref": "AppSecret"}}]
    assert "/health'" in container["HealthCheck"]["Command"][-1]
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert container["PortMappings"][0]["ContainerPort"] == 8000


def test_stop_timeout_covers_the_drain(template: Template) -> None:
    env = {e["Name"]: e["Value"] for e in _container(template)["Environment"]}
    stop = _container(template)["StopTimeout"]
    assert int(env["DRAIN_SECONDS"]) + int(env["GRACEFUL_TIMEOUT_SECONDS"]) < stop <= 120


def test_tasks_get_no_public_ip_and_only_the_alb_reaches_them(template: Template) -> None:
    network = _service(template)["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    assert network["Subnets"] == {"Ref": "PrivateSubnetIds"}
    task_sg = template["Resources"]["TaskSecurityGroup"]["Properties"]
    assert task_sg["SecurityGroupIngress"] == [
        {
            "Description": "from the ALB only",
            "FromPort": 8000,
            "IpProtocol": "tcp",
            "SourceSecurityGroupId": {"Ref": "LoadBalancerSecurityGroup"},
            "ToPort": 8000,
        }
    ]
    assert not resources(template, "AWS::EC2::SecurityGroupIngress")


def test_native_blue_green_with_alternate_group_rules_and_role(template: Template) -> None:
    props = _service(template)
    assert props["DeploymentController"] == {"Type": "ECS"}
    deployment = props["DeploymentConfiguration"]
    assert deployment["Strategy"] in {"BLUE_GREEN", "CANARY", "LINEAR"}
    assert deployment["BakeTimeInMinutes"] >= 0
    (lb,) = props["LoadBalancers"]
    assert lb["TargetGroupArn"] == {"Ref": "BlueTargetGroup"}
    advanced = lb["AdvancedConfiguration"]
    assert advanced["AlternateTargetGroupArn"] == {"Ref": "GreenTargetGroup"}
    assert advanced["ProductionListenerRule"] == {"Ref": "ProductionListenerRule"}
    assert advanced["TestListenerRule"] == {"Ref": "TestListenerRule"}
    role = template["Resources"]["EcsInfrastructureRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/"
            "AmazonECSInfrastructureRolePolicyForLoadBalancers"
        }
    ]
    assert props["HealthCheckGracePeriodSeconds"] == 60


def test_circuit_breaker_and_alarms_roll_back(template: Template) -> None:
    deployment = _service(template)["DeploymentConfiguration"]
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    alarms = deployment["Alarms"]
    assert alarms["Enable"] is True
    assert alarms["Rollback"] is True
    assert {a["Ref"] for a in alarms["AlarmNames"]} == {
        "DeploymentTarget5xxAlarm",
        "DeploymentLatencyAlarm",
    }


def test_target_groups_check_readiness_fast(template: Template) -> None:
    groups = resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert set(groups) == {"BlueTargetGroup", "GreenTargetGroup"}
    for group in groups.values():
        props = group["Properties"]
        assert props["HealthCheckPath"] == "/health/ready"
        assert props["HealthCheckIntervalSeconds"] == 5
        assert props["HealthyThresholdCount"] == 2
        assert props["TargetGroupAttributes"] == [
            {"Key": "deregistration_delay.timeout_seconds", "Value": "30"}
        ]


def test_alb_drops_invalid_headers_and_idles_below_keepalive(template: Template) -> None:
    attributes = {
        a["Key"]: a["Value"]
        for a in one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")["Properties"][
            "LoadBalancerAttributes"
        ]
    }
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["idle_timeout.timeout_seconds"] == "60"
    env = {e["Name"]: e["Value"] for e in _container(template)["Environment"]}
    assert int(env["KEEPALIVE_SECONDS"]) > 60


def test_autoscaling_tracks_cpu_and_requests(template: Template) -> None:
    policies = resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    config = {
        k: v["Properties"]["TargetTrackingScalingPolicyConfiguration"] for k, v in policies.items()
    }
    cpu = config["CpuScalingPolicy"]["PredefinedMetricSpecification"]
    assert cpu["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"
    metrics = config["RequestsScalingPolicy"]["CustomizedMetricSpecification"]["Metrics"]
    assert {m["MetricStat"]["Metric"]["MetricName"] for m in metrics if "MetricStat" in m} == {
        "RequestCountPerTarget"
    }


def test_prod_deploys_canary_with_waf_and_deletion_protection(
    rendered: dict[str, dict[str, Template]],
) -> None:
    prod = rendered["prod"]["service"]
    deployment = _service(prod)["DeploymentConfiguration"]
    assert deployment["Strategy"] == "CANARY"
    assert deployment["CanaryConfiguration"] == {
        "CanaryBakeTimeInMinutes": 10,
        "CanaryPercent": 10.0,
    }
    assert (
        one(prod, "AWS::WAFv2::WebACL")["Properties"]["Rules"][0]["Statement"][
            "RateBasedStatement"
        ]["Limit"]
        == 2000
    )
    assert one(prod, "AWS::Logs::LogGroup")["DeletionPolicy"] == "Retain"
    assert "WebAcl" not in rendered["local"]["service"]["Resources"]


def test_https_with_tls13_and_redirect_when_a_certificate_is_set() -> None:
    arn = "arn:aws:acm:eu-north-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
    template = json.loads(render(service, {"environment": "dev", "certificate_arn": arn}))
    listeners = resources(template, "AWS::ElasticLoadBalancingV2::Listener")
    assert listeners["ProductionListener"]["Properties"]["Protocol"] == "HTTPS"
    assert listeners["ProductionListener"]["Properties"]["SslPolicy"] == (
        "ELBSecurityPolicy-TLS13-1-2-2021-06"
    )
    redirect = listeners["HttpRedirectListener"]["Properties"]["DefaultActions"][0]
    assert redirect["RedirectConfig"] == {
        "Port": "443",
        "Protocol": "HTTPS",
        "StatusCode": "HTTP_301",
    }
    assert "Metadata" not in listeners["ProductionListener"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (f"{REPO}@sha256:{DIGEST}", True),
        (f"{REPO}:1.4.2", True),
        (f"{REPO}/team/app:sha-0a1b2c3", True),
        (f"{REPO}@sha256:{DIGEST[:-1]}", False),
        (f"{REPO}", False),
        ("docker.io/library/python:3.11", False),
        (f"{REPO}:-bad", False),
    ],
)
def test_image_uri_pattern(value: str, ok: bool, rendered: dict[str, dict[str, Template]]) -> None:
    pattern = rendered["dev"]["service"]["Parameters"]["ImageUri"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1.2.3", True),
        ("0.1.0-rc.1+build.5", True),
        ("1.2", False),
        ("v1.2.3", False),
        ("01.2.3", False),
    ],
)
def test_app_version_pattern(
    value: str, ok: bool, rendered: dict[str, dict[str, Template]]
) -> None:
    pattern = rendered["dev"]["service"]["Parameters"]["AppVersion"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is ok


def test_outputs_delivery_and_monitoring_read(template: Template) -> None:
    assert {
        "ClusterName",
        "ServiceName",
        "ServiceUrl",
        "TaskDefinitionArn",
        "LogGroupName",
        "LoadBalancerFullName",
        "BlueTargetGroupFullName",
        "GreenTargetGroupFullName",
    } <= set(template["Outputs"])


def test_bake_time_outlasts_the_deployment_alarms(template: Template) -> None:
    """After bake the old tasks are gone: an alarm firing later can no longer roll back."""
    bake = _service(template)["DeploymentConfiguration"]["BakeTimeInMinutes"]
    for name in ("DeploymentTarget5xxAlarm", "DeploymentLatencyAlarm"):
        alarm = template["Resources"][name]["Properties"]
        window = alarm["EvaluationPeriods"] * alarm["Period"] / 60
        assert bake >= window + service.settings.METRIC_DELAY_MINUTES, name
    assert service.settings.MIN_BAKE_TIME_MINUTES == 5
