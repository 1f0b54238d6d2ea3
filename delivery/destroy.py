"""``destroy``: delete an environment's stacks; prod-like environments need ``force``.

Only the environment's own folder is deleted (``config/<env>/``), never ``config/shared/``.
Resources with a Retain deletion policy (the registry's images, log groups) stay behind. Stacks
with termination protection (``deletion_protection: true``) refuse; the error says how to turn it
off first.
"""

from __future__ import annotations

from pathlib import Path

from delivery import credentials, environments, stacks
from delivery.deploy_plan import PLACEHOLDER_VARIABLES, check_emulator_endpoint, poll_for
from delivery.errors import DeliveryError


def check(
    env_name: str | None, force: bool, root: Path = environments.PROJECT_ROOT
) -> environments.Environment:
    """Everything destroy checks before deleting anything."""
    env = environments.load(env_name, root)
    if env.destroy_protection and not force:
        raise DeliveryError(
            f"environment '{env.name}' is protected against destroy: pass --force if you mean it"
        )
    check_emulator_endpoint(env)
    credentials.check(env.region)
    return env


def destroy(
    env_name: str | None,
    *,
    force: bool = False,
    root: Path = environments.PROJECT_ROOT,
) -> dict[str, str]:
    """Delete ``env_name``'s stacks in reverse dependency order; CloudFormation name -> status."""
    env = check(env_name, force, root)
    poll = poll_for(env)
    try:
        # The config needs the image variables to render; deleting never uses them.
        return stacks.delete(env.name, root=root, poll=poll, variables=PLACEHOLDER_VARIABLES)
    except DeliveryError as exc:
        if "TerminationProtection" not in str(exc):
            raise
        raise DeliveryError(
            f"{exc}: set deletion_protection: false in that stack's config under "
            f"config/{env.name}/, deploy, then destroy"
        ) from exc
