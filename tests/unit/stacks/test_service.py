"""The service template: hardened task, private tasks, ALB-only ingress, native blue/green."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from delivery.project import NAME as PROJECT
from delivery.render import read_stack_config
from stacks import service
from stacks.common.errors import SettingsError
from stacks.common.handler import render
from stacks.service import pace
from tests.support.cfn import Template, one, resources, with_parameters
from tests.support.metric_math import evaluate
from tests.support.paths import ROOT

ENVS = ("local", "dev", "prod")
DIGEST = "a" * 64
REPO = "123456789012.dkr.ecr.eu-north-1.amazonaws.com/flask-fargate"
CERTIFICATE = "arn:aws:acm:eu-north-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"


def _container(template: Template) -> dict[str, Any]:
    """The app's container (the collector's is beside it: test_service_collector.py)."""
    containers = one(template, "AWS::ECS::TaskDefinition")["Properties"]["ContainerDefinitions"]
    (container,) = (c for c in containers if c["Name"] == "app")
    return dict(container)


def _service(template: Template, deployment_pace: str = pace.GUARDED) -> dict[str, Any]:
    """The ECS service's properties as an update with ``deployment_pace`` gets them."""
    resolved = with_parameters(template, {pace.PARAMETER: deployment_pace})
    return dict(one(resolved, "AWS::ECS::Service")["Properties"])


@pytest.fixture(params=ENVS)
def template(request: pytest.FixtureRequest, rendered: dict[str, dict[str, Template]]) -> Template:
    """The service template of each environment."""
    return rendered[request.param]["service"]


def test_container_runs_non_root_on_a_read_only_root(template: Template) -> None:
    container = _container(template)
    assert container["User"] == "10001:10001"
    assert container["ReadonlyRootFilesystem"] is True
    # /tmp, plus the SSM agent's paths where ECS Exec is on (tests/unit/stacks/test_service_exec.py)
    assert container["MountPoints"][0] == {
        "ContainerPath": "/tmp",
        "ReadOnly": False,
        "SourceVolume": "tmp",
    }
    exec_on = _service(template).get("EnableExecuteCommand", False)
    assert len(container["MountPoints"]) == (4 if exec_on else 1)
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
    assert [secret["Name"] for secret in container["Secrets"]] == ["SECRET_KEY"]
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
    advanced = lb["AdvancedConfiguration"]
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


def test_the_deploy_says_which_group_serves_production(template: Template) -> None:
    parameter = template["Parameters"]["ProductionTargetGroup"]
    assert parameter == {
        "AllowedValues": ["Blue", "Green"],
        "Default": "Blue",
        "Description": "the target group that serves production before this update",
        "Type": "String",
    }
    assert template["Conditions"]["BlueServesProduction"] == {
        "Fn::Equals": [{"Ref": "ProductionTargetGroup"}, "Blue"]
    }


def _alarm_names(template: Template, production: str) -> set[str]:
    """The deployment alarms of the service when ``production`` serves before the update."""
    condition, if_blue, if_green = _service(template)["DeploymentConfiguration"]["Alarms"][
        "AlarmNames"
    ]["Fn::If"]
    assert condition == "BlueServesProduction"
    return {alarm["Ref"] for alarm in (if_blue if production == "Blue" else if_green)}


def _dimensions(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    props = alarm["Properties"]
    if "Metrics" not in props:
        return list(props["Dimensions"])
    return [
        dimension
        for query in props["Metrics"]
        if "MetricStat" in query
        for dimension in query["MetricStat"]["Metric"]["Dimensions"]
    ]


@pytest.mark.parametrize(("production", "new"), [("Blue", "Green"), ("Green", "Blue")])
def test_deployment_alarms_judge_the_new_target_group_alone(
    template: Template, production: str, new: str
) -> None:
    """A canary's errors are not diluted by, and not blamed on, the group serving production."""
    names = _alarm_names(template, production)
    assert names == {f"Deployment{new}ErrorRateAlarm", f"Deployment{new}LatencyAlarm"}
    for name in names:
        groups = {
            json.dumps(d["Value"])
            for d in _dimensions(template["Resources"][name])
            if d["Name"] == "TargetGroup"
        }
        assert groups == {json.dumps(target_group_dimension(new))}, name
    latency = template["Resources"][f"Deployment{new}LatencyAlarm"]["Properties"]
    assert latency["MetricName"] == "TargetResponseTime"
    assert latency["ExtendedStatistic"] == "p99"


def target_group_dimension(colour: str) -> dict[str, Any]:
    """The CloudWatch ``TargetGroup`` dimension of the blue or green group, as rendered."""
    arn = {"Ref": f"{colour}TargetGroup"}
    return {
        "Fn::Join": [
            "",
            ["targetgroup/", {"Fn::Select": [1, {"Fn::Split": [":targetgroup/", arn]}]}],
        ]
    }


def _error_rate(
    template: Template, alarm: str, errors: float | None, requests: float | None
) -> float | None:
    metrics = template["Resources"][alarm]["Properties"]["Metrics"]
    names = {m["Id"]: m["MetricStat"]["Metric"]["MetricName"] for m in metrics if "MetricStat" in m}
    values = {"HTTPCode_Target_5XX_Count": errors, "RequestCount": requests}
    (expression,) = [m["Expression"] for m in metrics if m.get("ReturnData")]
    return evaluate(expression, {id_: values[name] for id_, name in names.items()})


def test_error_rate_is_a_percentage_judged_above_a_minimum_of_requests(
    rendered: dict[str, dict[str, Template]],
) -> None:
    prod = rendered["prod"]["service"]
    alarm = "DeploymentGreenErrorRateAlarm"
    props = prod["Resources"][alarm]["Properties"]
    assert props["Threshold"] == 2.0  # prod's alarms.error_rate_percent
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    # A canary's 10 % of traffic: 30 requests a minute, 3 of them failing, is 10 %.
    assert _error_rate(prod, alarm, 3, 30) == pytest.approx(10.0)
    assert _error_rate(prod, alarm, None, 30) == 0
    # Below prod's min_requests_per_minute (20) it does not judge, whatever the share.
    assert _error_rate(prod, alarm, 5, 19) == 0
    assert _error_rate(prod, alarm, None, None) == 0
    assert _error_rate(prod, alarm, 20, 20) == pytest.approx(100.0)


def test_autoscaling_owns_the_task_count(rendered: dict[str, dict[str, Template]]) -> None:
    """No DesiredCount: a deploy must not reset a service autoscaling has scaled out."""
    for env, minimum in (("local", 1), ("dev", 1), ("prod", 3)):
        template = rendered[env]["service"]
        assert "DesiredCount" not in _service(template), env
        target = one(template, "AWS::ApplicationAutoScaling::ScalableTarget")["Properties"]
        assert target["ScalableDimension"] == "ecs:service:DesiredCount"
        assert target["MinCapacity"] == minimum, env
    with pytest.raises(SettingsError, match="unknown key 'desired_count'"):
        render(service, {"project": PROJECT, "environment": "dev", "desired_count": 2})


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
    # The app's log group and the collector's metrics log group.
    groups = resources(prod, "AWS::Logs::LogGroup").values()
    assert [g["DeletionPolicy"] for g in groups] == ["Retain", "Retain"]
    assert "WebAcl" not in rendered["local"]["service"]["Resources"]


def test_https_with_tls13_and_redirect_when_a_certificate_is_set() -> None:
    template = json.loads(
        render(service, {"project": PROJECT, "environment": "dev", "certificate_arn": CERTIFICATE})
    )
    listeners = resources(template, "AWS::ElasticLoadBalancingV2::Listener")
    https = listeners["HttpsListener"]["Properties"]
    assert (https["Port"], https["Protocol"]) == (443, "HTTPS")
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["Certificates"] == [{"CertificateArn": CERTIFICATE}]
    http = listeners["ProductionListener"]["Properties"]
    assert (http["Port"], http["Protocol"]) == (80, "HTTP")
    assert http["DefaultActions"][0]["RedirectConfig"] == {
        "Port": "443",
        "Protocol": "HTTPS",
        "StatusCode": "HTTP_301",
    }
    assert "Metadata" not in listeners["ProductionListener"]  # no plain-HTTP skip: it redirects
    rules = template["Resources"]
    assert rules["ProductionListenerRule"]["Properties"]["ListenerArn"] == {"Ref": "HttpsListener"}
    assert template["Outputs"]["Https"]["Value"] == "true"
    assert template["Outputs"]["ServiceUrl"]["Value"]["Fn::Join"][1][0] == "https://"
    assert "Certificate" not in rules  # the certificate brought is served, none is requested


def test_a_domain_gets_its_certificate_and_alias_record() -> None:
    domain = {"name": "api.example.com", "hosted_zone_id": "Z0123456789ABCDEFGHIJ"}
    template = json.loads(
        render(service, {"project": PROJECT, "environment": "prod", "domain": domain})
    )
    certificate = one(template, "AWS::CertificateManager::Certificate")["Properties"]
    assert certificate == {
        "DomainName": "api.example.com",
        "DomainValidationOptions": [
            {"DomainName": "api.example.com", "HostedZoneId": "Z0123456789ABCDEFGHIJ"}
        ],
        "ValidationMethod": "DNS",
    }
    https = template["Resources"]["HttpsListener"]["Properties"]
    assert https["Certificates"] == [{"CertificateArn": {"Ref": "Certificate"}}]
    record = one(template, "AWS::Route53::RecordSet")["Properties"]
    assert (record["Name"], record["Type"], record["HostedZoneId"]) == (
        "api.example.com",
        "A",
        "Z0123456789ABCDEFGHIJ",
    )
    assert record["AliasTarget"]["DNSName"] == {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}
    assert record["AliasTarget"]["HostedZoneId"] == {
        "Fn::GetAtt": ["LoadBalancer", "CanonicalHostedZoneID"]
    }
    assert template["Outputs"]["ServiceUrl"]["Value"] == "https://api.example.com"
    assert template["Outputs"]["Https"]["Value"] == "true"


def test_http_only_says_so_in_its_outputs(template: Template) -> None:
    """No certificate and no domain (every environment today): the deploy can tell."""
    assert template["Outputs"]["Https"]["Value"] == "false"
    assert template["Outputs"]["ServiceUrl"]["Value"]["Fn::Join"][1][0] == "http://"
    assert "HttpsListener" not in template["Resources"]


def _listener_ports(template: Template) -> dict[str, int]:
    return {
        logical_id: listener["Properties"]["Port"]
        for logical_id, listener in resources(
            template, "AWS::ElasticLoadBalancingV2::Listener"
        ).items()
    }


def _claimed_while_held(before: Template, after: Template) -> set[int]:
    """Ports the update from ``before`` to ``after`` gives a listener while another still holds
    them: CloudFormation creates new resources before it deletes old ones, with no order
    between unrelated changes, so a port freed and claimed in one update may be taken twice."""
    old, new = _listener_ports(before), _listener_ports(after)
    freed = {port for lid, port in old.items() if new.get(lid) != port}
    claimed = {port for lid, port in new.items() if old.get(lid) != port}
    return freed & claimed


@pytest.mark.parametrize("env", ENVS)
def test_switching_https_on_or_off_never_claims_a_port_in_use(env: str) -> None:
    settings = read_stack_config(ROOT / "config" / env / "service.yaml", env).user_data
    http = json.loads(render(service, settings))
    https = json.loads(render(service, {**settings, "certificate_arn": CERTIFICATE}))
    assert _claimed_while_held(http, https) == set()
    assert _claimed_while_held(https, http) == set()
    assert _listener_ports(http)["ProductionListener"] == 80
    assert _listener_ports(https) == {**_listener_ports(http), "HttpsListener": 443}


def _rules_by_listener(template: Template) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for rule in resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values():
        found.setdefault(rule["Properties"]["ListenerArn"]["Ref"], []).append(rule["Properties"])
    return found


@pytest.mark.parametrize("https", [False, True])
def test_metrics_are_answered_404_by_the_alb(https: bool) -> None:
    settings: dict[str, Any] = {"project": PROJECT, "environment": "dev"}
    if https:
        settings["certificate_arn"] = CERTIFICATE
    template = json.loads(render(service, settings))
    serving = "HttpsListener" if https else "ProductionListener"
    by_listener = _rules_by_listener(template)
    assert set(by_listener) == {serving, "TestListener"}
    for rules in by_listener.values():
        (private,) = [r for r in rules if r["Actions"][0]["Type"] == "fixed-response"]
        (forward,) = [r for r in rules if r["Actions"][0]["Type"] == "forward"]
        assert private["Conditions"][0]["PathPatternConfig"]["Values"] == [
            "/metrics",
            "/metrics/*",
        ]
        assert private["Actions"][0]["FixedResponseConfig"]["StatusCode"] == "404"
        # Lower numbers are evaluated first; both leave room around them.
        assert 1 < private["Priority"] < forward["Priority"] - 1
        assert forward["Conditions"][0]["PathPatternConfig"]["Values"] == ["/*"]


def test_forward_weights_follow_the_live_group(template: Template) -> None:
    """CloudFormation sends the template's weights again whenever a forward rule changes: they
    must be the live ones, or traffic would move back to blue while green serves."""
    for name in ("ProductionListenerRule", "TestListenerRule"):
        rule = template["Resources"][name]["Properties"]
        weights = {
            group["TargetGroupArn"]["Ref"]: group["Weight"]
            for group in rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
        }
        assert weights == {
            "BlueTargetGroup": {"Fn::If": ["BlueServesProduction", 100, 0]},
            "GreenTargetGroup": {"Fn::If": ["BlueServesProduction", 0, 100]},
        }


def test_the_service_deploys_into_the_group_not_serving_production(template: Template) -> None:
    """With a fixed blue/green pair, every other deployment would start the new version in
    the group that serves production (ECS does not read the live weights)."""
    (balancer,) = _service(template)["LoadBalancers"]
    assert balancer["TargetGroupArn"] == {
        "Fn::If": ["BlueServesProduction", {"Ref": "BlueTargetGroup"}, {"Ref": "GreenTargetGroup"}]
    }
    assert balancer["AdvancedConfiguration"]["AlternateTargetGroupArn"] == {
        "Fn::If": ["BlueServesProduction", {"Ref": "GreenTargetGroup"}, {"Ref": "BlueTargetGroup"}]
    }


def test_prod_writes_alb_access_logs_to_an_encrypted_tls_only_bucket(
    rendered: dict[str, dict[str, Template]],
) -> None:
    prod = rendered["prod"]["service"]
    bucket = one(prod, "AWS::S3::Bucket")
    props = bucket["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    # ALB access logs support SSE-S3 only.
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert all(props["PublicAccessBlockConfiguration"].values())
    (lifecycle,) = props["LifecycleConfiguration"]["Rules"]
    assert lifecycle["ExpirationInDays"] == 365
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    statements = one(prod, "AWS::S3::BucketPolicy")["Properties"]["PolicyDocument"]["Statement"]
    write, tls = statements
    (principal,) = write["Principal"]["AWS"]
    assert principal["Fn::Sub"][1] == {
        "Account": {"Fn::FindInMap": ["ElbLogDeliveryAccount", {"Ref": "AWS::Region"}, "Account"]}
    }
    # eu-north-1 opened before August 2022: ELB writes from its regional account.
    assert prod["Mappings"]["ElbLogDeliveryAccount"]["eu-north-1"] == {"Account": "897822967062"}
    assert write["Action"] == ["s3:PutObject"]
    assert write["Resource"][0]["Fn::Join"][1][1] == "/prod/AWSLogs/"
    assert (tls["Effect"], tls["Condition"]) == (
        "Deny",
        {"Bool": {"aws:SecureTransport": "false"}},
    )
    alb = one(prod, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    attributes = {a["Key"]: a["Value"] for a in alb["Properties"]["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == {"Ref": "AccessLogBucket"}
    assert attributes["access_logs.s3.prefix"] == "prod"
    assert alb["DependsOn"] == ["AccessLogBucketPolicy"]
    assert not resources(rendered["dev"]["service"], "AWS::S3::Bucket")


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
        "Https",
    } <= set(template["Outputs"])


@pytest.mark.parametrize("deployment_pace", pace.PACES)
def test_bake_time_outlasts_the_deployment_alarms(template: Template, deployment_pace: str) -> None:
    """After bake the old tasks are gone: an alarm firing later can no longer roll back.

    A fast deployment (incident rollback) too: it shortens the bake to this window, no further.
    """
    bake = _service(template, deployment_pace)["DeploymentConfiguration"]["BakeTimeInMinutes"]
    for name in _alarm_names(template, "Blue") | _alarm_names(template, "Green"):
        alarm = template["Resources"][name]["Properties"]
        periods = {q["MetricStat"]["Period"] for q in alarm.get("Metrics", []) if "MetricStat" in q}
        (period,) = periods or {alarm["Period"]}
        window = alarm["EvaluationPeriods"] * period / 60
        assert bake >= window + service.settings.METRIC_DELAY_MINUTES, name
    assert service.settings.MIN_BAKE_TIME_MINUTES == 5
