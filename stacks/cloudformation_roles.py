"""The CloudFormation service role of each environment, generated from AWS's provider schemas.

CloudFormation acts on an environment's stacks with that environment's role, never with the
caller's credentials: a deploy (a person's or the pipeline's) needs only the right to update the
environment's stacks and to pass this role, and a failed update rolls back with the same rights it
was made with (no ``UPDATE_ROLLBACK_FAILED`` for want of a permission).

What the role may do is generated, not listed by hand: every resource type the environment's stack
modules can create (each module's ``EVERY_FEATURE`` settings, so turning a feature on in config
needs no new permission), and for each type the permissions its provider schema lists for the
create, read, update and delete handlers (``stacks.common.provider_schemas``), in every region the
account deploys to. IAM actions are confined to the roles of the environment's own stacks; the
rest cannot be narrowed in general (CloudFormation names the resources when it creates them), so
the blast radius of a role is its environment: see docs/ARCHITECTURE.md, "Who may change what".

This stack is the account's security boundary: an administrator launches it (never a pipeline
role), like the registry.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Sequence
from functools import cache
from types import ModuleType
from typing import Annotated, Any

from awacs.aws import Allow, Policy, Statement
from pydantic import Field, field_validator
from troposphere import GetAtt, Ref, Sub, Template, encode_to_dict, iam

from stacks.common import iam as policy
from stacks.common.naming import (
    CLOUDFORMATION_ROLE_PATH,
    cloudformation_role_name,
    environment_role_arns,
)
from stacks.common.provider_schemas import permissions, template_permissions
from stacks.common.settings import EnvironmentName, StackSettings, StrictModel
from stacks.common.template import add_output, new_template, skip_checks

__all__ = ["STACK", "Settings", "build", "environment_actions", "resource_types"]

STACK = "cloudformation-roles"
SERVICE = "cloudformation.amazonaws.com"
# IAM counts a managed policy's characters without whitespace: 6,144 at most. Statements are packed
# into policies below this budget, which leaves room for the intrinsic functions' resolved ARNs.
POLICY_BUDGET = 5_600
# A role holds at most 10 managed policies by default (an IAM quota).
MAX_POLICIES = 10
# Service-linked roles: created once per account by AWS services (ECS, ELB, autoscaling) when a
# resource first needs one; their path is fixed by AWS.
SERVICE_LINKED_ROLES = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/*"
UNSCOPED_REASON = (
    "generated from the provider schemas of the environment's resource types: CloudFormation "
    "needs these actions on resources it names itself as it creates them, so no ARN exists to "
    "scope by; only CloudFormation can assume the role and only the environment's deploy role "
    "may pass it (docs/ARCHITECTURE.md, 'Who may change what')"
)
# checkov's IAM checks that flag actions on Resource "*"; each is answered by UNSCOPED_REASON.
UNSCOPED_CHECKS = ("CKV_AWS_107", "CKV_AWS_108", "CKV_AWS_109", "CKV_AWS_110", "CKV_AWS_111")

# A region name as AWS spells it (eu-north-1, us-gov-west-1).
Region = Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]


class EnvironmentStacks(StrictModel):
    """One environment and the stack modules (``stacks.<name>``) its config folder launches."""

    name: EnvironmentName = Field(
        description="The environment (its folder under config/) whose stacks the role acts on; "
        "the role is `/cloudformation/<project>-<name>`."
    )
    stacks: Annotated[list[str], Field(min_length=1)] = Field(
        description="The stack modules (`stacks.<name>`: network, service, ...) the "
        "environment's config folder launches. The role's permissions are generated from each "
        "module's EVERY_FEATURE settings, so turning a feature on in config needs no new "
        "permission."
    )

    @field_validator("stacks")
    @classmethod
    def _deployable(cls, names: list[str]) -> list[str]:
        for name in names:
            module = _module(name)
            if module is None or not hasattr(module, "EVERY_FEATURE"):
                raise ValueError(
                    f"'{name}' is not a stack module with EVERY_FEATURE settings "
                    "(stacks/<name>: network, registry, service, monitoring, budget)"
                )
        return names


class Settings(StackSettings):
    """What the CloudFormation roles stack accepts in ``sceptre_user_data``."""

    regions: Annotated[list[Region], Field(min_length=1)] = Field(
        description="Every region a stack of these environments is deployed to, Sceptre's "
        "per-stack `region` included (the budget's us-east-1): each resource type's permissions "
        "are read from its provider schema in each, and the type must exist in one of them."
    )
    environments: Annotated[list[EnvironmentStacks], Field(min_length=1)] = Field(
        description="The environments that get a CloudFormation service role, and the stacks "
        "each launches; at least one."
    )


def _module(name: str) -> ModuleType | None:
    if not name.isidentifier():
        return None
    try:
        return importlib.import_module(f"stacks.{name}")
    except ModuleNotFoundError:
        return None


@cache
def _every_feature(stack: str) -> dict[str, Any]:
    """Stack module ``stack``'s template with all its features turned on, as a dict."""
    module = _module(stack)
    if module is None:
        raise ValueError(f"no stack module stacks.{stack}")
    template: dict[str, Any] = module.build(module.EVERY_FEATURE).to_dict()
    return template


def resource_types(stack: str) -> frozenset[str]:
    """Every resource type stack module ``stack`` creates with all its features turned on."""
    resources = _every_feature(stack).get("Resources", {})
    return frozenset(str(resource["Type"]) for resource in resources.values())


def environment_actions(stacks: Iterable[str], regions: Sequence[str]) -> frozenset[str]:
    """The IAM actions CloudFormation needs to create, update and delete ``stacks``' resources,
    and to process their templates (Fn::GetAZs, AWS-specific parameter types)."""
    stacks = list(stacks)
    types = set().union(*(resource_types(stack) for stack in stacks))
    handlers = frozenset().union(*(permissions(kind, regions) for kind in sorted(types)))
    return handlers.union(*(template_permissions(_every_feature(stack)) for stack in stacks))


def _scope(action: str) -> str:
    """Which resources ``action`` may touch: IAM only the environment's own roles, else any."""
    if action == "iam:CreateServiceLinkedRole":
        return "ServiceLinkedRoles"
    if action.startswith("iam:"):
        return "EnvironmentRoles"
    return "AnyResource"


def _resources(scope: str, project: str, environment: str) -> list[Any]:
    if scope == "ServiceLinkedRoles":
        return [Sub(SERVICE_LINKED_ROLES)]
    if scope == "EnvironmentRoles":
        return [environment_role_arns(project, environment)]
    return ["*"]


def _statements(actions: Iterable[str], project: str, environment: str) -> list[Statement]:
    """One statement per service prefix and scope, actions sorted (stable diffs)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for action in sorted(actions):
        groups.setdefault((action.split(":")[0], _scope(action)), []).append(action)
    return [
        Statement(
            Sid=_title(prefix) + scope,
            Effect=Allow,
            Action=[policy.action(a) for a in names],
            Resource=_resources(scope, project, environment),
        )
        for (prefix, scope), names in sorted(groups.items())
    ]


def _size(statement: Statement) -> int:
    """IAM's size of a statement: its JSON without whitespace, intrinsics as resolved ARNs."""
    return len(json.dumps(encode_to_dict(statement), separators=(",", ":")))


def pack(statements: Sequence[Statement], budget: int = POLICY_BUDGET) -> list[list[Statement]]:
    """Statements grouped into as few policy documents as the size budget allows, in order."""
    documents: list[list[Statement]] = [[]]
    used = 0
    for statement in statements:
        size = _size(statement)
        if size > budget:
            raise ValueError(f"statement {statement.Sid} alone exceeds {budget} characters")
        if used + size > budget and documents[-1]:
            documents.append([])
            used = 0
        documents[-1].append(statement)
        used += size
    return documents


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _role(template: Template, settings: Settings, environment: EnvironmentStacks) -> iam.Role:
    title = _title(environment.name)
    role = template.add_resource(
        iam.Role(
            f"{title}Role",
            RoleName=cloudformation_role_name(settings.project, environment.name),
            Path=CLOUDFORMATION_ROLE_PATH,
            Description=f"CloudFormation acts on the {environment.name} stacks with this role",
            # No aws:SourceAccount/SourceArn condition: AWS documents none for CloudFormation
            # service roles, and a condition on a key the service does not send denies it.
            AssumeRolePolicyDocument=policy.trust(SERVICE, source_account=False),
            MaxSessionDuration=3600,
        )
    )
    actions = environment_actions(environment.stacks, settings.regions)
    documents = pack(_statements(actions, settings.project, environment.name))
    if len(documents) > MAX_POLICIES:
        raise ValueError(
            f"{environment.name}: {len(documents)} managed policies needed, IAM allows "
            f"{MAX_POLICIES} per role"
        )
    for index, statements in enumerate(documents, start=1):
        managed = template.add_resource(
            iam.ManagedPolicy(
                f"{title}Policy{index}",
                Description=f"{environment.name} CloudFormation role, part {index}: provider "
                "schema permissions",
                Roles=[Ref(role)],
                PolicyDocument=Policy(Version="2012-10-17", Statement=statements),
            )
        )
        skip_checks(managed, dict.fromkeys(UNSCOPED_CHECKS, UNSCOPED_REASON))
    return role


def build(settings: Settings) -> Template:
    """The CloudFormation roles template for ``settings``."""
    template = new_template(
        settings.project,
        f"{settings.environment} CloudFormation service roles: "
        + ", ".join(environment.name for environment in settings.environments),
    )
    for environment in settings.environments:
        role = _role(template, settings, environment)
        add_output(
            template,
            f"{_title(environment.name)}RoleArn",
            GetAtt(role, "Arn"),
            f"CloudFormation acts on the {environment.name} stacks with this role",
        )
    return template
