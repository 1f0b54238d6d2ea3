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
from stacks.common.settings import Email, Percent, StackSettings
from stacks.common.template import add_output, new_template
from stacks.common.topic import encrypted_topic

__all__ = ["STACK", "Settings", "build"]

STACK = "budget"
# Besides ``budget_alert_percent`` of actual spend: when the month's forecast exceeds the budget.
FORECAST_ALERT_PERCENT = 100.0


class Settings(StackSettings):
    """What the budget stack accepts in ``sceptre_user_data``."""

    # Subscribed to the budget's topic (AWS sends a confirmation mail first).
    alert_email: Email | None = None
    monthly_budget_usd: Annotated[float, Field(gt=0, le=1_000_000)] = 100.0
    budget_alert_percent: Percent = 80.0
    # The cost-allocation tag that tells environments apart (Sceptre's stack tag).
    cost_tag_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:/=+@-]{1,128}$")] = "Environment"


# Every optional feature on: what CloudFormation may be asked to create for this stack in any
# environment (stacks/cloudformation_roles.py derives the environment's permissions from it).
EVERY_FEATURE = Settings(environment="every-feature", alert_email="alerts@example.com")


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
    template = new_template(f"{settings.environment} budget: monthly cost budget and its alerts")
    topic = encrypted_topic(template, "BudgetTopic", [BUDGETS], email=settings.alert_email)
    _budget(template, settings, Ref(topic))
    add_output(template, "BudgetTopicArn", Ref(topic), "where budget alerts are sent")
    return template
