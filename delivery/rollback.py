"""``rollback``: put a named earlier release back, its image and its infrastructure.

A release is its image and the templates and config of its tag. ``restore`` checks that the
tag ``v<version>`` exists and that the image is in the env's registry (nothing in AWS is touched
until both hold), checks the tag out in a temporary worktree (delivery/release_checkout.py) and
runs the release's own rollback there, which ``rollback`` is: the stack update a deploy makes,
rendered from that tree, with the version's digest (looked up by its tag in ECR). CloudFormation
stays the single source of truth and nothing drifts.

``deployment_pace`` ``fast`` (``--fast``, for incidents) makes that update's ECS deployment skip
the canary's wait and bake only as long as the deployment alarms need (delivery/pace.py); the
default is the full guarded deployment.

Rollback is never held by the SLO gate (``delivery.slo``): an incident rollback must not be
blocked by the burn-rate alarms the incident itself set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from delivery import deploy, deploy_plan, environments, pace, release_checkout
from delivery.deploy_plan import Plan
from delivery.environments import Environment
from delivery.errors import DeliveryError
from delivery.lifetime import sigterm_as_interrupt
from delivery.release_checkout import Release

log = logging.getLogger(__name__)
FAST_OPTION = "--fast"


def target_version(env: str | None, to: str | None, root: Path = environments.PROJECT_ROOT) -> str:
    """The version ``--to`` names; one line for an unknown env or a missing/malformed ``--to``."""
    environments.load(env, root)  # an unknown env is reported before a missing --to
    if not to or not to.strip():
        raise DeliveryError("rollback needs the version to go back to: pass --to VERSION")
    ref = deploy_plan.parse_image(to)
    if ref.version is None:
        raise DeliveryError(f"--to takes a version like 1.2.3, not '{to}'")
    return ref.version


def rollback(
    env: str | None,
    to: str | None,
    *,
    root: Path = environments.PROJECT_ROOT,
    steps: deploy.Steps | None = None,
    allow_prerelease: bool = False,
    deployment_pace: str = pace.GUARDED,
) -> deploy.Result:
    """Redeploy version ``to`` (a tag in the env's registry) to ``env`` from the stacks of
    ``root``'s tree: the release's own rollback, run in the release's checkout.

    A releases-only env takes a pre-release only with ``allow_prerelease`` (checked first).
    """
    plan = validate(env, to, root=root, steps=steps, allow_prerelease=allow_prerelease)
    return deploy.run(replace(plan, pace=deployment_pace), steps)


def validate(
    env: str | None,
    to: str | None,
    *,
    root: Path = environments.PROJECT_ROOT,
    steps: deploy.Steps | None = None,
    allow_prerelease: bool = False,
) -> Plan:
    """Every check a rollback to ``to`` makes before it changes anything (AWS is only read)."""
    version = target_version(env, to, root)
    return deploy.validate(
        env,
        image=version,
        root=root,
        steps=steps,
        allow_prerelease=allow_prerelease,
        gated=False,  # the incident's own alarms must not block its rollback
    )


def find_release(
    env: str | None,
    to: str | None,
    root: Path = environments.PROJECT_ROOT,
    allow_prerelease: bool = False,
) -> Release:
    """The tag of the release ``--to`` names, before AWS is asked anything; one line if absent.

    A pre-release for a releases-only env is refused first, as a deploy refuses it.
    """
    version = target_version(env, to, root)
    deploy_plan.check_release(environments.load(env, root), version, allow_prerelease)
    return release_checkout.find(root, version)


@dataclass(frozen=True)
class Restored:
    """What a rollback put back: the release's tag and commit, its image, the pace it went at."""

    env: str
    release: Release
    image_uri: str
    digest: str
    deployment_pace: str
    dirty: bool  # the operator's working tree had changes (none of which went out)
    checkout: Path  # where the release's checkout was (removed by now)
    plan: Plan  # the validated rollback, as this checkout read it

    def lines(self) -> list[str]:
        """What to tell the operator."""
        release = self.release
        said = [
            f"restored {release.name} (commit {release.commit[:12]}) to {self.env}: image "
            f"{self.image_uri}; the stacks' templates and config are those of "
            f"{release.ref}, deployed at {self.deployment_pace} pace",
        ]
        if self.dirty:
            said.append(
                "note: this checkout has uncommitted changes: none of them went out (a "
                f"checkout of {release.ref} was deployed)"
            )
        return said


def restore(
    env: Environment,
    release: Release,
    validate_image: Callable[[], Plan],
    *,
    fast: bool = False,
    allow_prerelease: bool = False,
    invoke: release_checkout.Invoke = release_checkout.release_invoke,
) -> Restored | int:
    """Run the release's own rollback in its checkout; what was restored, or its exit code.

    In order, each before anything changes: the release's command line can run; with ``fast``,
    its rollback has ``--fast`` (an older release's has not: one line); ``validate_image``
    (``validate`` of this rollback, AWS only read) finds the image. Then the release's rollback
    runs, validating again in its own tree. The checkout is removed however this ends.
    """
    release_checkout.check_runner(invoke)
    dirty = release_checkout.is_dirty(env.root)
    args = ["rollback", "--env", env.name, "--to", release.version]
    args += [FAST_OPTION] if fast else []
    args += ["--allow-prerelease"] if allow_prerelease else []
    # SIGTERM (a CI runner cancelling the job) takes Ctrl-C's path: the release's command is
    # stopped and its checkout removed.
    with (
        sigterm_as_interrupt(),
        release_checkout.checkout(env.root, release, share_local=env.emulator) as path,
    ):
        if fast and not release_checkout.has_option(path, "rollback", FAST_OPTION, invoke):
            raise DeliveryError(
                f"{release.name}'s own rollback has no {FAST_OPTION} (it predates fast "
                "rollbacks): roll back to it without --fast (the full guarded deployment)"
            )
        plan = validate_image()
        image = plan.existing
        if image is None:
            raise DeliveryError("a rollback restores a version whose image is in the registry")
        code = release_checkout.run(path, args, invoke)
    if code != 0:
        return code
    return Restored(
        env=env.name,
        release=release,
        image_uri=image.image_uri,
        digest=image.digest,
        deployment_pace=pace.FAST if fast else pace.GUARDED,
        dirty=dirty,
        checkout=path,
        plan=plan,
    )
