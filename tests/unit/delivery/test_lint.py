"""cfn-lint checks each template for the region Sceptre deploys its stack to, not one region."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sceptre.config.reader import ConfigReader
from sceptre.context import SceptreContext

from delivery import lint, render

ROOT = Path(__file__).resolve().parents[3]
# What Sceptre's Jinja needs to read the project's config (StrictUndefined).
VARIABLES = {
    "image_uri": "x",
    "app_version": "1.0.0",
    "production_target_group": "Blue",
    "deployment_pace": "guarded",
    "connection_arn": "x",
}


def _config_copy(tmp_path: Path) -> Path:
    config = tmp_path / "project" / "config"
    shutil.copytree(ROOT / "config", config)
    return config


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "delivery.lint", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_a_budget_in_a_stack_deployed_to_eu_north_1_is_reported(tmp_path: Path) -> None:
    config = _config_copy(tmp_path)
    budget = config / "dev" / "budget.yaml"
    # The stack file's own region gone: the folder chain's eu-north-1 applies.
    budget.write_text(budget.read_text().replace("region: us-east-1\n", ""))
    result = _run("--config", str(config), "--out", str(tmp_path / "out"), "--env", "dev")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "dev/budget (eu-north-1): E3006 Resource type 'AWS::Budgets::Budget' does not exist in "
        "'eu-north-1' Resources/CostBudget/Type"
    )
    assert lines[-1].startswith(
        "cfn-lint: 1 findings in 4 templates, each for its stack's region (eu-north-1), in "
    )
    assert len(lines) == 2
    assert (tmp_path / "out" / "dev" / "budget.json").is_file()


def test_the_project_templates_lint_clean_for_their_regions(tmp_path: Path) -> None:
    report = lint.lint(tmp_path)
    assert report.findings == []
    assert report.regions == ["eu-north-1", "us-east-1"]
    assert report.templates == len(render.stack_configs())
    # The same files delivery.render writes.
    rendered = render.render(tmp_path / "render")
    for path in rendered:
        relative = path.relative_to(tmp_path / "render")
        assert (tmp_path / relative).read_text() == path.read_text()


def test_bad_settings_are_one_line_and_exit_2(tmp_path: Path) -> None:
    config = _config_copy(tmp_path)
    path = config / "dev" / "budget.yaml"
    path.write_text(path.read_text().replace("monthly_budget_usd: 150", "monthly_budget_usd: 0"))
    result = _run("--config", str(config), "--out", str(tmp_path / "out"), "--env", "dev")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: dev/budget.yaml: budget: monthly_budget_usd=0: Input should be greater than 0"
    )
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("group", ["local", "dev", "prod", "shared"])
def test_regions_are_the_ones_sceptre_deploys_to(group: str) -> None:
    """StackConfig.region (what lint checks against) is what Sceptre's own reader resolves."""
    context = SceptreContext(project_path=str(ROOT), command_path=group, user_variables=VARIABLES)
    stacks, _ = ConfigReader(context).construct_stacks()
    # (Sceptre also reads the stacks they depend on in other folders: shared/registry.)
    sceptre = {
        stack.name.removeprefix(f"{group}/"): stack.region
        for stack in stacks
        if stack.name.startswith(f"{group}/")
    }
    ours = {stack.name: stack.region for stack in render.stack_configs(environments=[group])}
    assert sceptre == ours
    if group != "shared":
        assert ours["budget"] == "us-east-1"
