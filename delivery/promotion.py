"""``pipeline-pause`` / ``pipeline-resume``: stop the pipeline promoting to an environment, and let
it again, through CodePipeline's stage transitions.

During an incident the pipeline must not re-promote a bad commit (a queued execution, a retry)
over a rollback. CodePipeline's own switch for that is the inbound transition of a stage:
disabled, executions stop before the stage and wait there; enabled again, the latest one goes on
(https://docs.aws.amazon.com/codepipeline/latest/userguide/transitions.html). The stage is the
one whose deploy action deploys the environment, found in the pipeline's definition (GetPipeline)
by the ``DEPLOY_ENV`` variable the pipeline stack gives that action (``stacks.pipeline``). The
pipeline's name is the pipeline stack's ``PipelineName`` output.

The reason is required and checked before anything in AWS is touched, against the constraints
of AWS's own API model (botocore's ``DisabledReason``: 1-300 characters of letters, digits,
spaces and ``!@().*?-``;
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_DisableStageTransition.html).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError

from delivery import aws_errors, credentials, environments, stacks
from delivery.errors import DeliveryError

# No type stubs for CodePipeline among the locked ones (mypy-boto3-*): its client is untyped.
CodePipelineClient = Any

log = logging.getLogger(__name__)
PIPELINE_STACK = "pipeline"
PIPELINE_OUTPUT = "PipelineName"
DEFAULT_ENV = "prod"
INBOUND = "Inbound"


@dataclass(frozen=True)
class Promotion:
    """Where promotion to an environment can be stopped: the pipeline and its deploy stage."""

    env: str
    pipeline: str
    stage: str
    region: str


def client(region: str) -> CodePipelineClient:
    """A CodePipeline client for ``region`` (explicit: boto3 ignores AWS_REGION)."""
    return boto3.client("codepipeline", region_name=region)


@cache
def _reason_rules() -> tuple[int, int, str]:
    """(min, max, pattern) of DisableStageTransition's reason, from AWS's API model."""
    model = botocore.session.get_session().get_service_model("codepipeline")
    request = model.operation_model("DisableStageTransition").input_shape
    if request is None:  # never: the operation takes a request
        raise DeliveryError("botocore's CodePipeline model has no DisableStageTransition input")
    meta = request.members["reason"].metadata
    return int(meta["min"]), int(meta["max"]), str(meta["pattern"])


def check_reason(reason: str | None) -> str:
    """The reason, stripped; one line when it is missing, too long or has a character AWS
    refuses."""
    text = (reason or "").strip()
    low, high, pattern = _reason_rules()
    if len(text) < low:
        raise DeliveryError(
            "pipeline-pause needs a reason the on-call will read: pass --reason TEXT"
        )
    if len(text) > high:
        raise DeliveryError(f"--reason is {len(text)} characters long: AWS takes at most {high}")
    refused = sorted({c for c in text if not re.fullmatch(pattern, c)})
    if refused:
        shown = " ".join(repr(c) for c in refused)
        raise DeliveryError(
            f"--reason has characters CodePipeline refuses ({shown}): use letters, digits, "
            "spaces and !@().*?-"
        )
    return text


def pipeline_stack(target: environments.Environment) -> environments.StackRef | None:
    """The account's pipeline stack (config/shared/pipeline.yaml); None when there is none."""
    if not (target.root / "config" / environments.SHARED / f"{PIPELINE_STACK}.yaml").is_file():
        return None
    return target.stack_ref(PIPELINE_STACK, environments.SHARED)


def _deploys(action: dict[str, Any], env: str) -> bool:
    """Whether a pipeline action is a deploy of ``env`` (its DEPLOY_ENV variable, as declared)."""
    from stacks.pipeline import DEPLOY_ENV  # noqa: PLC0415 - the stack declares the name

    raw = action.get("configuration", {}).get("EnvironmentVariables", "[]")
    try:
        variables = json.loads(raw)
    except ValueError:
        return False
    return any(v.get("name") == DEPLOY_ENV and v.get("value") == env for v in variables)


def deploy_stage(declaration: dict[str, Any], env: str) -> str | None:
    """The name of the stage of a pipeline declaration (GetPipeline's) that deploys ``env``."""
    for stage in declaration.get("stages", []):
        if any(_deploys(action, env) for action in stage.get("actions", [])):
            return str(stage["name"])
    return None


def _failed(what: str, exc: ClientError | BotoCoreError) -> DeliveryError:
    return DeliveryError(f"{what} failed: {aws_errors.reason(exc)}")


def _locate(
    env: str, root: Path, pipelines: CodePipelineClient | None = None
) -> tuple[Promotion | None, str]:
    """The pipeline and stage promoting to ``env``, or None and why there is none."""
    stack = pipeline_stack(environments.load(env, root))
    if stack is None:
        return None, "this project has no pipeline: config/shared/pipeline.yaml is missing"
    if stacks.state(stack).status == "NOT_CREATED":
        return None, (
            f"the pipeline is not launched (no stack {stack.name} in {stack.region}): an "
            "administrator launches it with `invoke bootstrap --connection-arn ARN`"
        )
    name = stacks.outputs(stack).get(PIPELINE_OUTPUT)
    if not name:
        raise DeliveryError(f"stack {stack.name} has no {PIPELINE_OUTPUT} output: redeploy it")
    pipelines = pipelines or client(stack.region)
    try:
        declaration = pipelines.get_pipeline(name=name)["pipeline"]
    except (ClientError, BotoCoreError) as exc:
        raise _failed(f"reading pipeline {name}", exc) from exc
    stage = deploy_stage(dict(declaration), env)
    if stage is None:
        return None, f"pipeline {name} has no stage that deploys '{env}'"
    return Promotion(env, name, stage, stack.region), ""


def find(env: str, root: Path = environments.PROJECT_ROOT) -> Promotion | None:
    """The pipeline and stage promoting to ``env``; None when there is no such stage (no
    pipeline in the project or the account, or one that does not deploy ``env``)."""
    return _locate(env, root)[0]


def _launched(env: str, root: Path) -> Promotion:
    found, why = _locate(env, root)
    if found is None:
        raise DeliveryError(why)
    return found


def inbound_closed(pipelines: CodePipelineClient, pipeline: str, stage: str) -> str | None:
    """Why the transition into ``stage`` is disabled (GetPipelineState), or None when open."""
    try:
        states = pipelines.get_pipeline_state(name=pipeline)["stageStates"]
    except (ClientError, BotoCoreError) as exc:
        raise _failed(f"reading the state of pipeline {pipeline}", exc) from exc
    for found in states:
        if found.get("stageName") == stage:
            inbound = found.get("inboundTransitionState") or {}
            if inbound.get("enabled", True):
                return None
            return str(inbound.get("disabledReason") or "no reason given")
    raise DeliveryError(f"pipeline {pipeline} reports no stage {stage}")


def _region(root: Path) -> str:
    return environments.stack_region(root, f"{environments.SHARED}/{PIPELINE_STACK}")


def pause(
    reason: str | None, env: str = DEFAULT_ENV, root: Path = environments.PROJECT_ROOT
) -> str:
    """Disable the inbound transition of the stage deploying ``env``; the line to print."""
    text = check_reason(reason)
    environments.load(env, root)  # an unknown env before anything in AWS
    credentials.check(_region(root))
    promotion = _launched(env, root)
    pipelines = client(promotion.region)
    try:
        pipelines.disable_stage_transition(
            pipelineName=promotion.pipeline,
            stageName=promotion.stage,
            transitionType=INBOUND,
            reason=text,
        )
    except (ClientError, BotoCoreError) as exc:
        raise _failed(f"pausing promotion into {promotion.stage}", exc) from exc
    log.info(f"pipeline {promotion.pipeline}: transition into {promotion.stage} disabled")
    return f"promotion to {env} paused: {text}"


def resume(env: str = DEFAULT_ENV, root: Path = environments.PROJECT_ROOT) -> str:
    """Enable the inbound transition again; the line to print.

    Resuming what is not paused changes nothing and says so (exit 0): a runbook step that may
    run twice.
    """
    environments.load(env, root)
    credentials.check(_region(root))
    promotion = _launched(env, root)
    pipelines = client(promotion.region)
    if inbound_closed(pipelines, promotion.pipeline, promotion.stage) is None:
        return f"promotion to {env} is not paused: nothing to resume"
    try:
        pipelines.enable_stage_transition(
            pipelineName=promotion.pipeline, stageName=promotion.stage, transitionType=INBOUND
        )
    except (ClientError, BotoCoreError) as exc:
        raise _failed(f"resuming promotion into {promotion.stage}", exc) from exc
    return (
        f"promotion to {env} resumed: the latest execution waiting before {promotion.stage} goes on"
    )


def promotion_pause(env: str, root: Path = environments.PROJECT_ROOT) -> str | None:
    """For ``invoke status``: ``promotion to <env> paused: <reason>``, or None.

    None when the project or account has no pipeline, or the pipeline does not deploy ``env``,
    or promotion is not paused. A failure to read is a one-line DeliveryError.
    """
    promotion = find(env, root)
    if promotion is None:
        return None
    reason = inbound_closed(client(promotion.region), promotion.pipeline, promotion.stage)
    return None if reason is None else f"promotion to {env} paused: {reason}"
