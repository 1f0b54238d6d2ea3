"""Every environment the pipeline deploys acts through a CloudFormation role that covers it."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from delivery import permissions, sceptre_yaml
from tests.support.paths import ROOT


@pytest.fixture(scope="module")
def coverage() -> dict[str, permissions.Coverage]:
    return {result.environment: result for result in permissions.check(ROOT)}


def test_every_pipeline_environment_deploys_through_a_covering_role(
    coverage: dict[str, permissions.Coverage],
) -> None:
    """Without a service role CloudFormation acts with the deploy role's rights, too few."""
    pipeline = sceptre_yaml.read(ROOT / "config" / "shared" / "pipeline.yaml")
    deployed = {stage["environment"] for stage in pipeline["sceptre_user_data"]["deploy"]}
    assert deployed <= set(coverage)
    for result in coverage.values():
        assert result.needed, result.environment
        assert not result.missing, result.line()
        assert not result.problems, result.line()
    assert "ecs:StopServiceDeployment" in coverage["prod"].needed  # the update handler's
    assert "budgets:ModifyBudget" in coverage["prod"].needed  # the us-east-1 stack's too


def test_a_missing_permission_is_reported_and_fails(
    coverage: dict[str, permissions.Coverage],
) -> None:
    prod = coverage["prod"]
    short = dataclasses.replace(prod, granted=prod.granted - {"ecs:StopServiceDeployment"})
    lines, ok = permissions.report([short])
    assert not ok
    assert "1 missing; missing: ecs:StopServiceDeployment" in lines[0]
    assert lines[-1] == "CloudFormation roles: 1 environments, 1 permissions missing, 0 out of step"


def copy_project(tmp_path: Path) -> Path:
    for folder in ("config", "templates"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def test_a_stack_the_role_was_not_generated_for_is_out_of_step(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    roles_file = project / "config" / "shared" / "cloudformation-roles.yaml"
    text = roles_file.read_text()
    every = "stacks: [network, service, monitoring, budget]"
    roles_file.write_text(text.replace(every, "stacks: [network, service, monitoring]", 1))
    (dev,) = [r for r in permissions.check(project) if r.environment == "dev"]
    assert dev.problems == (
        "the role is generated for stacks monitoring, network, service but config/dev/ launches "
        "budget, monitoring, network, service: list them in shared/cloudformation-roles.yaml",
    )
    assert dev.missing  # the budget's permissions, too


def test_a_region_the_role_does_not_know_is_out_of_step(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    budget = project / "config" / "prod" / "budget.yaml"
    data = yaml.safe_load(budget.read_text().replace("!termination_protection", "x"))
    assert data["region"] == "us-east-1"
    budget.write_text(budget.read_text().replace("region: us-east-1", "region: us-west-2"))
    (prod,) = [r for r in permissions.check(project) if r.environment == "prod"]
    assert "prod/budget deploys to us-west-2, not among the role's regions" in prod.problems


def test_command_line_prints_one_line_per_environment_and_the_total() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "delivery.permissions"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == ["dev", "prod"]
    assert lines[-1] == (
        "CloudFormation roles: 2 environments, 0 permissions missing, 0 out of step"
    )
