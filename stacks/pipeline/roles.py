"""Least-privilege roles of the pipeline, its build project and its deploy projects.

Every action is listed; Resource "*" only where AWS has no resource type for the action
(``stacks.common.iam.STAR_RESOURCE_ACTIONS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from awacs.aws import Statement as AwacsStatement
from troposphere import GetAtt, Join, Ref, Sub, Template, iam

from stacks.common import access
from stacks.common import iam as policy
from stacks.common.naming import REGISTRY_PATH, stack_arn

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
        [access.arn("codebuild", "report-group/${AWS::StackName}-*")],
    )


def build_role(
    template: Template, project: str, common: Sequence[AwacsStatement], repository_arn: Any
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
                policy.allow(
                    ["cloudformation:DescribeStacks"], [stack_arn(project, REGISTRY_PATH)]
                ),
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
    project: str,
    shared: Sequence[str] = (REGISTRY_PATH,),
) -> iam.Role:
    """A deploy project of one environment: update that environment's stacks, nothing else
    (``stacks.common.access.deploys``, the same grant as the on-call's incident role)."""
    return template.add_resource(
        policy.role(
            logical_id,
            "codebuild.amazonaws.com",
            [
                *common,
                *access.deploys(project, environment, repository_arn, shared=shared),
                # The SLO gate reads the burn-rate alarms (delivery.slo); a failed deploy's
                # diagnosis and the buildspec's `invoke status` read the stopped tasks, their
                # logs and the error budget.
                *access.diagnoses(project, environment),
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
