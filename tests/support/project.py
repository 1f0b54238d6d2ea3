"""A small Sceptre project in the shape of the real one, for tests that must not touch config/.

``make_project`` writes local (own registry, emulator), dev and prod (shared registry) and shared.
Its templates are plain JSON that moto can create, so tests never depend on stacks/. The service
template has what the deploy reads of the real one: an ALB whose production listener rule
forwards to a blue and a green target group (weights 100/0), the ``ProductionTargetGroup``
parameter, and an ``Https`` output of "false" (no domain configured).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from delivery import environments
from tests.support.git import git

REGISTRY_TEMPLATE = {
    "Parameters": {"RepositoryName": {"Type": "String"}},
    "Resources": {
        "Repository": {
            "Type": "AWS::ECR::Repository",
            "DeletionPolicy": "Retain",  # images outlive a destroyed environment
            "Properties": {"RepositoryName": {"Ref": "RepositoryName"}},
        }
    },
    "Outputs": {
        "RepositoryUri": {"Value": {"Fn::GetAtt": ["Repository", "RepositoryUri"]}},
        "RepositoryName": {"Value": {"Ref": "Repository"}},
    },
}


def _target_group() -> dict[str, object]:
    return {
        "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
        "Properties": {
            "Port": 8000,
            "Protocol": "HTTP",
            "TargetType": "ip",
            "VpcId": {"Ref": "Vpc"},
        },
    }


def _subnet(index: int) -> dict[str, object]:
    return {
        "Type": "AWS::EC2::Subnet",
        "Properties": {
            "VpcId": {"Ref": "Vpc"},
            "CidrBlock": f"10.0.{index}.0/24",
            "AvailabilityZone": {"Fn::Select": [index, {"Fn::GetAZs": ""}]},
        },
    }


# Blue/green load balancing as the real service stack has it (stacks/service/loadbalancer.py).
LOAD_BALANCING = {
    "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
    "SubnetA": _subnet(0),
    "SubnetB": _subnet(1),
    "LoadBalancer": {
        "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "Properties": {"Subnets": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}]},
    },
    "BlueTargetGroup": _target_group(),
    "GreenTargetGroup": _target_group(),
    "ProductionListener": {
        "Type": "AWS::ElasticLoadBalancingV2::Listener",
        "Properties": {
            "LoadBalancerArn": {"Ref": "LoadBalancer"},
            "Port": 80,
            "Protocol": "HTTP",
            "DefaultActions": [
                {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}
            ],
        },
    },
    "ProductionListenerRule": {
        "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
        "Properties": {
            "ListenerArn": {"Ref": "ProductionListener"},
            "Priority": 1,
            "Conditions": [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
            "Actions": [
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [
                            {"TargetGroupArn": {"Ref": "BlueTargetGroup"}, "Weight": 100},
                            {"TargetGroupArn": {"Ref": "GreenTargetGroup"}, "Weight": 0},
                        ]
                    },
                }
            ],
        },
    },
}

SERVICE_TEMPLATE = {
    "Parameters": {
        "RepositoryUri": {"Type": "String"},
        "ImageUri": {"Type": "String"},
        "AppVersion": {"Type": "String"},
        "ProductionTargetGroup": {
            "Type": "String",
            "AllowedValues": ["Blue", "Green"],
            "Default": "Blue",
        },
    },
    "Resources": {
        **LOAD_BALANCING,
        # Named: moto replaces an unnamed cluster on every stack update.
        "Cluster": {
            "Type": "AWS::ECS::Cluster",
            "Properties": {"ClusterName": {"Fn::Sub": "${AWS::StackName}"}},
        },
        "TaskDefinition": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": {"Fn::Sub": "${AWS::StackName}"},
                "ContainerDefinitions": [
                    {
                        "Name": "app",
                        "Image": {"Ref": "ImageUri"},
                        "Memory": 512,
                        "Environment": [{"Name": "APP_VERSION", "Value": {"Ref": "AppVersion"}}],
                    }
                ],
            },
        },
        "Service": {
            "Type": "AWS::ECS::Service",
            "Properties": {
                "Cluster": {"Ref": "Cluster"},
                "TaskDefinition": {"Ref": "TaskDefinition"},
                "DesiredCount": 1,
            },
        },
    },
    "Outputs": {
        "ClusterName": {"Value": {"Ref": "Cluster"}},
        "ServiceName": {"Value": {"Fn::GetAtt": ["Service", "Name"]}},
        "TaskDefinitionArn": {"Value": {"Ref": "TaskDefinition"}},
        "ServiceUrl": {"Value": {"Fn::Sub": "http://${AWS::StackName}.example.invalid"}},
        "Https": {"Value": "false"},
    },
}

SERVICE_CONFIG = """\
template:
  path: service.json
parameters:
  RepositoryUri: !stack_output {registry}/registry.yaml::RepositoryUri
  ImageUri: {{{{ var.image_uri }}}}
  AppVersion: "{{{{ var.app_version }}}}"
  ProductionTargetGroup: "{{{{ var.production_target_group }}}}"
"""


def make_project(root: Path, *, git_init: bool = False) -> Path:
    """A Sceptre project with local/dev/prod/shared like the real one; ``root``."""
    files = {
        "config/config.yaml": "project_code: flask-fargate\nregion: eu-north-1\n",
        "config/local/config.yaml": "emulator: true\n",
        "config/local/registry.yaml": (
            "template:\n  path: registry.json\nparameters:\n  RepositoryName: flask-fargate-local\n"
        ),
        "config/local/service.yaml": SERVICE_CONFIG.format(registry="local"),
        "config/dev/config.yaml": "region: eu-north-1\n",
        "config/dev/service.yaml": SERVICE_CONFIG.format(registry="shared"),
        "config/prod/config.yaml": "destroy_protection: true\n",
        "config/prod/service.yaml": SERVICE_CONFIG.format(registry="shared"),
        "config/shared/config.yaml": "{}\n",
        "config/shared/registry.yaml": (
            "template:\n  path: registry.json\nparameters:\n  RepositoryName: flask-fargate\n"
        ),
        "templates/registry.json": json.dumps(REGISTRY_TEMPLATE),
        "templates/service.json": json.dumps(SERVICE_TEMPLATE),
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if git_init:
        git(root, "init", "-q", "-b", "main")
        # The project's own commitizen settings, so the tests exercise exactly those.
        text = (environments.PROJECT_ROOT / "pyproject.toml").read_text()
        table = text[text.index("[tool.commitizen]") :].split("\n[", 1)[0]
        (root / "pyproject.toml").write_text(table + "\n")
        git(root, "add", ".")
        git(root, "commit", "-q", "-m", "feat: initial")
    return root


def break_registry_template(root: Path) -> None:
    """Make the registry stack of ``make_project`` fail to launch (ECS service, no cluster)."""
    failing = {
        "Resources": {
            "Service": {
                "Type": "AWS::ECS::Service",
                "Properties": {"Cluster": "nope", "TaskDefinition": "nope:1"},
            }
        }
    }
    (root / "templates" / "registry.json").write_text(json.dumps(failing))


def launch_shared(root: Path) -> None:
    """The account's shared stacks of ``root``, as an administrator's ``invoke bootstrap``
    leaves them (a deploy only reads them)."""
    from delivery import bootstrap, stacks  # noqa: PLC0415 - Sceptre, only where stacks launch

    bootstrap.bootstrap(root, poll=stacks.EMULATOR_POLL_S)


def service_template(extra_env: dict[str, str] | None = None) -> str:
    """The sample service, with a port mapping and more environment, like the real one."""
    template = json.loads(json.dumps(SERVICE_TEMPLATE))
    container = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    container["PortMappings"] = [{"ContainerPort": 8000}]
    container["Environment"] += [
        {"Name": name, "Value": value}
        for name, value in {"GREETING": "Hello from the sample", **(extra_env or {})}.items()
    ]
    return json.dumps(template)


def with_awslogs(template: dict[str, Any], **options: str) -> dict[str, Any]:
    """``template`` with a log group of its own and the app container's awslogs options naming
    it, as the real service stack has them (group, region, prefix ``app``, plus ``options``)."""
    template["Resources"]["LogGroup"] = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"RetentionInDays": 7},
    }
    container = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    container["LogConfiguration"] = {
        "LogDriver": "awslogs",
        "Options": {
            "awslogs-group": {"Ref": "LogGroup"},
            "awslogs-region": {"Ref": "AWS::Region"},
            "awslogs-stream-prefix": "app",
            **options,
        },
    }
    return template
