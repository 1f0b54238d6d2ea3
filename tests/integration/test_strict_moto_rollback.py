"""A failed stack update rolls back on the emulator, as CloudFormation does (delivery.strict_moto).

moto 5.2.5 fails the UpdateStack (or ExecuteChangeSet) call itself when a resource fails, with its
last retry's error, and leaves the stack half-updated under its old status. CloudFormation fails
the resource, rolls the stack back to its previous template and parameters and ends in
UPDATE_ROLLBACK_COMPLETE, from which the stack can be updated again.

How an update fails here, deterministically and as a real config could make it fail on AWS too:
an ECR repository renamed to a name that already exists in the account (the registry stack's
``RepositoryName``, e.g. copied from another environment's registry config). CloudFormation
replaces a renamed repository, and creating the new one fails: "already exists". moto's ECR
rejects the same (RepositoryAlreadyExistsException), after deleting the old repository first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError

from delivery import stacks
from delivery.emulator import Emulator
from delivery.environments import StackRef
from delivery.errors import DeliveryError
from tests.support.project import launch_shared, make_project

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

STACK = "rollback"
GREETING = "/rollback/greeting"


def template(*, extra: bool = False) -> dict[str, Any]:
    """A repository and a setting, both from parameters; ``extra`` adds a topic."""
    body: dict[str, Any] = {
        "Parameters": {"RepositoryName": {"Type": "String"}, "Greeting": {"Type": "String"}},
        "Resources": {
            "Setting": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": GREETING, "Type": "String", "Value": {"Ref": "Greeting"}},
            },
            "Repository": {
                "Type": "AWS::ECR::Repository",
                "Properties": {"RepositoryName": {"Ref": "RepositoryName"}},
            },
        },
        "Outputs": {"RepositoryName": {"Value": {"Ref": "Repository"}}},
    }
    if extra:
        body["Resources"]["Extra"] = {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": "rollback-extra"},
        }
        body["Outputs"]["Extra"] = {"Value": {"Ref": "Extra"}}
    return body


def parameters(repository: str, greeting: str) -> list[ParameterTypeDef]:
    return [
        {"ParameterKey": "RepositoryName", "ParameterValue": repository},
        {"ParameterKey": "Greeting", "ParameterValue": greeting},
    ]


def described(name: str = STACK) -> dict[str, Any]:
    stack: Any = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return dict(stack)


def settled(name: str = STACK) -> tuple[str, dict[str, str], dict[str, str]]:
    """The stack's status, parameters and outputs."""
    stack = described(name)
    return (
        stack["StackStatus"],
        {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
        {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
    )


def events(name: str = STACK) -> list[tuple[str, str, str]]:
    """This update's events, oldest first: (logical id, status, reason)."""
    found = boto3.client("cloudformation").describe_stack_events(StackName=name)["StackEvents"]
    ordered: list[tuple[str, str, str]] = [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
        for e in reversed(found)
    ]
    start = max(i for i, e in enumerate(ordered) if e[:2] == (name, "UPDATE_IN_PROGRESS"))
    return ordered[start:]


def repositories() -> set[str]:
    return {
        r["repositoryName"] for r in boto3.client("ecr").describe_repositories()["repositories"]
    }


def greeting() -> str:
    return str(boto3.client("ssm").get_parameter(Name=GREETING)["Parameter"]["Value"])


def topics() -> set[str]:
    return {t["TopicArn"].rsplit(":", 1)[1] for t in boto3.client("sns").list_topics()["Topics"]}


def launch_first(cfn: Any) -> None:
    cfn.create_stack(
        StackName=STACK, TemplateBody=json.dumps(template()), Parameters=parameters("old", "hi")
    )
    boto3.client("ecr").create_repository(repositoryName="taken")  # another stack's, say


def test_a_failed_update_rolls_back_and_a_later_update_works(aws: Emulator) -> None:
    cfn = boto3.client("cloudformation")
    launch_first(cfn)
    before = settled()
    assert before == (
        "CREATE_COMPLETE",
        {"RepositoryName": "old", "Greeting": "hi"},
        {"RepositoryName": "old"},
    )

    # Adds a topic (created), changes the setting (updated), renames the repository (fails).
    cfn.update_stack(
        StackName=STACK,
        TemplateBody=json.dumps(template(extra=True)),
        Parameters=parameters("taken", "hello"),
    )  # accepted, as CloudFormation accepts it: the failure is the stack's, not the call's

    status, params, outputs = settled()
    assert (status, params, outputs) == ("UPDATE_ROLLBACK_COMPLETE", before[1], before[2])
    assert cfn.get_template(StackName=STACK)["TemplateBody"] == template()
    # The backends as before: the setting updated back, the topic deleted, the repository there.
    assert greeting() == "hi"
    assert "rollback-extra" not in topics()
    assert repositories() == {"old", "taken"}
    logical = {
        r["LogicalResourceId"]
        for r in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    }
    assert logical == {"Setting", "Repository"}

    (failed,) = [e for e in events() if e[1].endswith("_FAILED")]
    assert failed[:2] == ("Repository", "UPDATE_FAILED")
    assert "RepositoryAlreadyExistsException" in failed[2]
    assert "'taken' already exists" in failed[2]  # the first error, not moto's later retries'
    assert [e[1] for e in events() if e[0] == STACK] == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]
    (rolling,) = [e for e in events() if e[1] == "UPDATE_ROLLBACK_IN_PROGRESS"]
    assert rolling[2] == "The following resource(s) failed to update: [Repository]."

    # Fixed, the same update goes through from UPDATE_ROLLBACK_COMPLETE.
    cfn.update_stack(
        StackName=STACK,
        TemplateBody=json.dumps(template(extra=True)),
        Parameters=parameters("renamed", "hello"),
    )
    status, params, outputs = settled()
    assert status == "UPDATE_COMPLETE"
    assert params == {"RepositoryName": "renamed", "Greeting": "hello"}
    assert outputs == {"RepositoryName": "renamed", "Extra": outputs["Extra"]}
    assert outputs["Extra"].endswith(":rollback-extra")
    assert (greeting(), repositories()) == ("hello", {"renamed", "taken"})


def test_a_failed_change_set_rolls_back(aws: Emulator) -> None:
    cfn = boto3.client("cloudformation")
    launch_first(cfn)
    before = settled()
    cfn.create_change_set(
        StackName=STACK,
        ChangeSetName="rename",
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(template(extra=True)),
        Parameters=parameters("taken", "hello"),
    )
    cfn.execute_change_set(StackName=STACK, ChangeSetName="rename")

    assert settled() == ("UPDATE_ROLLBACK_COMPLETE", before[1], before[2])
    change_set = cfn.describe_change_set(StackName=STACK, ChangeSetName="rename")
    assert change_set["ExecutionStatus"] == "EXECUTE_FAILED"
    assert (greeting(), repositories(), "rollback-extra" in topics()) == (
        "hi",
        {"old", "taken"},
        False,
    )


def test_what_cloudformation_validates_first_still_fails_the_call(aws: Emulator) -> None:
    cfn = boto3.client("cloudformation")
    launch_first(cfn)
    needs_more = template()
    del needs_more["Resources"]["Setting"]  # moto used to delete it before checking parameters
    needs_more["Parameters"]["Owner"] = {"Type": "String"}
    with pytest.raises(ClientError) as info:
        cfn.update_stack(
            StackName=STACK,
            TemplateBody=json.dumps(needs_more),
            Parameters=parameters("old", "hi"),
        )
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert "Missing parameter Owner" in str(info.value)
    assert settled()[0] == "CREATE_COMPLETE"
    assert greeting() == "hi"  # untouched


# --- through the project's own launch (Sceptre), as a config change would ----------------------

LOCAL_REGISTRY = StackRef("flask-fargate-local-registry", "eu-north-1")


def registry_named(root: Path, name: str) -> None:
    (root / "config" / "local" / "registry.yaml").write_text(
        f"template:\n  path: registry.json\nparameters:\n  RepositoryName: {name}\n"
    )


def test_a_registry_renamed_onto_an_existing_repository_rolls_back(
    tmp_path: Path, aws: Emulator
) -> None:
    root = make_project(tmp_path)
    launch_shared(root)  # the account's registry: repository flask-fargate
    stacks.launch("local/registry.yaml", root=root, poll=stacks.EMULATOR_POLL_S)
    before = stacks.outputs(LOCAL_REGISTRY)

    registry_named(root, "flask-fargate")  # the shared registry's name, copied by mistake
    with pytest.raises(DeliveryError) as info:
        stacks.launch("local/registry.yaml", root=root, poll=stacks.EMULATOR_POLL_S)
    assert str(info.value).startswith(
        "stack flask-fargate-local-registry failed (UPDATE_ROLLBACK_COMPLETE): "
        "Repository: RepositoryAlreadyExistsException: The repository with name 'flask-fargate' "
        "already exists"
    )
    assert stacks.outputs(LOCAL_REGISTRY) == before
    assert stacks.parameters(LOCAL_REGISTRY) == {"RepositoryName": "flask-fargate-local"}
    assert {"flask-fargate", "flask-fargate-local"} <= repositories()

    registry_named(root, "flask-fargate-local-2")  # fixed: the next launch updates it
    launched = stacks.launch("local/registry.yaml", root=root, poll=stacks.EMULATOR_POLL_S)
    assert launched == {"flask-fargate-local-registry": "UPDATE_COMPLETE"}
    assert stacks.outputs(LOCAL_REGISTRY)["RepositoryName"] == "flask-fargate-local-2"
