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

PROJECT = "flask-fargate"
# The account's shared registry (config/shared/registry.yaml): Sceptre names stacks
# <project_code>-<group>-<stack>. Every environment's service stack depends on it.
REGISTRY_PATH = "shared/registry"
# What ``invoke push`` does to the one repository: docker/podman push (layer upload, manifest),
# pull of the layer cache, and describe-images (the cache lookup in buildspec.yml, the digest).
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
# What a service-stack update with a new image needs, through CloudFormation (caller's rights).
CLOUDFORMATION = (
    "cloudformation:CreateChangeSet",
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
    "cloudformation:UpdateStack",
)


def _arn(service: str, resource: str) -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}")


def stack_name(path: str) -> str:
    """Sceptre's CloudFormation name of the stack at ``path`` (``prod/service``)."""
    return f"{PROJECT}-{path.replace('/', '-')}"


def stack_arn(path: str) -> Sub:
    """The ARN pattern of the stack at ``path`` (any stack id: it changes on re-creation)."""
    return _arn("cloudformation", f"stack/{stack_name(path)}/*")


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
    protected: Sequence[str] = (),
) -> iam.Role:
    """A deploy project of one environment: update that environment's service stack only.

    ``invoke deploy`` launches the environment with Sceptre: stacks whose template and
    parameters are unchanged answer "no updates", the service stack is updated with the new
    image, and CloudFormation acts with these rights: register the task definition, update the
    service, pass the stack's own roles to ECS. Infrastructure changes (new template versions
    of network or monitoring) are not a deploy: a platform role applies them with
    ``sceptre launch``, so this role never needs EC2, ELB or IAM write access.

    ``protected``: Sceptre paths of the stacks with the ``!termination_protection`` hook. The
    hook runs after every launch, deploys included, with this role; it may set protection on
    those of them this deploy launches (its environment's and the registry), nothing else.
    """
    stack = f"{PROJECT}-{environment}"
    launched = [p for p in protected if p.split("/")[0] == environment or p == REGISTRY_PATH]
    protection = (
        [
            policy.allow(
                ["cloudformation:UpdateTerminationProtection"], [stack_arn(p) for p in launched]
            )
        ]
        if launched
        else []
    )
    return template.add_resource(
        policy.role(
            logical_id,
            "codebuild.amazonaws.com",
            [
                *common,
                policy.allow(
                    list(CLOUDFORMATION),
                    [
                        _arn("cloudformation", f"stack/{stack}-*/*"),
                        # Sceptre launches the env's dependency, the account's registry (no-op).
                        stack_arn(REGISTRY_PATH),
                    ],
                ),
                *protection,
                policy.allow(
                    ["ecs:DescribeServices", "ecs:UpdateService"],
                    [_arn("ecs", f"service/{stack}-service-*/*")],
                ),
                policy.allow(
                    ["ecs:TagResource"], [_arn("ecs", f"task-definition/{stack}-service:*")]
                ),
                policy.allow(
                    [
                        "ecs:RegisterTaskDefinition",
                        "ecs:DeregisterTaskDefinition",
                        "ecs:DescribeTaskDefinition",
                        "cloudwatch:DescribeAlarms",
                        "elasticloadbalancing:DescribeTargetGroups",
                        "elasticloadbalancing:DescribeTargetHealth",
                    ],
                    ["*"],
                ),
                # The image a deploy names must exist in the registry (delivery.registry); the
                # scan gate ran at build time (Trivy), so no DescribeImageScanFindings here.
                policy.allow(["ecr:BatchGetImage", "ecr:DescribeImages"], [repository_arn]),
                policy.allow(
                    ["iam:PassRole"],
                    [
                        Sub(
                            f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{stack}-service-*"
                        )
                    ],
                    # Task and execution roles go to ECS tasks; the infrastructure role (blue/green
                    # listener shifts) goes to ECS itself with every service update.
                    StringEquals(
                        {"iam:PassedToService": ["ecs-tasks.amazonaws.com", "ecs.amazonaws.com"]}
                    ),
                ),
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
