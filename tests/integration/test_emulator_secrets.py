"""``AWS::SecretsManager::Secret`` on the emulator, as CloudFormation creates it.

moto 5.2.5's CloudFormation skipped the type (the stack completed, Ref gave None);
``delivery.emulator_resources.secrets`` models it on moto's Secrets Manager backend. What
CloudFormation documents for it is cited there; here a small stack is created, read back through
the Secrets Manager API, updated and deleted.
"""

from __future__ import annotations

import copy
import json
import re
import string
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from delivery.emulator import Emulator

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

REGION = "eu-north-1"
ACCOUNT = "123456789012"  # moto's
STACK = "secrets"
# Secrets Manager appends "-" and six random characters to a secret's name in its ARN.
ARN = re.compile(rf"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:(?P<name>.+)-[A-Za-z0-9]{{6}}")

TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Named": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {
                "Name": "secrets/named",
                "Description": "given",
                "SecretString": '{"user": "ada"}',
                "Tags": [{"Key": "team", "Value": "ops"}],
            },
        },
        "Generated": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {
                "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True}
            },
        },
        "Templated": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {
                "GenerateSecretString": {
                    "SecretStringTemplate": '{"username": "saanvi"}',
                    "GenerateStringKey": "password",
                    "ExcludeCharacters": "abcdefghijklmnopqrstuvwxyz",
                    "IncludeSpace": True,
                }
            },
        },
        "Empty": {"Type": "AWS::SecretsManager::Secret", "Properties": {"Name": "secrets/empty"}},
    },
    "Outputs": {
        "NamedRef": {"Value": {"Ref": "Named"}},
        "NamedId": {"Value": {"Fn::GetAtt": ["Named", "Id"]}},
        "GeneratedRef": {"Value": {"Ref": "Generated"}},
        "TemplatedRef": {"Value": {"Ref": "Templated"}},
        "EmptyRef": {"Value": {"Ref": "Empty"}},
    },
}


def launch(template: dict[str, Any], *, update: bool = False) -> dict[str, str]:
    """Create (or update) the stack; its outputs."""
    cfn = boto3.client("cloudformation")
    call = cfn.update_stack if update else cfn.create_stack
    call(StackName=STACK, TemplateBody=json.dumps(template))
    described = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert described["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), reasons()
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def reasons() -> list[str]:
    """The stack's events' reasons (why a resource failed)."""
    events = boto3.client("cloudformation").describe_stack_events(StackName=STACK)["StackEvents"]
    return [e.get("ResourceStatusReason", "") for e in events]


def name_of(arn: str) -> str:
    found = ARN.fullmatch(arn)
    assert found, arn
    return found["name"]


def value(secret: str, **version: str) -> str:
    client = boto3.client("secretsmanager")
    return str(client.get_secret_value(SecretId=secret, **version)["SecretString"])


def test_ref_and_getatt_give_the_arn_and_the_values_are_as_declared(aws: Emulator) -> None:
    got = launch(TEMPLATE)
    client = boto3.client("secretsmanager")
    assert got["NamedRef"] == got["NamedId"]  # Id, the primary identifier, is what Ref gives
    assert name_of(got["NamedRef"]) == "secrets/named"
    described = client.describe_secret(SecretId=got["NamedRef"])
    assert (described["Name"], described["ARN"], described["Description"]) == (
        "secrets/named",
        got["NamedRef"],
        "given",
    )
    assert described["Tags"] == [{"Key": "team", "Value": "ops"}]
    assert value(got["NamedRef"]) == '{"user": "ada"}'

    # No Name: <logical id>-<12 random characters>, as CloudFormation names it.
    assert re.fullmatch(r"Generated-[A-Za-z0-9]{12}", name_of(got["GeneratedRef"]))
    password = value(got["GeneratedRef"])
    assert len(password) == 64
    assert not set(password) & set(string.punctuation)

    templated = json.loads(value(got["TemplatedRef"]))
    assert set(templated) == {"username", "password"}
    assert templated["username"] == "saanvi"
    assert len(templated["password"]) == 32  # GetRandomPassword's default length
    assert not set(templated["password"]) & set(string.ascii_lowercase)
    assert " " in templated["password"]  # IncludeSpace with RequireEachIncludedType's default

    # Neither SecretString nor GenerateSecretString: a secret without a version.
    assert not client.describe_secret(SecretId="secrets/empty").get("VersionIdsToStages")
    with pytest.raises(ClientError) as caught:
        value(got["EmptyRef"])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_rotation_by_put_secret_value_gives_a_new_version(aws: Emulator) -> None:
    secret = launch(TEMPLATE)["GeneratedRef"]
    client = boto3.client("secretsmanager")
    first = client.get_secret_value(SecretId=secret)
    put = client.put_secret_value(SecretId=secret, SecretString="rotated")
    assert put["VersionId"] != first["VersionId"]
    assert value(secret) == "rotated"
    assert value(secret, VersionStage="AWSPREVIOUS") == first["SecretString"]


def test_an_update_keeps_the_value_unless_it_changes_and_a_new_name_replaces(
    aws: Emulator,
) -> None:
    before = launch(TEMPLATE)
    generated = value(before["GeneratedRef"])
    changed = copy.deepcopy(TEMPLATE)
    resources = changed["Resources"]
    resources["Generated"]["Properties"]["Description"] = "now described"
    resources["Named"]["Properties"]["SecretString"] = '{"user": "grace"}'
    resources["Named"]["Properties"]["Tags"] = [{"Key": "team", "Value": "dev"}]
    resources["Empty"]["Properties"]["Name"] = "secrets/renamed"
    after = launch(changed, update=True)

    client = boto3.client("secretsmanager")
    # A description changes in place: same secret, same value, no new version.
    assert after["GeneratedRef"] == before["GeneratedRef"]
    assert value(after["GeneratedRef"]) == generated
    described = client.describe_secret(SecretId=after["GeneratedRef"])
    assert described["Description"] == "now described"
    assert len(described["VersionIdsToStages"]) == 1
    # A new SecretString is a new version of the same secret.
    assert after["NamedRef"] == before["NamedRef"]
    assert value(after["NamedRef"]) == '{"user": "grace"}'
    assert value(after["NamedRef"], VersionStage="AWSPREVIOUS") == '{"user": "ada"}'
    assert client.describe_secret(SecretId=after["NamedRef"])["Tags"] == [
        {"Key": "team", "Value": "dev"}
    ]
    # Name is create-only: a new secret, the old one gone.
    assert name_of(after["EmptyRef"]) == "secrets/renamed"
    with pytest.raises(ClientError):
        client.describe_secret(SecretId="secrets/empty")


def test_deleting_the_stack_deletes_the_secrets_except_retained_ones(aws: Emulator) -> None:
    retained = copy.deepcopy(TEMPLATE)
    retained["Resources"]["Named"]["DeletionPolicy"] = "Retain"
    got = launch(retained)
    boto3.client("cloudformation").delete_stack(StackName=STACK)
    client = boto3.client("secretsmanager")
    assert value(got["NamedRef"]) == '{"user": "ada"}'
    names = {s["Name"] for s in client.list_secrets(IncludePlannedDeletion=True)["SecretList"]}
    assert names == {"secrets/named"}
    # Deleted at once, without a recovery window: the name can be used again.
    client.create_secret(Name="secrets/empty")


@pytest.mark.parametrize(
    ("properties", "reason"),
    [
        ({"SecretString": "x", "GenerateSecretString": {}}, "mutually exclusive"),
        ({"GenerateSecretString": {"GenerateStringKey": "p"}}, "go together"),
        ({"GenerateSecretString": {"PasswordLength": 5000}}, "outside 1..4096"),
        ({"Colour": "blue"}, "Encountered unsupported property Colour"),
    ],
)
def test_properties_cloudformation_refuses_fail_the_resource(
    aws: Emulator, properties: dict[str, Any], reason: str
) -> None:
    cfn = boto3.client("cloudformation")
    template = {
        "Resources": {"Bad": {"Type": "AWS::SecretsManager::Secret", "Properties": properties}}
    }
    cfn.create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    assert any(reason in r for r in reasons()), reasons()
