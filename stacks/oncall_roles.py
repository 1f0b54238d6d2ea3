"""The on-call's roles, per environment: a read-only role and an incident role.

- ``<Env>ReadOnlyRole`` (``/oncall/<project>-<env>-readonly``): what ``invoke status`` and
  ``invoke logs`` read (``stacks.common.access.reads``); it changes nothing.
- ``<Env>IncidentRole`` (``/oncall/<project>-<env>-incident``): the reads, plus what
  ``invoke rollback`` does (the deploy's own grant, ``stacks.common.access.deploys``: update the
  environment's stacks through its CloudFormation role only), stopping the ECS deployment in
  progress, and closing or reopening the pipeline's promotion into the environment
  (``invoke pipeline-pause``/``pipeline-resume``).

Why an administrator's shared stack (``invoke bootstrap``), not an environment's: a role that may
update stacks must not be creatable by a deploy. An environment's CloudFormation role may manage
the IAM roles named ``<project>-<env>-*`` (its stacks' own); were these roles in the
environment's stacks, any commit reaching the pipeline could widen the incident role, or create
another role trusted by anyone, that updates stacks. Here they live under their own IAM path
(``/oncall/``), which no CloudFormation role's pattern matches, in a stack only an administrator
changes, like the CloudFormation roles (``stacks/cloudformation_roles.py``).

Who may assume them: principals of this account (the account root as principal, so the
account's own IAM policies decide which users or roles may), and, by default, only with MFA:
``aws:MultiFactorAuthPresent`` is true for temporary credentials obtained with MFA
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html).
Accounts whose people sign in through IAM Identity Center enforce MFA there; its sessions do
not carry the key, so those turn ``require_mfa`` off. A session lasts ``max_session_hours`` (4 by
default: an incident's length without signing in again) when assumed with a person's own
credentials; AWS caps a session assumed from another role's session at one hour
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html, "role
chaining").
"""

from __future__ import annotations

from typing import Annotated

from awacs.aws import Allow, Bool, Condition, Policy, Principal, Statement
from awacs.sts import AssumeRole
from pydantic import Field
from troposphere import GetAtt, Parameter, Ref, Sub, Template, iam

from stacks.common import access
from stacks.common import iam as policy
from stacks.common.naming import ONCALL_ROLE_PATH, deploy_stage, oncall_role_name
from stacks.common.settings import EnvironmentName, StackSettings
from stacks.common.template import add_output, new_template

__all__ = ["STACK", "Settings", "build"]

STACK = "oncall-roles"
READ_ONLY, INCIDENT = "readonly", "incident"
HOUR_S = 3600


class Settings(StackSettings):
    """What the on-call roles stack accepts in ``sceptre_user_data``."""

    environments: Annotated[list[EnvironmentName], Field(min_length=1)] = Field(
        description="The environments whose on-call gets a read-only and an incident role "
        "(`/oncall/<project>-<env>-readonly`, `-incident`); at least one."
    )
    require_mfa: bool = Field(
        True,
        description="Assuming a role needs credentials obtained with MFA "
        "(`aws:MultiFactorAuthPresent`). Turn it off where people sign in through IAM Identity "
        "Center, which enforces MFA itself and whose sessions do not carry the key.",
    )
    max_session_hours: Annotated[int, Field(ge=1, le=12)] = Field(
        4,
        description="How long a session of either role lasts, in hours: long enough for an "
        "incident without signing in again, short enough that a forgotten terminal expires. "
        "IAM allows 1 to 12.",
    )


def _trust(settings: Settings) -> Policy:
    """Principals of this account; with MFA when the settings ask for it."""
    statement = Statement(
        Effect=Allow,
        Principal=Principal("AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")]),
        Action=[AssumeRole],
    )
    if settings.require_mfa:
        statement.Condition = Condition(Bool({"aws:MultiFactorAuthPresent": "true"}))
    return policy.document([statement])


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _role(
    template: Template,
    settings: Settings,
    environment: str,
    kind: str,
    statements: list[Statement],
) -> iam.Role:
    title = _title(environment) + ("ReadOnly" if kind == READ_ONLY else "Incident")
    return template.add_resource(
        iam.Role(
            f"{title}Role",
            RoleName=oncall_role_name(settings.project, environment, kind),
            Path=ONCALL_ROLE_PATH,
            Description=f"the on-call's {kind} role for {environment}",
            AssumeRolePolicyDocument=_trust(settings),
            MaxSessionDuration=settings.max_session_hours * HOUR_S,
            Policies=[policy.inline_policy(f"{title}Policy", statements)],
        )
    )


def build(settings: Settings) -> Template:
    """The on-call roles template for ``settings``."""
    template = new_template(
        settings.project,
        f"{settings.environment} on-call roles: " + ", ".join(settings.environments),
    )
    repository_arn = Ref(
        template.add_parameter(
            Parameter("RepositoryArn", Type="String", Description="registry: RepositoryArn")
        )
    )
    for environment in settings.environments:
        reads = access.reads(settings.project, environment, repository_arn)
        read_only = _role(template, settings, environment, READ_ONLY, reads)
        incident = _role(
            template,
            settings,
            environment,
            INCIDENT,
            [
                *reads,
                *access.deploys(settings.project, environment, repository_arn),
                access.stops_deployments(settings.project, environment),
                access.pauses_promotion(settings.project, deploy_stage(environment)),
            ],
        )
        for role, kind in ((read_only, "read-only"), (incident, "incident")):
            add_output(
                template,
                role.title + "Arn",
                GetAtt(role, "Arn"),
                f"the on-call's {kind} role for {environment}",
            )
    return template
