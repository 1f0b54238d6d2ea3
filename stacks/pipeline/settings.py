"""The pipeline stack's settings: source repository, build environment, deploy stages."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from stacks.common.settings import (
    Email,
    EnvironmentName,
    RetentionDays,
    StackSettings,
    StrictModel,
)

# A CloudFormation parameter (not a setting): the connection is created and approved in the
# console once per account, so its ARN is deployment input (Sceptre --var connection_arn=...).
CONNECTION_ARN = (
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:"
    r"connection/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


class DeployStage(StrictModel):
    """One environment the pipeline deploys to, optionally behind a manual approval."""

    environment: EnvironmentName = Field(
        description="The environment deployed (its folder under config/): the stage runs "
        "`invoke deploy --env <environment>` under that environment's own deploy role."
    )
    approval: bool = Field(
        False,
        description="A manual approval before the deploy (a person says go); off by default.",
    )
    releases_only: bool = Field(
        False,
        description="Only released versions (`X.Y.Z`, from a `v*` tag) reach this environment: "
        "for other builds the stage (and its approval) is skipped, not failed. Keep it equal to "
        "the environment's own `releases_only` (config/<env>/config.yaml), which `invoke "
        "deploy` enforces.",
    )


class Settings(StackSettings):
    """What the pipeline stack accepts in ``sceptre_user_data``."""

    repository: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")] = Field(
        description="The GitHub repository the pipeline builds, as `owner/name`, reached through "
        "the CodeConnections connection given as the `ConnectionArn` parameter."
    )
    branch: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]{1,100}$")] = Field(
        "main",
        description="The branch whose pushes start the pipeline; `main` by default.",
    )
    release_tags: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/*-]{1,100}$")] = Field(
        "v*",
        description="A tag pattern whose pushes start the pipeline too: commitizen tags "
        "`v<version>` (pyproject.toml), so `v*` by default. Their builds are `X.Y.Z` and may go "
        "on to `releases_only` stages.",
    )
    build_image: str = Field(
        "aws/codebuild/standard:7.0",
        description="The CodeBuild image builds and deploys run in: by default AWS's managed "
        "Ubuntu image, with the Python 3.11 runtime buildspec.yml asks for and Docker for the "
        "(privileged) Build project.",
    )
    compute_type: Literal[
        "BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"
    ] = Field(
        "BUILD_GENERAL1_MEDIUM",
        description="CodeBuild's machine for every project: SMALL (2 vCPU, 3 GB), MEDIUM (4 "
        "vCPU, 7 GB; default, for the quality gate and the image build), LARGE (8 vCPU, 15 GB).",
    )
    build_timeout_minutes: Annotated[int, Field(ge=5, le=480)] = Field(
        30,
        description="Minutes the Build project (quality gate, image build, scan, push) may run "
        "before CodeBuild stops it; default 30. CodeBuild's least is 5; 480 (8 hours) caps a "
        "hung build.",
    )
    deploy_timeout_minutes: Annotated[int, Field(ge=5, le=480)] = Field(
        60,
        description="Minutes a deploy project may run. A prod canary deploy takes ~28 minutes "
        "(10 canary, 15 bake, task start and drain), hence 60 by default; 5-480.",
    )
    deploy: list[DeployStage] = Field(
        default_factory=lambda: [
            DeployStage(environment="dev"),
            DeployStage(environment="prod", approval=True, releases_only=True),
        ],
        description="The environments deployed after the build, in order, each once and at "
        "least one. Default: dev, then prod behind a manual approval and for releases only.",
    )
    artifact_retention_days: Annotated[int, Field(ge=1, le=365)] = Field(
        30,
        description="Days the artifact bucket keeps the pipeline's artifacts (and their older "
        "versions) before S3 expires them; 1-365, default 30.",
    )
    log_retention_days: RetentionDays = Field(
        30,
        description="Days the builds' log group keeps their logs; one of the values CloudWatch "
        "Logs accepts. Default 30.",
    )
    notification_email: Email | None = Field(
        None,
        description="The address subscribed to the pipeline's topic (executions failed or "
        "succeeded, approvals waiting; AWS mails a confirmation first); none by default.",
    )

    @model_validator(mode="after")
    def _stages(self) -> Self:
        names = [stage.environment for stage in self.deploy]
        if not names:
            raise ValueError("deploy: at least one stage, e.g. [{environment: dev}]")
        if len(set(names)) != len(names):
            raise ValueError(f"deploy: each environment once, got {', '.join(names)}")
        return self
