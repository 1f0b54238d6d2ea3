"""``AWS::CodeBuild::Project`` on moto's CodeBuild backend (see the package's docstring).

moto's ``CodeBuildBackend.create_project`` creates it; properties become CreateProject's request
through ``api_value``, and the few that are not part of that request are handled by name here.
"""

from __future__ import annotations

from typing import Any

from moto.codebuild.exceptions import ResourceAlreadyExistsException
from moto.codebuild.models import CodeBuildBackend, codebuild_backends
from moto.core.common_models import CloudFormationModel

from delivery.emulator_resources.properties import (
    ByName,
    api_shape,
    api_value,
    no_such_attribute,
    updated_name,
)

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
# Properties with no counterpart moto could honour (see the package's docstring).
_PROJECT_IGNORED = ("Triggers",)


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


class CodeBuildProject(ByName, CloudFormationModel):
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
        if attribute_name == "Arn":
            return self.arn
        if attribute_name == "Id":
            return self.name
        raise no_such_attribute()

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
        new_resource_name = updated_name(original_resource, new_resource_name, properties)
        if new_resource_name != original_resource.name:
            return cls.replace(  # type: ignore[no-any-return]
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
        backend = _codebuild(account_id, region_name)
        old = backend.codebuild_projects[original_resource.name].project_metadata
        history = list(backend.build_history.get(original_resource.name, []))
        metadata = _store_project(backend, project_request(new_resource_name, properties))
        # moto's create_project starts a project afresh; an update keeps what the project had.
        metadata["created"] = old["created"]
        backend.build_history[original_resource.name] = history
        return original_resource

    @classmethod
    def remove(cls, account_id: str, region_name: str, name: str) -> None:
        """DeleteProject."""
        _codebuild(account_id, region_name).delete_project(name)
