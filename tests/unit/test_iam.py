"""The tests' IAM judge follows AWS's policy evaluation for what the project's policies use."""

from __future__ import annotations

import pytest

from tests.support import iam

STACK = "arn:aws:cloudformation:eu-north-1:123456789012:stack/flask-fargate-dev-service/1"
ROLE = "arn:aws:iam::123456789012:role/cloudformation/flask-fargate-dev"
POLICY = iam.Evaluator(
    [
        {
            "Effect": "Allow",
            "Action": ["cloudformation:UpdateStack"],
            "Resource": ["arn:aws:cloudformation:*:123456789012:stack/flask-fargate-dev-*/*"],
            "Condition": {"StringEquals": {"cloudformation:RoleArn": [ROLE]}},
        },
        {"Effect": "Allow", "Action": "cloudformation:Describe*", "Resource": "*"},
        {"Effect": "Deny", "Action": "cloudformation:DescribeStacks", "Resource": STACK},
    ]
)


@pytest.mark.parametrize(
    ("request_", "allowed"),
    [
        (iam.Request("cloudformation:UpdateStack", STACK, {"cloudformation:RoleArn": ROLE}), True),
        # Another environment's stack: the resource pattern does not match.
        (
            iam.Request(
                "cloudformation:UpdateStack",
                STACK.replace("-dev-", "-prod-"),
                {"cloudformation:RoleArn": ROLE},
            ),
            False,
        ),
        # No service role passed: the condition key is absent, so StringEquals fails.
        (iam.Request("cloudformation:UpdateStack", STACK), False),
        (iam.Request("cloudformation:UpdateStack", STACK, {"cloudformation:RoleArn": "x"}), False),
        (iam.Request("CloudFormation:describestackevents", STACK), True),  # case-insensitive
        (iam.Request("cloudformation:DescribeStacks", STACK), False),  # the Deny wins
        (iam.Request("cloudformation:DeleteStack", STACK), False),  # nothing allows it
    ],
)
def test_policy_evaluation(request_: iam.Request, allowed: bool) -> None:
    assert POLICY.allows(request_) is allowed


def test_a_call_becomes_its_requests_and_passing_a_role_is_one() -> None:
    call = iam.Call(
        "cloudformation:UpdateStack",
        "eu-north-1",
        {"StackName": "flask-fargate-dev-service", "RoleARN": ROLE},
    )
    assert [str(r) for r in iam.requests(call)] == [
        "cloudformation:UpdateStack on arn:aws:cloudformation:eu-north-1:123456789012:stack/"
        "flask-fargate-dev-service/00000000-0000-0000-0000-000000000000 "
        f"(cloudformation:RoleArn={ROLE})",
        f"iam:PassRole on {ROLE} (iam:PassedToService=cloudformation.amazonaws.com)",
    ]
    with pytest.raises(ValueError, match="no resource mapping for sqs:SendMessage"):
        list(iam.requests(iam.Call("sqs:SendMessage", "eu-north-1", {})))


def test_intrinsics_resolve_to_the_emulators_account() -> None:
    value = {
        "Fn::Sub": [
            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${G}:*",
            {"G": {"Ref": "Group"}},
        ]
    }
    names = {"AWS::Region": "eu-north-1", "Group": "build"}
    assert iam.resolve(value, names) == "arn:aws:logs:eu-north-1:123456789012:log-group:build:*"
    joined = {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]}
    assert iam.resolve(joined, {"Bucket.Arn": "arn:aws:s3:::b"}) == "arn:aws:s3:::b/*"
    with pytest.raises(KeyError):
        iam.resolve({"Ref": "Unknown"}, {})
