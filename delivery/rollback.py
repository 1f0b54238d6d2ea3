"""``rollback``: put a named earlier version back, through the same stack update as a deploy.

The version's digest is looked up by its tag in ECR, then the service stack is updated with that
image: CloudFormation stays the single source of truth and nothing drifts.

Rollback is never held by the SLO gate (``delivery.slo``): an incident rollback must not be
blocked by the burn-rate alarms the incident itself set.
"""

from __future__ import annotations

from pathlib import Path

from delivery import deploy, deploy_plan, environments
from delivery.errors import DeliveryError


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
) -> deploy.Result:
    """Redeploy version ``to`` (a tag in the env's registry) to ``env``.

    A releases-only env takes a pre-release only with ``allow_prerelease`` (checked first).
    """
    version = target_version(env, to, root)
    plan = deploy.validate(
        env,
        image=version,
        root=root,
        steps=steps,
        allow_prerelease=allow_prerelease,
        gated=False,  # the incident's own alarms must not block its rollback
    )
    return deploy.run(plan, steps)
