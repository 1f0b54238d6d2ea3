"""``secret set``: write a declared secret's new value and roll it out as a guarded deploy.

The task definition pins each secret's version (stacks/service/secrets.py), so a new value is
used only by tasks of a new task definition revision: ``set`` writes the value (PutSecretValue,
a new version id), then deploys the live version again with that secret pinned to the new id,
through the same blue/green deploy as a release (test listener, alarms, bake, rollback). Should
the deploy roll back, the tasks keep the old version: the stack still pins it.

Every refusal comes before anything changes: unknown env, undeclared name, empty value, an env not
deployed yet, and every check a deploy of the live version makes. The value is read from stdin
(never argv; without echo from a terminal) and goes only into the PutSecretValue request: no log
line, error, stack parameter (only the version id is one) or task definition holds it.
"""

from __future__ import annotations

import getpass
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from delivery import (
    aws_errors,
    deploy,
    deploy_plan,
    ecs,
    environments,
    running,
    secrets,
    stacks,
    traffic,
    wirelog,
)
from delivery.environments import Environment
from delivery.errors import DeliveryError
from stacks.service.settings import Secret

log = logging.getLogger(__name__)
ACTIONS = ("set",)


@dataclass(frozen=True)
class Rotation:
    """What ``set`` left live: the secret's new version and the revision that reads it."""

    env: str
    name: str
    version_id: str
    task_definition: str
    result: deploy.Result

    def lines(self) -> list[str]:
        """What the command prints (ids only, never the value)."""
        return [
            f"secret {self.name}: new version {self.version_id} written",
            f"{self.env}: {ecs.revision(self.task_definition)} now runs {self.result.version} "
            f"with {self.name} at version {self.version_id}",
        ]


def check(env_name: str | None, action: str, name: str, root: Path) -> tuple[Environment, Secret]:
    """The env and the declared secret ``name``; one line for any bad input (nothing is read
    from AWS)."""
    env = environments.load(env_name, root)
    if action not in ACTIONS:
        raise DeliveryError(
            f"unknown secret action '{action}': use `invoke secret set --env E NAME`"
        )
    return env, secrets.find(env, name)


def read_value(stream: TextIO, name: str) -> str:
    """The value from ``stream`` (stdin): without echo from a terminal, else read whole.

    One trailing newline (``echo`` adds it) is not part of the value. Empty is refused.
    """
    if stream.isatty():
        value = getpass.getpass(f"value of {name} (not echoed): ", stream=None)
    else:
        value = stream.read()
        value = value.removesuffix("\n").removesuffix("\r")
    if not value.strip():
        raise DeliveryError(
            f"empty value for secret {name}: pass the value on stdin, e.g. "
            f"`invoke secret set --env E {name} < file`"
        )
    return value


def put_value(arn: str, name: str, value: str) -> str:
    """PutSecretValue; the new version id (AWSCURRENT moves to it). One line on failure."""
    region = arn.split(":")[3]
    try:
        with wirelog.quiet():
            answer = boto3.client("secretsmanager", region_name=region).put_secret_value(
                SecretId=arn, SecretString=value
            )
    except (ClientError, BotoCoreError) as exc:
        # The error names the secret, never the request: the value is not in it.
        raise DeliveryError(
            f"writing secret {name} failed: {aws_errors.reason(exc)}: nothing was deployed"
        ) from None
    return str(answer["VersionId"])


def _live_version(env: Environment) -> str:
    """The version the service stack runs; one line when the env is not deployed."""
    stack = deploy_plan.service_stack(env)
    exists = stacks.state(stack).status not in traffic.NO_RESOURCES
    live = running.from_parameters(stacks.parameters(stack)) if exists else None
    if live is None or not live.version:
        raise DeliveryError(
            f"environment '{env.name}' is not deployed yet: deploy it first "
            f"(invoke deploy --env {env.name}), then set its secrets"
        )
    return live.version


def set_secret(
    env_name: str | None,
    name: str,
    value: str,
    *,
    root: Path = environments.PROJECT_ROOT,
    steps: deploy.Steps | None = None,
) -> Rotation:
    """Write ``value`` as a new version of ``name`` and deploy the live version pinned to it."""
    env, secret = check(env_name, "set", name, root)
    if not value.strip():
        raise DeliveryError(f"empty value for secret {name}: pass the value on stdin")
    version = _live_version(env)
    arn = secrets.secret_arn(env, secret)
    # Every check of a deploy of the live image (registry, traffic, credentials), still read-only.
    plan = deploy.validate(env.name, image=version, root=root, steps=steps, allow_prerelease=True)
    version_id = put_value(arn, name, value)
    log.info(f"secret {name}: version {version_id} written; deploying {version} with it")
    result = deploy.run(replace(plan, pin_secrets=((name, version_id),)), steps)
    return Rotation(
        env=env.name,
        name=name,
        version_id=version_id,
        task_definition=result.outputs.get("TaskDefinitionArn", ""),
        result=result,
    )
