"""The one strict base of every settings model, the stacks' common settings, shared value types."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# Environment names double as cost-allocation tag values and name parts: short, lowercase.
EnvironmentName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,15}$")]

# The only values CloudWatch Logs accepts for RetentionInDays.
RetentionDays = Literal[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
]  # fmt: skip

# The project's name, Sceptre's project_code: the prefix of every stack name and of the names
# derived from them (IAM roles, the metric namespace, the default ECR repository). Lowercase
# because ECR repository names must be; at most 32 characters so the longest derived name, the
# on-call role `<project>-<environment>-incident`, stays within IAM's 64 for a role name
# (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html).
ProjectCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,31}$")]

# The project of each stack module's EVERY_FEATURE settings, which only say which resource types a
# stack may create (stacks/cloudformation_roles.py): no name built from it is deployed.
EVERY_FEATURE_PROJECT = "every-feature"

AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]

# Who is told (alarms, budget alerts): one address, checked for shape only.
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")]
Percent = Annotated[float, Field(gt=0, le=100)]


class StrictModel(BaseModel):
    """The base of every settings model and of each block nested in one.

    Strict: an unknown key is an error (the usual cause is a typo, and a misspelt key that was
    silently ignored would deploy the default instead), which ``stacks.common.errors`` reports
    with the accepted keys. Immutable: a stack's ``build`` reads its settings, never changes them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


class StackSettings(StrictModel):
    """Common to all stacks: the project's and environment's names, what happens to data on
    deletion."""

    project: ProjectCode = Field(
        description="The project's name: Sceptre's `project_code`, which config/config.yaml "
        "passes to every stack (`sceptre_user_data: project: !stack_attr project_code`), so it is "
        "set there once. It prefixes the stack names the IAM policies match, the role names, the "
        "metric namespace `<project>/<environment>`, the template descriptions and the default "
        "ECR repository name: 2-32 characters, lowercase letters, digits and `-`, a letter first."
    )
    environment: EnvironmentName = Field(
        description="The environment's name (`dev`, `prod`, `shared`, ...). It goes into names "
        "(the template descriptions, the metric namespace `<project>/<environment>`, the ALB "
        "access-log prefix) and is the value of the cost-allocation tag the budget filters on: "
        "hence 2-16 characters, lowercase letters, digits and `-`, a letter first."
    )
    retain: bool = Field(
        False,
        description="Keep the data when the stack or the resource goes away: `true` gives the ECR "
        "repository, log groups, KMS keys, the app's secret and the buckets the Retain deletion "
        "and update-replace policies. Off by default, for environments that are thrown away.",
    )
    deletion_protection: bool = Field(
        False,
        description="Refuse deletion by accident: CloudFormation termination protection on the "
        "stack (set after each launch by the `!termination_protection` hook, which follows this "
        "value both ways) and, where a resource has its own switch (the ALB), that too. Off by "
        "default so dev and local can be destroyed; to delete a protected stack, set it false, "
        "deploy, then destroy.",
    )
