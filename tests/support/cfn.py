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


def _condition(template: Template, expression: Any, parameters: dict[str, str]) -> bool:
    """Evaluate a condition expression (Equals, Not, And, Or, Condition; Ref to parameters)."""
    (function, args), *_ = expression.items()
    if function == "Condition":
        return _condition(template, template["Conditions"][args], parameters)
    if function == "Fn::Equals":
        left, right = (parameters[arg["Ref"]] if isinstance(arg, dict) else arg for arg in args)
        return bool(left == right)
    if function == "Fn::Not":
        return not _condition(template, args[0], parameters)
    if function == "Fn::And":
        return all(_condition(template, arg, parameters) for arg in args)
    if function == "Fn::Or":
        return any(_condition(template, arg, parameters) for arg in args)
    raise AssertionError(f"not a condition function: {function}")


def _condition_inputs(template: Template, name: str) -> set[str]:
    """The parameters condition ``name`` reads, through the conditions it names."""
    inputs: set[str] = set()
    for value in walk(template["Conditions"][name]):
        if isinstance(value, dict) and "Ref" in value:
            inputs.add(value["Ref"])
        if isinstance(value, dict) and "Condition" in value:
            inputs |= _condition_inputs(template, value["Condition"])
    return inputs


def with_parameters(template: Template, parameters: dict[str, str]) -> Template:
    """``template`` with each ``Fn::If`` whose condition reads only ``parameters`` decided.

    Only the branches CloudFormation would take for these values remain; every other
    intrinsic function is left as it is. Enough to read what one update of a stack gets.
    """

    def decide(value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            if _condition_inputs(template, name) <= set(parameters):
                taken = _condition(template, {"Condition": name}, parameters)
                return decide(when_true if taken else when_false)
        if isinstance(value, dict):
            return {key: decide(child) for key, child in value.items()}
        if isinstance(value, list):
            return [decide(child) for child in value]
        return value

    return {key: decide(part) if key == "Resources" else part for key, part in template.items()}
