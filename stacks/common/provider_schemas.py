"""What CloudFormation needs to manage a resource type, read from AWS's own data.

Every registry resource type publishes a provider schema whose ``handlers`` section lists the IAM
permissions its create, read, update and delete handlers call. cfn-lint ships those schemas, per
region, as the AWS CloudFormation Registry publishes them (``cfnlint/data/schemas``: per region
an index of type -> schema file); this module reads them, so a CloudFormation service role is
generated from AWS's data rather than from a hand-kept list, and a type missing from a region is
an error here, not at deploy time. The files are read directly: importing cfn-lint itself costs
seconds, reading two JSON files milliseconds.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

# The handlers CloudFormation runs on a stack's resources: create, update and delete, and read,
# which it calls after each of them (attributes for Fn::GetAtt, drift, the rollback's diff).
# ``list`` serves only resource discovery (Cloud Control ListResources), never a stack operation.
STACK_HANDLERS = ("create", "read", "update", "delete")


class SchemaError(ValueError):
    """A resource type the schemas cannot vouch for: unknown there, or without handler data."""


def _schemas_dir() -> Path:
    spec = importlib.util.find_spec("cfnlint")  # locates the package without importing it
    if spec is None or spec.origin is None:
        raise SchemaError("cfn-lint is not installed: its provider schemas are the source here")
    return Path(spec.origin).parent / "data" / "schemas"


@cache
def _index(region: str) -> dict[str, str]:
    """Resource type -> schema file name, for ``region``."""
    path = _schemas_dir() / "providers" / f"{region}.json"
    if not path.is_file():
        raise SchemaError(f"cfn-lint ships no provider schemas for region {region}")
    data: dict[str, str] = json.loads(path.read_text())
    return data


@cache
def _schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_schemas_dir() / "resources" / f"{name}.json").read_text())
    return data


@cache
def _handler_permissions(region: str, resource_type: str) -> dict[str, frozenset[str]] | None:
    """The type's permissions per handler in ``region``; None when the type is not there."""
    name = _index(region).get(resource_type)
    if name is None:
        return None
    handlers = _schema(name).get("handlers") or {}
    return {
        handler: frozenset(spec.get("permissions", ()))
        for handler, spec in handlers.items()
        if isinstance(spec, dict)
    }


def resource_schema(resource_type: str, region: str) -> dict[str, Any]:
    """The provider schema of ``resource_type`` in ``region`` (its properties and definitions)."""
    name = _index(region).get(resource_type)
    if name is None:
        raise SchemaError(f"{resource_type} is not in cfn-lint's provider schemas for {region}")
    return _schema(name)


@cache
def iam_actions() -> frozenset[str]:
    """Every IAM action, ``service:action`` lowercase, as the Service Authorization Reference
    lists them (cfn-lint ships it as ``AdditionalSpecs/Policies.json``)."""
    path = _schemas_dir().parent / "AdditionalSpecs" / "Policies.json"
    services: dict[str, Any] = json.loads(path.read_text())
    return frozenset(
        f"{service}:{action}"
        for service, spec in services.items()
        for action in spec.get("Actions", {})
    )


def is_iam_action(action: str) -> bool:
    """Whether IAM evaluates ``action`` at all (case-insensitive, as IAM compares actions)."""
    return action.lower() in iam_actions()


def available(resource_type: str, region: str) -> bool:
    """Whether CloudFormation offers ``resource_type`` in ``region`` at all."""
    return _handler_permissions(region, resource_type) is not None


def permissions(
    resource_type: str, regions: Iterable[str], handlers: Iterable[str] = STACK_HANDLERS
) -> frozenset[str]:
    """Every IAM action the ``handlers`` of ``resource_type`` call, in any of ``regions``.

    Only real IAM actions are returned (``is_iam_action``). A handler a type does not publish is
    one CloudFormation never runs for it (a type without an update handler is replaced instead;
    AWS::SNS::TopicPolicy has no read handler). Raises ``SchemaError`` when the type exists in
    none of the regions, or publishes no handlers at all (legacy types such as
    AWS::CodeBuild::Project: their needs cannot be derived from the schemas and must not be
    guessed).
    """
    wanted = tuple(handlers)
    found: set[str] = set()
    known = False
    regions = tuple(regions)
    for region in regions:
        by_handler = _handler_permissions(region, resource_type)
        if by_handler is None:
            continue
        known = True
        if not by_handler:
            raise SchemaError(
                f"{resource_type} publishes no handler permissions in {region}: "
                "CloudFormation's needs for it are not in AWS's data"
            )
        for name in wanted:
            found |= by_handler.get(name, frozenset())
    if not known:
        raise SchemaError(f"{resource_type} does not exist in {', '.join(regions)}")
    # Some schemas list names IAM has no action for (s3:DeleteBucketLifecycle is an API call
    # authorized by s3:PutLifecycleConfiguration; "s3:REST.PUT.OBJECT"): IAM never evaluates
    # them, so they grant nothing and are left out.
    return frozenset(action for action in found if is_iam_action(action))


# What CloudFormation itself calls while it processes a template, beyond any resource's handlers
# (so no schema lists it): Fn::GetAZs, which "needs permissions to the Amazon EC2
# DescribeAvailabilityZones and DescribeAccountAttributes APIs" (CloudFormation template
# reference, Fn::GetAZs), and AWS-specific parameter types, whose values CloudFormation checks
# against the account's resources (template reference, "Parameters": AWS-specific types).
TEMPLATE_FEATURES: dict[str, frozenset[str]] = {
    "Fn::GetAZs": frozenset({"ec2:DescribeAccountAttributes", "ec2:DescribeAvailabilityZones"}),
    "AWS::EC2::VPC::Id": frozenset({"ec2:DescribeVpcs"}),
    "AWS::EC2::Subnet::Id": frozenset({"ec2:DescribeSubnets"}),
    "AWS::EC2::SecurityGroup::Id": frozenset({"ec2:DescribeSecurityGroups"}),
}


def _features(template: Mapping[str, Any]) -> Iterator[str]:
    """The intrinsic functions and AWS-specific parameter types ``template`` uses."""
    for parameter in template.get("Parameters", {}).values():
        kind = str(parameter.get("Type", ""))
        yield kind.removeprefix("List<").removesuffix(">")

    def walk(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key, child in value.items():
                yield key
                yield from walk(child)
        elif isinstance(value, list):
            for child in value:
                yield from walk(child)

    yield from walk(template.get("Resources", {}))
    yield from walk(template.get("Outputs", {}))


def template_permissions(template: Mapping[str, Any]) -> frozenset[str]:
    """What CloudFormation calls for ``template`` itself (``TEMPLATE_FEATURES``), with the
    credentials it acts with: the stack's service role."""
    used = set(_features(template))
    return frozenset().union(
        *(TEMPLATE_FEATURES[name] for name in used if name in TEMPLATE_FEATURES)
    )
