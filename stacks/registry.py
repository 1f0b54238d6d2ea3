"""The registry stack: one ECR repository with immutable tags, scan on push and a lifecycle."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import Field
from troposphere import GetAtt, Ref, Template, ecr

from stacks.common import naming
from stacks.common.settings import EVERY_FEATURE_PROJECT, StackSettings
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


# Tags ``invoke push`` gives an image (delivery/versioning.py ``image_tags``): its version and
# ``sha-<12 hex>``. A release is ``X.Y.Z`` and also ``vX.Y.Z`` (the mark no other tag has); any
# other build is ``X.Y.Z-dev.g<sha12>``.
RELEASE_MARK_PATTERN = "v*.*.*"
DEV_BUILD_PATTERN = "*-dev.*"
RELEASE_PATTERN = "*.*.*"


class Settings(StackSettings):
    """What the registry stack accepts in ``sceptre_user_data``."""

    repository_name: RepositoryName | None = Field(
        None,
        description="The ECR repository's name, by ECR's rules: 2-256 characters, lowercase "
        "letters and digits in segments joined by `.`, `_`, `-` or `/`. Default: derived from "
        "the project's name, so a rename renames the repository: `<project>` in the shared "
        "registry, `<project>-<environment>` in an environment's own (local's).",
    )
    encryption: Literal["KMS", "AES256"] = Field(
        "KMS",
        description="How ECR encrypts the images at rest: `KMS` (default) with the account's "
        "aws/ecr key, every use auditable in CloudTrail; `AES256` with S3-managed keys.",
    )
    untagged_expiry_days: Annotated[int, Field(ge=1, le=365)] = Field(
        7,
        description="Days after its push an image without a tag expires (lifecycle rule 1); "
        "1-365, default 7.",
    )
    keep_dev_builds: Annotated[int, Field(ge=10, le=1000)] = Field(
        100,
        description="Builds of unreleased commits (`X.Y.Z-dev.g<sha>`) kept, the newest first "
        "(lifecycle rule 3). Prod may run one (the pipeline promotes every build's digest), so "
        "keep more than the builds that can pile up unapproved between two prod deploys: 10-1000, "
        "default 100.",
    )
    release_retention_days: Annotated[int, Field(ge=365, le=3650)] = Field(
        3650,
        description="Days a release (`X.Y.Z`, marked `vX.Y.Z`) is kept after its push (lifecycle "
        "rules 2 and 4; a release tagged on an earlier build counts from that build's push): "
        "releases expire by their own age only, never by a count, so dev builds cannot push them "
        "out. The default keeps every release ten years, so a rollback to any of them works; at "
        "least one year.",
    )
    keep_images: Annotated[int, Field(ge=10, le=10000)] = Field(
        200,
        description="Backstop for tagged images that are neither a release nor a dev build "
        "(tags pushed by hand): at most this many are kept (lifecycle rule 5); default 200.",
    )


# Every optional feature on: what CloudFormation may be asked to create for this stack in any
# environment (stacks/cloudformation_roles.py derives the environment's permissions from it).
EVERY_FEATURE = Settings(
    project=EVERY_FEATURE_PROJECT, environment="every-feature", encryption="KMS"
)


def lifecycle_policy(settings: Settings) -> str:
    """The ECR lifecycle policy text: untagged, dev builds, releases, a cap on anything else.

    ECR's evaluation rules (Amazon ECR user guide, "Lifecycle policy evaluation rules"):
    an image that matches a rule's tag selection cannot be expired by a lower-priority rule,
    but lower-priority rules still *count* it ("can still identify them as if they haven't
    been expired"). ``*`` is the only wildcard, so no pattern selects ``1.2.3`` without also
    selecting ``1.3.0-dev.gabc``: a "keep the last N" rule on ``*.*.*`` would count dev
    builds and expire real releases after N pushes, whatever its priority. Hence:

    1. untagged images expire after ``untagged_expiry_days``;
    2. releases by their mark (``v*.*.*``) expire by age, ``sinceImagePushed``, which looks at
       each image alone, so dev builds cannot push them out. First, because a release tagged on
       main's earlier build of its commit still carries that build's ``-dev.`` tag: a dev rule
       before it would select it and expire it among the dev builds;
    3. dev builds (``*-dev.*``, which no release tag matches) keep the newest
       ``keep_dev_builds``; a promoted release is counted here but cannot be expired here;
    4. releases without the mark (pushed before it existed: ``*.*.*``, which after rule 3 only
       selects releases for expiry), by the same age; matching it shields them from rule 5;
    5. anything else is capped at ``keep_images`` (ECR: ``any`` must have the lowest priority).
    """
    by_age = {
        "tagStatus": "tagged",
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": settings.release_retention_days,
    }
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
            "description": f"keep releases for {settings.release_retention_days} days",
            "selection": {**by_age, "tagPatternList": [RELEASE_MARK_PATTERN]},
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 3,
            "description": f"keep the last {settings.keep_dev_builds} dev builds",
            "selection": {
                "tagStatus": "tagged",
                "tagPatternList": [DEV_BUILD_PATTERN],
                "countType": "imageCountMoreThan",
                "countNumber": settings.keep_dev_builds,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 4,
            "description": f"keep unmarked releases for {settings.release_retention_days} days",
            "selection": {**by_age, "tagPatternList": [RELEASE_PATTERN]},
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 5,
            "description": f"cap other tagged images at {settings.keep_images}",
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
    template = new_template(settings.project, f"{settings.environment} registry: ECR repository")
    repository = template.add_resource(
        ecr.Repository(
            "Repository",
            RepositoryName=settings.repository_name
            or naming.repository_name(settings.project, settings.environment),
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
