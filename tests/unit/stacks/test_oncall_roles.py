"""The on-call's roles: who may assume them, for how long, and what each may do.

What they hold is proven sufficient on the emulator (tests/integration/test_oncall_roles.py);
here, the rules they are built by.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from delivery.project import NAME as PROJECT
from stacks import oncall_roles
from stacks.common.errors import SettingsError
from stacks.common.handler import render
from tests.support.cfn import Template

Rendered = dict[str, dict[str, Template]]
# What reading never needs: every action of the read-only role starts with one of these verbs.
READ_VERBS = ("Describe", "Get", "List", "Filter")


def build(**settings: Any) -> Template:
    data = {
        "project": PROJECT,
        "environment": "shared",
        "environments": ["dev", "prod"],
        **settings,
    }
    return dict(json.loads(render(oncall_roles, data)))


def role(template: Template, logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return properties


def statements(template: Template, logical_id: str) -> list[dict[str, Any]]:
    (inline,) = role(template, logical_id)["Policies"]
    found: list[dict[str, Any]] = inline["PolicyDocument"]["Statement"]
    return found


def actions(found: list[dict[str, Any]]) -> set[str]:
    return {action for statement in found for action in statement["Action"]}


def test_only_this_account_assumes_them_and_with_mfa_by_default() -> None:
    template = build()
    for logical_id in ("ProdReadOnlyRole", "ProdIncidentRole", "DevReadOnlyRole"):
        (trust,) = role(template, logical_id)["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {
            "AWS": [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}]
        }
        assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
        assert role(template, logical_id)["MaxSessionDuration"] == 4 * 3600
    relaxed = build(require_mfa=False, max_session_hours=1)
    (trust,) = role(relaxed, "ProdIncidentRole")["AssumeRolePolicyDocument"]["Statement"]
    assert "Condition" not in trust
    assert role(relaxed, "ProdIncidentRole")["MaxSessionDuration"] == 3600


@pytest.mark.parametrize("hours", [0, 13])
def test_a_session_lasts_what_iam_allows(hours: int) -> None:
    with pytest.raises(SettingsError, match="max_session_hours"):
        build(max_session_hours=hours)


def test_the_roles_live_where_no_cloudformation_role_reaches() -> None:
    """An environment's CloudFormation role manages role/flask-fargate-<env>-*: not these."""
    template = build()
    for logical_id in ("ProdReadOnlyRole", "ProdIncidentRole"):
        assert role(template, logical_id)["Path"] == "/oncall/"
    assert role(template, "ProdIncidentRole")["RoleName"] == "flask-fargate-prod-incident"


def test_the_read_only_role_changes_nothing() -> None:
    template = build()
    for name in actions(statements(template, "ProdReadOnlyRole")):
        assert name.split(":")[1].startswith(READ_VERBS), name


def test_the_incident_role_deploys_as_the_pipeline_does_and_reads_as_the_read_only_role(
    rendered: Rendered,
) -> None:
    """One grant, two holders: the deploy's statements are the pipeline deploy role's own."""
    template = rendered["shared"]["oncall-roles"]
    incident = statements(template, "ProdIncidentRole")
    reads = statements(template, "ProdReadOnlyRole")
    assert all(statement in incident for statement in reads)
    pipeline = rendered["shared"]["pipeline"]
    (deploy,) = pipeline["Resources"]["DeployProdRole"]["Properties"]["Policies"]
    deploying = [
        s
        for s in deploy["PolicyDocument"]["Statement"]
        if any(a.startswith(("cloudformation:", "iam:PassRole", "ecs:")) for a in s["Action"])
    ]
    assert deploying
    assert all(statement in incident for statement in deploying)
    assert {
        "ecs:StopServiceDeployment",
        "codepipeline:DisableStageTransition",
        "codepipeline:EnableStageTransition",
    } <= actions(incident) - actions(reads)


def test_the_incident_role_pauses_only_its_own_environments_promotion() -> None:
    template = build()
    (pause,) = [
        s
        for s in statements(template, "DevIncidentRole")
        if "codepipeline:DisableStageTransition" in s["Action"]
    ]
    (resource,) = pause["Resource"]
    assert resource["Fn::Sub"].endswith(":flask-fargate-shared-pipeline-*/DeployDev")
