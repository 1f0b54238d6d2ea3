"""Helpers to query rendered CloudFormation templates (plain JSON dicts)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Template = dict[str, Any]


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    """The template's resources of CloudFormation type ``kind``, by logical id."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def one(template: Template, kind: str) -> dict[str, Any]:
    """The single resource of type ``kind`` (fails if there are none or several)."""
    found = list(resources(template, kind).values())
    assert len(found) == 1, f"{len(found)} resources of type {kind}"
    return found[0]


def walk(value: Any) -> Iterator[Any]:
    """Every nested value of a JSON document, depth first."""
    yield value
    if isinstance(value, dict):
        for child in value.values():
            yield from walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from walk(child)
