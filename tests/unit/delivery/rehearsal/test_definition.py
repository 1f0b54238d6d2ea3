"""The pipeline is read from its rendered template, resolved as the launched stack resolves it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from delivery.errors import DeliveryError
from delivery.rehearsal import definition
from delivery.rehearsal.definition import Names
from tests.support.pipeline_template import STACK, launched, template


def test_stages_actions_and_projects_come_from_the_template() -> None:
    body = template()
    pipeline = definition.read(body, launched(body))
    assert [s.name for s in pipeline.stages] == [
        "Source", "Build", "DeployDev", "ApproveProd", "DeployProd"
    ]  # fmt: skip
    build = pipeline.stages[1].actions[0]
    assert (build.provider, build.inputs, build.outputs, build.namespace) == (
        "CodeBuild", ("Source",), ("Image",), "Build"
    )  # fmt: skip
    assert build.project is not None
    assert build.project.name == f"{STACK}-Build"  # Fn::Sub on the stack's name
    assert build.configuration["ProjectName"] == build.project.name
    assert (build.project.buildspec, build.project.privileged) == ("buildspec.yml", True)
    assert build.project.role == "BuildRole"
    deploy = pipeline.stages[2].actions[0]
    assert deploy.primary_source == "Source"
    assert deploy.environment_overrides() == [
        {"name": "DEPLOY_ENV", "value": "dev", "type": "PLAINTEXT"}
    ]
    assert deploy.project is not None
    assert deploy.project.buildspec == "buildspec-deploy.yml"
    assert not deploy.project.privileged
    (condition,) = pipeline.stages[3].entry
    assert condition.result == "SKIP"
    assert condition.rules[0].configuration["Variable"] == "#{Build.IMAGE_VERSION}"
    assert pipeline.role == "PipelineRole"
    assert pipeline.artifact_bucket == "ArtifactBucket-x"
    assert pipeline.artifact_key == "arn:aws:test:::ArtifactKey"


def test_each_roles_statements_are_resolved_from_its_inline_policies() -> None:
    body = template()
    pipeline = definition.read(body, launched(body))
    assert set(pipeline.roles) == {"BuildRole", "DeployDevRole", "DeployProdRole", "PipelineRole"}
    resources = [r for s in pipeline.roles["BuildRole"] for r in _as_list(s["Resource"])]
    assert "arn:aws:ecr:eu-north-1:123456789012:repository/flask-fargate" in resources
    assert not any("Fn::" in json.dumps(s) or '"Ref"' in json.dumps(s) for s in resources)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_a_name_the_stack_does_not_have_is_one_line() -> None:
    body = template()
    names = launched(body)
    missing = Names({k: v for k, v in names.values.items() if k != "ConnectionArn"})
    with pytest.raises(DeliveryError, match="refers to ConnectionArn, which the stack lacks"):
        definition.read(body, missing)


def test_a_template_without_one_pipeline_is_one_line() -> None:
    with pytest.raises(DeliveryError, match="declares 0 pipelines, not 1"):
        definition.read({"Resources": {}}, Names({}))


def test_a_role_with_managed_policies_cannot_be_judged_and_says_so() -> None:
    body = template()
    body["Resources"]["BuildRole"]["Properties"]["ManagedPolicyArns"] = ["arn:aws:iam::aws:x"]
    with pytest.raises(DeliveryError, match="role BuildRole has managed policies"):
        definition.read(body, launched(body))


def test_sub_join_and_getatt_resolve_as_cloudformation_does() -> None:
    names = Names({"AWS::Region": "eu-north-1", "Bucket": "b", "Key.Arn": "arn:k"})
    assert names.resolve({"Fn::Sub": "x-${AWS::Region}-${Bucket}"}) == "x-eu-north-1-b"
    assert names.resolve({"Fn::Sub": ["${A}/${B}", {"A": {"Ref": "Bucket"}, "B": "c"}]}) == "b/c"
    assert names.resolve({"Fn::Join": [":", [{"Fn::GetAtt": ["Key", "Arn"]}, "y"]]}) == "arn:k:y"
    with pytest.raises(DeliveryError, match="has an unknown name"):
        names.resolve({"Fn::Sub": "${Nope}"})
