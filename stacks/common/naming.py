"""Names the stacks of one account share: Sceptre's stack names and the roles derived from them.

Sceptre names a stack ``<project_code>-<group>-<stack>`` (config/config.yaml sets project_code);
IAM policies that reach another stack's resources match those names, so they are built here only.
"""

from __future__ import annotations

from troposphere import Sub

PROJECT = "flask-fargate"
# The account's shared registry (config/shared/registry.yaml): the one every environment's service
# stack pulls from.
REGISTRY_PATH = "shared/registry"
# The account's CloudFormation service roles, one per environment (stacks/cloudformation_roles.py).
CLOUDFORMATION_ROLES_PATH = "shared/cloudformation-roles"
# The account's pipeline (config/shared/pipeline.yaml); CloudFormation names the pipeline itself
# after this stack (``<stack name>-Pipeline-<suffix>``).
PIPELINE_PATH = "shared/pipeline"
# The on-call's roles, one read-only and one incident role per environment (stacks/oncall_roles.py).
ONCALL_ROLES_PATH = "shared/oncall-roles"


def stack_name(path: str) -> str:
    """Sceptre's CloudFormation name of the stack at ``path`` (``prod/service``)."""
    return f"{PROJECT}-{path.replace('/', '-')}"


def stack_arn(path: str, region: str = "${AWS::Region}") -> Sub:
    """The ARN pattern of the stack at ``path`` (any stack id: it changes on re-creation).

    ``path`` may end in ``*`` (``dev/*``: every stack of dev); ``region`` may be ``*`` for
    environments whose stacks live in several regions (a budget stack in us-east-1).
    """
    return Sub(
        f"arn:${{AWS::Partition}}:cloudformation:{region}:${{AWS::AccountId}}:"
        f"stack/{stack_name(path)}/*"
    )


# CloudFormation service roles live under their own IAM path: no pattern that matches the roles an
# environment's stacks create (``role/<project>-<env>-*``) can match them, so a CloudFormation role
# may manage its environment's roles but never itself.
CLOUDFORMATION_ROLE_PATH = "/cloudformation/"


def cloudformation_role_name(environment: str) -> str:
    """The name of the CloudFormation service role that acts on ``environment``'s stacks."""
    return f"{PROJECT}-{environment}"


def cloudformation_role_arn(environment: str) -> Sub:
    """The ARN of ``environment``'s CloudFormation service role (same account)."""
    return Sub(
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role"
        + CLOUDFORMATION_ROLE_PATH
        + cloudformation_role_name(environment)
    )


def environment_role_arns(environment: str) -> Sub:
    """Every IAM role CloudFormation creates in ``environment``'s stacks.

    CloudFormation names a role it creates ``<stack name>-<logical id>-<suffix>``, so they all
    start with the environment's stack-name prefix.
    """
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{stack_name(environment)}-*")


def deploy_stage(environment: str) -> str:
    """The pipeline's stage that deploys ``environment`` (``DeployProd``)."""
    return f"Deploy{environment.capitalize()}"


# The on-call's roles live under their own IAM path, like the CloudFormation roles: no
# environment's CloudFormation role (``role/<project>-<env>-*``) can change them.
ONCALL_ROLE_PATH = "/oncall/"


def oncall_role_name(environment: str, kind: str) -> str:
    """The on-call's ``kind`` role (``readonly``, ``incident``) of ``environment``."""
    return f"{PROJECT}-{environment}-{kind}"
