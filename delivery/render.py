"""Render every stack of every environment to ``<out>/<env>/<stack>.json``, offline.

``python -m delivery.render --out build/templates [--env E]``

Reads Sceptre's config YAML without Sceptre or boto3 (resolver tags such as ``!stack_output``
become inert placeholders, Jinja ``{{ }}`` is not evaluated: both only feed CloudFormation
parameters, never ``sceptre_user_data``; the one resolver user data may hold,
``!stack_attr project_code``, is resolved as Sceptre does: ``sceptre_yaml.stack_config``) and
calls each stack's Sceptre handler in
``templates/``, so settings are validated exactly as on a real launch. A bad setting is one
line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from delivery import sceptre_yaml
from delivery.environments import stack_region
from delivery.sceptre_yaml import Tagged
from stacks.common.errors import SettingsError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
EXIT_SETTINGS = 2


# A Sceptre resolver or hook left unresolved: no AWS call here.
Unresolved = Tagged


@dataclass(frozen=True)
class StackConfig:
    """One stack's config file: where it lives, its handler module and its user data.

    ``region`` is where Sceptre deploys the stack (``environments.stack_region``).
    """

    environment: str
    name: str
    path: Path
    handler: str
    user_data: Any
    region: str


def _find_unresolved(value: Any) -> Unresolved | None:
    if isinstance(value, Unresolved):
        return value
    children: Iterable[Any] = ()
    if isinstance(value, dict):
        children = value.values()
    elif isinstance(value, list):
        children = value
    for child in children:
        found = _find_unresolved(child)
        if found is not None:
            return found
    return None


def read_stack_config(path: Path, environment: str) -> StackConfig:
    """Parse one stack config file, with what it inherits from its folders' config.yaml (the
    project's name: ``sceptre_user_data.project``); SettingsError if its user data is not plain
    values."""
    # A Sceptre project's config folder holds one folder per environment.
    data = sceptre_yaml.stack_config(path.parent.parent, path)
    if not isinstance(data, dict):
        raise SettingsError(f"{environment}/{path.name}: not a mapping")
    template = data.get("template") or {}
    template_path = template.get("path") if isinstance(template, dict) else None
    template_path = template_path or data.get("template_path")
    if not isinstance(template_path, str) or not template_path.endswith(".py"):
        raise SettingsError(f"{environment}/{path.name}: template.path must name templates/*.py")
    user_data = data.get("sceptre_user_data", {})
    unresolved = _find_unresolved(user_data)
    if unresolved is not None:
        raise SettingsError(
            f"{environment}/{path.name}: sceptre_user_data must be plain values, found "
            f"{unresolved.tag} {unresolved.value} (resolve it through a parameter instead)"
        )
    return StackConfig(
        environment=environment,
        name=path.stem,
        path=path,
        handler=f"templates.{Path(template_path).stem}",
        user_data=user_data,
        # A Sceptre project's config folder is <project>/config.
        region=stack_region(path.parent.parent.parent, f"{environment}/{path.stem}"),
    )


def stack_configs(
    config_dir: Path = CONFIG_DIR, environments: Sequence[str] = ()
) -> list[StackConfig]:
    """Every stack config of ``environments`` (all folders of ``config_dir`` when empty)."""
    folders = sorted(p for p in config_dir.iterdir() if p.is_dir())
    if environments:
        known = {p.name for p in folders}
        unknown = sorted(set(environments) - known)
        if unknown:
            raise SettingsError(
                f"unknown environment {', '.join(unknown)} (accepted: {', '.join(sorted(known))})"
            )
        folders = [p for p in folders if p.name in environments]
    return [
        read_stack_config(path, folder.name)
        for folder in folders
        for path in sorted(folder.glob("*.yaml"))
        if path.name != "config.yaml"
    ]


def render_stack(stack: StackConfig) -> str:
    """The template JSON of one stack, through its Sceptre handler (the launch code path)."""
    handler = importlib.import_module(stack.handler)
    try:
        return str(handler.sceptre_handler(stack.user_data))
    except SettingsError as exc:
        raise SettingsError(f"{stack.environment}/{stack.path.name}: {exc}") from exc


def write_template(out: Path, stack: StackConfig, body: str) -> Path:
    """Write ``body`` to ``out/<env>/<stack>.json``, indented for review; the path written."""
    target = out / stack.environment / f"{stack.name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    pretty = json.dumps(json.loads(body), indent=1, sort_keys=True)
    target.write_text(pretty + "\n", encoding="utf-8")
    return target


def render(
    out: Path, environments: Sequence[str] = (), config_dir: Path = CONFIG_DIR
) -> list[Path]:
    """Render the stacks of ``environments`` (default all) to ``out/<env>/<stack>.json``."""
    return [
        write_template(out, stack, render_stack(stack))
        for stack in stack_configs(config_dir, environments)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: render, print what was written and how long it took."""
    parser = argparse.ArgumentParser(prog="python -m delivery.render", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("build/templates"))
    parser.add_argument("--env", action="append", default=[], help="environment (repeatable)")
    parser.add_argument("--config", type=Path, default=CONFIG_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        written = render(args.out, args.env, args.config)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SETTINGS
    elapsed = time.perf_counter() - started
    print(f"rendered {len(written)} templates to {args.out} in {elapsed:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
