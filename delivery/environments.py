"""What an environment is: a folder of Sceptre config under ``config/`` (``shared`` excluded).

Read with PyYAML only (no Sceptre import) so validating ``--env`` is instant and needs no AWS.
Per-environment facts come from ``config/<env>/config.yaml``; every key has a fallback so an
environment folder that only holds Sceptre's own keys still works:

- ``region``: the env's ``region``, else ``config/config.yaml``'s, else ``eu-north-1``;
- ``registry``: which Sceptre folder holds the ECR ``registry`` stack this env pushes to/pulls from.
  Defaults to the env itself when ``config/<env>/registry.yaml`` exists, else ``shared``;
- ``destroy_protection``: prod-like; ``destroy`` refuses without ``--force``. Defaults to true only
  for ``prod``;
- ``releases_only``: deploy and rollback take released versions only (``X.Y.Z``, no pre-release
  such as ``1.3.0-dev.g<sha>``) unless ``--allow-prerelease``. Defaults to true only for ``prod``;
- ``emulator``: the env is the local moto emulator. Defaults to true only for ``local``;
- ``slo_gate``: deploy refuses while the env's SLO burn-rate alarms are in ALARM, unless
  ``--force`` (``delivery.slo``; rollback is never gated). Defaults to true only for ``prod``.

Regions are Sceptre's: each stack lives where its config says (``stack_region``), and delivery
reads it there, never in the region of the shell's AWS profile or ``AWS_DEFAULT_REGION``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from delivery import project, sceptre_yaml
from delivery.errors import DeliveryError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED = "shared"
DEFAULT_REGION = "eu-north-1"
DEFAULT_PROJECT_CODE = project.NAME


def read_yaml(path: Path) -> dict[str, Any]:
    """A Sceptre YAML file as a dict; values still holding Jinja (``{{ ... }}``) are dropped.

    Sceptre renders config through Jinja before YAML; we only need literal facts, so anything
    templated is treated as "not set here" and the caller's fallback applies.
    """
    if not path.is_file():
        return {}
    try:
        data = sceptre_yaml.read(path, jinja="")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise DeliveryError(f"{path} is not valid YAML{where}: fix the file") from exc
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class StackRef:
    """A CloudFormation stack as AWS identifies it: a name within a region."""

    name: str
    region: str


@dataclass(frozen=True)
class Environment:
    """One deployable environment and the facts delivery needs about it."""

    name: str
    region: str
    registry_group: str
    destroy_protection: bool
    releases_only: bool
    emulator: bool
    project_code: str
    root: Path
    slo_gate: bool = False

    @property
    def config_dir(self) -> Path:
        """``config/<env>/``."""
        return self.root / "config" / self.name

    @property
    def registry_path(self) -> str:
        """Sceptre command path of the registry stack, e.g. ``shared/registry.yaml``."""
        return f"{self.registry_group}/registry.yaml"

    def stack_path(self, stack: str) -> str:
        """Sceptre command path of one of this env's stacks, e.g. ``dev/service.yaml``."""
        return f"{self.name}/{stack}.yaml"

    def stack_name(self, stack: str, group: str | None = None) -> str:
        """CloudFormation name Sceptre gives a stack: ``<project_code>-<group>-<stack>``."""
        return f"{self.project_code}-{group or self.name}-{stack}"

    def stack_ref(self, stack: str, group: str | None = None) -> StackRef:
        """Name and region of one stack of this env (or of ``group``, e.g. ``shared``)."""
        folder = group or self.name
        return StackRef(
            self.stack_name(stack, folder), stack_region(self.root, f"{folder}/{stack}")
        )

    def stacks(self) -> list[str]:
        """Names of the stacks configured for this env (``config/<env>/*.yaml``, sorted)."""
        return sorted(p.stem for p in self.config_dir.glob("*.yaml") if p.name != "config.yaml")


def stack_region(root: Path, path: str) -> str:
    """The region Sceptre deploys the stack at ``path`` (``dev/budget``) to.

    Sceptre's rule: the stack file's ``region``, else the nearest folder ``config.yaml`` that sets
    one (``config/<group>/``, then ``config/``), else ``DEFAULT_REGION``. Per-stack regions exist
    for resource types that are not in every region (AWS Budgets: us-east-1).
    """
    group, _, stack = path.partition("/")
    config = root / "config"
    for candidate in (
        config / group / f"{stack}.yaml",
        config / group / "config.yaml",
        config / "config.yaml",
    ):
        region = read_yaml(candidate).get("region")
        if region:
            return str(region)
    return DEFAULT_REGION


def names(root: Path = PROJECT_ROOT) -> list[str]:
    """Environment names: the folders under ``config/`` except ``shared``, sorted."""
    config = root / "config"
    if not config.is_dir():
        return []
    return sorted(
        p.name
        for p in config.iterdir()
        if p.is_dir() and p.name != SHARED and not p.name.startswith((".", "_"))
    )


def _flag(value: Any, default: bool, path: Path, key: str) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    raise DeliveryError(f"{path}: '{key}' must be true or false, not {value!r}")


def load(name: str | None, root: Path = PROJECT_ROOT) -> Environment:
    """The environment ``name``; a one-line DeliveryError naming the valid ones otherwise."""
    known = names(root)
    if not name:
        raise DeliveryError(f"no environment given: pass --env with one of {', '.join(known)}")
    if name not in known:
        choices = ", ".join(known) if known else "none found under config/"
        raise DeliveryError(f"unknown environment '{name}': choose one of {choices}")
    top = read_yaml(root / "config" / "config.yaml")
    path = root / "config" / name / "config.yaml"
    own = read_yaml(path)
    registry = own.get("registry")
    if registry is None:
        registry = name if (root / "config" / name / "registry.yaml").is_file() else SHARED
    if not isinstance(registry, str) or not (root / "config" / registry).is_dir():
        raise DeliveryError(f"{path}: registry '{registry}' is not a folder under config/")
    return Environment(
        name=name,
        region=str(own.get("region") or top.get("region") or DEFAULT_REGION),
        registry_group=registry,
        destroy_protection=_flag(
            own.get("destroy_protection"), name == "prod", path, "destroy_protection"
        ),
        releases_only=_flag(own.get("releases_only"), name == "prod", path, "releases_only"),
        emulator=_flag(own.get("emulator"), name == "local", path, "emulator"),
        project_code=str(
            own.get("project_code") or top.get("project_code") or DEFAULT_PROJECT_CODE
        ),
        root=root,
        slo_gate=_flag(own.get("slo_gate"), name == "prod", path, "slo_gate"),
    )


def build_only(root: Path) -> Environment:
    """An environment for the steps that depend on none (build, scan): only ``root`` is read."""
    return Environment(
        name="build",
        region=DEFAULT_REGION,
        registry_group=SHARED,
        destroy_protection=False,
        releases_only=False,
        emulator=False,
        project_code=DEFAULT_PROJECT_CODE,
        root=root,
    )
