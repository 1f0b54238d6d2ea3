"""``invoke pipeline --env local``: one execution of the pipeline, rehearsed on the emulator.

In order:

1. every check that needs nothing running: the environment is an emulator one, the commit exists,
   ``--gate-passed`` is true of this tree, the pipeline template renders and reads;
2. the account: an emulator of its own, bootstrapped by an administrator with the rehearsed
   commit's ``invoke bootstrap --connection-arn`` (registry, CloudFormation roles, pipeline);
3. the execution: the Source stage publishes the commit (a release tag on it for a tag-triggered
   run), then each stage in order: its entry conditions, then its actions (``actions``);
4. the end: what each environment runs, which must be one digest.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from delivery import environments, promotion, scan, versioning
from delivery.emulator import Emulator, environment
from delivery.engines.config import engine_environment
from delivery.errors import DeliveryError
from delivery.rehearsal import account as accounts
from delivery.rehearsal import actions, definition, estimate, image, source
from delivery.rehearsal.actions import APPROVED, FAILED, SKIPPED, STOPPED, SUCCEEDED, Outcome
from delivery.rehearsal.variables import engaged

log = logging.getLogger(__name__)
TRIGGERS = ("tag", "push")
WORK_DIR = Path("build") / "rehearsal"
ACCOUNT_ID = "123456789012"  # the emulator's account
# Said of every scan step of the rehearsed Build (delivery/scan.py: SCAN_SKIP_REASON).
SCAN_SUBSTITUTE = (
    "the rehearsal does not download Trivy; CodeBuild installs and runs it (delivery/trivy.py)"
)
# What the rehearsal changes in every build, because it has no internet: value, and why.
SUBSTITUTES = {
    scan.SKIP_VARIABLE: (SCAN_SUBSTITUTE, ""),
    # The buildspec requires the dependency audit (REQUIRE_AUDIT=1): offline, pip-audit reaches
    # no vulnerability service, and the security session says so loudly instead of failing.
    "REQUIRE_AUDIT": ("0", "pip-audit reaches no vulnerability service here; CodeBuild's does"),
}
GATE_VARIABLE = "QUALITY_GATE_PASSED"


@dataclass(frozen=True)
class Options:
    """What the rehearsal was asked for, checked by ``validate``."""

    root: Path
    env: str
    trigger: str = "tag"  # one of TRIGGERS
    approve: bool = False
    gate_passed: bool = False


@dataclass(frozen=True)
class Plan:
    """A validated rehearsal: the revision, the pipeline's stack and template."""

    options: Options
    revision: source.Revision
    pipeline_stack: environments.StackRef
    workdir: Path


@dataclass
class Result:
    """The execution: every action's outcome, and what each environment runs at the end."""

    revision: source.Revision
    outcomes: list[Outcome] = field(default_factory=list)
    running: dict[str, str] = field(default_factory=dict)  # environment -> image digest
    stopped_at: str | None = None
    estimates: list[estimate.StageEstimate] = field(default_factory=list)
    totals: estimate.Totals | None = None

    @property
    def succeeded(self) -> bool:
        """Whether no action failed and the execution was not stopped half-way."""
        return self.stopped_at is None and all(o.result != FAILED for o in self.outcomes)

    @property
    def failure(self) -> Outcome | None:
        """The first failed action, if any."""
        return next((o for o in self.outcomes if o.result == FAILED), None)


def _release_tag(root: Path) -> str:
    """The tag a release of this commit would carry: its own, or ``v<next version>``."""
    tagged = versioning.tagged_version(root)
    return f"v{tagged or versioning.bump(root).next}"


def validate(options: Options) -> Plan:
    """Every check before anything starts; a one-line DeliveryError otherwise."""
    env = environments.load(options.env, options.root)
    if not env.emulator:
        raise DeliveryError(
            f"the rehearsal runs on the emulator only: '{options.env}' is not an emulator "
            "environment (use --env local)"
        )
    if options.trigger not in TRIGGERS:
        raise DeliveryError(f"unknown --trigger '{options.trigger}': choose one of tag, push")
    pipeline = environments.StackRef(
        env.stack_name(accounts.PIPELINE_STACK, environments.SHARED),
        environments.stack_region(options.root, f"{environments.SHARED}/pipeline"),
    )
    if not (options.root / "config" / environments.SHARED / "pipeline.yaml").is_file():
        raise DeliveryError("no pipeline to rehearse: config/shared/pipeline.yaml is missing")
    branch = _branch(options.root)
    revision = source.current(options.root, branch)
    if options.gate_passed and revision.dirty:
        raise DeliveryError(
            "--gate-passed: the working tree has uncommitted changes, so the gate ran on "
            "something other than the rehearsed commit: commit them, or drop --gate-passed"
        )
    if options.trigger == "tag":
        revision = source.Revision(
            revision.commit, branch, _release_tag(options.root), revision.dirty
        )
    workdir = options.root / WORK_DIR / f"{revision.short}-{uuid.uuid4().hex[:8]}"
    return Plan(options, revision, pipeline, workdir)


def _branch(root: Path) -> str:
    """The branch the pipeline follows (config/shared/pipeline.yaml), read without Sceptre."""
    data = environments.read_yaml(root / "config" / environments.SHARED / "pipeline.yaml")
    user_data = data.get("sceptre_user_data") or {}
    return str(user_data.get("branch") or "main")


@contextmanager
def _account(emulator: Emulator | None) -> Iterator[Emulator]:
    """The emulator standing in for the account: the given one, or a fresh one of its own."""
    if emulator is not None:
        yield emulator
        return
    with Emulator() as started:
        yield started


def _running(root: Path, deployed: list[str]) -> dict[str, str]:
    """The image digest each deployed environment's service stack names now."""
    found = {}
    for name in deployed:
        env = environments.load(name, root)
        ref = env.stack_ref("service")
        try:
            cfn = boto3.client("cloudformation", region_name=ref.region)
            (stack,) = cfn.describe_stacks(StackName=ref.name)["Stacks"]
        except (ClientError, BotoCoreError, ValueError):
            continue
        parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack["Parameters"]}
        found[name] = parameters.get("ImageUri", "").rpartition("@")[2]
    return found


def _deployed_environments(pipeline: definition.Pipeline) -> list[str]:
    names = []
    for stage in pipeline.stages:
        for action in stage.actions:
            for variable in action.environment_overrides():
                if variable["name"] == "DEPLOY_ENV":
                    names.append(variable["value"])
    return names


def _substitutions(options: Options, revision: source.Revision) -> dict[str, str]:
    found = {name: value for name, (value, _) in SUBSTITUTES.items()}
    if options.gate_passed:
        found[GATE_VARIABLE] = revision.commit
    return found


def rehearse(plan: Plan, *, emulator: Emulator | None = None) -> Result:
    """Run the validated ``plan``: one pipeline execution on the emulator."""
    options, revision = plan.options, plan.revision
    result = Result(revision)
    plan.workdir.mkdir(parents=True)
    with _account(emulator) as server, environment(server.env()):
        endpoint = {
            k: v
            for k, v in server.env().items()
            if k in ("AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
        }
        admin = accounts.administrator_environment(server.env())
        started = time.monotonic()
        repository = source.publish(options.root, revision, plan.workdir / "repository.git")
        checkout = repository.clone(plan.workdir / "administrator")
        log.info(f"account: bootstrapping {server.endpoint} with {revision.short}'s config/shared")
        accounts.bootstrap(checkout, admin, plan.pipeline_stack.region, ACCOUNT_ID)
        templates = plan.workdir / "templates"
        rendered = accounts.render_templates(checkout, templates, admin)
        account = accounts.Account(ACCOUNT_ID, plan.pipeline_stack.region, plan.pipeline_stack.name)
        names = account.names()
        pipeline = definition.read(json.loads(rendered.read_text()), names)
        execution = actions.Execution(
            pipeline=pipeline,
            pipeline_name=names.values[pipeline.logical_id],
            names=names,
            account=account,
            repository=repository,
            workdir=plan.workdir,
            endpoint_environment=endpoint,
            substitutions=_substitutions(options, revision),
            engine_stand_in=engine_stand_in(plan.workdir),
            connection_arn=accounts.connection_arn(account.region, account.id),
        )
        log.info(f"account: ready in {time.monotonic() - started:.1f} s")
        for name, value in sorted(execution.substitutions.items()):
            why = SUBSTITUTES.get(name, ("", ""))[1]
            log.info(f"substituted for every build: {name}={value}" + (f" ({why})" if why else ""))
        log.info(f"substituted for privileged builds: CONTAINER_ENGINE={execution.engine_stand_in}")
        _execute(execution, options, result)
        if execution.lacking:
            lacking = ", ".join(sorted(execution.lacking))
            log.info(f"the image has, this machine lacks (a command using one fails): {lacking}")
        deployed = _deployed_environments(pipeline)
        result.running = _running(checkout, deployed)
    deployments = {
        env: estimate.deployment(json.loads((templates / env / "service.json").read_text()))
        for env in deployed
        if (templates / env / "service.json").is_file()
    }
    result.estimates = estimate.stages(
        pipeline, result.outcomes, deployments, gate_skipped=options.gate_passed
    )
    result.totals = estimate.totals(pipeline, result.estimates)
    return result


def engine_stand_in(workdir: Path) -> Path:
    """The stand-in for CodeBuild's Docker engine: podman, with this machine's image store.

    CodeBuild's docker pulls the Dockerfile's public base image; no registry answers here, so
    the store holds the project's local Debian base instead (made once, ``localbase``).
    """
    from delivery.engines.detect import detect_engine  # noqa: PLC0415 - the engine layer on use
    from delivery.localbase import ensure_local_base  # noqa: PLC0415

    engine = detect_engine("podman")
    base = ensure_local_base(engine)
    log.info(f"engine: podman stands in for CodeBuild's Docker engine; base image {base}")
    return image.engine_stand_in(workdir / "engine", engine_environment())


def _closed_before(execution: actions.Execution, stage: str) -> str | None:
    """Why the transition into ``stage`` is disabled in the launched pipeline, or None.

    A disabled inbound transition holds executions before the stage, as AWS does
    (https://docs.aws.amazon.com/codepipeline/latest/userguide/transitions.html): ``invoke
    pipeline-pause`` closes the one into the stage deploying prod.
    """
    pipelines = promotion.client(execution.account.region)
    return promotion.inbound_closed(pipelines, execution.pipeline_name, stage)


def _execute(execution: actions.Execution, options: Options, result: Result) -> None:
    """The stages in order, until one fails, waits for an approval nobody gives, or meets a
    disabled transition."""
    for index, stage in enumerate(execution.pipeline.stages):
        closed = _closed_before(execution, stage.name) if index else None
        if closed is not None:
            why = f"inbound transition disabled: {closed}"
            result.outcomes.append(Outcome(stage.name, "-", STOPPED, 0.0, why))
            result.stopped_at = f"{stage.name}/-"
            log.info(f"{stage.name}: not entered ({why})")
            return
        condition = engaged(stage.entry, execution.namespaces)
        if condition is not None and condition.result == "SKIP":
            for action in stage.actions:
                result.outcomes.append(
                    Outcome(stage.name, action.name, SKIPPED, 0.0, "entry condition not met")
                )
            log.info(f"{stage.name}: skipped (its entry condition's rules fail)")
            continue
        if condition is not None:
            result.outcomes.append(
                Outcome(stage.name, "-", FAILED, 0.0, f"entry condition: {condition.result}")
            )
            return
        for action in stage.actions:
            outcome = _run_action(execution, options, stage.name, action)
            result.outcomes.append(outcome)
            if outcome.result == STOPPED:
                result.stopped_at = f"{stage.name}/{action.name}"
                return
            if outcome.result == FAILED:
                return


def _run_action(
    execution: actions.Execution,
    options: Options,
    stage: str,
    action: definition.Action,
) -> Outcome:
    log.info(f"{stage}/{action.name}: {action.provider}")
    refused = actions.pipeline_denials(execution, action)
    if refused:
        return Outcome(stage, action.name, FAILED, 0.0, f"{refused[0]} (CodePipeline's own call)")
    if action.provider == "CodeStarSourceConnection":
        revision = execution.repository.revision
        what = f"tag {revision.tag}" if revision.tag else f"branch {revision.branch}"
        execution.artifacts[action.outputs[0]] = execution.repository.path
        return Outcome(stage, action.name, SUCCEEDED, 0.0, f"{revision.short} ({what})")
    if action.provider == "Manual":
        if not options.approve:
            return Outcome(stage, action.name, STOPPED, 0.0, "waiting for approval: --approve")
        return Outcome(stage, action.name, APPROVED, 0.0, "approved (--approve)")
    if action.provider == "CodeBuild":
        outcome = actions.run_codebuild(execution, stage, action)
        log.info(f"{stage}/{action.name}: {outcome.result} in {outcome.seconds:.1f} s")
        return outcome
    return Outcome(stage, action.name, FAILED, 0.0, f"{action.provider} is not rehearsed")
