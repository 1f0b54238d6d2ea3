"""The ADOT collector sidecar in the service stack (stacks/service/collector.py and
collector_config.py): its container, its configuration, its share of the task, its permissions."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from delivery.project import NAME as PROJECT
from docgen.compose_collector import COMPOSE_COLLECTOR, compose_collector_yaml
from stacks import service
from stacks.common.service_metrics import HTTP_REQUEST_DURATION, SERVICE_METRICS, metric_namespace
from stacks.service import collector
from stacks.service.collector_config import (
    AWSEMF,
    AWSXRAY,
    METRICS_LOG_STREAM,
    collector_config,
    local_collector_config,
    render,
)
from stacks.service.settings import FARGATE_MEMORY, Collector, Settings
from tests.support import iam
from tests.support.cfn import Template, one, resources
from tests.support.paths import ROOT

ENVS = ("local", "dev", "prod")
REGION = "eu-north-1"
# What the log groups' Refs stand for when a test resolves the template.
NAMES = {
    "AWS::Region": REGION,
    "LogGroup": "flask-fargate-dev-service-LogGroup-1",
    "MetricsLogGroup": "flask-fargate-dev-service-MetricsLogGroup-1",
    "AppVersion": "1.2.3",
    # ECS Exec's statements, where it is on (local, dev): the task role holds them too.
    "ExecLogGroup": "flask-fargate-dev-service/ecs-exec",
    "ExecKey.Arn": f"arn:aws:kms:{REGION}:123456789012:key/1",
}
SAMPLE_RATIOS = {"local": "1.0", "dev": "0.2", "prod": "0.05"}


def _built(**settings: Any) -> Template:
    built = service.build(Settings(project=PROJECT, environment="dev", **settings))
    return dict(json.loads(built.to_json()))


def _task(template: Template) -> dict[str, Any]:
    return dict(one(template, "AWS::ECS::TaskDefinition")["Properties"])


def _containers(template: Template) -> dict[str, dict[str, Any]]:
    return {c["Name"]: c for c in _task(template)["ContainerDefinitions"]}


def _environment(container: dict[str, Any]) -> dict[str, Any]:
    return {e["Name"]: e["Value"] for e in container.get("Environment", [])}


def _config(template: Template) -> dict[str, Any]:
    """The collector's configuration as ADOT reads it once CloudFormation resolved its Fn::Sub."""
    value = _environment(_containers(template)["otel-collector"])["AOT_CONFIG_CONTENT"]
    parsed: dict[str, Any] = yaml.safe_load(iam.resolve(value, NAMES))
    return parsed


@pytest.fixture(params=ENVS)
def env(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_the_task_runs_the_collector_beside_the_app_configured_from_the_stack() -> None:
    template = _built()
    containers = _containers(template)
    assert list(containers) == ["app", "otel-collector"]
    sidecar = containers["otel-collector"]
    # Pinned to a release, never a moving tag.
    assert re.fullmatch(
        r"public\.ecr\.aws/aws-observability/aws-otel-collector:v\d+\.\d+\.\d+", sidecar["Image"]
    )
    assert sidecar["Essential"] is False
    assert sidecar["User"] == "4317:4317"  # the image's non-root user
    assert sidecar["ReadonlyRootFilesystem"] is True
    assert sidecar["LinuxParameters"]["Capabilities"] == {"Drop": ["ALL"]}
    assert sidecar["HealthCheck"]["Command"] == ["CMD", "/healthcheck"]
    assert sidecar["RestartPolicy"]["Enabled"] is True
    assert "PortMappings" not in sidecar  # the app is the container that serves
    options = sidecar["LogConfiguration"]["Options"]
    assert options["awslogs-group"] == {"Ref": "LogGroup"}  # the service's log group
    assert options["awslogs-stream-prefix"] == "otel-collector"
    # Exactly the configuration collector_config gives, with the stack's log groups filled in.
    settings = Settings(project=PROJECT, environment="dev")
    assert _config(template) == collector_config(
        settings,
        metrics_log_group=NAMES["MetricsLogGroup"],
        app_log_group=NAMES["LogGroup"],
        region=REGION,
    )


def test_the_metrics_log_group_is_the_stacks_with_the_environments_retention() -> None:
    built = _built(log_retention_days=90)
    group = resources(built, "AWS::Logs::LogGroup")["MetricsLogGroup"]["Properties"]
    assert group["RetentionInDays"] == 90
    assert _config(built)["exporters"][AWSEMF]["log_group_name"] == NAMES["MetricsLogGroup"]
    assert built["Outputs"]["MetricsLogGroupName"]["Value"] == {"Ref": "MetricsLogGroup"}


def test_emf_goes_to_the_projects_namespace_with_only_the_service_metrics() -> None:
    emf = _config(_built())["exporters"][AWSEMF]
    assert emf["namespace"] == metric_namespace(PROJECT, "dev")
    # The monitoring stack's namespace is the same "<project>/<environment>".
    assert emf["namespace"] == f"{PROJECT}/dev"
    assert emf["dimension_rollup_option"] == "NoDimensionRollup"
    assert emf["resource_to_telemetry_conversion"] == {"enabled": False}
    # The first request of a new route and status counts: no series' first point is a baseline
    # only (awsemf's and cumulativetodelta's defaults would drop it).
    assert emf["retain_initial_value_of_delta_metric"] is True
    delta = _config(_built())["processors"]["cumulativetodelta"]
    assert delta["initial_value"] == "keep"
    assert delta["include"]["metrics"] == [HTTP_REQUEST_DURATION.name]
    declared = {
        selector: [tuple(d) for d in rule["dimensions"]]
        for rule in emf["metric_declarations"]
        for selector in rule["metric_name_selectors"]
    }
    assert declared == {f"^{m.name}$": list(m.dimension_sets) for m in SERVICE_METRICS}
    # Each selector matches its own metric's name and no other (prometheus-client's *_created
    # series included).
    names = [m.name for m in SERVICE_METRICS] + [f"{m.family}_created" for m in SERVICE_METRICS]
    for metric in SERVICE_METRICS:
        assert [n for n in names if re.search(f"^{re.escape(metric.name)}$", n)] == [metric.name]


# Both configurations generated from the same Python: the task definition's and compose's.
EACH_CONFIG = pytest.mark.parametrize(
    "config",
    [
        collector_config(Settings(project=PROJECT, environment="dev")),
        local_collector_config(Collector().memory_limit_mib),
    ],
    ids=["aws", "local"],
)


@EACH_CONFIG
def test_the_yaml_parses_and_pipelines_use_only_defined_components(config: dict[str, Any]) -> None:
    parsed = yaml.safe_load(render(config))
    assert parsed == config
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set()}
    for pipeline in parsed["service"]["pipelines"].values():
        for kind, ids in used.items():
            assert set(pipeline[kind]) <= set(parsed[kind]), f"{kind} {pipeline[kind]} undefined"
            ids.update(pipeline[kind])
    # Nothing defined and left unused (the collector would only warn).
    for kind, ids in used.items():
        assert ids == set(parsed[kind])
    assert set(parsed["service"]["extensions"]) == set(parsed["extensions"]) == {"health_check"}
    assert parsed["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    assert parsed["extensions"]["health_check"]["endpoint"] == "0.0.0.0:13133"
    (job,) = parsed["receivers"]["prometheus"]["config"]["scrape_configs"]
    assert (job["job_name"], job["metrics_path"], job["scrape_interval"]) == (
        "app",
        "/metrics",
        "60s",
    )


# Component types ADOT v0.49.0 (collector v0.156.0) still reads but warns about, and what replaced
# them: the OTLP gRPC exporter's factory registers "otlp" only as a deprecated alias of
# "otlp_grpc", likewise "otlphttp" of "otlp_http" (exporter/otlpexporter and otlphttpexporter
# metadata.yaml deprecated_type; service/internal/builders/builders.go logs '"otlp" alias is
# deprecated'). The "logging" exporter is gone altogether (pkg/defaultcomponents/defaults.go).
DEPRECATED_TYPES = {
    "exporters": {"otlp": "otlp_grpc", "otlphttp": "otlp_http", "logging": "debug"},
}


@EACH_CONFIG
def test_no_component_is_a_deprecated_or_removed_type(config: dict[str, Any]) -> None:
    for section, deprecated in DEPRECATED_TYPES.items():
        for component in config[section]:
            kind = component.split("/", 1)[0]
            assert kind not in deprecated, f"{section}.{component}: use {deprecated[kind]}"


def test_the_pipelines_are_the_contracts() -> None:
    pipelines = collector_config(Settings(project=PROJECT, environment="dev"))["service"][
        "pipelines"
    ]
    assert pipelines["traces"]["receivers"] == ["otlp"]
    assert pipelines["traces"]["exporters"] == [AWSXRAY]
    assert pipelines["metrics"]["receivers"] == ["prometheus"]
    assert pipelines["metrics"]["exporters"] == [AWSEMF]
    for pipeline in pipelines.values():
        # The memory limiter first (it must see data before anything buffers it), batch last.
        assert pipeline["processors"][0] == "memory_limiter"
        assert pipeline["processors"][-1] == "batch"


def test_the_app_never_waits_for_the_collector(env: str, rendered: dict[str, Any]) -> None:
    containers = _containers(rendered[env]["service"])
    assert containers["app"]["Essential"] is True
    assert "DependsOn" not in containers["app"]
    assert "DependsOn" not in containers["otel-collector"]


def test_the_app_traces_to_the_sidecar_with_the_environments_ratio(
    env: str, rendered: dict[str, Any]
) -> None:
    app = _environment(_containers(rendered[env]["service"])["app"])
    assert app["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://localhost:4318"
    assert app["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert app["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert app["OTEL_TRACES_SAMPLER_ARG"] == SAMPLE_RATIOS[env]
    assert app["OTEL_SERVICE_NAME"] == PROJECT
    attributes = iam.resolve(app["OTEL_RESOURCE_ATTRIBUTES"], NAMES)
    assert attributes == f"deployment.environment={env},service.version=1.2.3"
    assert app["OTEL_METRICS_EXPORTER"] == app["OTEL_LOGS_EXPORTER"] == "none"


def test_the_collector_takes_at_most_a_quarter_and_the_app_the_rest(
    env: str, rendered: dict[str, Any]
) -> None:
    task = _task(rendered[env]["service"])
    containers = _containers(rendered[env]["service"])
    cpu, memory = int(task["Cpu"]), int(task["Memory"])
    assert memory in FARGATE_MEMORY[cpu]  # the task is still a Fargate size
    app, sidecar = containers["app"], containers["otel-collector"]
    # Both explicit, adding up to the task: no container left with 2 shares against the other.
    assert app["Cpu"] + sidecar["Cpu"] == cpu
    assert sidecar["Cpu"] * 4 <= cpu
    assert sidecar["MemoryReservation"] <= sidecar["Memory"] <= memory // 4
    gomemlimit = _environment(sidecar)["GOMEMLIMIT"]
    assert int(gomemlimit.removesuffix("MiB")) < sidecar["Memory"]
    limiter = yaml.safe_load(iam.resolve(_environment(sidecar)["AOT_CONFIG_CONTENT"], NAMES))[
        "processors"
    ]["memory_limiter"]
    assert limiter["limit_mib"] < sidecar["Memory"]


def test_without_the_collector_nothing_of_it_remains() -> None:
    template = _built(collector=Collector(enabled=False))
    containers = _containers(template)
    assert list(containers) == ["app"]
    assert not any(name.startswith("OTEL_") for name in _environment(containers["app"]))
    assert "Cpu" not in containers["app"]
    assert "MetricsLogGroup" not in template["Resources"]
    assert "MetricsLogGroupName" not in template["Outputs"]
    assert "Policies" not in template["Resources"]["TaskRole"]["Properties"]


# --- the task role, judged as AWS would --------------------------------------------------------


def _task_role(template: Template) -> iam.Evaluator:
    statements = iam.role_statements(template, "TaskRole")
    return iam.Evaluator(iam.resolve(statements, NAMES))


def _exporter_calls(config: dict[str, Any]) -> list[iam.Call]:
    """The calls awsxray and awsemf make (stacks/service/collector.py lists them, with sources)."""
    emf = config["exporters"][AWSEMF]
    stream = {"logGroupName": emf["log_group_name"], "logStreamName": emf["log_stream_name"]}
    return [
        iam.Call("xray:PutTraceSegments", REGION, {"TraceSegmentDocuments": ["{}"]}),
        iam.Call("logs:PutLogEvents", REGION, {**stream, "logEvents": []}),
        iam.Call("logs:CreateLogStream", REGION, stream),
    ]


def test_the_task_role_allows_every_call_the_exporters_make(env: str, rendered: Any) -> None:
    template = rendered[env]["service"]
    role = _task_role(template)
    config = _config(template)
    assert config["exporters"][AWSEMF]["log_stream_name"] == METRICS_LOG_STREAM
    for call in _exporter_calls(config):
        for request in iam.requests(call):
            assert role.allows(request), f"denied: {request}"


@pytest.mark.parametrize(
    "call",
    [
        # Creating the group: the stack does, with retention; never the collector.
        iam.Call("logs:CreateLogGroup", REGION, {"logGroupName": NAMES["MetricsLogGroup"]}),
        # The app's own log group is not the collector's to write.
        iam.Call(
            "logs:PutLogEvents",
            REGION,
            {"logGroupName": NAMES["LogGroup"], "logStreamName": "app/app/1"},
        ),
        iam.Call("logs:DescribeLogStreams", REGION, {"logGroupName": NAMES["MetricsLogGroup"]}),
        # X-Ray calls the exporter does not make.
        iam.Call("xray:GetSamplingRules", REGION, {}),
        iam.Call("xray:PutTelemetryRecords", REGION, {}),
    ],
    ids=lambda call: call.action,
)
def test_the_task_role_denies_what_the_exporters_do_not_call(call: iam.Call) -> None:
    role = _task_role(_built())
    assert not any(role.allows(request) for request in iam.requests(call))


# --- compose's collector -----------------------------------------------------------------------


def test_composes_collector_config_is_the_generated_one() -> None:
    committed = (ROOT / COMPOSE_COLLECTOR).read_text("utf-8")
    assert committed == compose_collector_yaml(), "regenerate with: invoke docs"
    local = yaml.safe_load(committed)
    assert local["exporters"]["otlp_grpc"]["endpoint"] == "jaeger:4317"
    (job,) = local["receivers"]["prometheus"]["config"]["scrape_configs"]
    assert job["static_configs"] == [{"targets": ["app:8000"]}]
    # The same receivers and memory limit as the sidecar; only the exporters differ.
    aws = collector_config(Settings(project=PROJECT, environment="local"))
    assert set(local["receivers"]) == set(aws["receivers"])
    assert local["processors"]["memory_limiter"] == aws["processors"]["memory_limiter"]
    assert not set(local["exporters"]) & {AWSEMF, AWSXRAY}


def test_the_app_cpu_helper_gives_the_app_the_rest() -> None:
    settings = Settings(project=PROJECT, environment="dev", cpu=512, memory=1024)
    assert collector.app_cpu(settings) == 512 - Collector().cpu
    off = Settings(project=PROJECT, environment="dev", collector=Collector(enabled=False))
    assert collector.app_cpu(off) == off.cpu


# --- the network the collector needs -----------------------------------------------------------


def test_the_tasks_reach_ecr_public_x_ray_and_cloudwatch_logs(env: str, rendered: Any) -> None:
    """ECR Public has no VPC endpoint: every private subnet routes out through a NAT gateway, and
    the tasks may open HTTPS anywhere (X-Ray and CloudWatch Logs are HTTPS APIs)."""
    network = rendered[env]["network"]
    tables = {k for k, v in resources(network, "AWS::EC2::RouteTable").items() if "Private" in k}
    routes = resources(network, "AWS::EC2::Route").values()
    to_nat = {
        r["Properties"]["RouteTableId"]["Ref"]
        for r in routes
        if r["Properties"]["DestinationCidrBlock"] == "0.0.0.0/0"
        and "NatGatewayId" in r["Properties"]
    }
    assert tables
    assert tables == to_nat
    task_sg = resources(rendered[env]["service"], "AWS::EC2::SecurityGroup")["TaskSecurityGroup"]
    https_out = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}
    egress = task_sg["Properties"]["SecurityGroupEgress"]
    assert any(https_out.items() <= rule.items() for rule in egress)


def test_render_round_trips_what_yaml_would_misread_unquoted() -> None:
    tricky = {
        "plain": "yes",  # YAML 1.1 would read an unquoted yes as true
        "number-like": "0.05",
        "colon: key": "a: b # not a comment",
        "quotes": 'say "hi" \\ then\nnewline',
        "flags": [True, False, None, 0, 1.5],
        "nested": [{"a": [[], ["x", "y"]]}, {"b": {}}],
        "empty": [],
    }
    text = render(tricky, header="two\nlines")
    assert text.startswith("# two\n# lines\n")
    assert yaml.safe_load(text) == tricky
    with pytest.raises(TypeError, match="cannot render"):
        render({"bad": object()})
