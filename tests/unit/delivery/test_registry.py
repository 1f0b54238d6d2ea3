"""ECR error mapping the emulator cannot produce (immutable tags), with Stubber."""

from __future__ import annotations

import base64
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from delivery import registry
from delivery.errors import DeliveryError


@pytest.fixture
def ecr() -> Any:
    return boto3.client(
        "ecr",
        region_name="eu-north-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",  # noqa: S106
    )


def test_immutable_tag_on_another_image_is_one_line(ecr: Any) -> None:
    with Stubber(ecr) as stub:
        stub.add_client_error("put_image", "ImageTagAlreadyExistsException", "tag exists")
        with pytest.raises(DeliveryError, match=r"tag '1\.0\.0' already names another image"):
            registry.record_image("repo", "1.0.0", "{}", "application/json", ecr)


def test_login_decodes_the_token(ecr: Any) -> None:
    token = base64.b64encode(b"AWS:secret-password").decode()
    with Stubber(ecr) as stub:
        stub.add_response(
            "get_authorization_token",
            {"authorizationData": [{"authorizationToken": token, "proxyEndpoint": "https://x"}]},
            {},
        )
        assert registry.login("1.dkr.ecr.eu-north-1.amazonaws.com/app", ecr) == (
            "AWS",
            "secret-password",
            "1.dkr.ecr.eu-north-1.amazonaws.com",
        )


def test_login_denied_is_one_line(ecr: Any) -> None:
    with Stubber(ecr) as stub:
        stub.add_client_error("get_authorization_token", "AccessDeniedException", "no")
        with pytest.raises(DeliveryError, match="ECR login failed: AccessDeniedException"):
            registry.login("host/app", ecr)


def test_other_lookup_errors_are_one_line(ecr: Any) -> None:
    with Stubber(ecr) as stub:
        stub.add_client_error("describe_images", "ThrottlingException", "slow down")
        with pytest.raises(DeliveryError, match=r"ECR lookup of 'repo:1\.0\.0' failed"):
            registry.image_digest("repo", "1.0.0", ecr)
