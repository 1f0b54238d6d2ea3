"""What the emulator's CloudFormation models share: properties as the API names them, names.

Properties become the service API's request exactly as botocore's service model names it
(``api_value``): each CloudFormation key is matched, case-insensitively, to a member of the API
shape (``Stages`` -> ``stages``, ``BuildSpec`` -> ``buildspec``), recursively; a map's keys (an
action's ``Configuration``) stay as written. Any key the shape lacks fails the resource as
CloudFormation does ("Encountered unsupported property").
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape


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


def boolean(value: Any, where: str) -> bool:
    """A template's boolean (true, or "true" as a parameter gives it); PropertyError if none."""
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise PropertyError(f"{where}: {value!r} is not a boolean")


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
        return boolean(value, where)
    if kind == "string":
        if isinstance(value, (dict, list)):
            raise PropertyError(f"{where}: expected a string")
        return ("true" if value else "false") if isinstance(value, bool) else str(value)
    return value


def updated_name(
    original: Any, new_resource_name: str, properties: dict[str, Any], name_property: str = "Name"
) -> str:
    """The resource's name after an update, as CloudFormation keeps it.

    A generated name stays (moto generates a new one for every update it parses); only the name
    property (``Name``, or the type's own), added or changed, names the resource anew, which
    replaces it.
    """
    if name_property not in properties and not original.named:
        return str(original.name)
    return new_resource_name


class Removable:
    """What every model here shares: deleted by one call of its type's API (``remove``), created
    as soon as the create call returns, and replaced new-first. A mixin: moto finds models as
    direct subclasses of CloudFormationModel."""

    name: str

    @classmethod
    def remove(cls, account_id: str, region_name: str, name: str) -> None:
        """The type's delete call for ``name``."""
        raise NotImplementedError

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        """The type's delete call (``remove``)."""
        cls.remove(account_id, region_name, resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        """The type's delete call (what moto's CloudFormation calls on a stack's delete)."""
        self.remove(account_id, region_name, self.name)

    def is_created(self) -> bool:
        """Created as soon as the create call returns."""
        return True

    @classmethod
    def replace(
        cls,
        original: Removable,
        name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        """A create-only property changed: the new resource is created first, then the old one
        deleted, as CloudFormation replaces a resource."""
        replacement = cls.create_from_cloudformation_json(  # type: ignore[attr-defined]
            name, cloudformation_json, account_id, region_name, **kwargs
        )
        original.delete(account_id, region_name)
        return replacement


class ByName(Removable):
    """A resource CloudFormation names by its ``Name`` property (else generates one); Ref gives
    the name."""

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


def no_such_attribute() -> Exception:
    """What fails an ``Fn::GetAtt`` the resource type has no attribute for, as moto's models do."""
    from moto.cloudformation.exceptions import (  # noqa: PLC0415 - moto's own lazy import
        UnformattedGetAttTemplateException,
    )

    return UnformattedGetAttTemplateException()
