"""The registry stack: one ECR repository with immutable tags, scan on push and a lifecycle."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import Field
from troposphere import GetAtt, Ref, Template, ecr

from stacks.common.settings import StackSettings
from stacks.common.template import add_output, new_template, retain, skip_checks

STACK = "registry"

RepositoryName = Annotated[
    str,
    Field(
        min_length=2,
        max_length=256,
        pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$",
    ),
]


class Settings(StackSettings):
    """What the registry stack accepts in ``sceptre_user_data``."""

    repository_name: RepositoryName = "flask-fargate"
    # KMS uses the account's aws/ecr key (auditable in CloudTrail); AES256 is S3-managed.
    encryption: Literal["KMS", "AES256"] = "KMS"
    untagged_expiry_days: Annotated[int, Field(ge=1, le=365)] = 7
    # Release images carry a semantic-version tag (1.2.3); keep this many of them.
    keep_releases: Annotated[int, Field(ge=1, le=1000)] = 30
    # Backstop for tagged non-release images (git-SHA-only builds).
    keep_images: Annotated[int, Field(ge=10, le=10000)] = 200


def lifecycle_policy(settings: Settings) -> str:
    """The ECR lifecycle policy text: untagged expire, last N releases kept, a total cap."""
    rules = [
        {
            "rulePriority": 1,
            "description": f"expire untagged images after {settings.untagged_expiry_days} days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": settings.untagged_expiry_days,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": f"keep the last {settings.keep_releases} releases",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": ["*.*.*"],
                "countType": "imageCountMoreThan",
                "countNumber": settings.keep_releases,
            },
            "action": {"type": "expire"},
        },
        {
            # "any" must have the lowest priority (ECR's rule): it sees what 1-2 left.
            "rulePriority": 3,
            "description": f"cap the repository at {settings.keep_images} images",
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": settings.keep_images,
            },
            "action": {"type": "expire"},
        },
    ]
    return json.dumps({"rules": rules}, sort_keys=True)


def build(settings: Settings) -> Template:
    """The registry template for ``settings``."""
    template = new_template(f"{settings.environment} registry: ECR repository")
    repository = template.add_resource(
        ecr.Repository(
            "Repository",
            RepositoryName=settings.repository_name,
            # Build once, promote: a tag names one digest forever.
            ImageTagMutability="IMMUTABLE",
            ImageScanningConfiguration=ecr.ImageScanningConfiguration(ScanOnPush=True),
            EncryptionConfiguration=ecr.EncryptionConfiguration(EncryptionType=settings.encryption),
            LifecyclePolicy=ecr.LifecyclePolicy(LifecyclePolicyText=lifecycle_policy(settings)),
        )
    )
    retain(repository, settings.retain)
    if settings.encryption == "AES256":
        skip_checks(
            repository,
            {"CKV_AWS_136": f"{settings.environment} chooses AES256 in its settings"},
        )
    add_output(template, "RepositoryUri", GetAtt(repository, "RepositoryUri"), "image URI base")
    add_output(template, "RepositoryName", Ref(repository), "repository name")
    add_output(template, "RepositoryArn", GetAtt(repository, "Arn"), "repository ARN (IAM)")
    return template
