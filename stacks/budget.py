"""The budget stack: the environment's monthly cost budget and the encrypted topic it alerts.

``AWS::Budgets::Budget`` exists in CloudFormation only in us-east-1 (cfn-lint E3006 in any other
region; https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/2177), so the
budget is a stack of its own that config/<env>/budget.yaml deploys to us-east-1 (Sceptre's
per-stack ``region``), whatever region the environment's other stacks live in.

Alerts go to a topic of this stack, in us-east-1 as well. AWS documents that a budget's SNS topic
must be in the budget's account and says nothing about other regions
(https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html), so the
monitoring stack's alarm topic (in the service's region) is not relied on.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from troposphere import Ref, Template, budgets

from stacks.common.kms import BUDGETS
from stacks.common.settings import EVERY_FEATURE_PROJECT, Email, Percent, StackSettings
from stacks.common.template import add_output, new_template
from stacks.common.topic import encrypted_topic

__all__ = ["STACK", "Settings", "build"]

STACK = "budget"
# Besides ``budget_alert_percent`` of actual spend: when the month's forecast exceeds the budget.
FORECAST_ALERT_PERCENT = 100.0


class Settings(StackSettings):
    """What the budget stack accepts in ``sceptre_user_data``."""

    alert_email: Email | None = Field(
        None,
        description="The address subscribed to the budget's topic (AWS mails a confirmation "
        "first); none by default: the topic has no subscriber.",
    )
    monthly_budget_usd: Annotated[float, Field(gt=0, le=1_000_000)] = Field(
        100.0,
        description="The environment's monthly cost budget in USD, over the resources that "
        "carry its cost tag; default 100. At most 1,000,000, a guard against "
        "a typo.",
    )
    budget_alert_percent: Percent = Field(
        80.0,
        description="Actual spend, in percent of the budget, that sends an alert; default 80. "
        f"A forecast above {FORECAST_ALERT_PERCENT:g} % alerts as well.",
    )
    cost_tag_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:/=+@-]{1,128}$")] = Field(
        "Environment",
        description="The cost-allocation tag that tells environments apart (Sceptre's stack tag, "
        "which CloudFormation puts on every taggable resource); its value is `environment`. A tag "
        "key by AWS's rules: 1-128 characters.",
    )


# Every optional feature on: what CloudFormation may be asked to create for this stack in any
# environment (stacks/cloudformation_roles.py derives the environment's permissions from it).
EVERY_FEATURE = Settings(
    project=EVERY_FEATURE_PROJECT, environment="every-feature", alert_email="alerts@example.com"
)


def _budget(template: Template, settings: Settings, topic: Ref) -> budgets.Budget:
    """Monthly cost budget of this environment (its cost tag): actual and forecast thresholds."""
    subscribers = [budgets.Subscriber(SubscriptionType="SNS", Address=topic)]
    notifications = [
        budgets.NotificationWithSubscribers(
            Notification=budgets.Notification(
                NotificationType=kind,
                ComparisonOperator="GREATER_THAN",
                Threshold=threshold,
                ThresholdType="PERCENTAGE",
            ),
            Subscribers=subscribers,
        )
        for kind, threshold in (
            ("ACTUAL", settings.budget_alert_percent),
            ("FORECASTED", FORECAST_ALERT_PERCENT),
        )
    ]
    return template.add_resource(
        budgets.Budget(
            "CostBudget",
            Budget=budgets.BudgetData(
                BudgetType="COST",
                TimeUnit="MONTHLY",
                BudgetLimit=budgets.Spend(Amount=settings.monthly_budget_usd, Unit="USD"),
                # Cost-allocation tag filter: "user:<key>$<value>".
                CostFilters={
                    "TagKeyValue": [f"user:{settings.cost_tag_key}${settings.environment}"]
                },
            ),
            NotificationsWithSubscribers=notifications,
        )
    )


def build(settings: Settings) -> Template:
    """The budget template for ``settings``."""
    template = new_template(
        settings.project, f"{settings.environment} budget: monthly cost budget and its alerts"
    )
    topic = encrypted_topic(template, "BudgetTopic", [BUDGETS], email=settings.alert_email)
    _budget(template, settings, Ref(topic))
    add_output(template, "BudgetTopicArn", Ref(topic), "where budget alerts are sent")
    return template
