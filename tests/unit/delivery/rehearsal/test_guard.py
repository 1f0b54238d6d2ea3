"""Every AWS call of a rehearsed build is judged against its role before it is sent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from delivery.emulator import Emulator
from delivery.rehearsal import policy

pytestmark = [pytest.mark.emulator]

ACCOUNT = policy.Account("123456789012")
REPOSITORY = "arn:aws:ecr:eu-north-1:123456789012:repository/app"


def settings(endpoint: str, log: Path) -> policy.GuardSettings:
    """A role that may read the app repository's images, and nothing else."""
    return policy.GuardSettings(
        principal="arn:aws:sts::123456789012:assumed-role/BuildRole/build-1",
        role="BuildRole",
        statements=[
            {"Effect": "Allow", "Action": ["ecr:DescribeImages"], "Resource": REPOSITORY},
        ],
        endpoint=endpoint,
        account=ACCOUNT,
        log=str(log),
    )


def test_a_denied_call_gets_awss_access_denied_and_never_reaches_the_endpoint(
    aws: Emulator, tmp_path: Path
) -> None:
    log = tmp_path / "denied.jsonl"
    guard = policy.Guard(settings(aws.endpoint, log))
    ecr = guard.register(boto3.client("ecr", region_name="eu-north-1"))
    with pytest.raises(ClientError) as info:
        ecr.create_repository(repositoryName="app")
    error = info.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        "User: arn:aws:sts::123456789012:assumed-role/BuildRole/build-1 is not authorized to "
        f"perform: ecr:CreateRepository on resource: {REPOSITORY} because no identity-based "
        "policy allows the ecr:CreateRepository action"
    )
    assert (
        boto3.client("ecr", region_name="eu-north-1").describe_repositories()["repositories"] == []
    )  # never sent
    (denied,) = policy.denials(log)
    assert str(denied) == f"role BuildRole lacks ecr:CreateRepository on {REPOSITORY}"
    # An allowed call goes through (and the emulator answers it).
    with pytest.raises(ClientError, match="RepositoryNotFoundException"):
        ecr.describe_images(repositoryName="app")


def test_calls_to_another_endpoint_are_not_judged(aws: Emulator, tmp_path: Path) -> None:
    guard = policy.Guard(settings("http://127.0.0.1:1", tmp_path / "denied.jsonl"))
    ecr = guard.register(boto3.client("ecr", region_name="eu-north-1"))
    ecr.create_repository(repositoryName="app")  # the guard watches the rehearsal's endpoint only
    assert not (tmp_path / "denied.jsonl").exists()


def test_a_call_the_rehearsal_cannot_map_is_denied_and_says_what_to_map(
    aws: Emulator, tmp_path: Path
) -> None:
    log = tmp_path / "denied.jsonl"
    sqs = policy.Guard(settings(aws.endpoint, log)).register(
        boto3.client("sqs", region_name="eu-north-1")
    )
    with pytest.raises(ClientError, match="no resource mapping for sqs:ListQueues"):
        sqs.list_queues()
    (denied,) = policy.denials(log)
    assert "has no IAM mapping in the rehearsal" in str(denied)


def test_a_subprocess_started_with_the_sitecustomize_is_guarded(
    aws: Emulator, tmp_path: Path
) -> None:
    log = tmp_path / "denied.jsonl"
    variables = policy.sitecustomize(tmp_path / "guard", settings(aws.endpoint, log))
    code = (
        "import boto3\n"
        "ecr = boto3.client('ecr', region_name='eu-north-1')\n"
        "try:\n"
        "    ecr.create_repository(repositoryName='app')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc.response['Error']['Code'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**aws.env(), **variables, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == "ClientError AccessDeniedException"
    assert [d.action for d in policy.denials(log)] == ["ecr:CreateRepository"]
