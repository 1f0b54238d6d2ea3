"""Do the CloudFormation service roles hold what AWS says CloudFormation needs? Offline, from data.

``python -m delivery.permissions`` renders every environment's stacks (the launch code path,
``delivery.render``), collects the resource types each environment's templates hold, and asks the
provider schemas cfn-lint ships (``stacks.common.provider_schemas``) which permissions the create,
read, update and delete handlers of each type call in the region the stack is deployed to. Each
environment whose stacks CloudFormation changes through a service role
(``cloudformation_service_role`` in its config) must find every one of those permissions in that
role's policies, as rendered in the account's CloudFormation roles stack. One line per environment,
then the total missing; exit status 1 when anything is missing or out of step.

The roles are generated from the same schemas (``stacks.cloudformation_roles``), so what this
check catches is drift between what the roles were generated for (each stack module's
``EVERY_FEATURE``) and what the environments really deploy: a stack the role does not list, a type
a module gained without its EVERY_FEATURE settings creating it, a region not in the role's list.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from delivery import environments, render, sceptre_yaml
from delivery.errors import DeliveryError

ROLES_STACK = "cloudformation-roles"
ROLE_KEY = "cloudformation_service_role"

Template = Mapping[str, Any]


@dataclass(frozen=True)
class Coverage:
    """One environment's CloudFormation role against what its stacks need."""

    environment: str
    role: str  # the roles-stack output the environment's config names, e.g. DevRoleArn
    stacks: tuple[str, ...]
    types: int
    needed: frozenset[str]
    granted: frozenset[str]
    problems: tuple[str, ...] = field(default=())

    @property
    def missing(self) -> frozenset[str]:
        """What CloudFormation needs for these stacks and the role does not grant."""
        return self.needed - self.granted

    def line(self) -> str:
        """One line for people: counts, then what is missing or out of step."""
        summary = (
            f"{self.environment}: role {self.role}, {len(self.stacks)} stacks "
            f"({', '.join(self.stacks)}), {self.types} resource types, {len(self.needed)} "
            f"permissions needed, {len(self.needed & self.granted)} granted, "
            f"{len(self.missing)} missing"
        )
        details = [*self.problems]
        if self.missing:
            details.append("missing: " + ", ".join(sorted(self.missing)))
        return summary + "".join(f"; {detail}" for detail in details)


def configured_role(root: Path, environment: str) -> sceptre_yaml.Tagged | None:
    """The ``!stack_output`` the environment's config.yaml gives as its service role, if any."""
    path = root / "config" / environment / "config.yaml"
    data = sceptre_yaml.read(path) if path.is_file() else {}
    value = data.get(ROLE_KEY) if isinstance(data, dict) else None
    if isinstance(value, sceptre_yaml.Tagged) and value.tag == "!stack_output":
        return value
    if value is not None:
        raise DeliveryError(
            f"{path}: {ROLE_KEY} must be a !stack_output of the {ROLES_STACK} stack, not {value!r}"
        )
    return None


def _role_of_output(roles: Template, output: str) -> str:
    value = roles.get("Outputs", {}).get(output, {}).get("Value", {})
    logical = value.get("Fn::GetAtt", [None])[0] if isinstance(value, dict) else None
    if not logical:
        raise DeliveryError(f"the {ROLES_STACK} stack has no output {output}")
    return str(logical)


def granted_actions(roles: Template, role: str) -> frozenset[str]:
    """Every action the managed policies attached to ``role`` allow (on any resource)."""
    found: set[str] = set()
    for resource in roles.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") != "AWS::IAM::ManagedPolicy":
            continue
        if {"Ref": role} not in props.get("Roles", []):
            continue
        for statement in props["PolicyDocument"]["Statement"]:
            if statement.get("Effect") != "Allow":
                continue
            actions = statement["Action"]
            found.update([actions] if isinstance(actions, str) else actions)
    return frozenset(found)


def needed_actions(templates: Mapping[str, tuple[Template, str]]) -> tuple[int, frozenset[str]]:
    """(resource types, permissions) the schemas list for ``templates`` (stack -> body, region)."""
    from stacks.common.provider_schemas import (  # noqa: PLC0415 - the stacks group's data
        SchemaError,
        permissions,
        template_permissions,
    )

    needed: set[str] = set()
    types: set[tuple[str, str]] = set()
    for template, region in templates.values():
        needed |= template_permissions(template)  # Fn::GetAZs, AWS-specific parameter types
        for resource in template.get("Resources", {}).values():
            types.add((str(resource["Type"]), region))
    for kind, region in sorted(types):
        try:
            needed |= permissions(kind, [region])
        except SchemaError as exc:
            raise DeliveryError(str(exc)) from exc
    return len({kind for kind, _ in types}), frozenset(needed)


def check(root: Path = environments.PROJECT_ROOT) -> list[Coverage]:
    """The coverage of every environment that deploys through a CloudFormation service role."""
    config_dir = root / "config"
    stacks = render.stack_configs(config_dir)
    rendered = {f"{s.environment}/{s.name}": json.loads(render.render_stack(s)) for s in stacks}
    results = []
    for environment in environments.names(root):
        tagged = configured_role(root, environment)
        if tagged is None:
            continue
        source, _, output = str(tagged.value).partition("::")
        roles_path = source.removesuffix(".yaml")
        if roles_path not in rendered:
            raise DeliveryError(f"config/{environment}: {ROLE_KEY} names {source}, no such stack")
        roles_settings = _user_data(config_dir / source)
        role = _role_of_output(rendered[roles_path], output)
        own = {
            path: (body, environments.stack_region(root, path))
            for path, body in rendered.items()
            if path.startswith(f"{environment}/")
        }
        listed = _listed_stacks(roles_settings, environment)
        deployed = tuple(sorted(path.split("/")[1] for path in own))
        problems = []
        if sorted(listed) != list(deployed):
            problems.append(
                f"the role is generated for stacks {', '.join(sorted(listed)) or 'none'} but "
                f"config/{environment}/ launches {', '.join(deployed)}: list them in {source}"
            )
        regions = set(roles_settings.get("regions", []))
        for path, (_, region) in sorted(own.items()):
            if region not in regions:
                problems.append(f"{path} deploys to {region}, not among the role's regions")
        types, needed = needed_actions(own)
        results.append(
            Coverage(
                environment=environment,
                role=output,
                stacks=deployed,
                types=types,
                needed=needed,
                granted=granted_actions(rendered[roles_path], role),
                problems=tuple(problems),
            )
        )
    return results


def _user_data(config_file: Path) -> dict[str, Any]:
    data = sceptre_yaml.read(config_file)
    user_data = data.get("sceptre_user_data", {}) if isinstance(data, dict) else {}
    return user_data if isinstance(user_data, dict) else {}


def _listed_stacks(settings: Mapping[str, Any], environment: str) -> list[str]:
    for entry in settings.get("environments", []):
        if isinstance(entry, dict) and entry.get("name") == environment:
            return [str(stack) for stack in entry.get("stacks", [])]
    return []


def report(results: Iterable[Coverage]) -> tuple[list[str], bool]:
    """The lines to print and whether every role covers its environment."""
    results = list(results)
    lines = [result.line() for result in results]
    missing = sum(len(result.missing) for result in results)
    problems = sum(len(result.problems) for result in results)
    lines.append(
        f"CloudFormation roles: {len(results)} environments, {missing} permissions missing, "
        f"{problems} out of step"
    )
    return lines, bool(results) and missing == 0 and problems == 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: one line per environment, exit 1 on anything missing."""
    parser = argparse.ArgumentParser(prog="python -m delivery.permissions", description=__doc__)
    parser.add_argument("--root", type=Path, default=environments.PROJECT_ROOT)
    args = parser.parse_args(argv)
    try:
        lines, ok = report(check(args.root))
    except DeliveryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
