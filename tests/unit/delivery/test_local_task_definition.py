"""What the local service reads from the emulator: the task definition's volumes, mounts, secrets.

Read from the registered revision, and from the stack's template when moto leaves an updated
revision empty; both must give the same spec. Secrets are read the way ECS reads them (Secrets
Manager, optionally one JSON key; SSM parameters by name or ARN).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from delivery import tasksecrets
from delivery.emulator import Emulator
from delivery.errors import DeliveryError
from delivery.local.task_definition import (
    AwsLogs,
    CollectorSpec,
    ServiceSpec,
    _from_task_definition,
    _from_template,
)
from delivery.taskvolumes import MountPoint
from tests.support.collector_config import COLLECTOR_IMAGE, contract_text, with_collector
from tests.support.project import with_awslogs

pytestmark = [pytest.mark.emulator]

REGION = "eu-north-1"
STACK = "flask-fargate-local-service"
IMAGE = "1.dkr.ecr.eu-north-1.amazonaws.com/flask-fargate@sha256:" + "a" * 64


def task_template(secret_from: Any, volumes: list[dict[str, Any]] | None = None) -> str:
    """A service template like the real one: one tmp volume at /tmp, one secret."""
    return json.dumps(
        {
            "Parameters": {"ImageUri": {"Type": "String"}},
            "Resources": {
                "TaskDefinition": {
                    "Type": "AWS::ECS::TaskDefinition",
                    "Properties": {
                        "Family": STACK,
                        "RequiresCompatibilities": ["FARGATE"],
                        "NetworkMode": "awsvpc",
                        "Cpu": "256",
                        "Memory": "512",
                        "Volumes": volumes if volumes is not None else [{"Name": "tmp"}],
                        "ContainerDefinitions": [
                            {
                                "Name": "app",
                                "Image": {"Ref": "ImageUri"},
                                "User": "10001:10001",
                                "ReadonlyRootFilesystem": True,
                                "PortMappings": [{"ContainerPort": 8000}],
                                "MountPoints": [{"SourceVolume": "tmp", "ContainerPath": "/tmp"}],
                                "Secrets": [{"Name": "SECRET_KEY", "ValueFrom": secret_from}],
                                "LinuxParameters": {"Capabilities": {"Drop": ["ALL"]}},
                            }
                        ],
                    },
                },
                **(
                    {
                        "AppSecret": {
                            "Type": "AWS::SecretsManager::Secret",
                            "Properties": {"GenerateSecretString": {"PasswordLength": 64}},
                        }
                    }
                    if secret_from == {"Ref": "AppSecret"}
                    else {}
                ),
            },
            "Outputs": {"TaskDefinitionArn": {"Value": {"Ref": "TaskDefinition"}}},
        }
    )


def launch(template: str) -> str:
    """Create the stack; the task definition revision it registered."""
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=template,
        Parameters=[{"ParameterKey": "ImageUri", "ParameterValue": IMAGE}],
    )
    outputs = cfn.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    return str(outputs[0]["OutputValue"])


@pytest.mark.usefixtures("aws")
def test_volumes_mounts_and_secrets_come_from_the_revision_and_the_template_alike() -> None:
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="app-secret", SecretString="s3cret"
    )["ARN"]
    arn = launch(task_template(secret))
    registered = _from_task_definition(arn, REGION)
    from_template = _from_template(STACK, {"ImageUri": IMAGE}, REGION)
    assert registered is not None
    for spec in (registered, from_template):
        assert spec.volumes == ("tmp",)
        assert spec.mounts == (MountPoint("tmp", "/tmp", read_only=False),)
        assert spec.secrets == {"SECRET_KEY": secret}
        assert (spec.user, spec.read_only, spec.drop_all) == ("10001:10001", True, True)
    assert tasksecrets.resolve(registered.secrets) == {"SECRET_KEY": "s3cret"}


@pytest.mark.usefixtures("aws")
def test_a_secret_the_stack_declares_is_read_as_ecs_reads_it() -> None:
    # The emulator creates the stack's AWS::SecretsManager::Secret: Ref gives its ARN.
    arn = launch(task_template({"Ref": "AppSecret"}))
    spec = _from_task_definition(arn, REGION)
    assert spec is not None
    (value_from,) = spec.secrets.values()
    assert value_from.startswith(f"arn:aws:secretsmanager:{REGION}:")
    assert _from_template(STACK, {"ImageUri": IMAGE}, REGION).secrets == spec.secrets
    values = tasksecrets.resolve(spec.secrets)
    assert list(values) == ["SECRET_KEY"]
    assert len(values["SECRET_KEY"]) == 64  # generated as the template's PasswordLength says


def test_a_secret_without_value_from_is_one_line() -> None:
    with pytest.raises(DeliveryError) as info:
        tasksecrets.resolve({"SECRET_KEY": "", "OTHER": "flat"})
    assert str(info.value) == (
        "the task definition's secret SECRET_KEY has no valueFrom: give it the secret's ARN or "
        "the parameter's name in the service template"
    )


@pytest.mark.usefixtures("aws")
def test_a_volume_fargate_would_not_bind_mount_is_one_line() -> None:
    efs = [{"Name": "tmp", "EFSVolumeConfiguration": {"FilesystemId": "fs-12345678"}}]
    with pytest.raises(DeliveryError) as info:
        launch_and_read_template(efs)
    assert str(info.value) == (
        f"stack {STACK}'s template (moto left the updated revision empty): volume tmp is "
        "EFSVolumeConfiguration: the local run provides bind mount volumes only (no "
        "configuration, as Fargate's scratch volumes)"
    )


def launch_and_read_template(volumes: list[dict[str, Any]]) -> ServiceSpec:
    launch(task_template("arn:aws:ssm:eu-north-1:123456789012:parameter/app", volumes))
    return _from_template(STACK, {"ImageUri": IMAGE}, REGION)


def test_secrets_manager_json_keys_and_ssm_parameters_resolve(aws: Emulator) -> None:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name="db", SecretString=json.dumps({"password": "pw"}))["ARN"]
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/app/greeting", Value="hello", Type="SecureString")
    ssm.put_parameter(Name="flat", Value="plain", Type="String")
    values = tasksecrets.resolve(
        {
            "DB_PASSWORD": f"{arn}:password::",
            "GREETING": "arn:aws:ssm:eu-north-1:123456789012:parameter/app/greeting",
            "FLAT": "flat",
        }
    )
    assert values == {"DB_PASSWORD": "pw", "GREETING": "hello", "FLAT": "plain"}
    with pytest.raises(DeliveryError, match=r"^secret .*:db-\w+ has no JSON key 'user'"):
        tasksecrets.read(f"{arn}:user::")
    with pytest.raises(DeliveryError, match=r"^reading secret nope failed: ParameterNotFound"):
        tasksecrets.read("nope")


@pytest.mark.usefixtures("aws")
def test_the_awslogs_options_come_from_the_revision_and_the_template_alike() -> None:
    # As the real service stack: the group is the stack's own, the region its own, a prefix.
    template = with_awslogs(
        json.loads(task_template("arn:aws:ssm:eu-north-1:123456789012:parameter/app")),
        mode="non-blocking",
    )
    arn = launch(json.dumps(template))
    group = boto3.client("cloudformation", region_name=REGION).describe_stack_resource(
        StackName=STACK, LogicalResourceId="LogGroup"
    )["StackResourceDetail"]["PhysicalResourceId"]
    registered = _from_task_definition(arn, REGION)
    from_template = _from_template(STACK, {"ImageUri": IMAGE}, REGION)
    assert registered is not None
    expected = AwsLogs(group=group, region=REGION, stream_prefix="app", container="app")
    assert registered.awslogs == expected
    assert from_template.awslogs == expected


@pytest.mark.usefixtures("aws")
def test_no_awslogs_driver_names_no_stream() -> None:
    arn = launch(task_template("arn:aws:ssm:eu-north-1:123456789012:parameter/app"))
    registered = _from_task_definition(arn, REGION)
    assert registered is not None
    assert registered.awslogs is None
    assert _from_template(STACK, {"ImageUri": IMAGE}, REGION).awslogs is None


@pytest.mark.usefixtures("aws")
def test_the_collector_sidecar_comes_from_the_revision_and_the_template_alike() -> None:
    config = contract_text()
    template = with_collector(
        json.loads(task_template("arn:aws:ssm:eu-north-1:123456789012:parameter/app")), config
    )
    arn = launch(json.dumps(template))
    registered = _from_task_definition(arn, REGION)
    from_template = _from_template(STACK, {"ImageUri": IMAGE}, REGION)
    assert registered is not None
    for spec in (registered, from_template):
        assert spec.collector == CollectorSpec(image=COLLECTOR_IMAGE, config=config)
        # Listed first and with a port of its own, the sidecar is still not taken for the app.
        assert (spec.image, spec.container_port) == (IMAGE, 8000)


@pytest.mark.usefixtures("aws")
def test_a_collector_without_its_configuration_is_one_line() -> None:
    template = with_collector(
        json.loads(task_template("arn:aws:ssm:eu-north-1:123456789012:parameter/app")), None
    )
    arn = launch(json.dumps(template))
    with pytest.raises(DeliveryError) as info:
        _from_task_definition(arn, REGION)
    assert str(info.value) == (
        f"task definition {arn.rsplit('/', 1)[-1]}: container otel-collector has no "
        "AOT_CONFIG_CONTENT that can be read here: the collector's configuration is that "
        "variable's literal text"
    )


@pytest.mark.usefixtures("aws")
def test_no_collector_container_is_no_collector() -> None:
    arn = launch(task_template("arn:aws:ssm:eu-north-1:123456789012:parameter/app"))
    registered = _from_task_definition(arn, REGION)
    assert registered is not None
    assert registered.collector is None


@pytest.mark.usefixtures("aws")
def test_a_collector_configuration_the_template_substitutes_is_read_substituted_both_ways() -> None:
    # The stack renders AOT_CONFIG_CONTENT as Fn::Sub: the region and the log groups' names are
    # known at deploy time only. ECS gets the substituted text; so must the local run, from the
    # registered revision and from the template alike.
    text = 'region: "${AWS::Region}"\ngroups: ["${AppLogGroup}"]\nliteral: "${!NotAVariable}"\n'
    template = with_collector(
        with_awslogs(json.loads(task_template("arn:aws:ssm:eu-north-1:123456789012:parameter/a"))),
        None,
    )
    sidecar = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    sidecar["Environment"] = [
        {
            "Name": "AOT_CONFIG_CONTENT",
            "Value": {"Fn::Sub": [text, {"AppLogGroup": {"Ref": "LogGroup"}}]},
        }
    ]
    arn = launch(json.dumps(template))
    (group,) = boto3.client("logs", region_name=REGION).describe_log_groups()["logGroups"]
    expected = (
        f'region: "{REGION}"\ngroups: ["{group["logGroupName"]}"]\nliteral: "${{NotAVariable}}"\n'
    )
    registered = _from_task_definition(arn, REGION)
    from_template = _from_template(STACK, {"ImageUri": IMAGE}, REGION)
    assert registered is not None
    for spec in (registered, from_template):
        assert spec.collector is not None
        assert spec.collector.config == expected, spec.source
