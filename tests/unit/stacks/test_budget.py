"""The cost budget lives in its own stack, deployed to us-east-1 (the only region with the type)."""

from __future__ import annotations

import pytest

from delivery.render import stack_configs
from tests.support.cfn import Template, one, resources

Rendered = dict[str, dict[str, Template]]
ENVS = ("local", "dev", "prod")


@pytest.mark.parametrize("env", ENVS)
def test_each_environment_deploys_its_budget_to_us_east_1(env: str) -> None:
    regions = {stack.name: stack.region for stack in stack_configs(environments=[env])}
    assert regions["budget"] == "us-east-1"
    assert {region for name, region in regions.items() if name != "budget"} == {"eu-north-1"}


@pytest.mark.parametrize("env", ENVS)
def test_no_budget_outside_the_budget_stack(rendered: Rendered, env: str) -> None:
    for stack, template in rendered[env].items():
        if stack != "budget":
            assert not resources(template, "AWS::Budgets::Budget"), stack


@pytest.mark.parametrize(("env", "limit"), [("local", 1), ("dev", 150), ("prod", 600)])
def test_budget_filters_the_environment_and_alerts_its_own_topic(
    rendered: Rendered, env: str, limit: float
) -> None:
    template = rendered[env]["budget"]
    budget = one(template, "AWS::Budgets::Budget")["Properties"]
    assert budget["Budget"]["BudgetLimit"] == {"Amount": limit, "Unit": "USD"}
    assert budget["Budget"]["CostFilters"] == {"TagKeyValue": [f"user:Environment${env}"]}
    notifications = {
        n["Notification"]["NotificationType"]: n for n in budget["NotificationsWithSubscribers"]
    }
    assert notifications["ACTUAL"]["Notification"]["Threshold"] == 80.0
    assert notifications["FORECASTED"]["Notification"]["Threshold"] == 100.0
    for notification in notifications.values():
        assert notification["Subscribers"] == [
            {"Address": {"Ref": "BudgetTopic"}, "SubscriptionType": "SNS"}
        ]
    topic = one(template, "AWS::SNS::Topic")["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": ["BudgetTopicKey", "Arn"]}
    assert template["Outputs"]["BudgetTopicArn"]["Value"] == {"Ref": "BudgetTopic"}


def test_alert_email_subscribes_to_the_budget_topic(rendered: Rendered) -> None:
    prod = rendered["prod"]["budget"]
    email = one(prod, "AWS::SNS::Subscription")["Properties"]
    assert email == {
        "Endpoint": "platform-oncall@example.com",
        "Protocol": "email",
        "TopicArn": {"Ref": "BudgetTopic"},
    }
    assert not resources(rendered["local"]["budget"], "AWS::SNS::Subscription")


def test_budgets_publish_to_the_topic_for_this_account_only(rendered: Rendered) -> None:
    template = rendered["prod"]["budget"]
    policy = one(template, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": ["budgets.amazonaws.com"]}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }
