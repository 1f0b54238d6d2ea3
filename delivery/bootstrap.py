"""``bootstrap``: launch the account's shared stacks, with an administrator's credentials.

``config/shared/`` holds what every environment of the account relies on and no deploy may change:
the registry the images are promoted through, the CloudFormation service roles the environments
are deployed with (their permissions), and the pipeline. A deploy (a person's or the pipeline's)
only reads them; an administrator launches them here, once per account and after a change to
``config/shared/``. The pipeline is launched only when its GitHub connection is given, since
creating it starts its first run.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from delivery import credentials, environments, stacks
from delivery.errors import DeliveryError

log = logging.getLogger(__name__)
SHARED = environments.SHARED
PIPELINE = "pipeline"
# The account's stacks in launch order: the registry, the roles, then (optionally) the pipeline,
# which reads the registry's outputs.
ORDER = ("registry", "cloudformation-roles", PIPELINE)
CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:"
    r"connection/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


@dataclass(frozen=True)
class Plan:
    """What bootstrap launches, checked before anything changes."""

    root: Path
    paths: tuple[str, ...]  # Sceptre paths, e.g. shared/registry.yaml
    variables: dict[str, str]
    region: str


def shared_stacks(root: Path) -> list[str]:
    """The stacks of ``config/shared/``, in launch order."""
    found = {p.stem for p in (root / "config" / SHARED).glob("*.yaml") if p.name != "config.yaml"}
    if not found:
        raise DeliveryError(f"no shared stacks: {root / 'config' / SHARED} holds no stack config")
    known = [name for name in ORDER if name in found]
    return known + sorted(found - set(ORDER))


def validate(root: Path, connection_arn: str | None = None) -> Plan:
    """Every check before anything changes: the connection's shape, the config, credentials."""
    if connection_arn is not None and not CONNECTION_ARN.match(connection_arn):
        raise DeliveryError(
            f"--connection-arn '{connection_arn}' is not a CodeConnections connection ARN "
            "(arn:aws:codeconnections:<region>:<account>:connection/<uuid>)"
        )
    names = shared_stacks(root)
    if connection_arn is None:
        names = [name for name in names if name != PIPELINE]
    paths = tuple(f"{SHARED}/{name}.yaml" for name in names)
    variables = {"connection_arn": connection_arn} if connection_arn else {}
    for path in paths:
        stacks.generate(path, variables, root=root)  # bad settings fail here, offline
    region = environments.stack_region(root, f"{SHARED}/{names[0]}")
    credentials.check(region)
    return Plan(root=root, paths=paths, variables=variables, region=region)


def bootstrap(
    root: Path = environments.PROJECT_ROOT,
    *,
    connection_arn: str | None = None,
    poll: float | None = None,
) -> dict[str, str]:
    """Launch the account's shared stacks; CloudFormation name -> final status."""
    plan = validate(root, connection_arn)
    results: dict[str, str] = {}
    for path in plan.paths:
        log.info(f"bootstrap: launching {path}")
        results |= stacks.launch(path, plan.variables, root=root, poll=poll, only_under=SHARED)
    if connection_arn is None and PIPELINE in shared_stacks(root):
        log.info(
            "bootstrap: the pipeline was not launched: pass --connection-arn once its GitHub "
            "connection is AVAILABLE (docs/DEPLOYMENT.md)"
        )
    return results
