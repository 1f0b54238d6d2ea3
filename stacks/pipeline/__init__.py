"""The pipeline stack: CodePipeline V2 from GitHub, one build, then deploys env by env.

Source (CodeConnections, push to the branch) -> Build (``buildspec.yml``: test, scan, push;
outputs the image reference) -> per environment: optional manual approval, then a CodeBuild
action running ``buildspec-deploy.yml`` with ``DEPLOY_ENV`` (``invoke deploy --env E --image
<built>``): the same command a person runs, the same digest in every environment.
"""

from __future__ import annotations

import json
from typing import Any

from troposphere import GetAtt, Parameter, Ref, Sub, Template, codebuild, codestarnotifications
from troposphere import codepipeline as cp

from stacks.common import access
from stacks.common.kms import kms_key
from stacks.common.logs import log_group
from stacks.common.naming import deploy_stage
from stacks.common.template import add_output, new_template
from stacks.common.topic import encrypted_topic
from stacks.pipeline import roles
from stacks.pipeline.settings import CONNECTION_ARN, DeployStage, Settings
from stacks.pipeline.storage import artifact_bucket

__all__ = ["STACK", "Settings", "build"]

STACK = "pipeline"
# Artifact names are part of the buildspecs' contract: CodeBuild exposes a secondary input as
# CODEBUILD_SRC_DIR_<artifact name>, spelled exactly as here (buildspec-deploy.yml reads
# CODEBUILD_SRC_DIR_Image). tests/unit/test_buildspec.py checks both sides.
SOURCE_ARTIFACT = "Source"
IMAGE_ARTIFACT = "Image"
# Environment variables the projects define: the only names their buildspecs may read besides
# their own env: block and CodeBuild's built-ins (tests/unit/test_buildspec.py checks it).
DEPLOY_ENV = "DEPLOY_ENV"  # Deploy*: the environment to deploy (buildspec-deploy.yml)
# The Build action's variables namespace: #{Build.IMAGE_VERSION} is buildspec.yml's exported
# IMAGE_VERSION, the version of the image it pushed.
BUILD_NAMESPACE = "Build"
BUILD_VERSION_VARIABLE = "IMAGE_VERSION"
# A released version, as `invoke version` prints it on a tagged commit (Java regex syntax: the
# VariableCheck rule's MATCHES operator).
RELEASE_PATTERN = r"^[0-9]+\.[0-9]+\.[0-9]+$"
NOTIFIER = "codestar-notifications.amazonaws.com"
NOTIFY_EVENTS = (
    "codepipeline-pipeline-pipeline-execution-failed",
    "codepipeline-pipeline-pipeline-execution-succeeded",
    "codepipeline-pipeline-manual-approval-needed",
)


def _project(
    template: Template,
    logical_id: str,
    settings: Settings,
    *,
    buildspec: str,
    role: Any,
    key: Any,
    group: Any,
    privileged: bool,
    timeout: int,
    variables: dict[str, Any],
) -> codebuild.Project:
    return template.add_resource(
        codebuild.Project(
            logical_id,
            Name=Sub(f"${{AWS::StackName}}-{logical_id}"),
            ServiceRole=GetAtt(role, "Arn"),
            Source=codebuild.Source(Type="CODEPIPELINE", BuildSpec=buildspec),
            Artifacts=codebuild.Artifacts(Type="CODEPIPELINE"),
            Environment=codebuild.Environment(
                Type="LINUX_CONTAINER",
                ComputeType=settings.compute_type,
                Image=settings.build_image,
                PrivilegedMode=privileged,
                **_variables(variables),
            ),
            Cache=codebuild.ProjectCache(Type="LOCAL", Modes=_cache_modes(privileged)),
            EncryptionKey=GetAtt(key, "Arn"),
            TimeoutInMinutes=timeout,
            LogsConfig=codebuild.LogsConfig(
                CloudWatchLogs=codebuild.CloudWatchLogs(
                    Status="ENABLED", GroupName=Ref(group), StreamName=logical_id
                )
            ),
        )
    )


def _variables(variables: dict[str, Any]) -> dict[str, Any]:
    """The project's EnvironmentVariables property, left out when there are none."""
    if not variables:
        return {}
    listed = [
        codebuild.EnvironmentVariable(Name=k, Value=v, Type="PLAINTEXT")
        for k, v in sorted(variables.items())
    ]
    return {"EnvironmentVariables": listed}


def _cache_modes(privileged: bool) -> list[str]:
    """What stays on the build host between close builds (CodeBuild's local caching).

    The git clone (source cache) and the buildspecs' ``cache: paths`` (custom cache: uv's and
    Trivy's downloads); docker layers only where docker runs, i.e. in privileged mode, the only
    mode CodeBuild's docker layer cache works in.
    """
    modes = ["LOCAL_SOURCE_CACHE", "LOCAL_CUSTOM_CACHE"]
    return ["LOCAL_DOCKER_LAYER_CACHE", *modes] if privileged else modes


def _codebuild_action(name: str, project: Any, inputs: list[str], **extra: Any) -> cp.Actions:
    return cp.Actions(
        Name=name,
        ActionTypeId=cp.ActionTypeId(
            Category="Build", Owner="AWS", Provider="CodeBuild", Version="1"
        ),
        InputArtifacts=[cp.InputArtifacts(Name=n) for n in inputs],
        RunOrder=1,
        **extra,
    )


def _stages(
    settings: Settings, connection_arn: Any, build: Any, deploys: dict[str, Any], topic: Any
) -> list[cp.Stages]:
    source = cp.Stages(
        Name="Source",
        Actions=[
            cp.Actions(
                Name="Source",
                ActionTypeId=cp.ActionTypeId(
                    Category="Source",
                    Owner="AWS",
                    Provider="CodeStarSourceConnection",
                    Version="1",
                ),
                Configuration={
                    "ConnectionArn": connection_arn,
                    "FullRepositoryId": settings.repository,
                    "BranchName": settings.branch,
                    # A git clone, not a zip: versions come from the commit history.
                    "OutputArtifactFormat": "CODEBUILD_CLONE_REF",
                    "DetectChanges": "false",
                },
                OutputArtifacts=[cp.OutputArtifacts(Name=SOURCE_ARTIFACT)],
                RunOrder=1,
            )
        ],
    )
    build_stage = cp.Stages(
        Name="Build",
        Actions=[
            _codebuild_action(
                "Build",
                build,
                [SOURCE_ARTIFACT],
                Configuration={"ProjectName": Ref(build)},
                OutputArtifacts=[cp.OutputArtifacts(Name=IMAGE_ARTIFACT)],
                Namespace=BUILD_NAMESPACE,
            )
        ],
    )
    stages = [source, build_stage]
    for stage in settings.deploy:
        entered = [_approval(stage, topic)] if stage.approval else []
        entered.append(_deploy_stage(stage, deploys[stage.environment]))
        if stage.releases_only:
            for declared in entered:
                declared.BeforeEntry = _only_releases()
        stages += entered
    return stages


def _only_releases() -> cp.BeforeEntryConditions:
    """Enter the stage only for a released version's build; skip it (not fail) for any other.

    CodePipeline's stage conditions: an entry condition whose rules fail engages its result, and
    SKIP is allowed with the VariableCheck rule.
    """
    return cp.BeforeEntryConditions(
        Conditions=[
            cp.Condition(
                Result="SKIP",
                Rules=[
                    cp.RuleDeclaration(
                        Name="ReleasedVersion",
                        RuleTypeId=cp.RuleTypeId(
                            Category="Rule", Owner="AWS", Provider="VariableCheck", Version="1"
                        ),
                        Configuration={
                            "Variable": f"#{{{BUILD_NAMESPACE}.{BUILD_VERSION_VARIABLE}}}",
                            "Operator": "MATCHES",
                            "Value": RELEASE_PATTERN,
                        },
                    )
                ],
            )
        ]
    )


def _approval(stage: DeployStage, topic: Any) -> cp.Stages:
    return cp.Stages(
        Name=f"Approve{stage.environment.capitalize()}",
        Actions=[
            cp.Actions(
                Name="Approval",
                ActionTypeId=cp.ActionTypeId(
                    Category="Approval", Owner="AWS", Provider="Manual", Version="1"
                ),
                Configuration={
                    "NotificationArn": Ref(topic),
                    "CustomData": f"Promote the image tested in the previous stage to "
                    f"{stage.environment}?",
                },
                RunOrder=1,
            )
        ],
    )


def _deploy_stage(stage: DeployStage, project: Any) -> cp.Stages:
    variables = [{"name": DEPLOY_ENV, "value": stage.environment, "type": "PLAINTEXT"}]
    return cp.Stages(
        Name=deploy_stage(stage.environment),
        Actions=[
            _codebuild_action(
                "Deploy",
                project,
                [SOURCE_ARTIFACT, IMAGE_ARTIFACT],
                Configuration={
                    "ProjectName": Ref(project),
                    # The source is CODEBUILD_SRC_DIR; the image is CODEBUILD_SRC_DIR_Image.
                    "PrimarySource": SOURCE_ARTIFACT,
                    "EnvironmentVariables": json.dumps(variables),
                },
            )
        ],
    )


def build(settings: Settings) -> Template:
    """The pipeline template for ``settings``."""
    template = new_template(
        settings.project, f"{settings.environment} pipeline: GitHub -> build -> deploys"
    )
    repository_arn = Ref(
        template.add_parameter(
            Parameter("RepositoryArn", Type="String", Description="registry: RepositoryArn")
        )
    )
    connection_arn = Ref(
        template.add_parameter(
            Parameter(
                "ConnectionArn",
                Type="String",
                AllowedPattern=CONNECTION_ARN,
                ConstraintDescription="a CodeConnections (or CodeStar connections) ARN",
                Description="the GitHub connection (created and approved in the console)",
            )
        )
    )
    key = kms_key(
        template,
        "ArtifactKey",
        "pipeline artifacts, logs, notifications",
        [NOTIFIER],
        keep=settings.retain,
    )
    bucket = artifact_bucket(template, settings, key)
    group = log_group(template, "BuildLogGroup", settings.log_retention_days, keep=settings.retain)
    topic = encrypted_topic(
        template, "PipelineTopic", [NOTIFIER], email=settings.notification_email, key=key
    )
    common = [
        *roles.artifacts(bucket, key),
        roles.connection(connection_arn),
        roles.build_logs(group),
        roles.reports(),
    ]
    build_project = _project(
        template,
        "Build",
        settings,
        buildspec="buildspec.yml",
        role=roles.build_role(template, settings.project, common, repository_arn),
        key=key,
        group=group,
        privileged=True,
        timeout=settings.build_timeout_minutes,
        variables={},
    )
    deploys: dict[str, Any] = {}
    for stage in settings.deploy:
        name = deploy_stage(stage.environment)
        role = roles.deploy_role(
            template,
            f"{name}Role",
            stage.environment,
            common,
            repository_arn,
            project=settings.project,
            shared=access.DEPLOY_READS,
        )
        deploys[stage.environment] = _project(
            template,
            name,
            settings,
            buildspec="buildspec-deploy.yml",
            role=role,
            key=key,
            group=group,
            privileged=False,
            timeout=settings.deploy_timeout_minutes,
            variables={DEPLOY_ENV: stage.environment},
        )
    pipeline_role = roles.pipeline_role(template, common, [build_project, *deploys.values()], topic)
    pipeline = template.add_resource(
        cp.Pipeline(
            "Pipeline",
            PipelineType="V2",
            # Queue executions: a newer commit never interrupts a deploy half-way.
            ExecutionMode="QUEUED",
            RoleArn=GetAtt(pipeline_role, "Arn"),
            ArtifactStore=cp.ArtifactStore(
                Type="S3",
                Location=Ref(bucket),
                EncryptionKey=cp.EncryptionKey(Id=GetAtt(key, "Arn"), Type="KMS"),
            ),
            Stages=_stages(settings, connection_arn, build_project, deploys, topic),
            Triggers=[
                cp.PipelineTriggerDeclaration(
                    ProviderType="CodeStarSourceConnection",
                    GitConfiguration=cp.GitConfiguration(
                        SourceActionName="Source",
                        Push=[
                            cp.GitPushFilter(
                                Branches=cp.GitBranchFilterCriteria(Includes=[settings.branch])
                            ),
                            cp.GitPushFilter(
                                Tags=cp.GitTagFilterCriteria(Includes=[settings.release_tags])
                            ),
                        ],
                    ),
                )
            ],
        )
    )
    template.add_resource(
        codestarnotifications.NotificationRule(
            "PipelineNotifications",
            # CodeStar Notifications checks, when the rule is created, that it may publish to
            # the topic: the topic's policy must exist first.
            DependsOn=[f"{topic.title}Policy"],
            Name=Sub("${AWS::StackName}-pipeline"),
            DetailType="FULL",
            Resource=Sub(
                "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${P}",
                P=Ref(pipeline),
            ),
            EventTypeIds=list(NOTIFY_EVENTS),
            Targets=[codestarnotifications.Target(TargetType="SNS", TargetAddress=Ref(topic))],
        )
    )
    add_output(template, "PipelineName", Ref(pipeline), "the pipeline")
    add_output(template, "ArtifactBucketName", Ref(bucket), "pipeline artifacts")
    add_output(template, "NotificationTopicArn", Ref(topic), "pipeline notifications")
    return template
