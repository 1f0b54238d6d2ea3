"""Generated documentation: docs/API.md from the OpenAPI document, the architecture diagram from
the rendered CloudFormation templates.

``python -m delivery.docs`` writes ``docs/API.md``, ``docs/architecture.dot`` and
``docs/architecture.svg``; ``python -m delivery.docs --check`` only reports what is stale.

Why generated: hand-drawn diagrams and hand-written endpoint lists drift from the code the day
after they are written. Here both come from the code itself (``app.openapi`` and the templates
``delivery.render`` produces on the launch code path), and ``tests/unit/test_docs.py`` fails when
the committed files differ from what this module produces now.

Import-time dependencies are the standard library and PyYAML only: ``app`` (the service) and
``delivery.render`` (troposphere, the ``stacks`` group) are imported inside the functions that
need them, so nothing in ``delivery`` starts depending on the service by importing this module.
Output is deterministic (sorted, no timestamps, no graphviz version comment) so the staleness
tests can compare bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from delivery import sceptre_yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
API_MD = "API.md"
ARCHITECTURE_DOT = "architecture.dot"
ARCHITECTURE_SVG = "architecture.svg"
REGENERATE = "uv run invoke docs"
# The diagram shows what production looks like: the account-level stacks and the prod env.
# dev/local differ only in counts (AZs, NATs, endpoints, WAF), which the rendered templates
# of those envs show exactly.
DIAGRAM_GROUPS = ("shared", "prod")
PROJECT_CODE = "flask-fargate"
# The SVG carries the hash of the DOT it was drawn from, so a test can tell a stale SVG without
# depending on the installed graphviz version (which changes the SVG's bytes).
SVG_HASH_PREFIX = "<!-- architecture.dot sha256: "

Template = Mapping[str, Any]


# --------------------------------------------------------------------------------------------
# API.md from the OpenAPI document
# --------------------------------------------------------------------------------------------


def openapi_document() -> dict[str, Any]:
    """The service's OpenAPI document as ``GET /openapi.json`` serves it with default settings.

    ``app`` is imported here, not at module level: delivery must not depend on the service.
    ``build_spec`` is what the route serves; calling it directly avoids ``create_app``'s side
    effect of installing the JSON log handler on the root logger of whoever generates docs.
    """
    config = importlib.import_module("app.config")
    openapi = importlib.import_module("app.openapi")
    document: dict[str, Any] = openapi.build_spec(config.AppConfig())
    return document


def _resolve(document: Mapping[str, Any], node: Any) -> Any:
    """Follow a local ``$ref`` (``#/components/...``) once; anything else is returned as is."""
    if isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return node
        target: Any = document
        for part in ref[2:].split("/"):
            target = target[part]
        return target
    return node


def _ref_name(node: Any) -> str | None:
    if isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        return str(node["$ref"]).rsplit("/", 1)[-1]
    return None


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _schema_text(schema: Any) -> str:
    """A schema in one table cell: a link for a named schema, compact JSON for an inline one."""
    name = _ref_name(schema)
    if name is not None:
        return f"[{name}](#schema-{name.lower()})"
    if isinstance(schema, Mapping) and set(schema) == {"type"}:
        return f"`{schema['type']}`"
    return "`" + json.dumps(schema, sort_keys=True, separators=(", ", ": ")) + "`"


def _constraints(schema: Mapping[str, Any]) -> str:
    skip = {"type", "description"}
    parts = [
        f"{key} {json.dumps(value, sort_keys=True)}"
        for key, value in sorted(schema.items())
        if key not in skip
    ]
    return ", ".join(parts)


def _schema_section(name: str, schema: Mapping[str, Any]) -> list[str]:
    lines = [f'<a id="schema-{name.lower()}"></a>', f"### {name}", ""]
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    if properties:
        lines += ["| field | type | required | constraints |", "|---|---|---|---|"]
        for prop, spec in properties.items():
            kind = spec.get("type", "any") if isinstance(spec, Mapping) else "any"
            rules = _constraints(spec) if isinstance(spec, Mapping) else ""
            lines.append(
                f"| `{prop}` | {kind} | {'yes' if prop in required else 'no'} | {_cell(rules)} |"
            )
        if schema.get("additionalProperties") is False:
            lines += ["", "No other fields."]
        lines.append("")
    return lines


def _operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    methods = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
    for path, item in document.get("paths", {}).items():
        for method in methods:
            if method in item:
                yield path, method, item[method]


def _operation_section(
    document: Mapping[str, Any], path: str, method: str, operation: Mapping[str, Any]
) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", ""]
    if operation.get("summary"):
        lines += [str(operation["summary"]), ""]
    facts = [f"operationId `{operation.get('operationId', '-')}`"]
    if operation.get("tags"):
        facts.append("tags " + ", ".join(f"`{t}`" for t in operation["tags"]))
    lines += ["; ".join(facts), ""]
    parameters = [_resolve(document, p) for p in operation.get("parameters", [])]
    if parameters:
        lines += ["| parameter | in | required | schema | description |", "|---|---|---|---|---|"]
        for p in parameters:
            lines.append(
                f"| `{p['name']}` | {p.get('in', '')} | {'yes' if p.get('required') else 'no'} "
                f"| {_schema_text(p.get('schema', {}))} | {_cell(p.get('description', ''))} |"
            )
        lines.append("")
    lines += ["| status | description | content type | schema |", "|---|---|---|---|"]
    for status, raw in operation.get("responses", {}).items():
        response = _resolve(document, raw)
        content = response.get("content") or {"-": {}}
        for media, body in content.items():
            schema = body.get("schema")
            lines.append(
                f"| {status} | {_cell(response.get('description', ''))} | `{media}` "
                f"| {_schema_text(schema) if schema is not None else '-'} |"
            )
    lines.append("")
    return lines


def api_markdown(openapi: Mapping[str, Any]) -> str:
    """docs/API.md for ``openapi``: every operation (method, path, summary, parameters,
    responses with their schemas), the shared error responses and the component schemas."""
    info = openapi.get("info", {})
    operations = list(_operations(openapi))
    lines = [
        "# API",
        "",
        f"<!-- Generated from the service's OpenAPI document by `{REGENERATE}`; do not edit. -->",
        "",
        f"{info.get('title', 'API')}, OpenAPI {openapi.get('openapi', '?')}. "
        f"{info.get('description', '')}".rstrip(),
        "",
        "The live document is `GET /openapi.json` on any task (it also reports the running "
        "`info.version`).",
        "",
        "| method | path | operationId | summary |",
        "|---|---|---|---|",
    ]
    for path, method, operation in operations:
        lines.append(
            f"| {method.upper()} | `{path}` | `{operation.get('operationId', '-')}` "
            f"| {_cell(str(operation.get('summary', '')))} |"
        )
    lines += ["", "## Operations", ""]
    for path, method, operation in operations:
        lines += _operation_section(openapi, path, method, operation)
    components = openapi.get("components", {})
    responses = components.get("responses", {})
    if responses:
        lines += [
            "## Error responses",
            "",
            "Shared by the operations above; `404` answers any path that does not exist.",
            "",
            "| name | description | schema |",
            "|---|---|---|",
        ]
        for name, response in responses.items():
            schemas = [b.get("schema") for b in response.get("content", {}).values()]
            shown = ", ".join(_schema_text(s) for s in schemas if s is not None) or "-"
            lines.append(f"| `{name}` | {_cell(response.get('description', ''))} | {shown} |")
        lines.append("")
    schemas = components.get("schemas", {})
    if schemas:
        lines += ["## Schemas", ""]
        for name, schema in schemas.items():
            lines += _schema_section(name, schema)
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------------------------
# The architecture diagram from the rendered templates
# --------------------------------------------------------------------------------------------

# Resource types drawn, with a short label and the node's fill colour. Everything else (routes,
# associations, policies, roles, keys...) is not drawn, but references *through* it are kept:
# TaskDefinition -> ExecutionRole -> RepositoryArn still draws TaskDefinition -> Repository.
SHOWN: dict[str, tuple[str, str]] = {
    "AWS::EC2::VPC": ("VPC", "#e8f4e8"),
    "AWS::EC2::Subnet": ("subnet", "#e8f4e8"),
    "AWS::EC2::NatGateway": ("NAT gateway", "#e8f4e8"),
    "AWS::EC2::InternetGateway": ("internet gateway", "#e8f4e8"),
    "AWS::EC2::VPCEndpoint": ("VPC endpoint", "#e8f4e8"),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ("ALB", "#fdebd0"),
    "AWS::ElasticLoadBalancingV2::Listener": ("listener", "#fdebd0"),
    "AWS::ElasticLoadBalancingV2::ListenerRule": ("listener rule", "#fdebd0"),
    "AWS::ElasticLoadBalancingV2::TargetGroup": ("target group", "#fdebd0"),
    "AWS::WAFv2::WebACL": ("WAF web ACL", "#fdebd0"),
    "AWS::ECS::Cluster": ("ECS cluster", "#fcf3cf"),
    "AWS::ECS::Service": ("ECS service (Fargate)", "#fcf3cf"),
    "AWS::ECS::TaskDefinition": ("task definition", "#fcf3cf"),
    "AWS::ApplicationAutoScaling::ScalableTarget": ("autoscaling", "#fcf3cf"),
    "AWS::SecretsManager::Secret": ("secret", "#fcf3cf"),
    "AWS::Logs::LogGroup": ("log group", "#eaecee"),
    "AWS::Logs::MetricFilter": ("log metric filter", "#eaecee"),
    "AWS::ECR::Repository": ("ECR repository", "#d6eaf8"),
    "AWS::CodePipeline::Pipeline": ("CodePipeline", "#d6eaf8"),
    "AWS::CodeBuild::Project": ("CodeBuild project", "#d6eaf8"),
    "AWS::S3::Bucket": ("S3 bucket", "#d6eaf8"),
    "AWS::SNS::Topic": ("SNS topic", "#f5eef8"),
    "AWS::CloudWatch::Alarm": ("CloudWatch alarms", "#f5eef8"),
    "AWS::CloudWatch::CompositeAlarm": ("CloudWatch alarms", "#f5eef8"),
    "AWS::CloudWatch::Dashboard": ("dashboard", "#f5eef8"),
    "AWS::Budgets::Budget": ("budget", "#f5eef8"),
}
# Types drawn as one node per stack that lists its members (13 alarm boxes would bury the
# picture; the RUNBOOK has one section per alarm).
COLLAPSED = {
    "AWS::CloudWatch::Alarm": "Alarms",
    "AWS::CloudWatch::CompositeAlarm": "Alarms",
    "AWS::EC2::VPCEndpoint": "VpcEndpoints",
}
_DIGITS = re.compile(r"^(?P<base>.*?)(?P<n>\d+)$")
_GRAPHVIZ_COMMENT = re.compile(r"<!-- Generated by graphviz.*?-->\n?", re.DOTALL)
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass(frozen=True)
class StackInput:
    """Where one template parameter's value comes from (Sceptre config)."""

    kind: str  # "stack_output", "var" (a --var of the deploy), or "literal"
    source: str  # "prod/network.yaml::VpcId", "image_uri", or the literal text


@dataclass
class _Node:
    id: str
    label: str
    color: str
    members: list[str] = field(default_factory=list)


@dataclass(frozen=True, order=True)
class _Edge:
    src: str
    dst: str
    # "ref" (inside a stack), "assoc" (joined by an attachment/association that is not drawn),
    # "param" (Sceptre stack_output), "import" (Fn::ImportValue), "deploy" (pipeline -> env)
    kind: str
    label: str = ""


_JINJA_VAR = re.compile(r"\{\{\s*var\.([A-Za-z0-9_]+)\s*\}\}")


def _jinja_var(expression: str) -> str:
    """``{{ var.image_uri }}`` -> ``__var__image_uri`` (other Jinja is kept as written)."""
    match = _JINJA_VAR.fullmatch(expression)
    return f"__var__{match.group(1)}" if match else expression


def stack_inputs(config_file: Path) -> dict[str, StackInput]:
    """The ``parameters`` of one Sceptre stack config, by parameter name."""
    data = sceptre_yaml.read(config_file, lambda m: _jinja_var(m.group(0)))
    inputs: dict[str, StackInput] = {}
    parameters = data.get("parameters", {}) if isinstance(data, dict) else {}
    for name, value in (parameters or {}).items():
        if isinstance(value, sceptre_yaml.Tagged) and value.tag == "!stack_output":
            inputs[name] = StackInput("stack_output", str(value.value))
        elif isinstance(value, str) and value.startswith("__var__"):
            inputs[name] = StackInput("var", value.removeprefix("__var__"))
        else:
            inputs[name] = StackInput("literal", str(value))
    return inputs


def _references(value: Any, exclude: frozenset[str] = frozenset()) -> Iterator[tuple[str, str]]:
    """``(kind, name)`` of every reference in a template value: ``("ref", logical id or
    parameter)`` for Ref/GetAtt/Sub, ``("import", export name)`` for a literal ImportValue."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item, exclude)
        return
    if not isinstance(value, Mapping):
        return
    if set(value) == {"Ref"} and isinstance(value["Ref"], str):
        if not value["Ref"].startswith("AWS::") and value["Ref"] not in exclude:
            yield ("ref", value["Ref"])
        return
    if set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        name = target[0] if isinstance(target, list) else str(target).split(".", 1)[0]
        yield ("ref", str(name))
        return
    if set(value) == {"Fn::ImportValue"}:
        if isinstance(value["Fn::ImportValue"], str):
            yield ("import", value["Fn::ImportValue"])
        else:
            yield from _references(value["Fn::ImportValue"], exclude)
        return
    if set(value) == {"Fn::Sub"}:
        yield from _sub_references(value["Fn::Sub"], exclude)
        return
    for item in value.values():
        yield from _references(item, exclude)


def _sub_references(body: Any, exclude: frozenset[str]) -> Iterator[tuple[str, str]]:
    """References of an ``Fn::Sub``: its ``${Name}``/``${Name.Attr}`` except its own variables."""
    text, variables = (body[0], body[1]) if isinstance(body, list) else (body, {})
    for match in _SUB_VAR.findall(str(text)):
        name = match.split(".", 1)[0]
        if not name.startswith("AWS::") and name not in variables and name not in exclude:
            yield ("ref", name)
    yield from _references(variables, exclude)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Graph:
    """Nodes and edges of the diagram, built stack by stack."""

    def __init__(self, templates: Mapping[str, Template], inputs: Mapping[str, Any]) -> None:
        self.templates = templates
        self.inputs = inputs
        self.nodes: dict[str, dict[str, _Node]] = {}  # stack -> node id -> node
        self.owner: dict[tuple[str, str], str] = {}  # (stack, logical id) -> node id
        self.edges: set[_Edge] = set()
        self.exports = self._exports()

    def _exports(self) -> dict[str, tuple[str, str]]:
        """Export name -> (stack, output) for exports named ``${AWS::StackName}-<suffix>``."""
        found: dict[str, tuple[str, str]] = {}
        for stack, template in self.templates.items():
            group, name = stack.split("/", 1)
            for output, spec in template.get("Outputs", {}).items():
                export = spec.get("Export", {}).get("Name")
                text = export.get("Fn::Sub") if isinstance(export, Mapping) else export
                if isinstance(text, str):
                    resolved = text.replace("${AWS::StackName}", f"{PROJECT_CODE}-{group}-{name}")
                    found[resolved] = (stack, output)
        return found

    def add_nodes(self) -> None:
        for stack, template in sorted(self.templates.items()):
            resources = template.get("Resources", {})
            by_base: dict[tuple[str, str], list[str]] = {}
            for logical_id, resource in sorted(resources.items()):
                kind = resource.get("Type", "")
                if kind not in SHOWN:
                    continue
                if kind in COLLAPSED:
                    base = COLLAPSED[kind]
                else:
                    match = _DIGITS.match(logical_id)
                    base = match.group("base") if match else logical_id
                by_base.setdefault((base, SHOWN[kind][0]), []).append(logical_id)
            nodes: dict[str, _Node] = {}
            for (base, label), members in sorted(by_base.items()):
                node_id = f"{stack}/{base}"
                color = SHOWN[resources[members[0]]["Type"]][1]
                if len(members) == 1 and base not in COLLAPSED.values():
                    title = members[0]
                else:
                    title = f"{base} x{len(members)}"
                nodes[node_id] = _Node(node_id, f"{title}\\n({label})", color, members)
                for member in members:
                    self.owner[(stack, member)] = node_id
            self.nodes[stack] = nodes

    def _targets(
        self, stack: str, name: str, seen: set[tuple[str, str]]
    ) -> Iterator[tuple[str, str, str]]:
        """``(node id, edge kind, label)`` that reference ``name`` in ``stack`` leads to."""
        if (stack, name) in seen:
            return
        seen.add((stack, name))
        template = self.templates[stack]
        if (stack, name) in self.owner:
            yield (self.owner[(stack, name)], "ref", "")
        elif name in template.get("Resources", {}):
            # A resource that is not drawn (role, policy, key...): follow its own references.
            for kind, target in sorted(set(_references(template["Resources"][name]))):
                yield from self._follow(stack, kind, target, seen)
        elif name in template.get("Parameters", {}):
            source = self.inputs.get(stack, {}).get(name)
            if isinstance(source, StackInput) and source.kind == "stack_output":
                path, output = source.source.split("::", 1)
                producer = path.removesuffix(".yaml")
                if producer in self.templates:
                    for node, _, _ in self._output_targets(producer, output):
                        yield (node, "param", name)
            elif isinstance(source, StackInput) and source.kind == "var":
                yield (self._input_node(stack, name, source), "ref", "")

    def _follow(
        self, stack: str, kind: str, target: str, seen: set[tuple[str, str]]
    ) -> Iterator[tuple[str, str, str]]:
        if kind == "import":
            if target in self.exports:
                producer, output = self.exports[target]
                for node, _, _ in self._output_targets(producer, output):
                    yield (node, "import", output)
            return
        yield from self._targets(stack, target, seen)

    def _output_targets(self, stack: str, output: str) -> Iterator[tuple[str, str, str]]:
        spec = self.templates[stack].get("Outputs", {}).get(output, {})
        seen: set[tuple[str, str]] = set()
        for kind, target in sorted(set(_references(spec.get("Value")))):
            yield from self._follow(stack, kind, target, seen)

    def _input_node(self, stack: str, parameter: str, source: StackInput) -> str:
        """A node for a value given at deploy time (``--var image_uri=...``)."""
        node_id = f"{stack}/input:{parameter}"
        self.nodes[stack].setdefault(
            node_id, _Node(node_id, f"{parameter}\\n(--var {source.source})", "#ffffff")
        )
        return node_id

    def add_edges(self) -> None:
        for stack, template in sorted(self.templates.items()):
            resources = template.get("Resources", {})
            for logical_id in sorted(resources):
                source = self.owner.get((stack, logical_id))
                if source is None:
                    continue
                refs = sorted(set(_references(resources[logical_id].get("Properties", {}))))
                seen: set[tuple[str, str]] = {(stack, logical_id)}
                for kind, target in refs:
                    for node, edge_kind, label in self._follow(stack, kind, target, seen):
                        if node != source:
                            self.edges.add(_Edge(source, node, edge_kind, label))
                self._deploy_edges(stack, source, resources[logical_id])
            self._association_edges(stack, resources)

    def _association_edges(self, stack: str, resources: Mapping[str, Any]) -> None:
        """Resources that are not drawn and that nothing references, but that join drawn ones
        (VPCGatewayAttachment, WebACLAssociation, FlowLog, routes): an undirected edge between
        the resources they join, so the WAF or the internet gateway are not left floating."""
        referenced = {
            target
            for resource in resources.values()
            for kind, target in _references(resource.get("Properties", {}))
            if kind == "ref"
        }
        pairs = {frozenset((e.src, e.dst)) for e in self.edges}
        for logical_id in sorted(resources):
            if (stack, logical_id) in self.owner or logical_id in referenced:
                continue
            seen: set[tuple[str, str]] = {(stack, logical_id)}
            joined = sorted(
                {
                    node
                    for kind, target in sorted(set(_references(resources[logical_id])))
                    for node, edge_kind, _ in self._follow(stack, kind, target, seen)
                    if edge_kind == "ref" and node.startswith(f"{stack}/")
                }
            )
            for index, first in enumerate(joined):
                for second in joined[index + 1 :]:
                    if frozenset((first, second)) not in pairs:
                        pairs.add(frozenset((first, second)))
                        self.edges.add(_Edge(first, second, "assoc"))

    def _deploy_edges(self, stack: str, source: str, resource: Mapping[str, Any]) -> None:
        """CodeBuild deploy projects: ``DEPLOY_ENV=<env>`` runs ``invoke deploy`` on that env's
        service stack. Not a CloudFormation reference, but wiring the template states."""
        if resource.get("Type") != "AWS::CodeBuild::Project":
            return
        variables = resource.get("Properties", {}).get("Environment", {})
        for variable in variables.get("EnvironmentVariables", []):
            if variable.get("Name") == "DEPLOY_ENV":
                env = str(variable.get("Value"))
                target = self.owner.get((f"{env}/service", "Service"))
                if target is not None:
                    self.edges.add(_Edge(source, target, "deploy", f"invoke deploy --env {env}"))


_EDGE_STYLE = {
    "ref": 'color="#7f8c8d"',
    "assoc": 'color="#7f8c8d", dir=none, style=dotted',
    "param": 'color="#2e86c1", style=dashed, fontcolor="#2e86c1"',
    "import": 'color="#2e86c1", style=dotted, fontcolor="#2e86c1"',
    "deploy": 'color="#c0392b", penwidth=1.6, fontcolor="#c0392b"',
}


def architecture_dot(
    templates: Mapping[str, Template], inputs: Mapping[str, Mapping[str, StackInput]] | None = None
) -> str:
    """A Graphviz DOT graph of ``templates`` (keyed ``<group>/<stack>``, e.g. ``prod/service``).

    Stacks are clusters; the main resources (``SHOWN``) are nodes; edges are the references
    between them: Ref/GetAtt/Sub inside a stack (through resources that are not drawn),
    Sceptre ``!stack_output`` parameters and ``Fn::ImportValue`` across stacks, and the
    pipeline's deploy projects to the service they deploy. ``inputs`` are the stacks'
    parameter sources (:func:`stack_inputs`). Sorted throughout: same input, same bytes.
    """
    graph = _Graph(templates, inputs or {})
    graph.add_nodes()
    graph.add_edges()
    lines = [
        "// Generated from the rendered CloudFormation templates by",
        f"// `{REGENERATE}`; do not edit.",
        "digraph architecture {",
        '  graph [rankdir=LR, fontname="Helvetica", fontsize=12, nodesep=0.25, ranksep=0.9,',
        '         newrank=true, compound=true, label="flask-fargate: stacks (clusters), main '
        "resources; arrows point from a resource to what it references (grey: Ref/GetAtt "
        "inside a stack, grey dotted: joined by an attachment, blue dashed: Sceptre "
        'stack_output parameter, red: pipeline deploy)", labelloc=t];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8, arrowsize=0.6];',
    ]
    for index, (stack, nodes) in enumerate(sorted(graph.nodes.items())):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(
            f"    label={_quote(PROJECT_CODE + '-' + stack.replace('/', '-'))}; style=rounded;"
            ' color="#566573"; fontsize=11;'
        )
        for node_id, node in sorted(nodes.items()):
            attributes = f'label="{_escape_label(node.label)}", fillcolor="{node.color}"'
            if node_id.rsplit("/", 1)[-1].startswith("input:"):
                attributes += ', shape=note, style="filled"'
            elif len(node.members) > 1:
                tooltip = ", ".join(node.members)
                attributes += f", tooltip={_quote(tooltip)}"
            lines.append(f"    {_quote(node_id)} [{attributes}];")
        lines.append("  }")
    for edge in sorted(graph.edges):
        attributes = _EDGE_STYLE[edge.kind]
        if edge.label:
            attributes += f", label={_quote(edge.label)}"
        lines.append(f"  {_quote(edge.src)} -> {_quote(edge.dst)} [{attributes}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escape_label(label: str) -> str:
    """Quote a label but keep its ``\\n`` line breaks (DOT escapes)."""
    return label.replace('"', '\\"')


def render_svg(dot_source: str, dot_binary: str = "dot") -> str:
    """SVG of ``dot_source``, made deterministic: graphviz's version comment dropped, the DOT's
    hash embedded (so a test can tell an SVG drawn from an older DOT)."""
    executable = shutil.which(dot_binary)
    if executable is None:
        raise RuntimeError(
            f"'{dot_binary}' not found: install graphviz (apt-get install graphviz; "
            "bin/bootstrap does)"
        )
    result = subprocess.run(  # noqa: S603 - fixed argv, input on stdin
        [executable, "-Tsvg"], input=dot_source, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"dot failed: {result.stderr.strip()}")
    # The version comment spans two lines ("<!-- Generated by graphviz version X\n -->").
    lines = _GRAPHVIZ_COMMENT.sub("", result.stdout).splitlines()
    marker = f"{SVG_HASH_PREFIX}{dot_hash(dot_source)} -->"
    # Right after the XML declaration and DOCTYPE, before <svg>.
    at = next((i for i, line in enumerate(lines) if line.startswith("<svg")), 0)
    lines.insert(at, marker)
    return "\n".join(lines) + "\n"


def dot_hash(dot_source: str) -> str:
    """SHA-256 of the DOT text (what the SVG says it was drawn from)."""
    return hashlib.sha256(dot_source.encode("utf-8")).hexdigest()


def svg_dot_hash(svg: str) -> str | None:
    """The DOT hash embedded in an SVG written by :func:`render_svg`, if any."""
    for line in svg.splitlines():
        if line.startswith(SVG_HASH_PREFIX):
            return line.removeprefix(SVG_HASH_PREFIX).removesuffix(" -->").strip()
    return None


# --------------------------------------------------------------------------------------------
# Rendering the templates and writing the files
# --------------------------------------------------------------------------------------------


def rendered_templates(
    groups: Sequence[str] = DIAGRAM_GROUPS, root: Path = ROOT
) -> dict[str, dict[str, Any]]:
    """Render the stacks of ``groups`` (through ``delivery.render``, the launch code path) into
    a temporary folder; ``{"<group>/<stack>": template}``. Needs the ``stacks`` dependency group."""
    render = importlib.import_module("delivery.render")
    with tempfile.TemporaryDirectory(prefix="docs-templates-") as tmp:
        written = render.render(Path(tmp), list(groups), root / "config")
        return {
            f"{path.parent.name}/{path.stem}": json.loads(path.read_text("utf-8"))
            for path in sorted(written)
        }


def config_inputs(stacks: Iterable[str], root: Path = ROOT) -> dict[str, dict[str, StackInput]]:
    """The parameter sources of ``stacks`` (``<group>/<stack>``) from ``config/``."""
    return {stack: stack_inputs(root / "config" / f"{stack}.yaml") for stack in stacks}


def generate(root: Path = ROOT) -> dict[str, str]:
    """The generated docs' text: file name under docs/ -> content (the SVG is not included)."""
    templates = rendered_templates(DIAGRAM_GROUPS, root)
    return {
        API_MD: api_markdown(openapi_document()),
        ARCHITECTURE_DOT: architecture_dot(templates, config_inputs(templates, root)),
    }


def write_docs(root: Path = ROOT, dot_binary: str = "dot") -> list[Path]:
    """Write docs/API.md, docs/architecture.dot and docs/architecture.svg; the paths written."""
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    written = []
    generated = generate(root)
    for name, text in generated.items():
        target = docs / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    svg = docs / ARCHITECTURE_SVG
    svg.write_text(render_svg(generated[ARCHITECTURE_DOT], dot_binary), encoding="utf-8")
    written.append(svg)
    return written


def stale(root: Path = ROOT) -> list[str]:
    """Generated files under docs/ that differ from what would be generated now."""
    found = []
    generated = generate(root)
    for name, text in generated.items():
        path = root / "docs" / name
        if not path.is_file() or path.read_text("utf-8") != text:
            found.append(f"docs/{name}")
    svg = root / "docs" / ARCHITECTURE_SVG
    if not svg.is_file() or svg_dot_hash(svg.read_text("utf-8")) != dot_hash(
        generated[ARCHITECTURE_DOT]
    ):
        found.append(f"docs/{ARCHITECTURE_SVG}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the generated docs, or with ``--check`` report stale ones (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m delivery.docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        outdated = stale()
        for name in outdated:
            print(f"stale: {name} (regenerate with: {REGENERATE})", file=sys.stderr)
        return 1 if outdated else 0
    try:
        for path in write_docs():
            print(f"wrote {path.relative_to(ROOT)}")
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
