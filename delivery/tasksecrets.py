"""A task definition's ``secrets``, read the way ECS reads them before it starts the container.

Each secret becomes an environment variable of the container. ``valueFrom`` is a Secrets Manager
secret ARN, optionally followed by ``:json-key:version-stage:version-id``, or an SSM Parameter
Store parameter (ARN, or name in the task's region)
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html,
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-ssm-paramstore.html).
Clients come from the ambient AWS environment: for the local service, the emulator.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from delivery import aws_errors
from delivery.errors import DeliveryError

# arn:aws:secretsmanager:<region>:<account>:secret:<name> is the secret itself; up to three more
# fields select a JSON key, a version stage and a version id.
_SECRET_ARN_FIELDS = 7


def resolve(secrets: Mapping[str, str]) -> dict[str, str]:
    """``{name: value}`` for each secret; a one-line error for one without ``valueFrom``.

    ECS requires ``valueFrom`` on every secret (RegisterTaskDefinition's Secret,
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Secret.html: "Required: Yes"),
    and the emulator creates the stacks' ``AWS::SecretsManager::Secret`` resources, so a Ref to
    one names its ARN: an empty one is a task definition that ECS would have refused.
    """
    empty = sorted(name for name, value_from in secrets.items() if not value_from)
    if empty:
        raise DeliveryError(
            f"the task definition's secret {', '.join(empty)} has no valueFrom: give it the "
            "secret's ARN or the parameter's name in the service template"
        )
    return {name: read(value_from) for name, value_from in sorted(secrets.items())}


def read(value_from: str) -> str:
    """The value ``value_from`` names; a one-line error naming it when it cannot be read."""
    try:
        if value_from.startswith("arn:") and value_from.split(":")[2] == "secretsmanager":
            return _secrets_manager(value_from)
        return _parameter(value_from)
    except (ClientError, BotoCoreError) as exc:
        reason = aws_errors.code(exc) or ""
        raise DeliveryError(
            f"reading secret {value_from} failed: {reason or exc}: create it, or fix the task "
            "definition's valueFrom"
        ) from exc


def _secrets_manager(value_from: str) -> str:
    fields = value_from.split(":")
    secret_arn = ":".join(fields[:_SECRET_ARN_FIELDS])
    json_key, stage, version = [*fields[_SECRET_ARN_FIELDS:], "", "", ""][:3]
    request: dict[str, Any] = {"SecretId": secret_arn}
    if stage:
        request["VersionStage"] = stage
    if version:
        request["VersionId"] = version
    client = boto3.client("secretsmanager", region_name=fields[3])
    text = str(client.get_secret_value(**request)["SecretString"])
    if not json_key:
        return text
    try:
        return str(json.loads(text)[json_key])
    except (ValueError, KeyError, TypeError):
        raise DeliveryError(
            f"secret {secret_arn} has no JSON key '{json_key}': fix the task definition's valueFrom"
        ) from None


def _parameter(value_from: str) -> str:
    if value_from.startswith("arn:"):
        # arn:aws:ssm:<region>:<account>:parameter/<name>; a hierarchical name ("/a/b") appears
        # without its leading slash ("parameter/a/b").
        fields = value_from.split(":", 5)
        client = boto3.client("ssm", region_name=fields[3])
        path = fields[5].removeprefix("parameter/")
        name = f"/{path}" if "/" in path else path
    else:
        client = boto3.client("ssm")
        name = value_from
    return str(client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
