"""Credentials: missing ones and rejected ones are one line (sts stubbed with Stubber)."""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from delivery import credentials
from delivery.emulator import environment
from delivery.errors import DeliveryError

FAKE = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


@pytest.fixture
def sts() -> Any:
    return boto3.client(
        "sts",
        region_name="eu-north-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106
    )


def test_valid_credentials_give_the_account(sts: Any) -> None:
    with environment(FAKE), Stubber(sts) as stub:
        stub.add_response(
            "get_caller_identity",
            {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/x", "UserId": "X"},
        )
        assert credentials.check("eu-north-1", sts) == "123456789012"


def test_rejected_credentials_are_one_line(sts: Any) -> None:
    with environment(FAKE), Stubber(sts) as stub:
        stub.add_client_error(
            "get_caller_identity",
            "ExpiredToken",
            "The security token included in the request is expired",
        )
        with pytest.raises(DeliveryError) as info:
            credentials.check("eu-north-1", sts)
    assert str(info.value).startswith("AWS rejected the credentials (ExpiredToken: ")


def test_no_credentials_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    with pytest.raises(DeliveryError, match="no AWS credentials found"):
        credentials.check("eu-north-1")
