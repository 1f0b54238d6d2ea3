"""``deploy``: validate everything, then registry -> build -> scan -> push -> launch -> wait.

Each step is a function of its own so the pieces compose (``push`` is the first half, ``rollback``
is a deploy of an existing version). What differs per environment is pluggable through ``Steps``:
how an image reaches the registry (push, or put_image on the emulator, which has no registry
endpoint) and what happens after the stacks are up (wait for ECS, or e.g. run the service locally).

Nothing is built or changed before ``validate`` has passed: unknown env, malformed ``--image``,
a pre-release for a releases-only env, missing scanner, missing container engine, invalid
templates, missing credentials, a missing image and a blue/green deployment still shifting traffic
are all one-line errors up front.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from delivery import (
    credentials,
    deploy_plan,
    ecs,
    environments,
    project,
    registry,
    scan,
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

Progress = Callable[[str], None]
IMAGE_NAME = project.NAME


def _quiet(_: str) -> None:
    """Default progress sink."""


@dataclass(frozen=True)
class Built:
    """An image built into the local engine's store."""

    ref: str
    version: str
    sha: str


@dataclass(frozen=True)
class Result:
    """What a deploy left live."""

    env: str
    version: str
    digest: str
    image_uri: str
    service_url: str
    outputs: dict[str, str]


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


def ensure_registry(plan: Plan, progress: Progress = _quiet) -> Registry:
    """The env's repository: its own registry stack launched first, or the account's read.

    The account's shared registry is never launched by a deploy (an administrator's, with
    ``invoke bootstrap``): a deploy role may not change what another environment relies on.
    """
    env = plan.env
    if env.registry_group == env.name:
        progress(f"registry: launching {env.registry_path}")
        stacks.launch(
            env.registry_path, root=env.root, progress=progress, poll=plan.poll, only_under=env.name
        )
        return deploy_plan.existing_registry(env)
    stack = deploy_plan.registry_stack(env)
    if stacks.state(stack).status not in stacks.SETTLED:
        raise DeliveryError(
            f"registry stack {stack.name} not found in {stack.region}: it is the account's, "
            "launched once by an administrator with `invoke bootstrap`"
        )
    return deploy_plan.existing_registry(env)


def build(plan: Plan, progress: Progress = _quiet, cache_from: Sequence[str] = ()) -> Built:
    """Build the image from HEAD, tagged with its version and commit.

    ``cache_from`` names images (e.g. the registry's last build) the engine may reuse layers from.
    """
    from delivery.image_build import build_image  # noqa: PLC0415

    root = plan.env.root
    version = versioning.build_version(root)
    sha = versioning.git_sha(root)
    progress(f"build: {IMAGE_NAME}:{version} ({sha[:12]})")
    image = build_image(
        IMAGE_NAME,
        version,
        sha,
        engine=plan.engine,
        platform=plan.platform,
        context=root,
        cache_from=tuple(cache_from),
    )
    progress(f"build: {image.image_id[:19]} ({plan.platform}) in {image.seconds:.1f} s")
    if not image.reproducible:
        progress(
            f"WARNING: {plan.engine.name if plan.engine else 'the engine'} cannot rewrite layer "
            "timestamps here: a rebuild of this commit without the layer cache gets another "
            "digest, and pushing it again to the same tags will be refused"
        )
    return Built(ref=image.tags[0], version=version, sha=sha)


def scan_image(plan: Plan, built: Built, progress: Progress = _quiet) -> scan.ScanResult:
    """Scan the built image (blocks on findings; a skip is reported, loudly)."""
    source = plan.engine.name if plan.engine and plan.engine.name != "buildah" else None
    result = scan.scan(built.ref, plan.threshold, skip=plan.skip_scan, image_src=source)
    progress(("WARNING: " if result.skipped else "scan: ") + result.message)
    return result


def publish(plan: Plan, repo: Registry, built: Built, progress: Progress = _quiet) -> Published:
    """Put the built image in the registry under its immutable tags; its digest.

    AWS: a real push, unless the tags already hold this very image (a re-run for the same
    commit: builds are reproducible, so it is the same image): then nothing is pushed, and a tag
    still missing gets the manifest already there. A tag that holds another image is a one-line
    error before anything is pushed (tags are immutable). The emulator has no registry endpoint,
    so the image's manifest is recorded with put_image instead: same tags, same digest a push
    would give.
    """
    if plan.engine is None:
        raise DeliveryError("no container engine to publish the image with")
    tags = versioning.image_tags(built.version, built.sha)
    ecr = repo.ecr()
    digest = ""
    if deploy_plan.on_emulator(plan.env):
        media_type, body, digest = plan.engine.manifest(built.ref)
        for tag in tags:
            recorded = registry.record_image(repo.name, tag, body.decode(), media_type, ecr)
            progress(f"publish: recorded {repo.name}:{tag} {recorded}")
            digest = recorded
        return Published(repo, digest, built.version)
    image_id = plan.engine.image_id(built.ref)
    present = registry.tagged(repo.name, tags, ecr)
    for tag, found in present.items():
        if not found.is_image(image_id):
            raise DeliveryError(
                f"tag '{tag}' in '{repo.name}' already names another image ({found.digest}), "
                f"not this build ({image_id}): tags are immutable, so build from a new commit"
            )
    if present:
        there = present[next(tag for tag in tags if tag in present)]
        for tag in tags:
            if tag in present:
                progress(f"publish: {repo.uri}:{tag} is already there ({there.digest}): not pushed")
            else:
                added = registry.record_image(repo.name, tag, there.manifest, there.media_type, ecr)
                progress(f"publish: tagged {repo.uri}:{tag} {added} (image already there)")
        return Published(repo, there.digest, built.version)
    username, password, _ = registry.login(repo.uri, ecr)
    for tag in tags:
        digest = plan.engine.push(built.ref, f"{repo.uri}:{tag}", username, password)
        progress(f"publish: pushed {repo.uri}:{tag} {digest}")
    return Published(repo, digest, built.version)


def stack_variables(env: Environment, image_uri: str, version: str) -> dict[str, str]:
    """The Sceptre variables of a launch or preview: the image, and who serves production now.

    ``production_target_group`` is read live, as late as possible: a deployment between
    ``validate`` and the launch moves it.
    """
    return {
        "image_uri": image_uri,
        "app_version": version,
        traffic.VARIABLE: traffic.production_target_group(deploy_plan.service_stack(env)),
    }


def launch_env(plan: Plan, image: Published, progress: Progress = _quiet) -> dict[str, str]:
    """Launch every stack of the env with the image; the service stack's outputs."""
    variables = stack_variables(plan.env, image.image_uri, image.version)
    progress(
        f"stacks: launching {plan.env.name} with {image.image_uri} ({image.version}); "
        f"production is on {variables[traffic.VARIABLE]}"
    )
    stacks.launch(
        plan.env.name,
        variables,
        root=plan.env.root,
        progress=progress,
        poll=plan.poll,
        only_under=plan.env.name,
    )
    return stacks.outputs(deploy_plan.service_stack(plan.env))


def _service_ids(outputs: dict[str, str]) -> tuple[str, str, str | None]:
    cluster, service = outputs.get("ClusterName"), outputs.get("ServiceName")
    if not cluster or not service:
        raise DeliveryError("service stack has no ClusterName/ServiceName outputs")
    return cluster, service, outputs.get("TaskDefinitionArn")


def check_service(plan: Plan, outputs: dict[str, str], progress: Progress = _quiet) -> None:
    """One read: the service exists and no rollout of it failed. What the emulator can answer.

    moto's ECS never runs tasks, keeps stale deployments, and a CloudFormation update does not
    move its service to the new task definition revision, so that is not compared here.
    """
    cluster, service, expected = _service_ids(outputs)
    description = ecs.describe_service(
        ecs.client(deploy_plan.service_stack(plan.env).region), cluster, service
    )
    ecs.check_rollout(description, None)
    progress(f"ecs: {service} updated to {ecs.revision(expected or '?')}")


def wait_for_service(plan: Plan, outputs: dict[str, str], progress: Progress = _quiet) -> None:
    """Wait until ECS runs the new task definition stably; one line when it rolled back.

    On the emulator, only ``check_service`` (it cannot run tasks, so nothing becomes stable).
    """
    if deploy_plan.on_emulator(plan.env):
        check_service(plan, outputs, progress)
        return
    cluster, service, expected = _service_ids(outputs)
    progress(f"ecs: waiting for {service} to run {expected or 'the new task definition'}")
    ecs.wait_stable(
        cluster,
        service,
        expected,
        ecs=ecs.client(deploy_plan.service_stack(plan.env).region),
        progress=progress,
        timeout_s=plan.timeout_s,
    )


def identify(plan: Plan) -> tuple[str, str]:
    """(version, commit) of the image a build of the checkout would be."""
    root = plan.env.root
    return versioning.build_version(root), versioning.git_sha(root)


@dataclass
class Steps:
    """The pluggable parts of a deploy; defaults work for AWS and (minus the wait) the emulator."""

    check_settings: Callable[[Environment], None] = deploy_plan.check_settings
    check_credentials: Callable[[Environment], str] = lambda env: credentials.check(env.region)
    detect_engine: Callable[[str | None], ContainerEngine] = _detect_engine
    identify: Callable[[Plan], tuple[str, str]] = identify
    build_image: Callable[[Plan, Progress], Built] = build
    scan_image: Callable[[Plan, Built, Progress], scan.ScanResult] = scan_image
    publish_image: Callable[[Plan, Registry, Built, Progress], Published] = publish
    after_launch: Callable[[Plan, dict[str, str], Progress], None] = wait_for_service


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
) -> Plan:
    """Every check, cheapest first; AWS is only read, never written. The validated Plan.

    ``launch=False`` validates a push: build, scan and publish only, no stack touched.
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
    return plan


def registry_for_push(env: Environment) -> Registry:
    """The env's registry for ``push``: read only, never launched.

    ``push`` runs in CodeBuild under a build role without CloudFormation rights; launching the
    registry stack is ``deploy``'s job, once per environment.
    """
    stack = deploy_plan.registry_stack(env)
    if stacks.state(stack).status == "NOT_CREATED":
        hint = (
            "an administrator launches the account's with `invoke bootstrap`"
            if env.registry_group != env.name
            else f"run `invoke deploy --env {env.name}` once first"
        )
        raise DeliveryError(f"registry stack {stack.name} not found in {stack.region}: {hint}")
    return deploy_plan.existing_registry(env)


def push(
    plan: Plan,
    steps: Steps | None = None,
    progress: Progress = _quiet,
    repo: Registry | None = None,
) -> Published:
    """Build -> scan -> publish into ``repo`` (default: the env's existing registry, read only).

    Build once: when the registry already holds this commit's image (``sha-<commit>``, pushed and
    scanned by an earlier run, e.g. main's build of the commit a release tag now names), nothing
    is built again; the version's tag is added to that very digest (``promote_commit``).
    """
    steps = steps or Steps()
    repo = repo or registry_for_push(plan.env)
    version, sha = steps.identify(plan)
    promoted = promote_commit(repo, version, sha, progress)
    if promoted is not None:
        return promoted
    built = steps.build_image(plan, progress)
    steps.scan_image(plan, built, progress)
    return steps.publish_image(plan, repo, built, progress)


def promote_commit(
    repo: Registry, version: str, sha: str, progress: Progress = _quiet
) -> Published | None:
    """Commit ``sha``'s image already in ``repo``, tagged ``version`` too; None when absent.

    The image carries its commit, not its version, and builds are reproducible: the commit's
    image is the release's. Re-tagging it (instead of trusting a rebuild to match byte for byte
    on another build host) is what makes the release the digest that was tested.
    """
    tags = versioning.image_tags(version, sha)
    ecr = repo.ecr()
    present = registry.tagged(repo.name, tags, ecr)
    commit = present.get(tags[-1])  # sha-<commit>
    if commit is None:
        return None
    held = present.get(version)
    if held is not None and held.digest != commit.digest:
        raise DeliveryError(
            f"tag '{version}' in '{repo.name}' already names {held.digest}, not this commit's "
            f"image {commit.digest}: tags are immutable, so release a new version"
        )
    if held is None:
        registry.record_image(repo.name, version, commit.manifest, commit.media_type, ecr)
        progress(f"publish: tagged {repo.uri}:{version} on this commit's image {commit.digest}")
    else:
        progress(f"publish: {repo.uri}:{version} is already there ({commit.digest}): not pushed")
    return Published(repo, commit.digest, version)


def _build_beside_registry(plan: Plan, steps: Steps, progress: Progress) -> tuple[Registry, Built]:
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
        building = pool.submit(steps.build_image, plan, progress)
        repo = ensure_registry(plan, progress)
        return repo, building.result()


def run(plan: Plan, steps: Steps | None = None, progress: Progress = _quiet) -> Result:
    """Carry out a validated plan: promote ``--image`` or push a new image, launch, wait."""
    steps = steps or Steps()
    if plan.existing is not None:
        ensure_registry(plan, progress)
        image = plan.existing
        progress(f"promote: {image.registry.name}@{image.digest} ({image.version})")
    else:
        repo, built = _build_beside_registry(plan, steps, progress)
        steps.scan_image(plan, built, progress)
        image = steps.publish_image(plan, repo, built, progress)
    if warning := deploy_plan.prerelease_warning(plan.env, image.version):
        progress(warning)
    outputs = launch_env(plan, image, progress)
    steps.after_launch(plan, outputs, progress)
    return Result(
        env=plan.env.name,
        version=image.version,
        digest=image.digest,
        image_uri=image.image_uri,
        service_url=outputs.get("ServiceUrl", ""),
        outputs=outputs,
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
    progress: Progress = _quiet,
    timeout_s: float = ecs.DEFAULT_TIMEOUT_S,
    allow_prerelease: bool = False,
) -> Result:
    """Validate everything, then deploy ``image`` (version or digest) or a new build to ``env``."""
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
    )
    return run(plan, steps, progress)
