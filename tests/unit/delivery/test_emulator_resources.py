"""The emulator's CloudFormation models answer Ref and Fn::GetAtt as the provider schemas say.

The schemas cfn-lint ships (read through stacks.common.provider_schemas, their one reader) give
each type's ``primaryIdentifier`` (what Ref returns) and ``readOnlyProperties`` (the attributes
Fn::GetAtt reads besides the properties).
"""

from __future__ import annotations

from typing import Any

import pytest
from moto.core.common_models import CloudFormationModel

from delivery.emulator_resources import MODELS
from stacks.common import provider_schemas

REGION = "eu-north-1"


def schema(resource_type: str) -> dict[str, Any]:
    # The reader's private lookups: it exposes permissions only, and stacks/ is not this part's.
    name = provider_schemas._index(REGION)[resource_type]
    found: dict[str, Any] = provider_schemas._schema(name)
    return found


def properties(pointers: list[str]) -> set[str]:
    return {p.removeprefix("/properties/") for p in pointers}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.cloudformation_type())
def test_getatt_reads_exactly_the_read_only_properties(model: type[CloudFormationModel]) -> None:
    read_only = properties(schema(model.cloudformation_type()).get("readOnlyProperties", []))
    assert read_only
    assert all(model.has_cfn_attr(attribute) for attribute in read_only)
    assert not model.has_cfn_attr("NoSuchAttribute")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.cloudformation_type())
def test_ref_is_the_primary_identifier(model: type[CloudFormationModel]) -> None:
    found = schema(model.cloudformation_type())
    (identifier,) = properties(found["primaryIdentifier"])
    # Ref gives either the name property (the name it was given or generated) or a read-only
    # attribute (a secret's Id: its ARN, which the integration tests compare with Ref).
    assert identifier == model.cloudformation_name_type() or identifier in properties(
        found["readOnlyProperties"]
    )
    # The name property moto fills in when absent is create-only: a new one replaces.
    assert f"/properties/{model.cloudformation_name_type()}" in found["createOnlyProperties"]
