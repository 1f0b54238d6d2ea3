"""Every command, path and output name the docs give an operator is real.

- each ``aws`` command names a service, an operation (or waiter) and parameters of botocore's
  service model, or is one of the AWS CLI's own commands listed in ``CLI_CUSTOMIZATIONS``;
- each ``sceptre`` command parses with Sceptre's own click group;
- each repository path in backticks exists (``<env>``-style placeholders match any folder);
- each CloudFormation output named as one is an output of some rendered template.

The ``invoke`` and ``nox`` checks live in test_docs.py. Command lines are found by
tests/support/doc_commands.py.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import botocore.session
import click
import pytest
from botocore import xform_name
from botocore.exceptions import DataNotFoundError, UnknownServiceError
from botocore.model import ServiceModel

from tests.support.doc_commands import Command, code_spans, commands
from tests.support.paths import ROOT

DOC_FILES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]


@dataclass(frozen=True)
class Problem:
    """What is wrong with one line of one document."""

    file: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}"


def _report(problems: list[Problem]) -> str:
    return "\n".join(str(problem) for problem in problems)


# --- aws -------------------------------------------------------------------------------------

# The CLI's global options, valid after any command (`aws help` lists them).
AWS_GLOBAL_OPTIONS = {
    "--query",
    "--output",
    "--region",
    "--profile",
    "--no-cli-pager",
    "--cli-input-json",
    "--cli-input-yaml",
    "--generate-cli-skeleton",
    "--endpoint-url",
    "--no-paginate",
    "--max-items",
    "--starting-token",
    "--page-size",
    "--debug",
    "--color",
    "--no-verify-ssl",
    "--no-sign-request",
    "--ca-bundle",
    "--cli-read-timeout",
    "--cli-connect-timeout",
    "--cli-binary-format",
    "--cli-auto-prompt",
    "--no-cli-auto-prompt",
    "--version",
}
# The CLI's service names that differ from botocore's (the CLI renames these services).
# https://docs.aws.amazon.com/cli/latest/reference/s3api/ (s3), .../configservice/ (config),
# .../deploy/ (codedeploy).
CLI_SERVICE_NAMES = {"s3api": "s3", "configservice": "config", "deploy": "codedeploy"}
# Commands the AWS CLI adds on top of botocore's operations (its "customizations"), so botocore
# cannot judge them: (service, command) -> the command's own options, or None when any option
# goes (a family of commands with options of their own each). Each with its reference page.
CLI_CUSTOMIZATIONS: dict[tuple[str, str], set[str] | None] = {
    # Wraps GetAuthorizationToken and prints the password for `docker login`.
    # https://docs.aws.amazon.com/cli/latest/reference/ecr/get-login-password.html
    ("ecr", "get-login-password"): set(),
    # Polls FilterLogEvents. https://docs.aws.amazon.com/cli/latest/reference/logs/tail.html
    ("logs", "tail"): {
        "--since",
        "--follow",
        "--format",
        "--filter-pattern",
        "--log-stream-names",
        "--log-stream-name-prefix",
    },
    # Change-set based create-or-update; https://docs.aws.amazon.com/cli/latest/reference/
    # cloudformation/deploy/index.html
    ("cloudformation", "deploy"): {
        "--template-file",
        "--stack-name",
        "--s3-bucket",
        "--force-upload",
        "--s3-prefix",
        "--kms-key-id",
        "--parameter-overrides",
        "--capabilities",
        "--no-execute-changeset",
        "--disable-rollback",
        "--no-disable-rollback",
        "--role-arn",
        "--notification-arns",
        "--fail-on-empty-changeset",
        "--no-fail-on-empty-changeset",
        "--tags",
    },
    # https://docs.aws.amazon.com/cli/latest/reference/cloudformation/package.html
    ("cloudformation", "package"): {
        "--template-file",
        "--s3-bucket",
        "--s3-prefix",
        "--kms-key-id",
        "--output-template-file",
        "--use-json",
        "--force-upload",
        "--metadata",
    },
    # The high-level S3 commands (cp, ls, sync, ...), not S3's API (that is `aws s3api`).
    # https://docs.aws.amazon.com/cli/latest/reference/s3/
    **{("s3", name): None for name in ("cp", "ls", "mb", "mv", "presign", "rb", "rm", "sync")},
    # Local configuration, no AWS call. https://docs.aws.amazon.com/cli/latest/reference/configure/
    ("configure", ""): None,
}
# `aws ecs execute-command` is customized too (it starts the Session Manager plugin), but its
# options are ExecuteCommand's, so botocore's model judges it like any operation.


def _botocore_session() -> botocore.session.Session:
    if not hasattr(_botocore_session, "cache"):
        _botocore_session.cache = botocore.session.get_session()  # type: ignore[attr-defined]
    return _botocore_session.cache  # type: ignore[attr-defined,no-any-return]


def _cli_options(model: ServiceModel, operation: str) -> set[str]:
    """The CLI options of one operation: ``--member-name``, and ``--no-x`` for booleans."""
    shape = model.operation_model(operation).input_shape
    options: set[str] = set()
    for member, member_shape in (shape.members if shape else {}).items():
        name = xform_name(member, "-")
        options.add(f"--{name}")
        if member_shape.type_name == "boolean":
            options.add(f"--no-{name}")
    return options


def _options(words: list[str]) -> list[str]:
    """The ``--options`` among the words (``--x=1`` as ``--x``)."""
    return [word.split("=", 1)[0] for word in words if word.startswith("--")]


def aws_problems(words: tuple[str, ...]) -> list[str]:
    """What is wrong with one ``aws ...`` command (no problem: an empty list)."""
    rest = list(words[1:])
    while rest and rest[0].startswith("-"):  # `aws --region x ecs ...`, `aws --version`
        rest = rest[2:] if rest[0] in {"--region", "--profile", "--output"} else rest[1:]
    if not rest:
        return []
    cli_service, command, args = rest[0], (rest[1] if len(rest) > 1 else ""), rest[2:]
    for key in ((cli_service, command), (cli_service, "")):
        if key in CLI_CUSTOMIZATIONS:
            return _customization_problems(cli_service, command, args, CLI_CUSTOMIZATIONS[key])
    session = _botocore_session()
    try:
        model = session.get_service_model(CLI_SERVICE_NAMES.get(cli_service, cli_service))
    except UnknownServiceError:
        return [f"`aws {cli_service}`: botocore has no such service"]
    if command == "wait":
        return _waiter_problems(session, model, cli_service, args)
    return _operation_problems(model, cli_service, command, args)


def _customization_problems(
    cli_service: str, command: str, args: list[str], allowed: set[str] | None
) -> list[str]:
    """A CLI customization's unknown options (None: it takes any)."""
    unknown = sorted(set(_options(args)) - AWS_GLOBAL_OPTIONS - (allowed or set()))
    if allowed is None:
        return []
    return [f"`aws {cli_service} {command}` has no option {option}" for option in unknown]


def _operation_problems(
    model: ServiceModel, cli_service: str, command: str, args: list[str]
) -> list[str]:
    """``aws <service> <operation> ...``: the operation and its parameters are botocore's."""
    operations = {xform_name(name, "-"): name for name in model.operation_names}
    if command not in operations:
        return [f"`aws {cli_service} {command}`: {model.service_name} has no such operation"]
    allowed = _cli_options(model, operations[command])
    unknown = sorted(set(_options(args)) - AWS_GLOBAL_OPTIONS - allowed)
    return [
        f"`aws {cli_service} {command}` has no parameter {option} "
        f"({operations[command]} takes: {', '.join(sorted(allowed)) or 'none'})"
        for option in unknown
    ]


def _waiter_problems(
    session: botocore.session.Session, model: ServiceModel, cli_service: str, args: list[str]
) -> list[str]:
    """``aws <service> wait <waiter> ...``: the waiter is botocore's, its options those of the
    operation it polls."""
    waiter = args[0] if args else ""
    try:
        waiters = session.get_waiter_model(model.service_name)
    except DataNotFoundError:  # the service has no waiters at all
        return [f"`aws {cli_service} wait`: {model.service_name} has no waiters"]
    names = {xform_name(name, "-"): name for name in waiters.waiter_names}
    if waiter not in names:
        return [
            f"`aws {cli_service} wait {waiter}`: no such waiter "
            f"(waiters: {', '.join(sorted(names))})"
        ]
    operation = waiters.get_waiter(names[waiter]).operation
    allowed = _cli_options(model, operation)
    unknown = sorted(set(_options(args[1:])) - AWS_GLOBAL_OPTIONS - allowed)
    return [f"`aws {cli_service} wait {waiter}` has no parameter {o}" for o in unknown]


# --- sceptre ---------------------------------------------------------------------------------


def sceptre_problems(words: tuple[str, ...]) -> list[str]:
    """What is wrong with one ``sceptre ...`` command, as Sceptre's click group parses it."""
    from sceptre.cli import cli  # noqa: PLC0415 - Sceptre's own command line

    command: click.Command = cli
    name = "sceptre"
    args = list(words[1:])
    parent: click.Context | None = None
    try:
        while True:
            context = command.make_context(name, args, parent=parent, resilient_parsing=False)
            if not isinstance(command, click.Group):
                return []
            with warnings.catch_warnings():  # click 8.2 deprecates protected_args (9.0: args)
                warnings.simplefilter("ignore", DeprecationWarning)
                rest = [*getattr(context, "protected_args", ()), *context.args]
            if not rest:
                return [f"`{' '.join(words)}`: `{name}` needs a command"]
            found, sub, args = command.resolve_command(context, rest)
            if sub is None or found is None:
                return [f"`{' '.join(words)}`: no such command {rest[0]}"]
            name, command, parent = found, sub, context
    except click.ClickException as exc:
        return [f"`{' '.join(words)}`: {exc.format_message()}"]
    except click.exceptions.Exit:  # --help, --version: click prints and exits; they exist
        return []


# --- one pass over the docs ------------------------------------------------------------------

CHECKS = {"aws": aws_problems, "sceptre": sceptre_problems}


def command_problems(name: str, text: str) -> list[Problem]:
    """The problems of every ``aws`` and ``sceptre`` command in one document."""
    found: list[Problem] = []
    for command in commands(text):
        check = CHECKS.get(command.words[0])
        if check:
            found += [Problem(name, command.line, what) for what in check(command.words)]
    return found


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_aws_and_sceptre_commands_in_docs_exist(path: Path) -> None:
    problems = command_problems(path.name, path.read_text())
    assert not problems, "\n" + _report(problems)


# --- repository paths ------------------------------------------------------------------------

_SKIP_DIRS = {".git", ".venv", ".nox", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache"}
# A span is taken for a path when it looks like one: a file name with one of these suffixes,
# or a slash-separated name whose first part is a top-level folder of the repository.
_PATH_SUFFIXES = (
    ".py",
    ".md",
    ".yaml",
    ".yml",
    ".toml",
    ".json",
    ".lock",
    ".cfg",
    ".sh",
    ".dot",
    ".svg",
)
_PATH_SHAPE = re.compile(r"^[\w.<>*-]+(?:/[\w.<>*-]+)*/?$")
_PLACEHOLDER = re.compile(r"<[^<>/]+>")
# Paths that a command writes, so a fresh checkout lacks them: the prefix, and who writes it.
GENERATED_PATHS = {
    "build/": "delivery.render's and delivery.lint's --out default (build/templates)",
    "CHANGELOG.md": "`invoke release` (commitizen) writes it on the first release",
}


def repository_files(root: Path) -> set[str]:
    """Every file and folder under the root, as ``a/b/c`` relative paths."""
    found: set[str] = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.endswith(".egg-info")]
        base = Path(folder).relative_to(root).as_posix()
        for entry in [*dirs, *files]:
            found.add(entry if base == "." else f"{base}/{entry}")
    return found


def looks_like_path(span: str, top_level: set[str]) -> bool:
    """Whether a code span names a repository path (see ``_PATH_SUFFIXES``)."""
    if not _PATH_SHAPE.match(span) or span.startswith((".", "/")) or "://" in span:
        return False
    if span.rstrip("/").endswith(_PATH_SUFFIXES):
        return True
    return "/" in span and span.split("/", 1)[0] in top_level


def path_exists(span: str, files: set[str]) -> bool:
    """Whether a path (``<placeholder>`` and ``*`` match one name) is a repository path, or the
    tail of one (``service/task.py`` of ``stacks/service/task.py``, ``dev/network.yaml`` of
    ``config/dev/network.yaml``, as the docs write stack paths relative to config/)."""
    pattern = re.escape(_PLACEHOLDER.sub("\0", span.rstrip("/")))
    pattern = pattern.replace("\0", "[^/]+").replace(r"\*", "[^/]*")
    matcher = re.compile(rf"(?:^|.*/){pattern}$")
    return any(matcher.match(path) for path in files)


def missing_paths(name: str, text: str, files: set[str]) -> list[Problem]:
    """Backticked repository paths in one document that name nothing in the repository."""
    top_level = {path for path in files if "/" not in path}
    return [
        Problem(name, line, f"`{span}`: no such path in the repository")
        for line, span in code_spans(text)
        if looks_like_path(span, top_level)
        and not span.startswith(tuple(GENERATED_PATHS))
        and not path_exists(span, files)
    ]


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_paths_in_docs_exist(path: Path) -> None:
    problems = missing_paths(path.name, path.read_text(), repository_files(ROOT))
    assert not problems, "\n" + _report(problems)


# --- CloudFormation outputs ------------------------------------------------------------------

# Where a name is given as an output: "`ClusterName` output", "output(s) `A`, `B` and `C`",
# a list item that starts "Outputs ..." (every backticked PascalCase name in it: the item may
# name settings too), a query's OutputKey=='X'.
# A name may hold a placeholder: `<Env>RoleArn` is DevRoleArn, ProdRoleArn...
_NAME = r"(?:\w|<\w+>)+"
_OUTPUT_PHRASES = (
    re.compile(rf"`({_NAME})`\s+(?:stack\s+)?outputs?\b"),
    re.compile(r"OutputKey\s*==\s*\\?['`\"](\w+)"),
)
_OUTPUTS_LIST = re.compile(rf"\boutputs?\s+((?:`{_NAME}`(?:,\s*|\s+and\s+|\s+or\s+)?)+)")
_OUTPUTS_ITEM = re.compile(r"^[ \t]*[-*] Outputs\b[^\n]*(?:\n[ \t]+[^-*\s][^\n]*)*", re.MULTILINE)


def output_mentions(text: str) -> Iterator[tuple[int, str]]:
    """``(line, name)`` of every name the text gives as a CloudFormation output."""
    for pattern in _OUTPUT_PHRASES:
        for match in pattern.finditer(text):
            yield _line_of(text, match.start()), match.group(1)
    for pattern, name in ((_OUTPUTS_LIST, _NAME), (_OUTPUTS_ITEM, rf"(?:[A-Z]|<\w+>){_NAME}")):
        for match in pattern.finditer(text):
            for found in re.finditer(f"`({name})`", match.group(0)):
                yield _line_of(text, match.start() + found.start()), found.group(1)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def is_output(name: str, outputs: set[str]) -> bool:
    """Whether a name (``<placeholder>`` for any word) is an output of a rendered template."""
    pattern = re.compile(
        "".join(
            r"\w+" if part.startswith("<") else re.escape(part)
            for part in re.split(r"(<\w+>)", name)
            if part
        )
    )
    return any(pattern.fullmatch(output) for output in outputs)


def unknown_outputs(name: str, text: str, outputs: set[str]) -> list[Problem]:
    """Output names in one document that no rendered template has as an output."""
    return sorted(
        {
            Problem(name, line, f"`{output}`: no rendered template has such an output")
            for line, output in output_mentions(text)
            if not is_output(output, outputs)
        },
        key=lambda problem: (problem.line, problem.what),
    )


@pytest.fixture(scope="module")
def template_outputs(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The output names of every stack of every environment, rendered as a launch would."""
    from delivery import render  # noqa: PLC0415 - needs the stacks group; only these tests

    out = tmp_path_factory.mktemp("templates")
    return {
        output
        for path in render.render(out)
        for output in json.loads(path.read_text()).get("Outputs", {})
    }


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_outputs_in_docs_exist(path: Path, template_outputs: set[str]) -> None:
    problems = unknown_outputs(path.name, path.read_text(), template_outputs)
    assert not problems, "\n" + _report(problems)


# --- each check can fail ---------------------------------------------------------------------

BAD_DOC = """\
# Bad

```bash
aws cloudformation describe-stacks --stack-name x --query 'Stacks[0]' --output text
aws cloudformation describe-stackz --stack-name x
aws ecs describe-services --cluster c --servicez s
aws cloudformation wait stack-update-complete --stack-name x
aws cloudformation wait stack-updated --stack-name x
aws nosuchservice list-things
aws logs tail /group --follow --since 5m
aws logs tail /group --forever
sceptre --var a=b launch dev/service.yaml --yes
sceptre list outputs dev/service.yaml
sceptre lunch dev/service.yaml
sceptre launch --bogus dev
```

Then `C=$(aws ecs list-clusters --qery x)` and `uv run sceptre --var x=y delete
shared/pipeline.yaml`.
Read `stacks/service/task.py`, `config/<env>/service.yaml`, `stacks/nope.py`,
`config/<env>/nope.yaml` and `text/plain`.
The `ClusterName` output and the `NoSuchThing` output; outputs `ServiceName` and `Bogus`.
`--query "Stacks[0].Outputs[?OutputKey=='Nope'].OutputValue"`
- Outputs read: `RepositoryUri`, the `<Env>RoleArn` of each (its `a_setting`), `ServiceUrl`
  and `NotAnOutput`.
- Next item: `NotLooked` at.
"""


def test_command_checks_flag_each_bad_kind() -> None:
    problems = command_problems("BAD.md", BAD_DOC)
    found = {(p.line, p.what.split(":", 1)[0].split(" has no ")[0]) for p in problems}
    assert found == {
        (5, "`aws cloudformation describe-stackz`"),  # unknown operation
        (6, "`aws ecs describe-services`"),  # unknown parameter
        (8, "`aws cloudformation wait stack-updated`"),  # unknown waiter
        (9, "`aws nosuchservice`"),  # unknown service
        (11, "`aws logs tail`"),  # a customization's unknown option
        (14, "`sceptre lunch dev/service.yaml`"),  # unknown sceptre command
        (15, "`sceptre launch --bogus dev`"),  # unknown sceptre option
        (18, "`aws ecs list-clusters`"),  # inside $(...), inline
    }, _report(problems)
    assert any("--servicez" in p.what for p in problems)
    assert any("--forever" in p.what for p in problems)


GOOD_DOC = """\
```
aws --version
aws --region eu-west-1 sts get-caller-identity
aws ecr get-login-password --region eu-west-1 | docker login --username AWS --password-stdin x
aws ecs execute-command --cluster c --task t --container app --interactive --command /bin/sh
aws ecs execute-command --cluster c --task t --no-interactive --command ls
aws ecs stop-service-deployment --service-deployment-arn a --stop-type ROLLBACK
aws ecs wait services-stable --cluster c --services s --no-cli-pager
aws cloudwatch describe-alarms --alarm-types MetricAlarm CompositeAlarm --max-items 5
aws cloudformation continue-update-rollback --stack-name x --resources-to-skip A B
aws cloudformation deploy --template-file t.json --stack-name x --no-execute-changeset
aws s3 cp build/x s3://bucket/x --recursive
aws s3api list-buckets --query 'Buckets[].Name'
aws deploy list-applications
aws logs tail /aws/ecs/x --follow --format short
sceptre --dir . --var a=b list outputs dev/service.yaml
sceptre delete -y shared/pipeline.yaml
sceptre --version
sceptre launch --help
```
"""


def test_command_checks_pass_real_commands() -> None:
    # The allow-listed customizations, waiters, renamed services, booleans' --no- forms, and
    # global options before the service.
    assert command_problems("GOOD.md", GOOD_DOC) == []


def test_path_check_flags_missing_paths() -> None:
    problems = missing_paths("BAD.md", BAD_DOC, repository_files(ROOT))
    assert [(p.line, p.what) for p in problems] == [
        (20, "`stacks/nope.py`: no such path in the repository"),
        (21, "`config/<env>/nope.yaml`: no such path in the repository"),
    ]


def test_output_check_flags_unknown_outputs(template_outputs: set[str]) -> None:
    assert {"ClusterName", "ServiceName"} <= template_outputs
    problems = unknown_outputs("BAD.md", BAD_DOC, template_outputs)
    assert [(p.line, p.what.split(":")[0]) for p in problems] == [
        (22, "`Bogus`"),
        (22, "`NoSuchThing`"),
        (23, "`Nope`"),
        (25, "`NotAnOutput`"),
    ]


def test_problem_names_file_and_line() -> None:
    assert str(Problem("RUNBOOK.md", 12, "x")) == "RUNBOOK.md:12: x"
    assert Command(3, ("aws",)).line == 3


def test_commands_are_split_as_a_shell_would() -> None:
    text = (
        "1. Run:\n"
        "   ```bash\n"
        "   C=$(aws ecs list-clusters --query 'clusterArns[0]' --output text)\n"
        "   aws sts assume-role --role-arn <incident role ARN> \\\n"
        '     --role-session-name "$USER" 2>&1 | tee out  # a comment\n'
        "   ```\n"
        "\n"
        "Prose `uv run --locked sceptre --var a=<arn> delete\n"
        "shared/pipeline.yaml` and `$ AWS_PROFILE=x invoke status --env dev && nox -s lint`.\n"
    )
    assert [(c.line, c.words, c.fenced) for c in commands(text)] == [
        (3, ("aws", "ecs", "list-clusters", "--query", "clusterArns[0]", "--output", "text"), True),
        (
            4,
            (
                "aws",
                "sts",
                "assume-role",
                "--role-arn",
                "<incident role ARN>",
                "--role-session-name",
                "$USER",
            ),
            True,
        ),
        (4, ("tee", "out"), True),  # the line the command starts on
        (8, ("sceptre", "--var", "a=<arn>", "delete", "shared/pipeline.yaml"), False),
        (9, ("invoke", "status", "--env", "dev"), False),
        (9, ("nox", "-s", "lint"), False),
    ]
