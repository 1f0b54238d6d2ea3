"""The image's way into an environment's registry: registry -> build -> scan -> publish.

``deploy.run`` and ``deploy.push`` call these in that order: the env's registry (``ensure_registry``
launches the env's own registry stack, ``registry_for_push`` only reads it), the build of the
checkout (``build``), the scan of what was built (``scan_image``) and its publication under
immutable tags (``publish``: a push on AWS, put_image on the emulator, which has no registry
endpoint). ``build``, ``scan_image`` and ``publish`` are ``deploy.Steps``' defaults, so an
environment can swap them. A commit whose image is already in the registry is not built again:
``promote_commit`` adds the version's tag to that very digest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from delivery import deploy_plan, project, registry, scan, stacks, versioning
from delivery.deploy_plan import Plan, Published, Registry
from delivery.environments import Environment
from delivery.errors import DeliveryError

log = logging.getLogger(__name__)
IMAGE_NAME = project.NAME


@dataclass(frozen=True)
class Built:
    """An image built into the local engine's store."""

    ref: str
    version: str
    sha: str


def ensure_registry(plan: Plan) -> Registry:
    """The env's repository: its own registry stack launched first, or the account's read.

    The account's shared registry is never launched by a deploy (an administrator's, with
    ``invoke bootstrap``): a deploy role may not change what another environment relies on.
    """
    env = plan.env
    if env.registry_group == env.name:
        log.info(f"registry: launching {env.registry_path}")
        stacks.launch(env.registry_path, root=env.root, poll=plan.poll, only_under=env.name)
        return deploy_plan.existing_registry(env)
    stack = deploy_plan.registry_stack(env)
    if stacks.state(stack).status not in stacks.SETTLED:
        raise DeliveryError(
            f"registry stack {stack.name} not found in {stack.region}: it is the account's, "
            "launched once by an administrator with `invoke bootstrap`"
        )
    return deploy_plan.existing_registry(env)


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


def identify(plan: Plan) -> tuple[str, str]:
    """(version, commit) of the image a build of the checkout would be."""
    root = plan.env.root
    return versioning.build_version(root), versioning.git_sha(root)


def promote_commit(repo: Registry, version: str, sha: str) -> Published | None:
    """Commit ``sha``'s image already in ``repo``, tagged ``version`` too; None when absent.

    The image carries its commit, not its version, and builds are reproducible: the commit's
    image is the release's. Re-tagging it (instead of trusting a rebuild to match byte for byte
    on another build host) is what makes the release the digest that was tested.
    """
    *version_tags, commit_tag = versioning.image_tags(version, sha)
    ecr = repo.ecr()
    present = registry.tagged(repo.name, [*version_tags, commit_tag], ecr)
    commit = present.get(commit_tag)
    if commit is None:
        return None
    for tag in version_tags:  # checked all before any is added: nothing half-tagged
        held = present.get(tag)
        if held is not None and held.digest != commit.digest:
            raise DeliveryError(
                f"tag '{tag}' in '{repo.name}' already names {held.digest}, not this commit's "
                f"image {commit.digest}: tags are immutable, so release a new version"
            )
    for tag in version_tags:
        if tag in present:
            log.info(f"publish: {repo.uri}:{tag} is already there ({commit.digest}): not pushed")
        else:
            registry.record_image(repo.name, tag, commit.manifest, commit.media_type, ecr)
            log.info(f"publish: tagged {repo.uri}:{tag} on this commit's image {commit.digest}")
    return Published(repo, commit.digest, version)


def build(plan: Plan, cache_from: Sequence[str] = ()) -> Built:
    """Build the image from HEAD, tagged with its version and commit.

    ``cache_from`` names images (e.g. the registry's last build) the engine may reuse layers from.
    """
    from delivery.image_build import build_image  # noqa: PLC0415

    root = plan.env.root
    version = versioning.build_version(root)
    sha = versioning.git_sha(root)
    log.info(f"build: {IMAGE_NAME}:{version} ({sha[:12]})")
    image = build_image(
        IMAGE_NAME,
        version,
        sha,
        engine=plan.engine,
        platform=plan.platform,
        context=root,
        cache_from=tuple(cache_from),
    )
    log.info(f"build: {image.image_id[:19]} ({plan.platform}) in {image.seconds:.1f} s")
    if not image.reproducible:
        log.info(
            f"WARNING: {plan.engine.name if plan.engine else 'the engine'} cannot rewrite layer "
            "timestamps here: a rebuild of this commit without the layer cache gets another "
            "digest, and pushing it again to the same tags will be refused"
        )
    return Built(ref=image.tags[0], version=version, sha=sha)


def scan_image(plan: Plan, built: Built) -> scan.ScanResult:
    """Scan the built image (blocks on findings; a skip is reported, loudly)."""
    source = plan.engine.name if plan.engine and plan.engine.name != "buildah" else None
    result = scan.scan(built.ref, plan.threshold, skip=plan.skip_scan, image_src=source)
    log.info(("WARNING: " if result.skipped else "scan: ") + result.message)
    return result


def publish(plan: Plan, repo: Registry, built: Built) -> Published:
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
            log.info(f"publish: recorded {repo.name}:{tag} {recorded}")
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
                log.info(f"publish: {repo.uri}:{tag} is already there ({there.digest}): not pushed")
            else:
                added = registry.record_image(repo.name, tag, there.manifest, there.media_type, ecr)
                log.info(f"publish: tagged {repo.uri}:{tag} {added} (image already there)")
        return Published(repo, there.digest, built.version)
    username, password, _ = registry.login(repo.uri, ecr)
    for tag in tags:
        digest = plan.engine.push(built.ref, f"{repo.uri}:{tag}", username, password)
        log.info(f"publish: pushed {repo.uri}:{tag} {digest}")
    return Published(repo, digest, built.version)
