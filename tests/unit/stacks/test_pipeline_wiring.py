"""The pipeline's roles grant what the build and the deploys do, on the stacks they touch.

Build: ``invoke push`` pushes to the one repository and reads the registry stack's outputs.
Deploy: ``invoke deploy`` launches the environment (and the registry it depends on) with
Sceptre, whose ``!termination_protection`` hook runs after every launch of the hooked stacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from delivery import sceptre_yaml
from stacks.pipeline import roles
from tests.unit.stacks.cfn import ROOT, Template, resources

Rendered = dict[str, dict[str, Template]]
CONFIG = ROOT / "config"
PROJECT_CODE = yaml.safe_load((CONFIG / "config.yaml").read_text())["project_code"]
ECR_PUSH = {
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
}


def load_config(path: Path) -> Any:
    """One Sceptre config file, its resolver and hook tags kept as ``Tagged`` values."""
    return sceptre_yaml.read(path)


def hooked_stacks(hook: str = "!termination_protection") -> set[str]:
    """Sceptre paths (``prod/service``) whose config runs ``hook`` after launch."""
    found = set()
    for path in sorted(CONFIG.glob("*/*.yaml")):
        if path.name == "config.yaml":
            continue
        config = load_config(path)
        after = (config.get("hooks") or {}).get("after_launch") or []
        if any(isinstance(h, sceptre_yaml.Tagged) and h.tag == hook for h in after):
            found.add(f"{path.parent.name}/{path.stem}")
    return found


def stack_arn(path: str) -> dict[str, str]:
    name = f"{PROJECT_CODE}-{path.replace('/', '-')}"
    return {
        "Fn::Sub": "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:"
        f"stack/{name}/*"
    }


def statements(template: Template, role: str) -> list[dict[str, Any]]:
    policies = resources(template, "AWS::IAM::Role")[role]["Properties"]["Policies"]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def granted(template: Template, role: str, action: str) -> list[Any]:
    """Every resource ``role`` may call ``action`` on."""
    found = []
    for statement in statements(template, role):
        actions = statement["Action"]
        if action in ([actions] if isinstance(actions, str) else actions):
            found += statement["Resource"]
    return found


def _actions(template: Template, role: str, prefix: str) -> set[str]:
    return {
        a
        for s in statements(template, role)
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if a.startswith(prefix)
    }


def test_registry_path_is_the_shared_registry_config() -> None:
    assert (CONFIG / f"{roles.REGISTRY_PATH}.yaml").is_file()
    assert roles.PROJECT == PROJECT_CODE
    assert roles.stack_name("prod/service") == f"{PROJECT_CODE}-prod-service"


def test_build_role_reads_registry_outputs_and_pushes_nothing_more(rendered: Rendered) -> None:
    pipeline = rendered["shared"]["pipeline"]
    assert _actions(pipeline, "BuildRole", "cloudformation:") == {"cloudformation:DescribeStacks"}
    assert granted(pipeline, "BuildRole", "cloudformation:DescribeStacks") == [
        stack_arn(roles.REGISTRY_PATH)
    ]
    assert _actions(pipeline, "BuildRole", "ecr:") == {*ECR_PUSH, "ecr:GetAuthorizationToken"}
    for action in ECR_PUSH:
        assert granted(pipeline, "BuildRole", action) == [{"Ref": "RepositoryArn"}], action
    assert granted(pipeline, "BuildRole", "ecr:GetAuthorizationToken") == ["*"]


def test_pipeline_setting_lists_exactly_the_hooked_stacks(rendered: Rendered) -> None:
    config = load_config(CONFIG / "shared" / "pipeline.yaml")
    deployed = {stage["environment"] for stage in config["sceptre_user_data"]["deploy"]}
    relevant = {
        p for p in hooked_stacks() if p.split("/")[0] in deployed or p == roles.REGISTRY_PATH
    }
    assert relevant == {"prod/network", "prod/service", "prod/monitoring", "shared/registry"}
    assert set(config["sceptre_user_data"]["termination_protected"]) == relevant


@pytest.mark.parametrize(
    ("role", "environment"), [("DeployDevRole", "dev"), ("DeployProdRole", "prod")]
)
def test_deploy_role_may_protect_exactly_the_hooked_stacks_it_launches(
    rendered: Rendered, role: str, environment: str
) -> None:
    """The hook runs after every launch, a deploy's too: without the right it fails the deploy."""
    pipeline = rendered["shared"]["pipeline"]
    launched = {
        p for p in hooked_stacks() if p.split("/")[0] == environment or p == roles.REGISTRY_PATH
    }
    allowed = granted(pipeline, role, "cloudformation:UpdateTerminationProtection")
    assert sorted(map(str, allowed)) == sorted(str(stack_arn(p)) for p in launched)
    assert roles.REGISTRY_PATH in launched


def test_protection_statement_grants_nothing_else(rendered: Rendered) -> None:
    pipeline = rendered["shared"]["pipeline"]
    for role in ("DeployDevRole", "DeployProdRole"):
        for statement in statements(pipeline, role):
            if "cloudformation:UpdateTerminationProtection" in statement["Action"]:
                assert statement["Action"] == ["cloudformation:UpdateTerminationProtection"]
    assert not granted(pipeline, "BuildRole", "cloudformation:UpdateTerminationProtection")


def test_hooked_stacks_reads_the_hook_tag() -> None:
    assert "prod/service" in hooked_stacks()
    assert not {p for p in hooked_stacks() if p.startswith(("dev/", "local/"))}


@pytest.mark.parametrize("role", ["DeployDevRole", "DeployProdRole"])
def test_deploy_roles_only_read_the_image_they_deploy(rendered: Rendered, role: str) -> None:
    """A deploy checks that its digest is in the registry; it pushes nothing and reads no scan."""
    pipeline = rendered["shared"]["pipeline"]
    assert _actions(pipeline, role, "ecr:") == {"ecr:BatchGetImage", "ecr:DescribeImages"}
    for action in ("ecr:BatchGetImage", "ecr:DescribeImages"):
        assert granted(pipeline, role, action) == [{"Ref": "RepositoryArn"}], action
