"""CloudFormation models for resource types moto's CloudFormation lacks, on moto's own backends.

moto 5.2.5 has a CodeBuild and a CodePipeline backend but no CloudFormation model for
``AWS::CodeBuild::Project`` or ``AWS::CodePipeline::Pipeline``: its CloudFormation skips such a
resource (a warning in the server's log) and an ``Fn::GetAtt`` on it then fails the stack, so the
project's pipeline stack (stacks/pipeline/) could not be created on the emulator. The models here
create, update and delete the resources through moto's ``CodeBuildBackend.create_project`` and
``CodePipelineBackend.create_pipeline``/``update_pipeline``, so ``BatchGetProjects`` and
``GetPipeline`` answer what the template declares.

Properties become the service API's request exactly as botocore's service model names it
(``api_value``): each CloudFormation key is matched, case-insensitively, to a member of the API
shape (``Stages`` -> ``stages``, ``BuildSpec`` -> ``buildspec``), recursively; a map's keys (an
action's ``Configuration``) stay as written. The few properties that are not part of the request
are handled by name below; any other key fails the resource as CloudFormation does ("Encountered
unsupported property").

What ``Ref`` and ``Fn::GetAtt`` give follows the resource provider schemas cfn-lint ships
(``primaryIdentifier`` is what Ref returns, ``readOnlyProperties`` the attributes):

- ``AWS::CodeBuild::Project``: Ref the project's name; ``Arn`` its ARN; ``Id`` the primary
  identifier, i.e. Ref's value, the name;
- ``AWS::CodePipeline::Pipeline``: Ref the pipeline's name; ``Arn``; ``Version`` (a string).

Names: the ``Name`` property as given, else moto's generated ``<stack>-<logical id>-<suffix>``,
kept across updates. ``Name`` is create-only for both types, so a new name replaces the resource
(the new one is created before the old one is deleted, as CloudFormation does); any other change
updates it in place (a project keeps its creation date and build history, a pipeline's version
goes up by one).

Not modelled (accepted, without effect): a project's ``Triggers`` (moto has no webhooks) and a
pipeline's ``DisableInboundStageTransitions`` and ``RestartExecutionOnUpdate``; creating a
pipeline does not start a run. ``AWS::CodeStarNotifications::NotificationRule`` has no model:
moto has no such backend and nothing in the pipeline stack reads it, so its skipping is harmless.
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape
from moto.codebuild.exceptions import ResourceAlreadyExistsException
from moto.codebuild.models import CodeBuildBackend, codebuild_backends
from moto.codepipeline.models import CodePipelineBackend, codepipeline_backends
from moto.core.common_models import CloudFormationModel

# CreateProject request members that moto's create_project takes, by its argument names.
_CREATE_PROJECT_ARGS = {
    "description": "description",
    "source": "project_source",
    "artifacts": "artifacts",
    "environment": "environment",
    "serviceRole": "service_role",
    "tags": "tags",
    "cache": "cache",
    "timeoutInMinutes": "timeout",
    "queuedTimeoutInMinutes": "queued_timeout",
    "sourceVersion": "source_version",
    "logsConfig": "logs_config",
    "vpcConfig": "vpc_config",
}
# Project properties the API sets through other calls than CreateProject, as its Project shows them.
_PROJECT_EXTRAS = {"Visibility": "projectVisibility", "ResourceAccessRole": "resourceAccessRole"}
# Properties with no counterpart moto could honour (see the module docstring).
_PROJECT_IGNORED = ("Triggers",)
_PIPELINE_IGNORED = ("DisableInboundStageTransitions", "RestartExecutionOnUpdate")


class PropertyError(ValueError):
    """A property CloudFormation's validation would reject; fails the resource."""


@functools.cache
def api_shape(service: str, name: str) -> Shape:
    """The shape ``name`` of ``service``'s API, from the service model botocore ships."""
    return botocore.session.get_session().get_service_model(service).shape_for(name)


def api_value(value: Any, shape: Shape, where: str = "Properties") -> Any:
    """A CloudFormation property value as the API's ``shape`` names and types it."""
    if isinstance(shape, StructureShape):
        return _structure(value, shape, where)
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise PropertyError(f"{where}: expected a list")
        return [api_value(item, shape.member, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise PropertyError(f"{where}: expected an object")
        # A map's keys are data (an action's configuration keys), never renamed.
        return {str(k): api_value(v, shape.value, f"{where}.{k}") for k, v in value.items()}
    return _scalar(value, shape.type_name, where)


def _structure(value: Any, shape: StructureShape, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PropertyError(f"{where}: expected an object")
    members = {name.lower(): name for name in shape.members}
    converted: dict[str, Any] = {}
    for key, item in value.items():
        member = members.get(str(key).lower())
        if member is None:
            raise PropertyError(f"Encountered unsupported property {key} ({where})")
        converted[member] = api_value(item, shape.members[member], f"{where}.{key}")
    return converted


def _scalar(value: Any, kind: str, where: str) -> Any:
    # CloudFormation passes template scalars on in the type the API declares ("30" -> 30).
    try:
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("double", "float"):
            return float(value)
    except (TypeError, ValueError):
        raise PropertyError(f"{where}: {value!r} is not a number") from None
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise PropertyError(f"{where}: {value!r} is not a boolean")
    if kind == "string":
        if isinstance(value, (dict, list)):
            raise PropertyError(f"{where}: expected a string")
        return ("true" if value else "false") if isinstance(value, bool) else str(value)
    return value


def _updated_name(original: Any, new_resource_name: str, properties: dict[str, Any]) -> str:
    """The resource's name after an update, as CloudFormation keeps it.

    A generated name stays (moto generates a new one for every update it parses); only a ``Name``
    property, added or changed, names the resource anew, which replaces it.
    """
    if "Name" not in properties and not original.named:
        return str(original.name)
    return new_resource_name


# --- AWS::CodeBuild::Project -------------------------------------------------------------------


def project_request(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The CreateProject request (plus the Project fields set elsewhere) for the properties."""
    given = {k: v for k, v in properties.items() if k != "Name" and k not in _PROJECT_IGNORED}
    extras = {_PROJECT_EXTRAS[k]: str(given.pop(k)) for k in list(given) if k in _PROJECT_EXTRAS}
    request: dict[str, Any] = api_value(given, api_shape("codebuild", "CreateProjectInput"))
    return {**request, **extras, "name": name}


def _codebuild(account_id: str, region_name: str) -> CodeBuildBackend:
    return codebuild_backends[account_id][region_name]


def _store_project(backend: CodeBuildBackend, request: dict[str, Any]) -> dict[str, Any]:
    """Put the project into moto's backend; the stored Project, as BatchGetProjects answers."""
    arguments: dict[str, Any] = {arg: request.get(m) for m, arg in _CREATE_PROJECT_ARGS.items()}
    metadata: dict[str, Any] = backend.create_project(project_name=request["name"], **arguments)
    # What CreateProject takes but moto's create_project does not, where the API's Project has it
    # (encryptionKey replaces moto's default, the AWS-managed S3 key, only when one is given).
    for member, value in request.items():
        if member == "badgeEnabled":
            metadata["badge"] = {"badgeEnabled": value}
        elif member not in _CREATE_PROJECT_ARGS and member != "name":
            metadata[member] = value
    return metadata


class _ByName:
    """A resource CloudFormation names by its ``Name`` property (else generates one); Ref gives
    the name. A mixin: moto finds models as direct subclasses of CloudFormationModel."""

    def __init__(self, account_id: str, region_name: str, name: str, named: bool) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.name = name
        self.named = named  # by its Name property, not generated

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @property
    def physical_resource_id(self) -> str:
        """What Ref gives: the name."""
        return self.name


class CodeBuildProject(_ByName, CloudFormationModel):
    """``AWS::CodeBuild::Project``: a project in moto's CodeBuild backend, by name."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodeBuild::Project"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "Id")

    @property
    def arn(self) -> str:
        """The project's ARN, as moto's backend made it."""
        project = _codebuild(self.account_id, self.region_name).codebuild_projects[self.name]
        return str(project.arn)

    def get_cfn_attribute(self, attribute_name: str) -> str:
        """``Fn::GetAtt``: Arn, or Id (the primary identifier: the name)."""
        from moto.cloudformation.exceptions import (  # noqa: PLC0415 - moto's own lazy import
            UnformattedGetAttTemplateException,
        )

        if attribute_name == "Arn":
            return self.arn
        if attribute_name == "Id":
            return self.name
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CodeBuildProject:
        """CreateProject; an existing name fails as CodeBuild does."""
        backend = _codebuild(account_id, region_name)
        request = project_request(resource_name, cloudformation_json.get("Properties", {}))
        if resource_name in backend.codebuild_projects:
            existing = backend.codebuild_projects[resource_name].arn
            raise ResourceAlreadyExistsException(f"Project already exists: {existing}")
        _store_project(backend, request)
        named = "Name" in cloudformation_json.get("Properties", {})
        return cls(account_id, region_name, resource_name, named)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: CodeBuildProject,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> CodeBuildProject:
        """In place; a new name (create-only) replaces the project: new first, then old deleted."""
        properties = cloudformation_json.get("Properties", {})
        new_resource_name = _updated_name(original_resource, new_resource_name, properties)
        if new_resource_name != original_resource.name:
            replacement = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            original_resource.delete(account_id, region_name)
            return replacement
        backend = _codebuild(account_id, region_name)
        old = backend.codebuild_projects[original_resource.name].project_metadata
        history = list(backend.build_history.get(original_resource.name, []))
        metadata = _store_project(backend, project_request(new_resource_name, properties))
        # moto's create_project starts a project afresh; an update keeps what the project had.
        metadata["created"] = old["created"]
        backend.build_history[original_resource.name] = history
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        """DeleteProject."""
        _codebuild(account_id, region_name).delete_project(resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        """DeleteProject (what moto's CloudFormation calls on a stack's delete)."""
        _codebuild(account_id, region_name).delete_project(self.name)

    def is_created(self) -> bool:
        """Created as soon as CreateProject returns."""
        return True


# --- AWS::CodePipeline::Pipeline ---------------------------------------------------------------


def pipeline_request(
    name: str, properties: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The CreatePipeline request for the properties: the pipeline declaration and its tags."""
    given = {k: v for k, v in properties.items() if k != "Name" and k not in _PIPELINE_IGNORED}
    tags = given.pop("Tags", [])
    stores = given.pop("ArtifactStores", None)
    declaration: dict[str, Any] = api_value(given, api_shape("codepipeline", "PipelineDeclaration"))
    declaration["name"] = name
    if stores is not None:
        declaration["artifactStores"] = _artifact_stores(stores)
    request = api_shape("codepipeline", "CreatePipelineInput")
    if not isinstance(request, StructureShape):  # botocore's model says it is one
        raise TypeError("botocore's CreatePipelineInput is not a structure")
    return declaration, api_value(tags, request.members["tags"], "Properties.Tags")


def _artifact_stores(stores: Any) -> dict[str, Any]:
    # CloudFormation lists {Region, ArtifactStore}; the API maps each region to its store.
    store = api_shape("codepipeline", "ArtifactStore")
    if not isinstance(stores, list) or not all(isinstance(s, dict) for s in stores):
        raise PropertyError("Properties.ArtifactStores: expected a list of objects")
    return {
        str(s.get("Region")): api_value(s.get("ArtifactStore"), store, "ArtifactStores")
        for s in stores
    }


def _codepipeline(account_id: str, region_name: str) -> CodePipelineBackend:
    return codepipeline_backends[account_id][region_name]


class CodePipelinePipeline(_ByName, CloudFormationModel):
    """``AWS::CodePipeline::Pipeline``: a pipeline in moto's CodePipeline backend, by name."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodePipeline::Pipeline"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "Version")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        """``Fn::GetAtt``: Arn, or Version (the pipeline's current version, a string)."""
        from moto.cloudformation.exceptions import (  # noqa: PLC0415 - moto's own lazy import
            UnformattedGetAttTemplateException,
        )

        declaration, metadata = _codepipeline(self.account_id, self.region_name).get_pipeline(
            self.name
        )
        if attribute_name == "Arn":
            return str(metadata["pipelineArn"])
        if attribute_name == "Version":
            return str(declaration["version"])
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CodePipelinePipeline:
        """CreatePipeline (moto checks the name, the role's trust and the stage count)."""
        declaration, tags = pipeline_request(resource_name, cloudformation_json["Properties"])
        _codepipeline(account_id, region_name).create_pipeline(declaration, tags)
        named = "Name" in cloudformation_json["Properties"]
        return cls(account_id, region_name, resource_name, named)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: CodePipelinePipeline,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> CodePipelinePipeline:
        """UpdatePipeline and its tags; a new name (create-only) replaces the pipeline."""
        properties = cloudformation_json["Properties"]
        new_resource_name = _updated_name(original_resource, new_resource_name, properties)
        if new_resource_name != original_resource.name:
            replacement = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            original_resource.delete(account_id, region_name)
            return replacement
        backend = _codepipeline(account_id, region_name)
        declaration, tags = pipeline_request(new_resource_name, properties)
        backend.update_pipeline(declaration)
        arn = backend.get_pipeline(new_resource_name)[1]["pipelineArn"]
        old_keys = [tag["key"] for tag in backend.list_tags_for_resource(arn)]
        backend.untag_resource(arn, old_keys)
        backend.tag_resource(arn, tags)
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        """DeletePipeline."""
        _codepipeline(account_id, region_name).delete_pipeline(resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        """DeletePipeline (what moto's CloudFormation calls on a stack's delete)."""
        _codepipeline(account_id, region_name).delete_pipeline(self.name)

    def is_created(self) -> bool:
        """Created as soon as CreatePipeline returns."""
        return True


MODELS: tuple[type[CloudFormationModel], ...] = (CodeBuildProject, CodePipelinePipeline)


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
