"""One action of a rehearsed execution: a CodeBuild build, a manual approval, the source.

A CodeBuild action runs as CodeBuild would run it for CodePipeline: a fresh clone of the
execution's commit (and each other input artifact in its own folder), the project's image (its
tools, a fresh Python), the variables CodeBuild sets, the project's and the action's variables,
the buildspec's phases (``codebuild``), and the credentials of the project's service role, every
AWS call judged against that role's policy before it is sent (``policy.Guard``). What CodeBuild
and CodePipeline themselves do with the roles (clone through the connection, read and write
artifacts, write logs and reports, start builds, publish the approval) is judged the same way.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from delivery.errors import DeliveryError
from delivery.rehearsal import buildspec as buildspecs
from delivery.rehearsal import codebuild, image
from delivery.rehearsal.account import Account
from delivery.rehearsal.definition import Action, Names, Pipeline, Project
from delivery.rehearsal.policy import (
    Account as PolicyAccount,
)
from delivery.rehearsal.policy import (
    Denial,
    Evaluator,
    GuardSettings,
    Request,
    denials,
    sitecustomize,
)
from delivery.rehearsal.source import Repository
from delivery.rehearsal.variables import Namespaces

DENIED_LOG = "denied.jsonl"  # in each build's folder, beside build.log: every refused call
SUCCEEDED, FAILED, SKIPPED, STOPPED, APPROVED = (
    "Succeeded",
    "Failed",
    "Skipped",
    "Stopped",
    "Approved",
)
# This machine's network and trust settings reach every build (CodeBuild has its own network):
# without them nothing installs here. Nothing of the project's or AWS's passes this way.
_NETWORK = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR")
_NETWORK_PREFIXES = ("PIP_", "UV_", "REQUESTS_CA", "CURL_CA", "HTTPLIB2_CA")


def network_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """This machine's proxy, certificate and package-index settings (what builds inherit)."""
    source = os.environ if environ is None else environ
    return {
        k: v
        for k, v in source.items()
        if k.upper() in _NETWORK or k.upper().startswith(_NETWORK_PREFIXES)
    }


@dataclass(frozen=True)
class Outcome:
    """What one action did: its result, how long it took, and one line of why."""

    stage: str
    action: str
    result: str
    seconds: float
    detail: str = ""
    log: Path | None = None


@dataclass(frozen=True)
class Execution:
    """What every action of one pipeline execution shares."""

    pipeline: Pipeline
    pipeline_name: str
    names: Names
    account: Account
    repository: Repository
    workdir: Path
    endpoint_environment: Mapping[str, str]  # AWS_ENDPOINT_URL and the profile files
    substitutions: Mapping[str, str]  # start-build overrides the rehearsal adds (printed)
    engine_stand_in: Path
    connection_arn: str
    artifacts: dict[str, Path] = field(default_factory=dict)
    namespaces: Namespaces = field(default_factory=Namespaces)
    build_numbers: dict[str, int] = field(default_factory=dict)
    lacking: set[str] = field(default_factory=set)  # image tools this machine does not have

    @property
    def policy_account(self) -> PolicyAccount:
        """The account as the IAM judgement sees it (the artifact bucket's KMS key included)."""
        return PolicyAccount(
            self.account.id, "aws", {self.pipeline.artifact_bucket: self.pipeline.artifact_key}
        )

    def artifact_arn(self, name: str, key: str) -> str:
        """Where CodePipeline keeps an artifact: <bucket>/<pipeline>/<artifact>/<key>."""
        return f"arn:aws:s3:::{self.pipeline.artifact_bucket}/{self.pipeline_name}/{name}/{key}"


# --- IAM of what AWS does on the pipeline's behalf ---------------------------------------------


def _artifact_requests(execution: Execution, names: Sequence[str], write: bool) -> list[Request]:
    via = {"kms:ViaService": f"s3.{execution.account.region}.amazonaws.com"}
    found = []
    for name in names:
        resource = execution.artifact_arn(name, "artifact.zip")
        found.append(Request("s3:PutObject" if write else "s3:GetObject", resource))
        if execution.pipeline.artifact_key:
            kms = "kms:GenerateDataKey" if write else "kms:Decrypt"
            found.append(Request(kms, execution.pipeline.artifact_key, via))
    return found


def _connection_request(execution: Execution) -> Request:
    service = execution.connection_arn.split(":")[2]  # codeconnections or codestar-connections
    return Request(f"{service}:UseConnection", execution.connection_arn)


def _codebuild_service_requests(
    execution: Execution, action: Action, project: Project, build_id: str
) -> list[Request]:
    """What CodeBuild does with the project's role for this build, besides its commands."""
    region, account = execution.account.region, execution.account.id
    stream = f"{project.log_stream}/{build_id.split(':', 1)[1]}" if project.log_stream else ""
    found = []
    if project.log_group:
        arn = f"arn:aws:logs:{region}:{account}:log-group:{project.log_group}:log-stream:{stream}"
        found += [Request("logs:CreateLogStream", arn), Request("logs:PutLogEvents", arn)]
    if action.inputs:
        found.append(_connection_request(execution))  # the full clone of the Source artifact
    found += _artifact_requests(execution, action.inputs, write=False)
    found += _artifact_requests(execution, action.outputs, write=True)
    return found


def _report_requests(
    execution: Execution, project: Project, groups: Sequence[str]
) -> list[Request]:
    region, account = execution.account.region, execution.account.id
    found = []
    for group in groups:
        arn = f"arn:aws:codebuild:{region}:{account}:report-group/{project.name}-{group}"
        for verb in ("CreateReportGroup", "CreateReport", "UpdateReport", "BatchPutTestCases"):
            found.append(Request(f"codebuild:{verb}", arn))
    return found


def pipeline_requests(execution: Execution, action: Action) -> list[Request]:
    """What CodePipeline does with the pipeline role to run ``action``."""
    region, account = execution.account.region, execution.account.id
    found: list[Request] = []
    if action.provider == "CodeStarSourceConnection":
        found.append(_connection_request(execution))
    if action.project is not None:
        arn = f"arn:aws:codebuild:{region}:{account}:project/{action.project.name}"
        found += [Request("codebuild:StartBuild", arn), Request("codebuild:BatchGetBuilds", arn)]
    if action.provider == "Manual" and action.configuration.get("NotificationArn"):
        found.append(Request("sns:Publish", str(action.configuration["NotificationArn"])))
    found += _artifact_requests(execution, action.inputs, write=False)
    found += _artifact_requests(execution, action.outputs, write=True)
    return found


def _denied(
    role: str, statements: Sequence[Mapping[str, Any]], requests: Sequence[Request]
) -> list[Denial]:
    evaluator = Evaluator(statements)
    return [
        Denial(role, r.action, r.action, r.resource, dict(r.context), False)
        for r in requests
        if not evaluator.allows(r)
    ]


def pipeline_denials(execution: Execution, action: Action) -> list[Denial]:
    """CodePipeline's own calls for ``action`` that the pipeline role does not allow."""
    statements = execution.pipeline.roles[execution.pipeline.role]
    return _denied(execution.pipeline.role, statements, pipeline_requests(execution, action))


# --- CodeBuild ----------------------------------------------------------------------------------


def _inputs(execution: Execution, action: Action, workspace: Path) -> tuple[Path, dict[str, Path]]:
    """(primary source folder, secondary folders by artifact name), each a fresh copy."""
    folders: dict[str, Path] = {}
    for name in action.inputs:
        target = workspace / "src" if name == action.primary_source else workspace / f"src_{name}"
        artifact = execution.artifacts.get(name)
        if artifact is None:
            raise DeliveryError(f"action {action.name}: no earlier action output {name}")
        if artifact == execution.repository.path:
            execution.repository.clone(target)  # the Source artifact: CodeBuild's full clone
        else:
            shutil.copytree(artifact, target)
        folders[name] = target
    primary = folders.pop(action.primary_source or "", None)
    if primary is None:
        raise DeliveryError(f"action {action.name} has no primary source artifact")
    return primary, folders


def _builtins(execution: Execution, project: Project, primary_name: str) -> dict[str, str]:
    region = execution.account.region
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "CODEBUILD_INITIATOR": f"codepipeline/{execution.pipeline_name}",
        "CODEBUILD_RESOLVED_SOURCE_VERSION": execution.repository.revision.commit,
        # For a CodePipeline build: the S3 ARN of the primary input artifact.
        "CODEBUILD_SOURCE_VERSION": execution.artifact_arn(primary_name, "artifact.zip"),
        "CODEBUILD_BUILD_IMAGE": project.image,
        "CODEBUILD_KMS_KEY_ID": project.kms_key,
    }


def _overrides(execution: Execution, action: Action, project: Project) -> dict[str, str]:
    declared = {
        v["name"]: execution.namespaces.resolve(v["value"]) for v in action.environment_overrides()
    }
    added = dict(execution.substitutions)
    if project.privileged:
        added["CONTAINER_ENGINE"] = str(execution.engine_stand_in)
    return {**declared, **added}


def _guarded_environment(
    execution: Execution, project: Project, build_id: str, workspace: Path, toolbox: image.Toolbox
) -> dict[str, str]:
    """The build's environment: the image's, the account's endpoint, a session of the project's
    role, and the guard judging each of its calls (refusals logged in ``denied.jsonl``)."""
    role = execution.names.values[project.role]
    session = execution.account.session(
        execution.names.values[f"{project.role}.Arn"], build_id.replace(":", "-")[:64]
    )
    guard = GuardSettings(
        principal=f"arn:aws:sts::{execution.account.id}:assumed-role/{role}/{build_id[:64]}",
        role=project.role,  # the name stacks/pipeline gives it
        statements=execution.pipeline.roles[project.role],
        endpoint=execution.endpoint_environment["AWS_ENDPOINT_URL"],
        account=execution.policy_account,
        log=str(workspace / DENIED_LOG),
    )
    return {
        **network_environment(),
        **toolbox.environment(),
        **execution.endpoint_environment,
        **session,
        **sitecustomize(workspace / "guard", guard),
    }


def _outcome(
    execution: Execution, stage: str, action: Action, result: codebuild.BuildResult, seconds: float
) -> Outcome:
    """The action's outcome; a success hands its artifacts and variables on to later actions."""
    refused = denials(result.log_path.parent / DENIED_LOG)
    if result.status != codebuild.Status.SUCCEEDED:
        # A refused call is the likeliest cause of a failure that follows it.
        why = str(refused[-1]) if refused else (result.reason or result.status.value)
        return Outcome(stage, action.name, FAILED, seconds, why, result.log_path)
    artifact = result.artifact_dir
    if action.outputs:
        if artifact is None:
            why = f"no output artifact {', '.join(action.outputs)}"
            return Outcome(stage, action.name, FAILED, seconds, why, result.log_path)
        execution.artifacts.update(dict.fromkeys(action.outputs, artifact))
    execution.namespaces.export(action.namespace, result.exported_variables)
    detail = f"{len(refused)} call(s) denied and tolerated" if refused else ""
    return Outcome(stage, action.name, SUCCEEDED, seconds, detail, result.log_path)


def run_codebuild(execution: Execution, stage: str, action: Action) -> Outcome:
    """Run one CodeBuild action; its outcome (a failed build is an outcome, not an error)."""
    project = action.project
    if project is None:
        raise DeliveryError(f"{stage}/{action.name} runs no CodeBuild project")
    started = time.monotonic()
    label = f"{stage}.{action.name}"
    workspace = execution.workdir / label
    workspace.mkdir(parents=True)
    spec = image.image(project.image)
    primary, secondaries = _inputs(execution, action, workspace)
    parsed = buildspecs.load(primary / project.buildspec)
    install = parsed.phase("install")
    image.check_runtime(spec, install.runtime_versions if install else {})
    toolbox = image.prepare(spec, workspace / "image")
    execution.lacking.update(toolbox.missing)
    build_id = f"{project.name}:{uuid.uuid4()}"
    service = _codebuild_service_requests(execution, action, project, build_id)
    service += _report_requests(execution, project, list(parsed.reports))
    refused = _denied(project.role, execution.pipeline.roles[project.role], service)
    if refused:
        detail = f"{refused[0]} (CodeBuild's own call for the build)"
        return Outcome(stage, action.name, FAILED, time.monotonic() - started, detail)
    environment = _guarded_environment(execution, project, build_id, workspace, toolbox)
    number = execution.build_numbers.get(project.name, 0) + 1
    execution.build_numbers[project.name] = number
    result = codebuild.run(
        codebuild.BuildRequest(
            project=project.name,
            buildspec=parsed,
            primary=primary,
            output_dir=execution.workdir / "artifacts" / label,
            log_path=workspace / "build.log",
            timeout_s=project.timeout_minutes * 60.0,
            base_environment=environment,
            secondaries=secondaries,
            project_variables=project.variables,
            override_variables=_overrides(execution, action, project),
            builtins=_builtins(execution, project, action.primary_source or ""),
            available_runtimes=spec.runtimes,
            build_number=number,
        )
    )
    return _outcome(execution, stage, action, result, time.monotonic() - started)
