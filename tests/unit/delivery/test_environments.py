"""Environments are config/<env>/ folders; their facts come from config.yaml with fallbacks.

``make_project`` (also used by the other delivery tests) writes a small Sceptre project in the
shape of the real one: local (own registry, emulator), dev and prod (shared registry), shared.
Its templates are plain JSON that moto can create, so tests never depend on stacks/. The service
template has what the deploy reads of the real one: an ALB whose production listener rule
forwards to a blue and a green target group (weights 100/0), the ``ProductionTargetGroup``
parameter, and an ``Https`` output of "false" (no domain configured).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from delivery import environments
from delivery.errors import DeliveryError

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


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` with a fixed identity; its stdout."""
    return subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


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


def test_environments_are_the_config_folders_except_shared(tmp_path: Path) -> None:
    make_project(tmp_path)
    (tmp_path / "config" / ".hidden").mkdir()
    assert environments.names(tmp_path) == ["dev", "local", "prod"]


def test_facts_come_from_config_with_fallbacks(tmp_path: Path) -> None:
    make_project(tmp_path)
    local = environments.load("local", tmp_path)
    dev = environments.load("dev", tmp_path)
    prod = environments.load("prod", tmp_path)
    assert (local.emulator, local.registry_group, local.destroy_protection) == (
        True,
        "local",
        False,
    )
    assert (dev.emulator, dev.registry_group, dev.destroy_protection) == (False, "shared", False)
    assert prod.destroy_protection
    assert (local.releases_only, dev.releases_only, prod.releases_only) == (False, False, True)
    assert dev.region == "eu-north-1"
    assert dev.registry_path == "shared/registry.yaml"
    assert dev.stack_name("service") == "flask-fargate-dev-service"
    assert dev.stack_name("registry", "shared") == "flask-fargate-shared-registry"
    assert local.stacks() == ["registry", "service"]


def test_explicit_keys_override_and_jinja_lines_are_ignored(tmp_path: Path) -> None:
    make_project(tmp_path)
    (tmp_path / "config" / "dev" / "config.yaml").write_text(
        "region: eu-west-1\ndestroy_protection: true\nregistry: local\nreleases_only: true\n"
        "stack_tags:\n  owner: {{ var.owner }}\nsomething: !stack_output x.yaml::Y\n"
    )
    dev = environments.load("dev", tmp_path)
    assert (dev.region, dev.destroy_protection, dev.registry_group) == ("eu-west-1", True, "local")
    assert dev.releases_only
    (tmp_path / "config" / "prod" / "config.yaml").write_text("releases_only: false\n")
    assert not environments.load("prod", tmp_path).releases_only


def test_unknown_environment_names_the_valid_ones(tmp_path: Path) -> None:
    make_project(tmp_path)
    with pytest.raises(DeliveryError) as info:
        environments.load("qa", tmp_path)
    assert str(info.value) == "unknown environment 'qa': choose one of dev, local, prod"
    with pytest.raises(DeliveryError, match="shared"):
        environments.load("shared", tmp_path)
    with pytest.raises(DeliveryError, match="no environment given"):
        environments.load(None, tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("region: [unclosed\n", "is not valid YAML"),
        ("destroy_protection: maybe\n", "'destroy_protection' must be true or false"),
        ("releases_only: sometimes\n", "'releases_only' must be true or false"),
        ("registry: nowhere\n", "registry 'nowhere' is not a folder"),
    ],
)
def test_bad_config_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    make_project(tmp_path)
    (tmp_path / "config" / "dev" / "config.yaml").write_text(text)
    with pytest.raises(DeliveryError, match=message) as info:
        environments.load("dev", tmp_path)
    assert "\n" not in str(info.value)


def test_no_config_folder_means_no_environments(tmp_path: Path) -> None:
    assert environments.names(tmp_path) == []
    with pytest.raises(DeliveryError, match="none found under config/"):
        environments.load("dev", tmp_path)


def test_stack_region_follows_sceptre_nearest_config_wins(tmp_path: Path) -> None:
    make_project(tmp_path)
    config = tmp_path / "config"
    (config / "dev" / "budget.yaml").write_text("template:\n  path: b.json\nregion: us-east-1\n")
    assert environments.stack_region(tmp_path, "dev/budget") == "us-east-1"
    assert environments.stack_region(tmp_path, "dev/service") == "eu-north-1"  # config/config.yaml
    (config / "dev" / "config.yaml").write_text("region: eu-west-1\n")
    assert environments.stack_region(tmp_path, "dev/service") == "eu-west-1"
    assert environments.stack_region(tmp_path, "dev/budget") == "us-east-1"


def test_a_stack_is_read_where_sceptre_deployed_it(tmp_path: Path) -> None:
    make_project(tmp_path)
    (tmp_path / "config" / "dev" / "budget.yaml").write_text(
        "template:\n  path: b.json\nregion: us-east-1\n"
    )
    dev = environments.load("dev", tmp_path)
    assert dev.stack_ref("budget") == environments.StackRef("flask-fargate-dev-budget", "us-east-1")
    assert dev.stack_ref("service") == environments.StackRef(
        "flask-fargate-dev-service", "eu-north-1"
    )
    (tmp_path / "config" / "shared" / "config.yaml").write_text("region: eu-west-1\n")
    assert dev.stack_ref("registry", "shared") == environments.StackRef(
        "flask-fargate-shared-registry", "eu-west-1"
    )


def test_the_real_prod_takes_releases_only() -> None:
    prod = environments.load("prod")
    assert prod.releases_only
    assert prod.destroy_protection


def launch_shared(root: Path) -> None:
    """The account's shared stacks of ``root``, as an administrator's ``invoke bootstrap``
    leaves them (a deploy only reads them)."""
    from delivery import bootstrap, stacks  # noqa: PLC0415 - Sceptre, only where stacks launch

    bootstrap.bootstrap(root, poll=stacks.EMULATOR_POLL_S)
