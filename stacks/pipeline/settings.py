"""The pipeline stack's settings: source repository, build environment, deploy stages."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from stacks.common.settings import EnvironmentName, RetentionDays, StackSettings, StrictModel

# A CloudFormation parameter (not a setting): the connection is created and approved in the
# console once per account, so its ARN is deployment input (Sceptre --var connection_arn=...).
CONNECTION_ARN = (
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:"
    r"connection/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


class DeployStage(StrictModel):
    """One environment the pipeline deploys to, optionally behind a manual approval."""

    environment: EnvironmentName
    approval: bool = False
    # Only released versions (X.Y.Z, from a v* tag) reach this environment: for other builds the
    # stage (and its approval) is skipped, not failed. Keep equal to the environment's own
    # `releases_only` (config/<env>/config.yaml), which `invoke deploy` enforces.
    releases_only: bool = False


class Settings(StackSettings):
    """What the pipeline stack accepts in ``sceptre_user_data``."""

    repository: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]
    branch: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]{1,100}$")] = "main"
    # Pushed release tags also start the pipeline (commitizen tags v<version>: pyproject.toml);
    # their builds are X.Y.Z and may go on to `releases_only` stages.
    release_tags: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/*-]{1,100}$")] = "v*"
    build_image: str = "aws/codebuild/standard:7.0"
    compute_type: Literal[
        "BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"
    ] = "BUILD_GENERAL1_MEDIUM"
    build_timeout_minutes: Annotated[int, Field(ge=5, le=480)] = 30
    deploy_timeout_minutes: Annotated[int, Field(ge=5, le=480)] = 60
    deploy: list[DeployStage] = Field(
        default_factory=lambda: [
            DeployStage(environment="dev"),
            DeployStage(environment="prod", approval=True, releases_only=True),
        ]
    )
    artifact_retention_days: Annotated[int, Field(ge=1, le=365)] = 30
    log_retention_days: RetentionDays = 30
    notification_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")] | None = (
        None
    )

    @model_validator(mode="after")
    def _stages(self) -> Self:
        names = [stage.environment for stage in self.deploy]
        if not names:
            raise ValueError("deploy: at least one stage, e.g. [{environment: dev}]")
        if len(set(names)) != len(names):
            raise ValueError(f"deploy: each environment once, got {', '.join(names)}")
        return self
