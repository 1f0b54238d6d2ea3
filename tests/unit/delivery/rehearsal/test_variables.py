"""CodePipeline's variables and the VariableCheck rule of a stage's entry condition."""

from __future__ import annotations

import pytest

from delivery.errors import DeliveryError
from delivery.rehearsal.definition import Condition, Rule
from delivery.rehearsal.variables import Namespaces, engaged, rule_passes

RELEASE = r"^[0-9]+\.[0-9]+\.[0-9]+$"


def check(operator: str, value: str) -> Rule:
    return Rule(
        "Check",
        "VariableCheck",
        {"Variable": "#{Build.IMAGE_VERSION}", "Operator": operator, "Value": value},
    )


def built(version: str) -> Namespaces:
    namespaces = Namespaces()
    namespaces.export("Build", {"IMAGE_VERSION": version})
    namespaces.export(None, {"IGNORED": "no namespace, no variables"})
    return namespaces


@pytest.mark.parametrize(
    ("operator", "value", "version", "passes"),
    [
        ("MATCHES", RELEASE, "1.2.3", True),
        ("MATCHES", RELEASE, "1.2.3-dev.gabc", False),
        ("EQ", "1.2.3", "1.2.3", True),
        ("NE", "1.2.3", "1.2.3", False),
        ("CONTAINS", "dev", "1.2.3-dev.gabc", True),
    ],
)
def test_variable_check_operators(operator: str, value: str, version: str, passes: bool) -> None:
    assert rule_passes(check(operator, value), built(version)) is passes


def test_a_failing_rule_engages_its_conditions_result() -> None:
    skip = Condition("SKIP", (check("MATCHES", RELEASE),))
    assert engaged((skip,), built("1.2.3-dev.gabc")) == skip  # a pre-release: stage skipped
    assert engaged((skip,), built("1.2.3")) is None  # a release: stage entered


def test_references_resolve_and_an_unknown_one_is_one_line() -> None:
    namespaces = built("1.2.3")
    assert namespaces.resolve("v#{Build.IMAGE_VERSION}!") == "v1.2.3!"
    with pytest.raises(DeliveryError, match=r"#\{Build.NOPE\} names no variable"):
        namespaces.resolve("#{Build.NOPE}")


def test_rules_other_than_variable_check_are_refused() -> None:
    with pytest.raises(DeliveryError, match="VariableCheck rules only, not LambdaInvoke"):
        rule_passes(Rule("L", "LambdaInvoke", {}), Namespaces())
