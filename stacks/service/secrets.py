"""The app's secrets: one Secrets Manager secret per declared secret, pinned to a version.

The version of each secret the task reads is part of the task definition, so changing a secret's
value is a deployment (blue/green, alarms, rollback) and not a restart that picks up whatever is
current. ``valueFrom`` takes the ECS form ``<secret-arn>:<json-key>:<version-stage>:<version-id>``;
the three fields are optional but their colons are not, and without a stage or id ECS reads the
version labelled AWSCURRENT
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html).
A version in ``valueFrom`` needs Fargate platform 1.4.0 or later (the same page): the service runs
``LATEST``, and a test holds it there.

Which version each secret is pinned to is the stack parameter ``SecretVersions``: one string,
``NAME=<version-id>`` per declared secret, in declared order, comma-separated, the id empty while a
secret is not pinned (``SECRET_KEY=,API_TOKEN=4f1e...``). The whole parameter empty means none is
pinned (a first create): each secret is then read at AWSCURRENT, the value the stack generated.
One parameter for all keeps the Sceptre config to one line whatever the secrets are; the names in
it make the value readable and let the deploy carry each secret's pin across a reordered config.
The template picks a secret's id with ``Fn::Select``/``Fn::Split``: ``Fn::Split`` keeps empty
fields (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-split.html),
and the ``AllowedPattern`` guarantees every index exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from troposphere import (
    Equals,
    If,
    Join,
    Parameter,
    Ref,
    Select,
    Split,
    Template,
    ecs,
    secretsmanager,
)

from stacks.common.template import retain, skip_checks
from stacks.service.settings import Secret, Settings

VERSIONS_PARAMETER = "SecretVersions"
UNPINNED_CONDITION = "SecretsUnpinned"
# A Secrets Manager version id: a ClientRequestToken, 32-64 characters (PutSecretValue's limit,
# https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html); the
# ones Secrets Manager generates are UUIDs. No ":" or ",": the id ends an ARN and a list entry.
VERSION_ID = r"[A-Za-z0-9_-]{32,64}"
_VERSION_ID = re.compile(rf"^{VERSION_ID}$")
# SECRET_KEY's secret kept the logical id it had before secrets were declared: a new logical id
# would replace it, and with it the key every running session was signed with.
_LOGICAL_IDS = {"SECRET_KEY": "AppSecret"}  # nosec B105 - a logical id, not a password


@dataclass(frozen=True)
class AppSecret:
    """A declared secret and its resource in the template."""

    name: str
    resource: secretsmanager.Secret


def logical_id(secret: Secret) -> str:
    """The secret's resource id in the service stack: ``API_TOKEN`` -> ``ApiTokenSecret``."""
    return _LOGICAL_IDS.get(secret.name, f"{secret.key}Secret")


def encode(names: Sequence[str], versions: Mapping[str, str]) -> str:
    """The ``SecretVersions`` value pinning each of ``names`` to ``versions[name]`` (or none).

    "" when no secret is pinned: the value a first create gets.
    """
    for name in names:
        version = versions.get(name, "")
        if version and not _VERSION_ID.match(version):
            raise ValueError(f"secret {name}: {version!r} is not a Secrets Manager version id")
    if not any(versions.get(name) for name in names):
        return ""
    return ",".join(f"{name}={versions.get(name, '')}" for name in names)


def decode(value: str) -> dict[str, str]:
    """``{name: version id}`` from a ``SecretVersions`` value (names without a pin left out)."""
    pairs = (entry.partition("=") for entry in value.split(",") if entry)
    return {name: version for name, _, version in pairs if version}


def allowed_pattern(names: Sequence[str]) -> str:
    """The parameter's pattern: empty, or every declared name in order, each with an id or none."""
    entries = ",".join(f"{re.escape(name)}=({VERSION_ID})?" for name in names)
    return f"^({entries})?$" if names else "^$"


def _version(index: int) -> Any:
    """The version id of the ``index``-th declared secret in ``SecretVersions`` ("" if none)."""
    entry = Select(index, Split(",", Ref(VERSIONS_PARAMETER)))
    return Select(1, Split("=", entry))


def value_from(resource: Any, index: int) -> Any:
    """``valueFrom``: the secret's ARN, pinned to its version once ``SecretVersions`` names one.

    ``<arn>:::<id>``; with the id empty that is ``<arn>:::``, which ECS reads at AWSCURRENT.
    """
    return If(
        UNPINNED_CONDITION,
        Ref(resource),
        Join("", [Ref(resource), ":::", _version(index)]),
    )


def _add_secret(template: Template, settings: Settings, secret: Secret) -> Any:
    resource = template.add_resource(
        secretsmanager.Secret(
            logical_id(secret),
            # Join, not Sub: a description may hold "${".
            Description=Join("", [Ref("AWS::StackName"), f": {secret.name}: {secret.description}"]),
            # An empty secret has no version, and a task that reads it cannot start: each starts
            # with a random value, which `invoke secret set` replaces.
            GenerateSecretString=secretsmanager.GenerateSecretString(
                PasswordLength=64, ExcludePunctuation=True
            ),
        )
    )
    retain(resource, settings.retain)
    return skip_checks(
        resource,
        {
            "CKV_AWS_149": "encrypted with the aws/secretsmanager key; only this stack's "
            "execution role may read it (IAM), so a CMK would add no reader restriction",
        },
    )


def add_secrets(template: Template, settings: Settings) -> list[AppSecret]:
    """Each declared secret's resource, and the ``SecretVersions`` parameter that pins them."""
    names = [secret.name for secret in settings.secrets]
    template.add_parameter(
        Parameter(
            VERSIONS_PARAMETER,
            Type="String",
            Default="",
            AllowedPattern=allowed_pattern(names),
            ConstraintDescription="empty, or NAME=<version id> for each declared secret in order "
            "(" + ", ".join(names) + ")",
            Description="the version of each secret the task reads (the deploy keeps the live "
            "ones; `invoke secret set` pins a new one)",
        )
    )
    if names:
        template.add_condition(UNPINNED_CONDITION, Equals(Ref(VERSIONS_PARAMETER), ""))
    return [
        AppSecret(secret.name, _add_secret(template, settings, secret))
        for secret in settings.secrets
    ]


def container_secrets(secrets: Sequence[AppSecret]) -> list[ecs.Secret]:
    """The container's ``Secrets``: each declared secret as its environment variable."""
    return [
        ecs.Secret(Name=secret.name, ValueFrom=value_from(secret.resource, index))
        for index, secret in enumerate(secrets)
    ]
