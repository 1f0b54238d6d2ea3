"""The docs stay true: every alarm has a runbook entry, generated docs are current, and every
command the docs tell an operator to run exists.

Regenerate the generated files with ``uv run invoke docs`` (``docgen``).
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import docgen
from docgen import api, architecture, generate, settings_reference, stackgraph
from tests.support.doc_commands import commands

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
RUNBOOK = DOCS / "RUNBOOK.md"
ALARM_TYPES = {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"}
REGENERATE = f"stale: regenerate with `{docgen.REGENERATE}` and commit the result"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every stack of every environment, rendered as a launch would: ``{"env/stack": json}``."""
    from delivery import render  # noqa: PLC0415 - needs the stacks group; only these tests

    out = tmp_path_factory.mktemp("templates")
    return {
        f"{path.parent.name}/{path.stem}": json.loads(path.read_text())
        for path in render.render(out)
    }


# --- (a) every alarm has a runbook section, and every runbook alarm section an alarm ---------


def _runbook_alarms_part(text: str) -> str:
    """The runbook's ``## Alarms`` section, up to the next ``## `` heading."""
    match = re.search(r"^## Alarms\b.*?(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, "RUNBOOK.md has no '## Alarms' section"
    return match.group(0)


def runbook_alarm_sections(text: str) -> list[str]:
    """The ``### <name>`` headings inside the runbook's ``## Alarms`` section."""
    return [
        heading.strip().strip("`")
        for heading in re.findall(r"^### (.+)$", _runbook_alarms_part(text), re.MULTILINE)
    ]


def test_every_alarm_of_every_env_has_a_runbook_section(
    rendered: dict[str, dict[str, Any]],
) -> None:
    alarms = {
        logical_id: stack
        for stack, template in rendered.items()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in ALARM_TYPES
    }
    assert alarms, "the rendered templates define no alarms at all: is the render broken?"
    sections = runbook_alarm_sections(RUNBOOK.read_text())
    missing = sorted(set(alarms) - set(sections))
    assert not missing, (
        "alarms without a '### <LogicalId>' section under '## Alarms' in docs/RUNBOOK.md: "
        + ", ".join(f"{name} ({alarms[name]})" for name in missing)
    )
    gone = sorted(set(sections) - set(alarms))
    assert not gone, f"docs/RUNBOOK.md documents alarms no stack defines any more: {gone}"
    assert len(sections) == len(set(sections)), "an alarm has two runbook sections"


# --- (a2) every runbook alarm section starts with the invoke commands an on-call runs first ---

FIRST_STEPS = "- **First steps:**"
# The day-two tasks an on-call starts with (issue 12): reading, and the incident's own moves.
DAY_TWO_TASKS = {"status", "logs", "rollback", "run", "exec", "pipeline-pause"}


def runbook_alarm_bodies(text: str) -> dict[str, str]:
    """Each alarm section's text below its heading, by the name ``runbook_alarm_sections`` gives."""
    bodies = re.split(r"^### .+$", _runbook_alarms_part(text), flags=re.MULTILINE)[1:]
    return dict(zip(runbook_alarm_sections(text), bodies, strict=True))


def first_steps(body: str) -> str:
    """The section's first bullet if it is ``- **First steps:** ...`` (with its continuation
    lines), else ""."""
    bullets = re.findall(r"^- .*?(?=^- |^\S|\Z)", body.strip() + "\n", re.MULTILINE | re.DOTALL)
    return bullets[0] if bullets and bullets[0].startswith(FIRST_STEPS) else ""


def alarms_without_first_steps(text: str) -> list[str]:
    """Alarm sections whose first bullet is not a First steps naming a day-two ``invoke`` task."""
    return [
        name
        for name, body in runbook_alarm_bodies(text).items()
        if not {task for task, _ in invoke_uses(first_steps(body))} & DAY_TWO_TASKS
    ]


def test_every_runbook_alarm_starts_with_invoke_first_steps() -> None:
    missing = alarms_without_first_steps(RUNBOOK.read_text())
    assert not missing, (
        f"docs/RUNBOOK.md alarm sections without a first '{FIRST_STEPS}' bullet that runs one of "
        f"invoke {', '.join(sorted(DAY_TWO_TASKS))}: {missing}"
    )


def test_first_steps_check_flags_what_it_must() -> None:
    text = (
        "## Alarms\n\n"
        "### Good\n\n- **First steps:** `invoke status --env <env>`, then\n"
        "  `invoke logs --env <env> --since 30m`.\n- **Means:** x.\n\n"
        "### Numbered\n\n- **First steps:** first:\n  1. `invoke status --env prod`;\n"
        "  2. `invoke rollback --env prod --to 1.4.2 --fast`.\n\n"
        "### NoSteps\n\n- **Means:** x.\n- **Check:** `invoke status --env <env>`.\n\n"
        "### NotFirst\n\n- **Means:** x.\n- **First steps:** `invoke status --env <env>`.\n\n"
        "### AwsOnly\n\n- **First steps:** `aws ecs describe-tasks --cluster c`.\n\n"
        "### NotDayTwo\n\n- **First steps:** `invoke deploy --env prod --force`.\n\n"
        "### ProseOnly\n\n- **First steps:** invoke status, as usual.\n\n"
        "## Deploy stuck\n\n- **First steps:** `invoke status --env <env>`.\n"
    )
    assert alarms_without_first_steps(text) == [
        "NoSteps",
        "NotFirst",
        "AwsOnly",
        "NotDayTwo",
        "ProseOnly",
    ]


# --- (b) API.md is what the generator produces now ------------------------------------------


def test_api_md_is_current() -> None:
    expected = api.api_markdown(api.openapi_document())
    assert (DOCS / api.API_MD).read_text() == expected, f"docs/API.md is {REGENERATE}"


def test_api_md_lists_every_operation() -> None:
    document = api.openapi_document()
    text = (DOCS / api.API_MD).read_text()
    for path, item in document["paths"].items():
        for method in item:
            assert f"### `{method.upper()} {path}`" in text


# --- (b2) SETTINGS.md is what the settings models produce now -------------------------------


def test_settings_md_is_current() -> None:
    expected = settings_reference.settings_markdown()
    assert (DOCS / settings_reference.SETTINGS_MD).read_text() == expected, (
        f"docs/SETTINGS.md is {REGENERATE}"
    )


def test_settings_md_lists_every_key_of_every_stack() -> None:
    text = (DOCS / settings_reference.SETTINGS_MD).read_text()
    for module in settings_reference.stack_modules():
        assert f'<a id="{module.STACK}"></a>' in text, f"{module.STACK} has no section"
        for name in module.Settings.model_fields:
            assert f"| `{name}` |" in text, f"{module.STACK}: {name} is not in the reference"


# --- (c) the diagram is current --------------------------------------------------------------


def test_architecture_dot_is_current() -> None:
    expected = generate.generate()[architecture.ARCHITECTURE_DOT]
    assert (DOCS / architecture.ARCHITECTURE_DOT).read_text() == expected, (
        f"docs/architecture.dot is {REGENERATE}"
    )


def test_architecture_svg_was_drawn_from_the_committed_dot() -> None:
    svg = DOCS / architecture.ARCHITECTURE_SVG
    assert svg.is_file(), f"docs/architecture.svg is missing: {REGENERATE}"
    text = svg.read_text()
    assert "<svg" in text
    assert "Generated by graphviz" not in text, "the graphviz version comment makes it unstable"
    dot = (DOCS / architecture.ARCHITECTURE_DOT).read_text()
    assert architecture.svg_dot_hash(text) == architecture.dot_hash(dot), (
        f"docs/architecture.svg is {REGENERATE}"
    )


def test_diagram_shows_the_main_resources() -> None:
    dot = (DOCS / architecture.ARCHITECTURE_DOT).read_text()
    for node in (
        "prod/network/Vpc",
        "prod/network/PrivateSubnet",
        "prod/network/NatGateway",
        "prod/service/LoadBalancer",
        "prod/service/ProductionListener",
        "prod/service/TestListener",
        "prod/service/BlueTargetGroup",
        "prod/service/GreenTargetGroup",
        "prod/service/Cluster",
        "prod/service/Service",
        "prod/service/TaskDefinition",
        "prod/monitoring/Alarms",
        "prod/monitoring/AlarmTopic",
        "prod/monitoring/Dashboard",
        "shared/registry/Repository",
        "shared/pipeline/Pipeline",
        "shared/pipeline/Build",
    ):
        assert f'"{node}"' in dot, f"{node} is not in the diagram"
    assert '"shared/pipeline/DeployProd" -> "prod/service/Service"' in dot
    # The NAT gateways' Elastic IPs DependsOn the internet gateway's attachment (cfn-lint's graph).
    assert '"prod/network/NatGateway" -> "prod/network/InternetGateway"' in dot


# --- the generator on small inputs -----------------------------------------------------------

SMALL_TEMPLATES: dict[str, dict[str, Any]] = {
    "x/registry": {
        "Resources": {"Repository": {"Type": "AWS::ECR::Repository"}},
        "Outputs": {
            "RepositoryArn": {
                "Value": {"Fn::GetAtt": ["Repository", "Arn"]},
                "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-RepositoryArn"}},
            }
        },
    },
    "x/service": {
        "Parameters": {"RepositoryArn": {"Type": "String"}, "ImageUri": {"Type": "String"}},
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"Policy": {"Fn::Sub": ["${R}/*", {"R": {"Ref": "RepositoryArn"}}]}},
            },
            "TaskDefinition": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "ExecutionRoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Image": {"Fn::Sub": "${ImageUri}"},
                },
            },
            "Imported": {
                "Type": "AWS::ECS::Cluster",
                "Properties": {"X": {"Fn::ImportValue": "flask-fargate-x-registry-RepositoryArn"}},
            },
            "Ordered": {"Type": "AWS::EC2::EIP", "DependsOn": "IgwAttachment"},
            "Gateway": {
                "Type": "AWS::EC2::NatGateway",
                "Properties": {"AllocationId": {"Fn::GetAtt": ["Ordered", "AllocationId"]}},
            },
            "Vpc": {"Type": "AWS::EC2::VPC"},
            "Igw": {"Type": "AWS::EC2::InternetGateway"},
            "IgwAttachment": {
                "Type": "AWS::EC2::VPCGatewayAttachment",
                "Properties": {"VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "Igw"}},
            },
        },
    },
}
SMALL_INPUTS = {
    "x/service": {
        "RepositoryArn": stackgraph.StackInput("stack_output", "x/registry.yaml::RepositoryArn"),
        "ImageUri": stackgraph.StackInput("var", "image_uri"),
    }
}


def test_cfn_lint_graph_gains_parameter_and_import_edges() -> None:
    graph = stackgraph.reference_graph(SMALL_TEMPLATES["x/service"])
    assert graph.has_edge("Role", "Parameter-RepositoryArn"), "a Ref inside a Sub's variables"
    assert graph.has_edge("TaskDefinition", "Parameter-ImageUri"), "a ${Parameter} in a Sub"
    assert graph.has_edge("TaskDefinition", "Role"), "cfn-lint's own GetAtt edge"
    assert graph.has_edge("Imported", "Import-flask-fargate-x-registry-RepositoryArn")
    assert graph.has_edge("Ordered", "IgwAttachment"), "cfn-lint's own DependsOn edge"


def test_references_pass_through_resources_that_are_not_drawn() -> None:
    edges = {
        (e.src, e.dst, e.kind, e.label)
        for e in stackgraph.diagram(SMALL_TEMPLATES, SMALL_INPUTS).edges
    }
    # TaskDefinition -> Role -> RepositoryArn parameter -> the registry's output -> Repository
    task, repository = "x/service/TaskDefinition", "x/registry/Repository"
    assert (task, repository, "param", "RepositoryArn") in edges
    assert (task, "x/service/input-ImageUri", "ref", "") in edges
    assert ("x/service/Imported", repository, "import", "RepositoryArn") in edges
    assert not any("Role" in src or "Role" in dst for src, dst, _, _ in edges), "not drawn"


def test_depends_on_and_attachments_are_drawn_as_such() -> None:
    edges = stackgraph.diagram(SMALL_TEMPLATES, SMALL_INPUTS).edges
    # Gateway -> EIP (GetAtt) -> IgwAttachment (DependsOn): an order, not a reference; and the
    # attachment, which only a DependsOn names, joins the VPC and the internet gateway.
    assert stackgraph.Edge("x/service/Igw", "x/service/Vpc", "assoc") in edges
    depends = {(e.src, e.dst) for e in edges if e.kind == "depends"}
    assert ("x/service/Gateway", "x/service/Igw") in depends
    assert ("x/service/Gateway", "x/service/Vpc") in depends


def test_dot_is_deterministic_and_quoted_by_graphviz() -> None:
    dot = architecture.architecture_dot(SMALL_TEMPLATES, SMALL_INPUTS)
    assert dot == architecture.architecture_dot(SMALL_TEMPLATES, SMALL_INPUTS), "not deterministic"
    assert '"x/service/TaskDefinition" -> "x/registry/Repository" [label=RepositoryArn' in dot
    assert '"x/service/input-ImageUri" [label="ImageUri\\n(--var image_uri)"' in dot
    assert "Role" not in dot
    node = stackgraph.Node('a"b', "hi", "kind", "#ffffff")
    edge = stackgraph.Edge('a"b', 'a"b', "param", "<b>x</b>")
    odd = architecture.dot_source(stackgraph.Diagram({"x/y": {node.id: node}}, {edge}))
    assert '"a\\"b" [label="hi\\n(kind)"' in odd, "a quote is escaped, a line break kept"
    assert '"a\\"b" -> "a\\"b" [label="<b>x</b>"' in odd, "<...> is text, not an HTML label"


def test_stack_inputs_read_sceptre_parameters(tmp_path: Path) -> None:
    config = tmp_path / "service.yaml"
    config.write_text(
        "parameters:\n"
        '  ImageUri: "{{ var.image_uri }}"\n'
        "  VpcId: !stack_output dev/network.yaml::VpcId\n"
        "  Plain: 42\n"
    )
    assert stackgraph.stack_inputs(config) == {
        "ImageUri": stackgraph.StackInput("var", "image_uri"),
        "VpcId": stackgraph.StackInput("stack_output", "dev/network.yaml::VpcId"),
        "Plain": stackgraph.StackInput("literal", "42"),
    }


def test_api_markdown_resolves_refs_and_inline_schemas() -> None:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "description": "d"},
        "paths": {
            "/a": {
                "get": {
                    "operationId": "a",
                    "summary": "A | pipe",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "500": {"$ref": "#/components/responses/E500"},
                    },
                }
            }
        },
        "components": {
            "responses": {
                "E500": {
                    "description": "boom",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/E"}}},
                }
            },
            "schemas": {"E": {"type": "object", "properties": {"m": {"type": "string"}}}},
        },
    }
    text = api.api_markdown(document)
    assert "### `GET /a`" in text
    assert "A \\| pipe" in text
    assert "| 200 | ok | `text/plain` | `string` |" in text
    assert "| 500 | boom | `application/json` | [E](#schema-e) |" in text
    assert "| `m` | string | no |  |" in text


# --- (d) every invoke task/option and nox session the docs mention exists -------------------

DOC_FILES = [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]


def invoke_argv(words: tuple[str, ...]) -> list[str] | None:
    """What invoke's parser gets from ``invoke ...`` (``bin/deploy ...`` runs ``invoke deploy
    ...``); None for any other command."""
    if words[0] in {"invoke", "inv"}:
        argv = list(words[1:])
    elif words[0].endswith("bin/deploy"):
        argv = ["deploy", *words[1:]]
    else:
        return None
    # A synopsis's optional part, `[-- COMMAND...]`, is read as if given.
    return [word.removeprefix("[").removesuffix("]") for word in argv]


def invoke_uses(text: str) -> Iterator[tuple[str, list[str]]]:
    """``(task, [options])`` for every ``invoke <task> ...`` (and ``bin/deploy ...``); a bare
    ``invoke --list`` gives ``("", ["--list"])``."""
    for command in commands(text):
        rest = invoke_argv(command.words)
        if rest is None:
            continue
        task = ""
        options: list[str] = []
        for word in rest:
            if word == "--":  # the rest is the task's command (invoke's remainder), not options
                break
            if word.startswith("-"):
                options.append(word.split("=", 1)[0])
            elif not task:
                yield ("", options)  # invoke's own options come before the task
                task, options = word, []
            elif word in _task_options():  # `invoke build scan`: a second task
                yield (task, options)
                task, options = word, []
        yield (task, options)


def _task_options() -> dict[str, set[str]]:
    """Task name -> its long and short options, from tasks.py itself."""
    if not hasattr(_task_options, "cache"):
        from invoke.collection import Collection  # noqa: PLC0415

        import tasks  # noqa: PLC0415 - the project's invoke tasks

        collection = Collection.from_module(tasks)
        found: dict[str, set[str]] = {}
        for name in collection.task_names:
            options = {"--help", "-h"}
            for argument in collection[name].get_arguments():
                for flag in argument.names:
                    options.add(("-" if len(flag) == 1 else "--") + flag.replace("_", "-"))
            found[name] = options
        _task_options.cache = found  # type: ignore[attr-defined]
    return _task_options.cache  # type: ignore[attr-defined,no-any-return]


def nox_sessions() -> set[str]:
    """Session names of noxfile.py (read with ast: importing it would register sessions)."""
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "nox.session":
                explicit = [k.value for k in decorator.keywords if k.arg == "name"]
                name = (
                    explicit[0].value
                    if explicit and isinstance(explicit[0], ast.Constant)
                    else None
                )
                names.add(str(name or node.name))
    return names


def nox_uses(text: str) -> Iterator[str]:
    """Session names after ``nox -s``/``--session``/``--sessions``."""
    for command in commands(text):
        if command.words[0] != "nox":
            continue
        taking = False
        for word in command.words[1:]:
            if word == "--":
                break
            if word in {"-s", "--session", "--sessions"}:
                taking = True
            elif word.startswith("-"):
                taking = False
            elif taking:
                yield word


# What invoke's parser says of a command that names real tasks and options but leaves out a
# value: prose may cite `invoke rollback --to` or `invoke secret set`, a fenced command may not.
INCOMPLETE = ("needed value and was not given", "did not receive required positional")


@functools.cache
def _invoke_contexts() -> tuple[Any, list[Any], list[str]]:
    """invoke's core options, tasks.py's tasks as parser contexts, and the task names."""
    from invoke.collection import Collection  # noqa: PLC0415
    from invoke.parser.context import ParserContext  # noqa: PLC0415
    from invoke.program import Program  # noqa: PLC0415

    import tasks  # noqa: PLC0415 - the project's invoke tasks

    collection = Collection.from_module(tasks)
    core = ParserContext(args=Program(namespace=collection).core_args())
    return core, collection.to_contexts(), sorted(collection.task_names)


def invoke_parse_error(argv: list[str], *, complete: bool = True) -> str:
    """Why invoke's own parser refuses ``invoke <argv>`` with tasks.py's tasks ("" if it parses;
    with ``complete=False``, also if it only lacks values, see ``INCOMPLETE``).

    As invoke's Program does: its core options first, then the tasks (and ``--`` remainders).
    """
    from invoke.exceptions import ParseError  # noqa: PLC0415
    from invoke.parser.parser import Parser  # noqa: PLC0415

    core, contexts, names = _invoke_contexts()
    try:
        unparsed = Parser(initial=core, ignore_unknown=True).parse_argv(argv).unparsed
        Parser(contexts=contexts).parse_argv(unparsed)
    except ParseError as exc:
        if not complete and any(part in str(exc) for part in INCOMPLETE):
            return ""
        return f"{exc} (tasks: {', '.join(names)})"
    return ""


def invoke_problems(name: str, text: str) -> list[str]:
    """``file:line: `invoke ...`: why`` for each invoke command of a text that does not parse."""
    problems = []
    for command in commands(text):
        argv = invoke_argv(command.words)
        error = "" if argv is None else invoke_parse_error(argv, complete=command.fenced)
        if error:
            problems.append(f"{name}:{command.line}: `{' '.join(command.words)}`: {error}")
    return problems


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_invoke_commands_in_docs_parse(path: Path) -> None:
    problems = invoke_problems(path.name, path.read_text())
    assert not problems, "\n" + "\n".join(problems)


def test_invoke_check_flags_what_it_must() -> None:
    text = (
        "```\ninvoke deploy --env dev --image 1.4.2\ninvoke nosuchtask --env dev\n"
        "invoke deploy --bogus\ninvoke deploy --env\n```\n"
        "Then `invoke --list`, `uv run invoke run --env dev -- python -c x`, `invoke --nope`.\n"
        "Prose: `invoke rollback --to` needs a tag; `invoke secret set`; `invoke exec --env E\n"
        "[-- COMMAND...]`; `invoke deploy --image <the digest dev got>`; `invoke rollback --tu`.\n"
    )
    problems = invoke_problems("X.md", text)
    assert [problem.split(": ", 1)[0] for problem in problems] == [
        "X.md:3",  # no such task
        "X.md:4",  # no such option
        "X.md:5",  # an option without its value
        "X.md:7",  # no such core option
        "X.md:9",  # inline too: no such option
    ], problems
    assert "nosuchtask" in problems[0]
    assert "--bogus" in problems[1]
    assert "env" in problems[2]


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_nox_sessions_in_docs_exist(path: Path) -> None:
    sessions = nox_sessions()
    unknown = sorted(set(nox_uses(path.read_text())) - sessions)
    assert not unknown, f"{path.name} names nox sessions noxfile.py lacks: {unknown}"


def test_the_command_parser_sees_what_it_must() -> None:
    text = (
        "Run `uv run invoke deploy --env dev --image 1.4.2` then\n"
        "```\ninvoke rollback --env prod --to=1.4.2 && nox -s lint typecheck\n"
        "AWS_PROFILE=x bin/deploy --env dev\n```\n"
        "| `tasks.py` | invoke CLI |\n"
    )
    uses = list(invoke_uses(text))
    assert ("deploy", ["--env", "--image"]) in uses
    assert ("rollback", ["--env", "--to"]) in uses
    assert ("deploy", ["--env"]) in uses
    assert all(task != "CLI" for task, _ in uses)
    assert sorted(nox_uses(text)) == ["lint", "typecheck"]
    assert {"lint", "typecheck", "tests", "cfn_lint"} <= nox_sessions()


def test_the_architecture_map_names_every_delivery_module() -> None:
    # A module the map does not name is a room nobody can find from the docs.
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    missing = [
        str(path.relative_to(ROOT / "delivery"))
        for path in sorted((ROOT / "delivery").rglob("*.py"))
        if path.name != "__init__.py"
        and f"`{path.name}`" not in text
        and not (path.name.startswith("build_") and "`build_*.py`" in text)
    ]
    assert missing == []
