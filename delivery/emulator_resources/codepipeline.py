"""``AWS::CodePipeline::Pipeline`` on moto's CodePipeline backend (see the package's docstring)."""

from __future__ import annotations

from typing import Any

from botocore.model import StructureShape
from moto.codepipeline.models import CodePipelineBackend, codepipeline_backends
from moto.core.common_models import CloudFormationModel

from delivery.emulator_resources.properties import (
    ByName,
    PropertyError,
    api_shape,
    api_value,
    no_such_attribute,
    updated_name,
)

# Properties with no counterpart moto could honour (see the package's docstring).
_PIPELINE_IGNORED = ("DisableInboundStageTransitions", "RestartExecutionOnUpdate")


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


class CodePipelinePipeline(ByName, CloudFormationModel):
    """``AWS::CodePipeline::Pipeline``: a pipeline in moto's CodePipeline backend, by name."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodePipeline::Pipeline"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "Version")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        """``Fn::GetAtt``: Arn, or Version (the pipeline's current version, a string)."""
        declaration, metadata = _codepipeline(self.account_id, self.region_name).get_pipeline(
            self.name
        )
        if attribute_name == "Arn":
            return str(metadata["pipelineArn"])
        if attribute_name == "Version":
            return str(declaration["version"])
        raise no_such_attribute()

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
        new_resource_name = updated_name(original_resource, new_resource_name, properties)
        if new_resource_name != original_resource.name:
            return cls.replace(  # type: ignore[no-any-return]
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
        backend = _codepipeline(account_id, region_name)
        declaration, tags = pipeline_request(new_resource_name, properties)
        backend.update_pipeline(declaration)
        arn = backend.get_pipeline(new_resource_name)[1]["pipelineArn"]
        old_keys = [tag["key"] for tag in backend.list_tags_for_resource(arn)]
        backend.untag_resource(arn, old_keys)
        backend.tag_resource(arn, tags)
        return original_resource

    @classmethod
    def remove(cls, account_id: str, region_name: str, name: str) -> None:
        """DeletePipeline."""
        _codepipeline(account_id, region_name).delete_pipeline(name)
