"""An AWS failure reads the same in every message: who said no, and why, on one line."""

from __future__ import annotations

from botocore.exceptions import ClientError, EndpointConnectionError

from delivery import aws_errors


def refused(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "DescribeStacks")


def test_a_refused_call_reads_code_then_message_on_one_line() -> None:
    exc = refused("AccessDenied", "User: arn:aws:iam::1:role/x is not\n  authorized")
    assert aws_errors.reason(exc) == "AccessDenied: User: arn:aws:iam::1:role/x is not authorized"
    assert aws_errors.code(exc) == "AccessDenied"
    assert aws_errors.message(exc) == "User: arn:aws:iam::1:role/x is not authorized"


def test_a_call_that_never_went_names_its_kind() -> None:
    exc = EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    assert aws_errors.reason(exc) == (
        'EndpointConnectionError: Could not connect to the endpoint URL: "http://127.0.0.1:9"'
    )
    assert aws_errors.code(exc) is None


def test_a_refusal_without_code_or_message_still_says_something() -> None:
    assert aws_errors.reason(ClientError({"Error": {}}, "GetItem")) == "Error"
    assert aws_errors.reason(ClientError({"Error": {"Code": "Throttling"}}, "X")) == "Throttling"
