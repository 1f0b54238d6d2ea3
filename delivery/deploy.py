"""``deploy``: validate everything, then registry -> build -> scan -> push -> launch -> wait.

Each step is a function of its own so the pieces compose (``push`` is the first half, ``rollback``
is a deploy of an existing version). This module puts them in order and holds the environment's
side: the stacks' launch (``launch_env``) and the wait for ECS (``wait_for_service``). What a
deploy is and the checks ``validate`` runs are ``deploy_plan``'s; the image's steps (registry,
build, scan, publish) are ``images``'. What differs per environment is pluggable through ``Steps``:
how an image reaches the registry (push, or put_image on the emulator, which has no registry
endpoint) and what happens after the stacks are up (wait for ECS, or e.g. run the service locally).

Nothing is built or changed before ``validate`` has passed: unknown env, malformed ``--image``,
a pre-release for a releases-only env, missing scanner, missing container engine, invalid
templates, missing credentials, a missing image, a blue/green deployment still shifting traffic
and, in an SLO-gated environment, a burn-rate alarm in ALARM (``delivery.slo``; ``--force``
overrides it, loudly) are all one-line errors up front. A deploy that fails in the stack launch or
the wait for ECS logs its diagnosis (``delivery.diagnosis``) before its error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from delivery import (
    credentials,
    deploy_plan,
    diagnosis,
    ecs,
    environments,
    images,
    pace,
    scan,
    secrets,
    slo,
    stacks,
    traffic,
    versioning,
)
from delivery.deploy_plan import Plan, Published, Registry
from delivery.environments import Environment
from delivery.errors import DeliveryError
from delivery.process import stop_commands_on_interrupt

if TYPE_CHECKING:
    from delivery.engines.base import ContainerEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    """What a deploy left live."""

    env: str
    version: str
    digest: str
    image_uri: str
    service_url: str
    outputs: dict[str, str]
    forced: str = ""  # the WARNING of a deploy forced past a closed SLO gate


def _detect_engine(preferred: str | None) -> ContainerEngine:
    from delivery.engines.detect import detect_engine  # noqa: PLC0415 - heavy, build paths only

    return detect_engine(preferred)


def http_only_notice(env: Environment, outputs: dict[str, str]) -> str | None:
    """What to say when the service stack reports ``Https: "false"`` (None otherwise)."""
    if env.emulator or outputs.get("Https", "").lower() != "false":
        return None
    url = outputs.get("ServiceUrl", "")
    return (
        f"NOTE: environment '{env.name}' serves plain HTTP only{f' ({url})' if url else ''}: "
        f"to serve HTTPS, set the service's domain and its Route 53 hosted zone in "
        f"config/{env.name}/service.yaml and deploy again"
    )


def stack_variables(
    env: Environment,
    image_uri: str,
    version: str,
    pin: Mapping[str, str] | None = None,
    deployment_pace: str = pace.GUARDED,
) -> dict[str, str]:
    """The Sceptre variables of a launch or preview: the image, who serves production now, the
    version each secret is pinned to (the live ones, except those ``pin`` changes), and the
    deployment's pace (guarded unless an incident rollback asks for fast: every other deploy
    sets guarded again).

    ``production_target_group`` is read live, as late as possible: a deployment between
    ``validate`` and the launch moves it.
    """
    return {
        "image_uri": image_uri,
        "app_version": version,
        traffic.VARIABLE: traffic.production_target_group(deploy_plan.service_stack(env)),
        secrets.VARIABLE: secrets.versions_variable(env, pin or {}),
        pace.VARIABLE: deployment_pace,
    }


def launch_env(plan: Plan, image: Published) -> dict[str, str]:
    """Launch every stack of the env with the image; the service stack's outputs."""
    variables = stack_variables(
        plan.env, image.image_uri, image.version, dict(plan.pin_secrets), plan.pace
    )
    log.info(
        f"stacks: launching {plan.env.name} with {image.image_uri} ({image.version}) at "
        f"{plan.pace} pace; production is on {variables[traffic.VARIABLE]}"
    )
    if generated := secrets.unpinned(plan.env, variables[secrets.VARIABLE]):
        log.info(
            f"secrets still holding the value the stack generated: {', '.join(generated)} "
            f"(set each with `invoke secret set --env {plan.env.name} NAME`, value on stdin)"
        )
    stacks.launch(
        plan.env.name,
        variables,
        root=plan.env.root,
        poll=plan.poll,
        only_under=plan.env.name,
    )
    return stacks.outputs(deploy_plan.service_stack(plan.env))


def _service_ids(outputs: dict[str, str]) -> tuple[str, str, str | None]:
    cluster, service = outputs.get("ClusterName"), outputs.get("ServiceName")
    if not cluster or not service:
        raise DeliveryError("service stack has no ClusterName/ServiceName outputs")
    return cluster, service, outputs.get("TaskDefinitionArn")


def check_service(plan: Plan, outputs: dict[str, str]) -> None:
    """One read: the service exists and no rollout of it failed. What the emulator can answer.

    moto's ECS never runs tasks, keeps stale deployments, and a CloudFormation update does not
    move its service to the new task definition revision, so that is not compared here.
    """
    cluster, service, expected = _service_ids(outputs)
    description = ecs.describe_service(
        ecs.client(deploy_plan.service_stack(plan.env).region), cluster, service
    )
    ecs.check_rollout(description, None)
    log.info(f"ecs: {service} updated to {ecs.revision(expected or '?')}")


def wait_for_service(plan: Plan, outputs: dict[str, str]) -> None:
    """Wait until ECS runs the new task definition stably; one line when it rolled back.

    On the emulator, only ``check_service`` (it cannot run tasks, so nothing becomes stable).
    """
    if deploy_plan.on_emulator(plan.env):
        check_service(plan, outputs)
        return
    cluster, service, expected = _service_ids(outputs)
    log.info(f"ecs: waiting for {service} to run {expected or 'the new task definition'}")
    ecs.wait_stable(
        cluster,
        service,
        expected,
        ecs=ecs.client(deploy_plan.service_stack(plan.env).region),
        timeout_s=plan.timeout_s,
    )


@dataclass
class Steps:
    """The pluggable parts of a deploy; defaults work for AWS and (minus the wait) the emulator."""

    check_settings: Callable[[Environment], None] = deploy_plan.check_settings
    check_credentials: Callable[[Environment], str] = lambda env: credentials.check(env.region)
    detect_engine: Callable[[str | None], ContainerEngine] = _detect_engine
    identify: Callable[[Plan], tuple[str, str]] = images.identify
    build_image: Callable[[Plan], images.Built] = images.build
    scan_image: Callable[[Plan, images.Built], scan.ScanResult] = images.scan_image
    publish_image: Callable[[Plan, Registry, images.Built], Published] = images.publish
    after_launch: Callable[[Plan, dict[str, str]], None] = wait_for_service


def validate(
    env_name: str | None,
    *,
    image: str | None = None,
    build: bool = True,
    skip_scan: bool = False,
    threshold: str = scan.DEFAULT_THRESHOLD,
    engine: str | None = None,
    root: Path = environments.PROJECT_ROOT,
    steps: Steps | None = None,
    timeout_s: float = ecs.DEFAULT_TIMEOUT_S,
    allow_prerelease: bool = False,
    launch: bool = True,
    force: bool = False,
    gated: bool = True,
) -> Plan:
    """Every check, cheapest first; AWS is only read, never written. The validated Plan.

    ``launch=False`` validates a push: build, scan and publish only, no stack touched.
    ``gated=False`` skips the SLO gate (rollback's: never blocked by the incident's alarms);
    ``force`` deploys past a closed gate, with a WARNING.
    """
    steps = steps or Steps()
    env = environments.load(env_name, root)
    ref = deploy_plan.parse_image(image) if image is not None else None
    if ref is not None and ref.version:
        deploy_plan.check_release(env, ref.version, allow_prerelease)
    building = build and ref is None
    if building:
        scan.check(threshold, skip=skip_scan)
    elif skip_scan:
        scan.severities(threshold)
    container = steps.detect_engine(engine) if building else None
    if building and env.releases_only and not allow_prerelease:
        deploy_plan.check_release(env, versioning.build_version(root), allow_prerelease)
    platform = deploy_plan.task_platform(env)
    if container is not None:
        container.check_buildable(platform)  # before anything is built or launched
    deploy_plan.check_emulator_endpoint(env)
    steps.check_settings(env)
    account = steps.check_credentials(env)
    plan = Plan(
        env=env,
        image=ref,
        engine=container,
        skip_scan=skip_scan,
        threshold=threshold,
        account=account,
        timeout_s=timeout_s,
        allow_prerelease=allow_prerelease,
        platform=platform,
    )
    if ref is not None:
        existing = deploy_plan.find_image(env, ref)
        deploy_plan.check_release(
            env, existing.version, allow_prerelease
        )  # a digest's version shows here
        plan = replace(plan, existing=existing)
    if launch:
        # The account's shared stacks (registry, CloudFormation roles) are read, never launched.
        stacks.check_dependencies(env.name, deploy_plan.PLACEHOLDER_VARIABLES, root=env.root)
        # Refuse while ECS shifts production traffic: the update would collide with it.
        traffic.production_target_group(deploy_plan.service_stack(env))
        if gated:  # last: the gate reads alarms only for a deploy that could otherwise go
            gate = slo.enforce(env, force)
            plan = replace(plan, gate=gate.line(), forced=slo.forced_warning(gate) or "")
    return plan


def push(
    plan: Plan,
    steps: Steps | None = None,
    repo: Registry | None = None,
) -> Published:
    """Build -> scan -> publish into ``repo`` (default: the env's existing registry, read only).

    Build once: when the registry already holds this commit's image (``sha-<commit>``, pushed and
    scanned by an earlier run, e.g. main's build of the commit a release tag now names), nothing
    is built again; the version's tag is added to that very digest (``promote_commit``).
    """
    steps = steps or Steps()
    repo = repo or images.registry_for_push(plan.env)
    version, sha = steps.identify(plan)
    promoted = images.promote_commit(repo, version, sha)
    if promoted is not None:
        return promoted
    built = steps.build_image(plan)
    steps.scan_image(plan, built)
    return steps.publish_image(plan, repo, built)


def _build_beside_registry(plan: Plan, steps: Steps) -> tuple[Registry, images.Built]:
    """Launch the registry stack while the image builds: neither needs the other.

    The build is subprocesses (engine, git) and the launch mostly waits on CloudFormation, so
    together they take as long as the longer of the two. Leaving the ``with`` block always waits
    for the build, so a failed launch never leaves a build running behind the command; on Ctrl-C
    the build's commands are stopped first.
    """
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="build") as pool,
        stop_commands_on_interrupt(),
    ):
        building = pool.submit(steps.build_image, plan)
        repo = images.ensure_registry(plan)
        return repo, building.result()


def run(plan: Plan, steps: Steps | None = None) -> Result:
    """Carry out a validated plan: promote ``--image`` or push a new image, launch, wait.

    A failed launch or wait logs its diagnosis (what AWS recorded since now), then raises.
    """
    started = datetime.now(UTC)
    steps = steps or Steps()
    if plan.existing is not None:
        images.ensure_registry(plan)
        image = plan.existing
        log.info(f"promote: {image.registry.name}@{image.digest} ({image.version})")
    else:
        repo, built = _build_beside_registry(plan, steps)
        steps.scan_image(plan, built)
        image = steps.publish_image(plan, repo, built)
    if warning := deploy_plan.prerelease_warning(plan.env, image.version):
        log.info(warning)
    with diagnosis.on_failure(plan.env, started):
        outputs = launch_env(plan, image)
        steps.after_launch(plan, outputs)
    return Result(
        env=plan.env.name,
        version=image.version,
        digest=image.digest,
        image_uri=image.image_uri,
        service_url=outputs.get("ServiceUrl", ""),
        outputs=outputs,
        forced=plan.forced,
    )


def deploy(
    env: str | None,
    image: str | None = None,
    *,
    skip_scan: bool = False,
    threshold: str = scan.DEFAULT_THRESHOLD,
    engine: str | None = None,
    root: Path = environments.PROJECT_ROOT,
    steps: Steps | None = None,
    timeout_s: float = ecs.DEFAULT_TIMEOUT_S,
    allow_prerelease: bool = False,
    force: bool = False,
) -> Result:
    """Validate everything, then deploy ``image`` (version or digest) or a new build to ``env``.

    ``force`` deploys past the SLO gate of a gated env (a WARNING says so).
    """
    steps = steps or Steps()
    plan = validate(
        env,
        image=image,
        skip_scan=skip_scan,
        threshold=threshold,
        engine=engine,
        root=root,
        steps=steps,
        timeout_s=timeout_s,
        allow_prerelease=allow_prerelease,
        force=force,
    )
    return run(plan, steps)
