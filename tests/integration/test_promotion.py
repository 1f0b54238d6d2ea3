"""Pausing the pipeline's promotion to prod, on the emulator: pause, status, resume, the edges.

A sample project gets a pipeline stack of the shape the real one has where it matters here: a
Source, an approval, then a ``DeployProd`` stage whose CodeBuild action deploys ``prod``
(``DEPLOY_ENV``). The stage is found through the pipeline's definition, as on AWS.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from delivery import promotion, stacks
from delivery.emulator import Emulator
from delivery.environments import StackRef
from delivery.errors import DeliveryError
from delivery.rehearsal import definition, runner
from delivery.rehearsal.source import Revision
from delivery.rehearsal.variables import Namespaces
from stacks.pipeline import DEPLOY_ENV
from tests.support.cli import run_invoke
from tests.support.project import make_project

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
PIPELINE_STACK = "flask-fargate-shared-pipeline"


def _action(name: str, category: str, provider: str, **configuration: str) -> dict[str, object]:
    return {
        "Name": name,
        "ActionTypeId": {
            "Category": category,
            "Owner": "AWS",
            "Provider": provider,
            "Version": "1",
        },
        "Configuration": configuration,
        "RunOrder": 1,
    }


def pipeline_template(deploys: str = "prod") -> dict[str, object]:
    """A pipeline stack: a role CodePipeline trusts, the pipeline, its PipelineName output."""
    variables = json.dumps([{"name": DEPLOY_ENV, "value": deploys, "type": "PLAINTEXT"}])
    source = _action("Source", "Source", "S3", S3Bucket="b", S3ObjectKey="k")
    source["OutputArtifacts"] = [{"Name": "Source"}]
    deploy = _action(
        "Deploy", "Build", "CodeBuild", ProjectName="p", EnvironmentVariables=variables
    )
    deploy["InputArtifacts"] = [{"Name": "Source"}]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codepipeline.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    return {
        "Resources": {
            "PipelineRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": trust},
            },
            "Pipeline": {
                "Type": "AWS::CodePipeline::Pipeline",
                "Properties": {
                    "RoleArn": {"Fn::GetAtt": ["PipelineRole", "Arn"]},
                    "ArtifactStore": {"Type": "S3", "Location": "artifacts"},
                    "Stages": [
                        {"Name": "Source", "Actions": [source]},
                        {
                            "Name": "ApproveProd",
                            "Actions": [_action("Approval", "Approval", "Manual")],
                        },
                        {"Name": "DeployProd", "Actions": [deploy]},
                    ],
                },
            },
        },
        "Outputs": {"PipelineName": {"Value": {"Ref": "Pipeline"}}},
    }


def with_pipeline(root: Path, deploys: str = "prod") -> Path:
    (root / "templates" / "pipeline.json").write_text(json.dumps(pipeline_template(deploys)))
    (root / "config" / "shared" / "pipeline.yaml").write_text("template:\n  path: pipeline.json\n")
    return root


@pytest.fixture
def project(tmp_path: Path, aws: Emulator) -> Path:
    return with_pipeline(make_project(tmp_path))


def launch(root: Path) -> str:
    stacks.launch("shared/pipeline.yaml", root=root, poll=stacks.EMULATOR_POLL_S)
    name = stacks.outputs(StackRef(PIPELINE_STACK, "eu-north-1"))["PipelineName"]
    return str(name)


def inbound(name: str, stage: str) -> dict[str, object]:
    states = boto3.client("codepipeline").get_pipeline_state(name=name)["stageStates"]
    found: dict[str, object] = next(s for s in states if s["stageName"] == stage)[
        "inboundTransitionState"
    ]
    return found


def test_pause_shows_in_the_state_then_resume_opens_it_again(project: Path) -> None:
    name = launch(project)
    assert promotion.promotion_pause("prod", project) is None
    line = promotion.pause("bad release 1.4.0 (INC-42)", "prod", project)
    assert line == "promotion to prod paused: bad release 1.4.0 (INC-42)"
    state = inbound(name, "DeployProd")
    assert state["enabled"] is False
    assert state["disabledReason"] == "bad release 1.4.0 (INC-42)"
    assert inbound(name, "ApproveProd")["enabled"] is True  # only the deploy stage's
    assert promotion.promotion_pause("prod", project) == line
    assert promotion.promotion_pause("dev", project) is None  # this pipeline does not deploy dev
    assert promotion.resume("prod", project).startswith("promotion to prod resumed")
    assert inbound(name, "DeployProd")["enabled"] is True
    assert promotion.promotion_pause("prod", project) is None


def test_resume_when_not_paused_is_a_harmless_line(project: Path) -> None:
    name = launch(project)
    result = run_invoke(project, "pipeline-resume")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "promotion to prod is not paused: nothing to resume"
    assert inbound(name, "DeployProd")["enabled"] is True


def test_pause_through_the_command_line(project: Path) -> None:
    name = launch(project)
    result = run_invoke(project, "pipeline-pause", "--reason", "INC-7 rollback in progress")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("promotion to prod paused: INC-7 rollback in progress")
    assert inbound(name, "DeployProd")["disabledReason"] == "INC-7 rollback in progress"


def test_a_pipeline_not_launched_is_one_line_and_status_stays_quiet(project: Path) -> None:
    result = run_invoke(project, "pipeline-pause", "--reason", "incident")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: the pipeline is not launched (no stack {PIPELINE_STACK} in eu-north-1): an "
        "administrator launches it with `invoke bootstrap --connection-arn ARN`"
    )
    assert promotion.promotion_pause("prod", project) is None


def test_a_pipeline_without_a_prod_stage_is_named(tmp_path: Path, aws: Emulator) -> None:
    root = with_pipeline(make_project(tmp_path), deploys="dev")
    name = launch(root)
    with pytest.raises(DeliveryError, match=f"pipeline {name} has no stage that deploys 'prod'"):
        promotion.pause("incident", "prod", root)


def test_the_emulator_refuses_what_aws_refuses(project: Path) -> None:
    name = launch(project)
    client = boto3.client("codepipeline")
    with pytest.raises(ClientError, match="StageNotFoundException"):
        client.disable_stage_transition(
            pipelineName=name, stageName="Nope", transitionType="Inbound", reason="x"
        )
    with pytest.raises(ClientError, match="PipelineNotFoundException"):
        client.get_pipeline_state(name="nope")


def test_the_rehearsal_stops_before_a_disabled_transition_as_aws_does(project: Path) -> None:
    name = launch(project)
    promotion.pause("INC-9 bad release", "prod", project)
    stages = tuple(
        definition.Stage(stage, actions=()) for stage in ("Source", "ApproveProd", "DeployProd")
    )
    execution: Any = SimpleNamespace(
        pipeline=SimpleNamespace(stages=stages),
        pipeline_name=name,
        account=SimpleNamespace(region="eu-north-1"),
        namespaces=Namespaces(),
    )
    result = runner.Result(Revision("0" * 40, "main", None, False))
    runner._execute(execution, runner.Options(root=project, env="local"), result)
    assert result.stopped_at == "DeployProd/-"
    (stopped,) = result.outcomes
    assert stopped.detail == "inbound transition disabled: INC-9 bad release"
    promotion.resume("prod", project)
    again = runner.Result(Revision("0" * 40, "main", None, False))
    runner._execute(execution, runner.Options(root=project, env="local"), again)
    assert again.stopped_at is None
