"""``AWS::SecretsManager::Secret`` on moto's Secrets Manager backend (see the package's docstring).

What AWS documents, and this reproduces
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-secretsmanager-secret.html,
and the provider schema cfn-lint ships):

- Ref and ``Fn::GetAtt ... Id`` give the secret's ARN (the schema's primaryIdentifier ``Id`` is
  its only read-only property);
- without ``Name`` CloudFormation names the secret ``<logical id>-<12 random characters>``
  (https://docs.aws.amazon.com/secretsmanager/latest/userguide/cfn-example_secret.html: "creates
  a secret named CloudFormationCreatedSecret-a1b2c3d4e5f6"); ``Name`` is create-only, so a new
  one replaces the secret;
- ``SecretString`` or ``GenerateSecretString``, not both; with neither the secret is empty: it
  has no version ("If you omit both GenerateSecretString and SecretString, you create an empty
  secret"; CreateSecret: "If you don't include SecretString or SecretBinary, then Secrets Manager
  creates a secret without a version",
  https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html), so
  GetSecretValue on it fails with ResourceNotFoundException;
- ``GenerateSecretString`` is GetRandomPassword's request (PasswordLength 32 by default,
  RequireEachIncludedType true by default,
  https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetRandomPassword.html),
  generated here by moto's own generator; with ``SecretStringTemplate`` and ``GenerateStringKey``
  the value is the template's JSON object with the password under that key (either one alone
  fails the resource: "If you specify this parameter, then you must also specify
  SecretStringTemplate");
- a change to ``SecretString`` or ``GenerateSecretString`` makes a new version (AWSCURRENT, the
  old one AWSPREVIOUS); ``Description``, ``KmsKeyId``, ``Tags`` and ``ReplicaRegions`` change in
  place and keep the value;
- ``ReplicaRegions`` are accepted: moto replicates the secret to each region (and the regions an
  update drops are removed from replication, as the delete handler's
  RemoveRegionsFromReplication permission says, before the secret is deleted);
- deleting the resource deletes the secret at once, without a recovery window, so its name can
  be used again immediately (the schema's delete handler calls DeleteSecret; that it forces the
  deletion is what AWS must confirm, see the tests).

Not modelled: stack-level tags are not copied onto the secret (moto's CloudFormation copies them
onto no resource); ``Type`` (a managed external secret's partner) is refused: moto has none.
"""

from __future__ import annotations

import json
import string
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.moto_api._internal import mock_random
from moto.secretsmanager.exceptions import SecretNotFoundException
from moto.secretsmanager.models import FakeSecret, SecretsManagerBackend, secretsmanager_backends
from moto.secretsmanager.utils import random_password

from delivery.emulator_resources.properties import (
    PropertyError,
    Removable,
    boolean,
    no_such_attribute,
)

_PROPERTIES = (
    "Name",
    "Description",
    "SecretString",
    "GenerateSecretString",
    "KmsKeyId",
    "Tags",
    "ReplicaRegions",
)
# GetRandomPassword's members and their defaults (its API reference, above).
_PASSWORD_OPTIONS = {
    "PasswordLength": 32,
    "ExcludeCharacters": "",
    "ExcludeNumbers": False,
    "ExcludePunctuation": False,
    "ExcludeUppercase": False,
    "ExcludeLowercase": False,
    "IncludeSpace": False,
    "RequireEachIncludedType": True,
}
# The character types GetRandomPassword excludes by a flag (punctuation: its list, as moto's).
_KINDS = {
    "ExcludeLowercase": string.ascii_lowercase,
    "ExcludeUppercase": string.ascii_uppercase,
    "ExcludeNumbers": string.digits,
    "ExcludePunctuation": string.punctuation,
}
_TEMPLATE_KEYS = ("SecretStringTemplate", "GenerateStringKey")
# GetRandomPassword's PasswordLength range (its API reference: "Valid Range: 1 to 4096").
_LENGTH_RANGE = (1, 4096)
_NAME_SUFFIX = 12


def _secretsmanager(account_id: str, region_name: str) -> SecretsManagerBackend:
    return secretsmanager_backends[account_id][region_name]


def _primary(backend: SecretsManagerBackend, secret_id: str) -> FakeSecret:
    """The secret itself (a stack's secret is never a replica: moto's describe_secret says so)."""
    secret = backend.describe_secret(secret_id)
    if not isinstance(secret, FakeSecret):
        raise TypeError(f"{secret_id} is a replica")
    return secret


def generated_value(spec: Any) -> str:
    """The secret value ``GenerateSecretString`` asks for, from moto's own password generator."""
    if not isinstance(spec, dict):
        raise PropertyError("Properties.GenerateSecretString: expected an object")
    unknown = set(spec) - set(_PASSWORD_OPTIONS) - set(_TEMPLATE_KEYS)
    if unknown:
        raise PropertyError(f"Encountered unsupported property {sorted(unknown)[0]}")
    where = "Properties.GenerateSecretString"
    options = {**_PASSWORD_OPTIONS, **{k: v for k, v in spec.items() if k in _PASSWORD_OPTIONS}}
    try:
        length = int(options["PasswordLength"])
    except (TypeError, ValueError):
        raise PropertyError(f"{where}.PasswordLength: not a number") from None
    if not _LENGTH_RANGE[0] <= length <= _LENGTH_RANGE[1]:
        raise PropertyError(f"{where}.PasswordLength: {length} is outside 1..4096")
    flags = {
        k: boolean(v, f"{where}.{k}")
        for k, v in options.items()
        if isinstance(_PASSWORD_OPTIONS[k], bool)
    }
    excluded = str(options["ExcludeCharacters"])
    # A type whose every character is excluded is not an included type (moto's generator would
    # fail choosing one of it for RequireEachIncludedType).
    for flag, kind in _KINDS.items():
        flags[flag] = flags[flag] or set(kind) <= set(excluded)
    password = random_password(
        password_length=length,
        exclude_characters=excluded,
        exclude_numbers=flags["ExcludeNumbers"],
        exclude_punctuation=flags["ExcludePunctuation"],
        exclude_uppercase=flags["ExcludeUppercase"],
        exclude_lowercase=flags["ExcludeLowercase"],
        include_space=flags["IncludeSpace"],
        require_each_included_type=flags["RequireEachIncludedType"],
    )
    template, key = (spec.get(k) for k in _TEMPLATE_KEYS)
    if template is None and key is None:
        return password
    if template is None or key is None:
        raise PropertyError(f"{where}: SecretStringTemplate and GenerateStringKey go together")
    try:
        document = json.loads(str(template))
    except ValueError:
        raise PropertyError(f"{where}.SecretStringTemplate: not JSON") from None
    if not isinstance(document, dict):
        raise PropertyError(f"{where}.SecretStringTemplate: not a JSON object")
    return json.dumps({**document, str(key): password})


def secret_value(properties: dict[str, Any]) -> str | None:
    """The value the properties give the secret; None for an empty secret (no version)."""
    if "SecretString" in properties and "GenerateSecretString" in properties:
        raise PropertyError("SecretString and GenerateSecretString are mutually exclusive")
    if "SecretString" in properties:
        return str(properties["SecretString"])
    if "GenerateSecretString" in properties:
        return generated_value(properties["GenerateSecretString"])
    return None


def generated_name(logical_id: str) -> str:
    """The name CloudFormation gives a secret declared without ``Name``."""
    alphabet = string.ascii_letters + string.digits
    suffix = "".join(mock_random.choice(alphabet) for _ in range(_NAME_SUFFIX))
    return f"{logical_id}-{suffix}"


def _checked(properties: dict[str, Any]) -> dict[str, Any]:
    unknown = [key for key in properties if key not in _PROPERTIES]
    if unknown:
        raise PropertyError(f"Encountered unsupported property {unknown[0]}")
    return properties


def _tags(properties: dict[str, Any]) -> list[dict[str, str]]:
    tags = properties.get("Tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, dict) and "Key" in t for t in tags):
        raise PropertyError("Properties.Tags: expected a list of {Key, Value}")
    return [{"Key": str(t["Key"]), "Value": str(t.get("Value", ""))} for t in tags]


def _replicas(properties: dict[str, Any]) -> list[dict[str, str]]:
    regions = properties.get("ReplicaRegions", [])
    if not isinstance(regions, list) or not all(
        isinstance(r, dict) and "Region" in r for r in regions
    ):
        raise PropertyError("Properties.ReplicaRegions: expected a list of {Region, KmsKeyId}")
    return [{str(k): str(v) for k, v in r.items()} for r in regions]


class SecretsManagerSecret(Removable, CloudFormationModel):
    """``AWS::SecretsManager::Secret``: a secret in moto's Secrets Manager backend; Ref its ARN."""

    def __init__(
        self, account_id: str, region_name: str, name: str, properties: dict[str, Any]
    ) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.name = name
        self.properties = properties  # as last applied: an update compares against them

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    @property
    def arn(self) -> str:
        """The secret's ARN, as moto's backend made it (with its random suffix)."""
        return str(
            _secretsmanager(self.account_id, self.region_name).describe_secret(self.name).arn
        )

    @property
    def physical_resource_id(self) -> str:
        """What Ref gives: the ARN."""
        return self.arn

    def get_cfn_attribute(self, attribute_name: str) -> str:
        """``Fn::GetAtt``: Id, the primary identifier: the ARN."""
        if attribute_name == "Id":
            return self.arn
        raise no_such_attribute()

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> SecretsManagerSecret:
        """CreateSecret; an existing name fails as Secrets Manager does."""
        properties = _checked(cloudformation_json.get("Properties", {}))
        if "Name" not in properties and "LogicalId" in kwargs:
            resource_name = generated_name(str(kwargs["LogicalId"]))
        _secretsmanager(account_id, region_name).create_secret(
            name=resource_name,
            secret_string=secret_value(properties),
            secret_binary=None,
            description=properties.get("Description"),
            tags=_tags(properties) or None,
            kms_key_id=properties.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=_replicas(properties),
            force_overwrite=False,
        )
        return cls(account_id, region_name, resource_name, properties)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: SecretsManagerSecret,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> SecretsManagerSecret:
        """In place (a new version only for a new value); a new ``Name`` replaces the secret."""
        properties = _checked(cloudformation_json.get("Properties", {}))
        old = original_resource.properties
        if properties.get("Name") != old.get("Name"):
            logical_id = getattr(original_resource, "logical_resource_id", "Secret")
            return cls.replace(  # type: ignore[no-any-return]
                original_resource,
                new_resource_name,
                cloudformation_json,
                account_id,
                region_name,
                LogicalId=logical_id,
            )
        backend = _secretsmanager(account_id, region_name)
        name = original_resource.name
        value_keys = ("SecretString", "GenerateSecretString")
        new_value = any(properties.get(k) != old.get(k) for k in value_keys)
        backend.update_secret(
            name,
            secret_string=secret_value(properties) if new_value else None,
            # The SDKs send one (an idempotency token); moto refuses an update without.
            client_request_token=str(mock_random.uuid4()),
            kms_key_id=properties.get("KmsKeyId"),
            description=properties.get("Description", ""),
        )
        secret = _primary(backend, name)
        backend.untag_resource(secret.arn, [t["Key"] for t in secret.tags or []])
        backend.tag_resource(secret.arn, {t["Key"]: t["Value"] for t in _tags(properties)})
        wanted = {r["Region"]: r for r in _replicas(properties)}
        had = {replica.region for replica in secret.replicas}
        if had - set(wanted):
            backend.remove_regions_from_replication(name, sorted(had - set(wanted)))
        added = [r for region, r in wanted.items() if region not in had]
        if added:
            backend.replicate_secret_to_regions(name, added, force_overwrite=False)
        original_resource.properties = properties
        return original_resource

    @classmethod
    def remove(cls, account_id: str, region_name: str, name: str) -> None:
        """DeleteSecret, its replicas first."""
        _delete(_secretsmanager(account_id, region_name), name)


def _delete(backend: SecretsManagerBackend, secret_id: str) -> None:
    try:
        secret = _primary(backend, secret_id)
    except SecretNotFoundException:
        return  # deleted already: CloudFormation's delete succeeds
    regions = [replica.region for replica in secret.replicas]
    if regions:
        backend.remove_regions_from_replication(secret.name, regions)
    backend.delete_secret(
        secret.name, recovery_window_in_days=None, force_delete_without_recovery=True
    )
