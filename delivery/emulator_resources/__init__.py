"""CloudFormation models for resource types moto's CloudFormation lacks, on moto's own backends.

moto 5.2.5 has the backends but no CloudFormation model for these types: its CloudFormation skips
such a resource (a warning in the server's log; the stack still completes, a Ref on it gives
None, an ``Fn::GetAtt`` fails the stack). The models here create, update and delete them through
moto's own backends, so the service APIs answer what the template declares. One module per
resource family; the registration is here:

- ``codebuild``: ``AWS::CodeBuild::Project`` (``BatchGetProjects``);
- ``codepipeline``: ``AWS::CodePipeline::Pipeline`` (``GetPipeline``);
- ``secrets``: ``AWS::SecretsManager::Secret`` (``GetSecretValue``, ``DescribeSecret``);
- ``alarms``: ``AWS::CloudWatch::Alarm`` and ``AWS::CloudWatch::CompositeAlarm``
  (``DescribeAlarms``, ``SetAlarmState``; ``alarm_rule`` reads a composite's ``AlarmRule``);
- ``properties``: what they share (properties as the API names them, ``api_value``).

What ``Ref`` and ``Fn::GetAtt`` give follows the resource provider schemas cfn-lint ships
(``primaryIdentifier`` is what Ref returns, ``readOnlyProperties`` the attributes):

- ``AWS::CodeBuild::Project``: Ref the project's name; ``Arn`` its ARN; ``Id`` the primary
  identifier, i.e. Ref's value, the name;
- ``AWS::CodePipeline::Pipeline``: Ref the pipeline's name; ``Arn``; ``Version`` (a string);
- ``AWS::SecretsManager::Secret``: Ref the secret's ARN; ``Id`` the same ARN;
- ``AWS::CloudWatch::Alarm``, ``AWS::CloudWatch::CompositeAlarm``: Ref the alarm's name; ``Arn``.

Names: the name property as given, else generated as CloudFormation does (moto's
``<stack>-<logical id>-<suffix>``; a secret's ``<logical id>-<suffix>``), kept across updates.
The name is create-only for every type here, so a new name replaces the resource (the new one is
created before the old one is deleted, as CloudFormation does); any other change updates it in
place (a project keeps its creation date and build history, a pipeline's version goes up by one,
a secret gets a new version only when its value changes, an alarm keeps its state). A stack's
deletion deletes them, except those with ``DeletionPolicy: Retain`` (moto's own stack deletion
skips those).

Not modelled (accepted, without effect): a project's ``Triggers`` (moto has no webhooks) and a
pipeline's ``DisableInboundStageTransitions`` and ``RestartExecutionOnUpdate``; creating a
pipeline does not start a run. ``AWS::CodeStarNotifications::NotificationRule`` has no model:
moto has no such backend and nothing in the pipeline stack reads it, so its skipping is harmless.
Each module's docstring says what else it leaves out.
"""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from delivery.emulator_resources.alarms import CloudWatchAlarm, CloudWatchCompositeAlarm
from delivery.emulator_resources.codebuild import CodeBuildProject
from delivery.emulator_resources.codepipeline import CodePipelinePipeline
from delivery.emulator_resources.secrets import SecretsManagerSecret

MODELS: tuple[type[CloudFormationModel], ...] = (
    CodeBuildProject,
    CodePipelinePipeline,
    SecretsManagerSecret,
    CloudWatchAlarm,
    CloudWatchCompositeAlarm,
)


def register() -> tuple[str, ...]:
    """Make moto's CloudFormation use these models; the resource types now modelled.

    moto finds its models as ``CloudFormationModel.__subclasses__()`` (the classes above, defined
    when this module was imported) and caches that list and the maps built from it on first use;
    the caches are emptied so a map built before this import cannot leave the models out.
    """
    from moto.cloudformation import parsing  # noqa: PLC0415 - imports every moto backend

    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    modelled = parsing.get_model_map()
    return tuple(model.cloudformation_type() for model in MODELS if model in modelled.values())
