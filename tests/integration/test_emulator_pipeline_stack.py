"""The real pipeline stack on the emulator: CodeBuild projects and the pipeline, as declared.

moto 5.2.5 has no CloudFormation model for ``AWS::CodeBuild::Project`` or
``AWS::CodePipeline::Pipeline``: it skipped them and the ``Fn::GetAtt`` on the Build project failed
the stack. ``delivery.emulator_resources`` models both on moto's own backends; here the stack
``invoke bootstrap`` launches is created, read back through the CodeBuild and CodePipeline APIs
(against the rendered template, converted here independently of the emulator's code), updated
and deleted.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import boto3
import pytest
import yaml

from delivery import bootstrap, environments, stacks
from delivery.emulator import Emulator
from delivery.render import render_stack, stack_configs

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

REGION = "eu-north-1"
ACCOUNT = "123456789012"  # moto's
STACK = "flask-fargate-shared-pipeline"
CONNECTION = (
    f"arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/0123abcd-0123-4567-89ab-0123456789ab"
)
PROJECTS = ("Build", "DeployDev", "DeployProd")
# The one CodeBuild member whose name is not the property's in camelCase (botocore's codebuild
# model: ProjectSource.buildspec).
CODEBUILD_NAMES = {"BuildSpec": "buildspec"}


def rendered_pipeline() -> dict[str, Any]:
    """The pipeline stack's template as ``delivery.render`` renders the real config."""
    (config,) = [
        c
        for c in stack_configs(environments.PROJECT_ROOT / "config", ["shared"])
        if c.name == "pipeline"
    ]
    template: dict[str, Any] = json.loads(render_stack(config))
    return template


def api_case(value: Any, names: dict[str, str] | None = None) -> Any:
    """CloudFormation's property names as the API's: camelCase; a Configuration map's keys stay."""
    names = names or {}
    if isinstance(value, list):
        return [api_case(item, names) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        names.get(key, key[0].lower() + key[1:]): (
            dict(item) if key == "Configuration" else api_case(item, names)
        )
        for key, item in value.items()
    }


class Live:
    """What the stack's Refs and GetAtts resolve to on the emulator, read from its APIs."""

    def __init__(self, stack: str, template: dict[str, Any]) -> None:
        cfn = boto3.client("cloudformation")
        described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        self.refs = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
        summaries = cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]
        self.refs |= {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries}
        self.refs |= {
            "AWS::StackName": stack,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
        }
        self.arns = {name: self._arn(name, r["Type"]) for name, r in template["Resources"].items()}

    def _arn(self, name: str, kind: str) -> str:
        if kind == "AWS::IAM::Role":
            return str(boto3.client("iam").get_role(RoleName=self.refs[name])["Role"]["Arn"])
        if kind == "AWS::KMS::Key":
            # A key's ARN by its id (moto's DescribeKey fails on a key CloudFormation created
            # with a policy: it keeps the policy as an object and cannot read it back).
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{self.refs[name]}"
        return ""

    def resolve(self, value: Any) -> Any:
        """``value`` with its Ref and Fn::GetAtt ...Arn replaced by what the emulator holds."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self.refs[value["Ref"]]
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return re.sub(r"\$\{([^}!.]+)\}", lambda m: self.refs[m.group(1)], value["Fn::Sub"])
        if set(value) == {"Fn::GetAtt"}:
            name, attribute = value["Fn::GetAtt"]
            assert attribute == "Arn", value
            return self.arns[name]
        assert not any(key.startswith("Fn::") for key in value), value
        return {key: self.resolve(item) for key, item in value.items()}


def expected_pipeline(template: dict[str, Any], live: Live) -> dict[str, Any]:
    """The template's Pipeline as GetPipeline answers it."""
    declared: dict[str, Any] = api_case(
        live.resolve(template["Resources"]["Pipeline"]["Properties"])
    )
    for stage in declared["stages"]:
        for action in stage["actions"]:
            # GetPipeline lists an action's artifacts, empty ones too.
            action.setdefault("inputArtifacts", [])
            action.setdefault("outputArtifacts", [])
    return declared


# What the test compares of a project: the API's names of what the template declares.
COMPARED = (
    "name",
    "source",
    "environment",
    "serviceRole",
    "timeoutInMinutes",
    "cache",
    "logsConfig",
    "encryptionKey",
    "artifacts",
)


def expected_project(template: dict[str, Any], live: Live, name: str) -> dict[str, Any]:
    """The template's project ``name`` as BatchGetProjects answers it, declared fields only."""
    declared = live.resolve(template["Resources"][name]["Properties"])
    project: dict[str, Any] = api_case(declared, CODEBUILD_NAMES)
    return {key: project[key] for key in COMPARED if key in project}


def launch_pipeline() -> tuple[dict[str, Any], Live]:
    """``invoke bootstrap --connection-arn``: the shared stacks and the real pipeline."""
    results = bootstrap.bootstrap(connection_arn=CONNECTION, poll=stacks.EMULATOR_POLL_S)
    assert results[STACK] == "CREATE_COMPLETE"
    template = rendered_pipeline()
    return template, Live(STACK, template)


def projects(names: list[str]) -> dict[str, dict[str, Any]]:
    found = boto3.client("codebuild").batch_get_projects(names=names)["projects"]
    return {p["name"]: p for p in found}


def test_the_real_pipeline_stack_creates_and_answers_as_declared(aws: Emulator) -> None:
    template, live = launch_pipeline()
    body: Any = boto3.client("cloudformation").get_template(StackName=STACK)["TemplateBody"]
    # Sceptre sends the body as a YAML document ("---" then the JSON): read it as YAML.
    launched = yaml.safe_load(body) if isinstance(body, str) else body
    assert launched == template  # what delivery.render gives is what bootstrap launched

    name = live.outputs["PipelineName"]  # Ref: the name CloudFormation generated
    assert name.startswith(f"{STACK}-Pipeline-")
    got = boto3.client("codepipeline").get_pipeline(name=name)["pipeline"]
    expected = expected_pipeline(template, live)
    assert got["stages"] == expected["stages"]
    for key in ("artifactStore", "roleArn", "triggers", "pipelineType", "executionMode"):
        assert got[key] == expected[key], key
    assert (got["name"], got["version"]) == (name, 1)

    names = [live.refs[p] for p in PROJECTS]  # Ref: the name
    found = projects(names)
    for logical, physical in zip(PROJECTS, names, strict=True):
        project, expected_fields = found[physical], expected_project(template, live, logical)
        assert {"name", "source", "environment", "serviceRole"} <= set(expected_fields)
        assert {key: project[key] for key in expected_fields} == expected_fields
        assert project["arn"] == f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/{physical}"
    # Each CodeBuild action names its project by Ref: the project's name.
    actions = [a for stage in got["stages"] for a in stage["actions"]]
    built = {
        a["configuration"]["ProjectName"]
        for a in actions
        if a["actionTypeId"]["provider"] == "CodeBuild"
    }
    assert built == set(names)


def changed(template: dict[str, Any]) -> dict[str, Any]:
    """The template with an environment variable added to a project and a stage added."""
    new = copy.deepcopy(template)
    build = new["Resources"]["Build"]["Properties"]["Environment"]
    build.setdefault("EnvironmentVariables", []).append(
        {"Name": "BUILD_FLAVOUR", "Type": "PLAINTEXT", "Value": "release"}
    )
    new["Resources"]["Pipeline"]["Properties"]["Stages"].append(approval("Hold"))
    return new


def test_an_update_changes_the_project_and_the_pipeline_and_a_delete_removes_them(
    aws: Emulator,
) -> None:
    template, live = launch_pipeline()
    name = live.outputs["PipelineName"]
    build_name = live.refs["Build"]
    before = projects([build_name])[build_name]

    cfn = boto3.client("cloudformation")
    new = changed(template)
    cfn.update_stack(
        StackName=STACK,
        TemplateBody=json.dumps(new),
        Parameters=[
            {"ParameterKey": key, "UsePreviousValue": True} for key in template["Parameters"]
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"

    after = projects([build_name])[build_name]
    assert after["environment"]["environmentVariables"] == [
        *before["environment"].get("environmentVariables", []),
        {"name": "BUILD_FLAVOUR", "value": "release", "type": "PLAINTEXT"},
    ]
    assert (after["arn"], after["created"]) == (before["arn"], before["created"])  # in place
    got = boto3.client("codepipeline").get_pipeline(name=name)["pipeline"]
    assert got["version"] == 2
    assert got["stages"] == expected_pipeline(new, live)["stages"]
    assert got["stages"][-1]["name"] == "Hold"

    # The documented teardown: termination protection off first (a no-op when already off).
    cfn.update_termination_protection(StackName=STACK, EnableTerminationProtection=False)
    cfn.delete_stack(StackName=STACK)
    assert boto3.client("codepipeline").list_pipelines()["pipelines"] == []
    assert not set(boto3.client("codebuild").list_projects()["projects"]) & {
        live.refs[p] for p in PROJECTS
    }


# A stack of the two types alone, with outputs for every Ref and Fn::GetAtt they document.
TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["codebuild.amazonaws.com", "codepipeline.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}


def approval(name: str) -> dict[str, Any]:
    return {
        "Name": name,
        "Actions": [
            {
                "Name": name,
                "ActionTypeId": {
                    "Category": "Approval",
                    "Owner": "AWS",
                    "Provider": "Manual",
                    "Version": "1",
                },
                "Configuration": {"CustomData": f"{name}?"},
                "RunOrder": 1,
            }
        ],
    }


SMALL: dict[str, Any] = {
    "Resources": {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": TRUST}},
        "Project": {
            "Type": "AWS::CodeBuild::Project",
            "Properties": {
                "Name": "small-project",
                "ServiceRole": {"Fn::GetAtt": ["Role", "Arn"]},
                "Artifacts": {"Type": "NO_ARTIFACTS"},
                "Source": {"Type": "NO_SOURCE", "BuildSpec": "version: 0.2"},
                "Environment": {
                    "Type": "LINUX_CONTAINER",
                    "ComputeType": "BUILD_GENERAL1_SMALL",
                    "Image": "aws/codebuild/standard:7.0",
                },
            },
        },
        "Pipeline": {
            "Type": "AWS::CodePipeline::Pipeline",
            "Properties": {
                "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                "ArtifactStore": {"Type": "S3", "Location": "small-artifacts"},
                "Stages": [approval("First"), approval("Second")],
            },
        },
    },
    "Outputs": {
        "ProjectRef": {"Value": {"Ref": "Project"}},
        "ProjectArn": {"Value": {"Fn::GetAtt": ["Project", "Arn"]}},
        "ProjectId": {"Value": {"Fn::GetAtt": ["Project", "Id"]}},
        "PipelineRef": {"Value": {"Ref": "Pipeline"}},
        "PipelineArn": {"Value": {"Fn::GetAtt": ["Pipeline", "Arn"]}},
        "PipelineVersion": {"Value": {"Fn::GetAtt": ["Pipeline", "Version"]}},
    },
}


def outputs(stack: str) -> dict[str, str]:
    described = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def test_ref_and_getatt_give_what_cloudformation_documents(aws: Emulator) -> None:
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName="small", TemplateBody=json.dumps(SMALL))
    assert cfn.describe_stacks(StackName="small")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    got = outputs("small")
    pipeline = got["PipelineRef"]
    assert pipeline.startswith("small-Pipeline-")  # no Name: CloudFormation generates one
    assert got == {
        "ProjectRef": "small-project",
        "ProjectArn": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/small-project",
        "ProjectId": "small-project",  # the primary identifier: what Ref gives
        "PipelineRef": pipeline,
        "PipelineArn": f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{pipeline}",
        "PipelineVersion": "1",
    }

    # A changed stage updates the pipeline in place: same name, the next version.
    updated = copy.deepcopy(SMALL)
    updated["Resources"]["Pipeline"]["Properties"]["Stages"].append(approval("Third"))
    cfn.update_stack(StackName="small", TemplateBody=json.dumps(updated))
    assert (outputs("small")["PipelineRef"], outputs("small")["PipelineVersion"]) == (pipeline, "2")
    stages = boto3.client("codepipeline").get_pipeline(name=pipeline)["pipeline"]["stages"]
    assert [s["name"] for s in stages] == ["First", "Second", "Third"]


def test_an_unsupported_property_fails_the_resource_as_cloudformation_does(aws: Emulator) -> None:
    broken = copy.deepcopy(SMALL)
    broken["Resources"]["Project"]["Properties"]["Environment"]["Colour"] = "blue"
    cfn = boto3.client("cloudformation")
    cfn.create_stack(StackName="small", TemplateBody=json.dumps(broken))
    described = cfn.describe_stacks(StackName="small")["Stacks"][0]
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    reasons = [
        e.get("ResourceStatusReason", "")
        for e in cfn.describe_stack_events(StackName="small")["StackEvents"]
    ]
    assert any("Encountered unsupported property Colour" in r for r in reasons)
