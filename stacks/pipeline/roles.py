"""Least-privilege roles of the pipeline, its build project and its deploy projects.

Every action is listed; Resource "*" only where AWS has no resource type for the action
(``stacks.common.iam.STAR_RESOURCE_ACTIONS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from awacs.aws import Statement as AwacsStatement
from awacs.aws import StringEquals
from troposphere import GetAtt, Join, Ref, Sub, Template, iam

from stacks.common import iam as policy
from stacks.common.naming import REGISTRY_PATH, cloudformation_role_arn, stack_arn, stack_name

# What ``invoke push`` does to the one repository: docker/podman push (layer upload, manifest),
# pull of the layer cache, and describe-images (the cache lookup in buildspec.yml, the digest, and
# whether a tag already holds it: a re-run pushes nothing).
# No DescribeImageScanFindings: the scan that gates a push is Trivy's, run in the build.
ECR_PUSH = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
)
# What a deploy reads of its environment's stacks (Sceptre's launch and wait, `invoke diff`'s
# change sets, `invoke status`, the live target group through the production listener rule).
CLOUDFORMATION_READ = (
    "cloudformation:DeleteChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStackResource",
    "cloudformation:DescribeStackResources",
    "cloudformation:DescribeStacks",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:GetTemplate",
    "cloudformation:GetTemplateSummary",
    "cloudformation:ListStackResources",
)
# What changes a stack: allowed only through the environment's CloudFormation service role
# (the `cloudformation:RoleArn` condition key; ExecuteChangeSet has none, but a change set runs
# with the role it was created with). CloudFormation then acts with that role's rights, never
# with the deploy role's.
CLOUDFORMATION_CHANGE = (
    "cloudformation:ContinueUpdateRollback",
    "cloudformation:CreateChangeSet",
    "cloudformation:CreateStack",
    "cloudformation:UpdateStack",
)


def _arn(service: str, resource: str) -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}")


def artifacts(bucket: Any, key: Any) -> list[AwacsStatement]:
    """Read and write pipeline artifacts (S3 objects under the bucket, with its KMS key)."""
    return [
        policy.allow(
            ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            [Join("", [GetAtt(bucket, "Arn"), "/*"])],
        ),
        policy.allow(["s3:GetBucketLocation", "s3:GetBucketVersioning"], [GetAtt(bucket, "Arn")]),
        policy.allow(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], [GetAtt(key, "Arn")]),
    ]


def connection(connection_arn: Any) -> AwacsStatement:
    """Use the GitHub connection (both service prefixes: it was renamed CodeConnections)."""
    return policy.allow(
        ["codeconnections:UseConnection", "codestar-connections:UseConnection"], [connection_arn]
    )


def build_logs(group: Any) -> AwacsStatement:
    """Write the projects' CloudWatch logs."""
    return policy.allow(
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        [
            Sub(
                "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${G}:*",
                G=Ref(group),
            )
        ],
    )


def reports() -> AwacsStatement:
    """Publish JUnit/coverage reports (nox writes build/reports/*.xml) to report groups."""
    return policy.allow(
        [
            "codebuild:BatchPutCodeCoverages",
            "codebuild:BatchPutTestCases",
            "codebuild:CreateReport",
            "codebuild:CreateReportGroup",
            "codebuild:UpdateReport",
        ],
        [_arn("codebuild", "report-group/${AWS::StackName}-*")],
    )


def build_role(
    template: Template, common: Sequence[AwacsStatement], repository_arn: Any
) -> iam.Role:
    """The build project: test, scan, push the image to the one repository."""
    return template.add_resource(
        policy.role(
            "BuildRole",
            "codebuild.amazonaws.com",
            [
                *common,
                # docker login: the token is account-wide, ECR has no resource type for it.
                policy.allow(["ecr:GetAuthorizationToken"], ["*"]),
                policy.allow(list(ECR_PUSH), [repository_arn]),
                # invoke push reads the repository from the registry stack's outputs; it never
                # launches the stack (that is a platform change, not a build).
                policy.allow(["cloudformation:DescribeStacks"], [stack_arn(REGISTRY_PATH)]),
            ],
        )
    )


def deploy_role(
    template: Template,
    logical_id: str,
    environment: str,
    common: Sequence[AwacsStatement],
    repository_arn: Any,
    *,
    shared: Sequence[str] = (REGISTRY_PATH,),
) -> iam.Role:
    """A deploy project of one environment: update that environment's stacks, nothing else.

    ``invoke deploy`` launches the stacks of ``config/<environment>/`` (never the account's shared
    stacks: those are an administrator's, ``invoke bootstrap``) through the environment's
    CloudFormation service role, which holds what the resources need. This role itself may only
    ask CloudFormation to change the environment's stacks with that role, pass that role to
    CloudFormation, and read what a deploy checks: the image in the registry, the shared stacks'
    outputs (``shared``: Sceptre paths), the service's deployments and its live target group.
    Its environment's stacks may live in several regions (a budget in us-east-1), hence ``*``.
    """
    own = stack_arn(f"{environment}-*", region="*")
    service_role = cloudformation_role_arn(environment)
    return template.add_resource(
        policy.role(
            logical_id,
            "codebuild.amazonaws.com",
            [
                *common,
                policy.allow(list(CLOUDFORMATION_READ), [own]),
                policy.allow(
                    list(CLOUDFORMATION_CHANGE),
                    [own],
                    StringEquals({"cloudformation:RoleArn": [service_role]}),
                ),
                # The !termination_protection hook runs after each launch and follows the stack's
                # deletion_protection setting.
                policy.allow(["cloudformation:UpdateTerminationProtection"], [own]),
                policy.allow(
                    ["cloudformation:DescribeStacks"], [stack_arn(path) for path in shared]
                ),
                policy.allow(
                    ["iam:PassRole"],
                    [service_role],
                    StringEquals({"iam:PassedToService": "cloudformation.amazonaws.com"}),
                ),
                # Waiting for ECS: the service's deployments (rolling or blue/green).
                policy.allow(
                    ["ecs:DescribeServices", "ecs:ListServiceDeployments"],
                    [_arn("ecs", f"service/{stack_name(environment)}-service-*/*")],
                ),
                policy.allow(
                    ["ecs:DescribeServiceDeployments"],
                    [_arn("ecs", f"service-deployment/{stack_name(environment)}-service-*/*")],
                ),
                # The live target group: the production listener rule's forward weights.
                policy.allow(["elasticloadbalancing:DescribeRules"], ["*"]),
                # CloudFormation checks typed parameters (VPC and subnet ids) and resolves
                # Fn::GetAZs when a template arrives; AWS does not say whether with the caller's
                # credentials or the service role's, so both may (read-only, no resource types).
                policy.allow(
                    [
                        "ec2:DescribeAccountAttributes",
                        "ec2:DescribeAvailabilityZones",
                        "ec2:DescribeSubnets",
                        "ec2:DescribeVpcs",
                    ],
                    ["*"],
                ),
                # The image a deploy names must exist in the registry (delivery.registry); the
                # scan gate ran at build time (Trivy), so no DescribeImageScanFindings here.
                policy.allow(["ecr:BatchGetImage", "ecr:DescribeImages"], [repository_arn]),
            ],
        )
    )


def pipeline_role(
    template: Template,
    common: Sequence[AwacsStatement],
    projects: Sequence[Any],
    topic: Any,
) -> iam.Role:
    """The pipeline: start the projects, publish approval requests."""
    return template.add_resource(
        policy.role(
            "PipelineRole",
            "codepipeline.amazonaws.com",
            [
                *common,
                policy.allow(
                    ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
                    [GetAtt(project, "Arn") for project in projects],
                ),
                policy.allow(["sns:Publish"], [Ref(topic)]),
            ],
        )
    )
