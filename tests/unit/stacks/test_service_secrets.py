"""Declared secrets: one Secrets Manager secret each, injected pinned to the stack's version.

The valueFrom each secret gets is evaluated the way CloudFormation would (the local runner's
evaluator, delivery/local/task_definition.py), for a first create (``SecretVersions`` empty: ECS
reads AWSCURRENT) and for pinned versions: ``<arn>:::<version-id>``, the form ECS documents
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from delivery.local.task_definition import resolve
from delivery.project import NAME as PROJECT
from stacks import service
from stacks.common.errors import SettingsError
from stacks.common.handler import render
from stacks.service.secrets import VERSIONS_PARAMETER, allowed_pattern, decode, encode
from tests.support.cfn import Template, one

ID_A = "0b6c8a2e-4f1d-4c1e-9a55-111111111111"
ID_B = "7d1e2f3a-5b6c-4d7e-8f90-222222222222"
TWO = [
    {"name": "DATABASE_PASSWORD", "description": "the database's password"},
    {"name": "API_TOKEN", "description": "the partner API's token"},
]


def build(**settings: Any) -> Template:
    """The service template for these settings (local-like defaults)."""
    import json  # noqa: PLC0415 - only here

    return dict(
        json.loads(render(service, {"project": PROJECT, "environment": "test", **settings}))
    )


def value_froms(template: Template, versions: str) -> dict[str, str | None]:
    """Each container secret's valueFrom with ``SecretVersions=versions`` and fake ARNs."""
    secrets = one(template, "AWS::ECS::TaskDefinition")["Properties"]["ContainerDefinitions"][0][
        "Secrets"
    ]
    arns = {
        logical: f"arn:aws:secretsmanager:eu-north-1:123456789012:secret:{logical}-AbCdEf"
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SecretsManager::Secret"
    }
    parameters = {**arns, VERSIONS_PARAMETER: versions}
    return {
        s["Name"]: resolve(s["ValueFrom"], parameters, template.get("Conditions", {}))
        for s in secrets
    }


def arn(logical: str) -> str:
    return f"arn:aws:secretsmanager:eu-north-1:123456789012:secret:{logical}-AbCdEf"


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_every_env_declares_secret_key_on_the_secret_it_always_had(
    rendered: dict[str, dict[str, Template]], env: str
) -> None:
    template = rendered[env]["service"]
    # AppSecret keeps its logical id: a new one would replace the secret and its value.
    assert value_froms(template, "") == {"SECRET_KEY": arn("AppSecret")}
    assert value_froms(template, f"SECRET_KEY={ID_A}") == {
        "SECRET_KEY": f"{arn('AppSecret')}:::{ID_A}"
    }
    # A version in valueFrom needs Fargate platform 1.4.0+ (the ECS page above): LATEST is.
    assert one(template, "AWS::ECS::Service")["Properties"]["PlatformVersion"] == "LATEST"
    policy = template["Resources"]["AppSecret"]
    assert policy["DeletionPolicy"] == ("Retain" if env == "prod" else "Delete")


def test_each_secret_gets_its_own_resource_and_its_own_pin() -> None:
    template = build(secrets=TWO)
    assert value_froms(template, "") == {
        "DATABASE_PASSWORD": arn("DatabasePasswordSecret"),
        "API_TOKEN": arn("ApiTokenSecret"),
    }
    # One pinned, one not: the unpinned one is read at AWSCURRENT (all three fields empty).
    assert value_froms(template, f"DATABASE_PASSWORD=,API_TOKEN={ID_B}") == {
        "DATABASE_PASSWORD": f"{arn('DatabasePasswordSecret')}:::",
        "API_TOKEN": f"{arn('ApiTokenSecret')}:::{ID_B}",
    }
    resource = template["Resources"]["ApiTokenSecret"]["Properties"]
    assert "GenerateSecretString" in resource  # a task can start before `secret set`
    assert "SecretString" not in resource


def test_only_the_execution_role_reads_the_secrets_and_only_those() -> None:
    template = build(secrets=TWO)
    execution = template["Resources"]["ExecutionRole"]["Properties"]["Policies"]
    statements = [s for p in execution for s in p["PolicyDocument"]["Statement"]]
    reads = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
    assert [r["Resource"] for r in reads] == [
        [{"Ref": "DatabasePasswordSecret"}, {"Ref": "ApiTokenSecret"}]
    ]
    # The task role (the collector's, when it runs) reads no secret.
    task_role = template["Resources"]["TaskRole"]["Properties"]
    task_actions = [
        a
        for p in task_role.get("Policies", [])
        for s in p["PolicyDocument"]["Statement"]
        for a in s["Action"]
    ]
    assert not [a for a in task_actions if a.startswith("secretsmanager:")]


def test_no_secret_declared_means_no_secret_and_no_read_permission() -> None:
    template = build()
    assert not [r for r in template["Resources"].values() if "SecretsManager" in r["Type"]]
    assert "secretsmanager" not in str(template["Resources"]["ExecutionRole"])
    assert template["Parameters"][VERSIONS_PARAMETER]["AllowedPattern"] == "^$"


def test_the_parameter_takes_what_the_deploy_encodes_and_nothing_else() -> None:
    names = ["DATABASE_PASSWORD", "API_TOKEN"]
    pattern = re.compile(allowed_pattern(names))
    for versions in ({}, {"API_TOKEN": ID_B}, {"DATABASE_PASSWORD": ID_A, "API_TOKEN": ID_B}):
        value = encode(names, versions)
        assert pattern.match(value), value
        assert decode(value) == versions
    assert encode(names, {}) == ""
    for wrong in (
        f"API_TOKEN={ID_B},DATABASE_PASSWORD=",  # another order: indexes would mix secrets up
        f"DATABASE_PASSWORD={ID_A}",  # a secret missing: its index would not exist
        f"DATABASE_PASSWORD=,API_TOKEN=,OTHER={ID_A}",
        "DATABASE_PASSWORD=short,API_TOKEN=",
    ):
        assert not pattern.match(wrong), wrong
    with pytest.raises(ValueError, match="not a Secrets Manager version id"):
        encode(names, {"API_TOKEN": "x:y"})


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ([{"name": "api_token", "description": "d"}], "secrets.0.name='api_token'"),
        ([{"name": "1TOKEN", "description": "d"}], "secrets.0.name='1TOKEN'"),
        ([{"name": "TOKEN"}], "secrets.0.description is required"),
        ([{"name": "TOKEN", "description": ""}], "secrets.0.description=''"),
        (
            [{"name": "A_B", "description": "d"}, {"name": "A__B", "description": "d"}],
            "A__B is declared twice or maps to the same stack resource as A_B",
        ),
        (
            [{"name": "TOKEN", "description": "d"}, {"name": "TOKEN", "description": "e"}],
            "TOKEN is declared twice",
        ),
    ],
)
def test_bad_declarations_are_refused_in_one_line(
    secrets: list[dict[str, str]], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        build(secrets=secrets)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
