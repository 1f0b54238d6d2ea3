"""Lint every stack's template with cfn-lint for the region Sceptre deploys that stack to.

``python -m delivery.lint [--out build/templates] [--env E]``

Renders like ``delivery.render`` (same files, same one-line settings errors, exit status 2) and
runs cfn-lint's Python API on each template with exactly its stack's region
(``StackConfig.region``: the stack file's ``region``, else the folder ``config.yaml`` chain, as
Sceptre resolves it). A resource type that does not exist in that region (cfn-lint E3006, e.g.
``AWS::Budgets::Budget`` outside us-east-1) is a finding like any other. One line per finding,
``<env>/<stack> (<region>): <rule> <message> <path>``, then a summary; exit status 1 on any
finding.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cfnlint.api import lint as cfn_lint

from delivery import render
from stacks.common.errors import SettingsError

EXIT_FINDINGS = 1


@dataclass(frozen=True)
class Finding:
    """One cfn-lint match in one stack's template."""

    stack: str  # <env>/<stack>
    region: str
    rule: str
    message: str
    path: str  # where in the template: Resources/<id>/...

    def __str__(self) -> str:
        return f"{self.stack} ({self.region}): {self.rule} {self.message} {self.path}".rstrip()


@dataclass(frozen=True)
class Report:
    """What a lint run looked at and found."""

    findings: list[Finding]
    templates: int
    regions: list[str]


def lint_template(body: str, stack: str, region: str) -> list[Finding]:
    """cfn-lint's findings for one template JSON, checked against ``region`` only."""
    return [
        Finding(
            stack=stack,
            region=region,
            rule=match.rule.id,
            message=" ".join(str(match.message).split()),
            path="/".join(str(part) for part in (match.path or [])),
        )
        for match in cfn_lint(body, regions=[region])
    ]


def lint(
    out: Path, environments: Sequence[str] = (), config_dir: Path = render.CONFIG_DIR
) -> Report:
    """Render the stacks of ``environments`` (default all) to ``out`` and lint each one."""
    findings: list[Finding] = []
    stacks = render.stack_configs(config_dir, environments)
    for stack in stacks:
        body = render.render_stack(stack)
        render.write_template(out, stack, body)
        findings += lint_template(body, f"{stack.environment}/{stack.name}", stack.region)
    return Report(findings, len(stacks), sorted({stack.region for stack in stacks}))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: one line per finding, a summary; exit 1 on findings, 2 on bad settings."""
    parser = argparse.ArgumentParser(prog="python -m delivery.lint", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("build/templates"))
    parser.add_argument("--env", action="append", default=[], help="environment (repeatable)")
    parser.add_argument("--config", type=Path, default=render.CONFIG_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        report = lint(args.out, args.env, args.config)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return render.EXIT_SETTINGS
    for finding in report.findings:
        print(finding)
    elapsed = time.perf_counter() - started
    print(
        f"cfn-lint: {len(report.findings)} findings in {report.templates} templates, each for "
        f"its stack's region ({', '.join(report.regions)}), in {elapsed:.1f} s"
    )
    return EXIT_FINDINGS if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
