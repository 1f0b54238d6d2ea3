"""Are there AWS credentials, and do they work against the configured endpoint?"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from delivery import aws_errors
from delivery.errors import DeliveryError

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient


def check(region: str, sts: STSClient | None = None) -> str:
    """The caller's account id; a one-line DeliveryError when credentials are missing/rejected."""
    session = boto3.Session(region_name=region)
    if session.get_credentials() is None:
        raise DeliveryError(
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            "(or use --env local for the emulator)"
        )
    try:
        identity = (sts or session.client("sts")).get_caller_identity()
    except ClientError as exc:
        raise DeliveryError(
            f"AWS rejected the credentials ({aws_errors.reason(exc)}): refresh them and retry"
        ) from exc
    except BotoCoreError as exc:
        raise DeliveryError(f"AWS could not be reached to check the credentials: {exc}") from exc
    return str(identity["Account"])
