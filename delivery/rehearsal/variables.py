"""CodePipeline's variables and the stage conditions that read them.

``#{<namespace>.<name>}`` names a variable an earlier action exported under its ``Namespace``
(a CodeBuild action exports its buildspec's ``exported-variables``); CodePipeline resolves every
reference in an action's configuration before the action starts, and a reference to a variable
that does not exist fails the action
(https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html).

A ``BeforeEntry`` condition engages its result (SKIP, FAIL) when one of its rules fails; the
``VariableCheck`` rule compares a variable with EQ, NE, CONTAINS or MATCHES, the last with a
Java regular expression
(https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-VariableCheck.html).
Whether MATCHES must match the whole value is not documented: it is evaluated here as a search,
which agrees with a full match for the anchored patterns the project uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from delivery.errors import DeliveryError
from delivery.rehearsal.definition import Condition, Rule

_REFERENCE = re.compile(r"#\{([A-Za-z0-9@\-_]+)\.([A-Za-z0-9@\-_.]+)\}")


@dataclass
class Namespaces:
    """The variables exported so far in one pipeline execution, by namespace."""

    values: dict[str, dict[str, str]] = field(default_factory=dict)

    def export(self, namespace: str | None, variables: Mapping[str, str]) -> None:
        """Record an action's exported variables (nothing when it has no namespace)."""
        if namespace:
            self.values.setdefault(namespace, {}).update(variables)

    def resolve(self, text: str) -> str:
        """``text`` with every ``#{namespace.name}`` replaced; one line for an unknown one."""

        def value(match: re.Match[str]) -> str:
            namespace, name = match.group(1), match.group(2)
            found = self.values.get(namespace, {}).get(name)
            if found is None:
                raise DeliveryError(
                    f"#{{{namespace}.{name}}} names no variable: no earlier action of this "
                    f"execution exported {name} under namespace {namespace}"
                )
            return found

        return _REFERENCE.sub(value, text)


def _java_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise DeliveryError(
            f"VariableCheck MATCHES value {pattern!r} is not a regex: {exc}"
        ) from exc


def rule_passes(rule: Rule, namespaces: Namespaces) -> bool:
    """Whether a VariableCheck rule passes for this execution's variables."""
    if rule.provider != "VariableCheck":
        raise DeliveryError(
            f"rule {rule.name}: the rehearsal evaluates VariableCheck rules only, not "
            f"{rule.provider}"
        )
    actual = namespaces.resolve(rule.configuration["Variable"])
    wanted = rule.configuration["Value"]
    operator = rule.configuration["Operator"]
    if operator == "EQ":
        return actual == wanted
    if operator == "NE":
        return actual != wanted
    if operator == "CONTAINS":
        return wanted in actual
    if operator == "MATCHES":
        return _java_regex(wanted).search(actual) is not None
    raise DeliveryError(f"rule {rule.name}: unknown VariableCheck operator {operator}")


def engaged(conditions: tuple[Condition, ...], namespaces: Namespaces) -> Condition | None:
    """The first condition whose rules do not all pass (its result engages), else None."""
    for condition in conditions:
        if not all(rule_passes(rule, namespaces) for rule in condition.rules):
            return condition
    return None
