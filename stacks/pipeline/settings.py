"""The pipeline stack's settings: source repository, build environment, deploy stages."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stacks.common.settings import EnvironmentName, RetentionDays, StackSettings

# A CloudFormation parameter (not a setting): the connection is created and approved in the
# console once per account, so its ARN is deployment input (Sceptre --var connection_arn=...).
CONNECTION_ARN = (
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:[0-9]{12}:"
    r"connection/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


class DeployStage(BaseModel):
    """One environment the pipeline deploys to, optionally behind a manual approval."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    environment: EnvironmentName
    approval: bool = False


# A Sceptre stack path, <group>/<stack> (config/<group>/<stack>.yaml), e.g. prod/service.
StackPath = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,15}/[a-z][a-z0-9-]{0,63}$")]


class Settings(StackSettings):
    """What the pipeline stack accepts in ``sceptre_user_data``."""

    repository: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]
    branch: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]{1,100}$")] = "main"
    build_image: str = "aws/codebuild/standard:7.0"
    compute_type: Literal[
        "BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"
    ] = "BUILD_GENERAL1_MEDIUM"
    build_timeout_minutes: Annotated[int, Field(ge=5, le=480)] = 30
    deploy_timeout_minutes: Annotated[int, Field(ge=5, le=480)] = 60
    deploy: list[DeployStage] = Field(
        default_factory=lambda: [
            DeployStage(environment="dev"),
            DeployStage(environment="prod", approval=True),
        ]
    )
    # Stacks whose Sceptre config runs the ``!termination_protection`` hook after every launch
    # (delivery/sceptre_hooks.py). A deploy launches its environment and the registry it depends
    # on, so the deploy role must be allowed to set protection on exactly these stacks.
    # tests/unit/stacks/test_pipeline_wiring.py keeps this list equal to the hooks in config/.
    termination_protected: list[StackPath] = Field(default_factory=list)
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
