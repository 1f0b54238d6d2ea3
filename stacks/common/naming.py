"""Names the stacks of one account share: Sceptre's stack names and the roles derived from them.

Sceptre names a stack ``<project_code>-<group>-<stack>`` (config/config.yaml sets project_code);
IAM policies that reach another stack's resources match those names, so they are built here only.
``project`` is that project_code, as every stack's settings carry it (``StackSettings.project``):
no name here is a constant, so renaming the project is one edit of config/config.yaml.
"""

from __future__ import annotations

from troposphere import Sub

# The account's stacks (config/shared/), an administrator's: not an environment's.
SHARED = "shared"
# The account's shared registry (config/shared/registry.yaml): the one every environment's service
# stack pulls from.
REGISTRY_PATH = f"{SHARED}/registry"
# The account's CloudFormation service roles, one per environment (stacks/cloudformation_roles.py).
CLOUDFORMATION_ROLES_PATH = "shared/cloudformation-roles"
# The account's pipeline (config/shared/pipeline.yaml); CloudFormation names the pipeline itself
# after this stack (``<stack name>-Pipeline-<suffix>``).
PIPELINE_PATH = "shared/pipeline"
# The on-call's roles, one read-only and one incident role per environment (stacks/oncall_roles.py).
ONCALL_ROLES_PATH = "shared/oncall-roles"


def stack_name(project: str, path: str) -> str:
    """Sceptre's CloudFormation name of ``project``'s stack at ``path`` (``prod/service``)."""
    return f"{project}-{path.replace('/', '-')}"


def repository_name(project: str, environment: str) -> str:
    """The default name of the ECR repository of ``environment``'s registry stack.

    The account's shared registry holds ``<project>``; an environment with a registry of its own
    (``local``, on the emulator, in the same account) ``<project>-<environment>``, so the two
    never collide.
    """
    return project if environment == SHARED else f"{project}-{environment}"


def stack_arn(project: str, path: str, region: str = "${AWS::Region}") -> Sub:
    """The ARN pattern of ``project``'s stack at ``path`` (any stack id: it changes on re-creation).

    ``path`` may end in ``*`` (``dev/*``: every stack of dev); ``region`` may be ``*`` for
    environments whose stacks live in several regions (a budget stack in us-east-1).
    """
    return Sub(
        f"arn:${{AWS::Partition}}:cloudformation:{region}:${{AWS::AccountId}}:"
        f"stack/{stack_name(project, path)}/*"
    )


# CloudFormation service roles live under their own IAM path: no pattern that matches the roles an
# environment's stacks create (``role/<project>-<env>-*``) can match them, so a CloudFormation role
# may manage its environment's roles but never itself.
CLOUDFORMATION_ROLE_PATH = "/cloudformation/"


def cloudformation_role_name(project: str, environment: str) -> str:
    """The name of the CloudFormation service role that acts on ``environment``'s stacks."""
    return f"{project}-{environment}"


def cloudformation_role_arn(project: str, environment: str) -> Sub:
    """The ARN of ``environment``'s CloudFormation service role (same account)."""
    return Sub(
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role"
        + CLOUDFORMATION_ROLE_PATH
        + cloudformation_role_name(project, environment)
    )


def environment_role_arns(project: str, environment: str) -> Sub:
    """Every IAM role CloudFormation creates in ``environment``'s stacks.

    CloudFormation names a role it creates ``<stack name>-<logical id>-<suffix>``, so they all
    start with the environment's stack-name prefix.
    """
    prefix = stack_name(project, environment)
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{prefix}-*")


def deploy_stage(environment: str) -> str:
    """The pipeline's stage that deploys ``environment`` (``DeployProd``)."""
    return f"Deploy{environment.capitalize()}"


# The on-call's roles live under their own IAM path, like the CloudFormation roles: no
# environment's CloudFormation role (``role/<project>-<env>-*``) can change them.
ONCALL_ROLE_PATH = "/oncall/"


def oncall_role_name(project: str, environment: str, kind: str) -> str:
    """The on-call's ``kind`` role (``readonly``, ``incident``) of ``environment``."""
    return f"{project}-{environment}-{kind}"
