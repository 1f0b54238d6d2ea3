"""The graph of the rendered CloudFormation templates that the architecture diagram draws.

Inside one template, the edges are cfn-lint's: ``cfnlint.template.Template`` builds a
``cfnlint.graph.Graph`` (a networkx ``MultiDiGraph``) whose nodes are the resources, parameters
and outputs, and whose edges are the template's Ref, GetAtt, Sub and DependsOn, from resources and
from outputs to resources. What cfn-lint leaves out, because it looks at one template, is added
here: edges to the *parameters* (which Sceptre fills from another stack's output or a ``--var``)
and to ``Fn::ImportValue`` exports, so the diagram can follow a reference from stack to stack.

The diagram then shows only the main resources (:data:`SHOWN`), grouped (``PrivateSubnet0..2`` is
one node), and draws an edge from a shown resource to every shown resource its references reach,
passing through the ones not shown (roles, policies, routes): a task definition's execution role
that reads the repository draws TaskDefinition -> Repository.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.template import Template as CfnTemplate

from delivery import project, render, sceptre_yaml
from docgen import ROOT

Template = Mapping[str, Any]
PROJECT_CODE = project.NAME
# The diagram shows what production looks like: the account-level stacks and the prod env.
# dev/local differ only in counts (AZs, NATs, endpoints, WAF), which the rendered templates
# of those envs show exactly.
DIAGRAM_GROUPS = ("shared", "prod")

# Resource types drawn, with a short label and the node's fill colour. Everything else (routes,
# associations, policies, roles, keys...) is not drawn, but references *through* it are kept.
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
# Types drawn as one node per stack that lists its members (15 alarm boxes would bury the
# picture; the RUNBOOK has one section per alarm).
COLLAPSED = {
    "AWS::CloudWatch::Alarm": "Alarms",
    "AWS::CloudWatch::CompositeAlarm": "Alarms",
    "AWS::EC2::VPCEndpoint": "VpcEndpoints",
}
# cfn-lint names parameter and output nodes "Parameter-<name>" and "Output-<name>"; imports
# (added here) follow the same pattern.
PARAMETER = "Parameter-"
OUTPUT = "Output-"
IMPORT = "Import-"
DEPENDS_ON = "DependsOn"
_DIGITS = re.compile(r"^(?P<base>.*?)(?P<n>\d+)$")
_JINJA_VAR = re.compile(r"\{\{\s*var\.([A-Za-z0-9_]+)\s*\}\}")


@dataclass(frozen=True)
class StackInput:
    """Where one template parameter's value comes from (Sceptre config)."""

    kind: str  # "stack_output", "var" (a --var of the deploy), or "literal"
    source: str  # "prod/network.yaml::VpcId", "image_uri", or the literal text


@dataclass
class Node:
    """One box of the diagram: a resource, a group of alike resources, or a deploy input."""

    id: str
    title: str
    kind: str  # what it is ("ALB", "subnet") or, for an input, "--var <name>"
    color: str
    members: list[str] = field(default_factory=list)
    is_input: bool = False


@dataclass(frozen=True, order=True)
class Edge:
    """An arrow from a node to what it references."""

    src: str
    dst: str
    # "ref" (Ref/GetAtt/Sub inside a stack), "depends" (a DependsOn on the way), "assoc" (joined
    # by an attachment/association that is not drawn), "param" (Sceptre stack_output),
    # "import" (Fn::ImportValue), "deploy" (pipeline -> env)
    kind: str
    label: str = ""


@dataclass
class Diagram:
    """The diagram's nodes by stack (``<group>/<stack>`` -> node id -> node) and its edges."""

    nodes: dict[str, dict[str, Node]] = field(default_factory=dict)
    edges: set[Edge] = field(default_factory=set)


# --------------------------------------------------------------------------------------------
# One template: cfn-lint's graph, with parameter and import edges
# --------------------------------------------------------------------------------------------


def reference_graph(template: Template) -> Any:
    """cfn-lint's graph of ``template`` (a networkx ``MultiDiGraph``), with edges added from
    resources and outputs to the parameters and ``Fn::ImportValue`` exports they use."""
    cfn = CfnTemplate(None, dict(template))
    if cfn.graph is None:  # cfn-lint logs and swallows a failure to build it
        raise ValueError("cfn-lint could not build the template's graph")
    graph = cfn.graph.graph
    parameters = set(cfn.template.get("Parameters", {}))
    for path in cfn.search_deep_keys("Ref"):
        source, target = _source(path), path[-1]
        if source is not None and target in parameters:
            graph.add_edge(source, PARAMETER + target, label="Ref")
    for path in cfn.search_deep_keys("Fn::Sub"):
        source, body = _source(path), path[-1]
        text, variables = (body[0], body[1]) if isinstance(body, list) else (body, {})
        for name in cfn.get_sub_parameters(text):
            if source is not None and name in parameters and name not in variables:
                graph.add_edge(source, PARAMETER + name, label="Ref")
    for path in cfn.search_deep_keys("Fn::ImportValue"):
        source, export = _source(path), path[-1]
        if source is not None and isinstance(export, str):
            graph.add_edge(source, IMPORT + export, label="ImportValue")
    return graph


def _source(path: Sequence[Any]) -> str | None:
    """The graph node a ``search_deep_keys`` path starts from, as cfn-lint names it."""
    section, name = path[0], str(path[1])
    if section == "Resources":
        return name
    if section == "Outputs":
        return OUTPUT + name
    return None


# --------------------------------------------------------------------------------------------
# Every template: the diagram
# --------------------------------------------------------------------------------------------


class _Builder:
    """Builds a :class:`Diagram` from the templates' reference graphs."""

    def __init__(
        self, templates: Mapping[str, Template], inputs: Mapping[str, Mapping[str, StackInput]]
    ) -> None:
        self.templates = templates
        self.inputs = inputs
        self.graphs = {stack: reference_graph(t) for stack, t in sorted(templates.items())}
        self.diagram = Diagram()
        self.owner: dict[tuple[str, str], str] = {}  # (stack, logical id) -> node id
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
        """One node per shown resource, alike ones (``Subnet0..2``, alarms) grouped."""
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
            nodes: dict[str, Node] = {}
            for (base, label), members in sorted(by_base.items()):
                node_id = f"{stack}/{base}"
                color = SHOWN[resources[members[0]]["Type"]][1]
                if len(members) == 1 and base not in COLLAPSED.values():
                    title = members[0]
                else:
                    title = f"{base} x{len(members)}"
                nodes[node_id] = Node(node_id, title, label, color, members)
                for member in members:
                    self.owner[(stack, member)] = node_id
            self.diagram.nodes[stack] = nodes

    def reach(
        self, stack: str, node: str, seen: set[tuple[str, str, bool]], depends: bool = False
    ) -> Iterator[tuple[str, str, str]]:
        """``(diagram node, edge kind, label)`` that the references of graph node ``node`` of
        ``stack`` lead to, through resources that are not drawn and across stacks."""
        graph = self.graphs[stack]
        for _, target, data in sorted(graph.out_edges(node, data=True), key=_edge_key):
            through = depends or data.get("label") == DEPENDS_ON
            if (stack, target, through) in seen:
                continue
            seen.add((stack, target, through))
            if (stack, target) in self.owner:
                yield (self.owner[(stack, target)], "depends" if through else "ref", "")
            elif target.startswith(PARAMETER):
                yield from self._parameter(stack, target.removeprefix(PARAMETER))
            elif target.startswith(IMPORT):
                producer, output = self.exports.get(target.removeprefix(IMPORT), ("", ""))
                for found, _, _ in self._output(producer, output):
                    yield (found, "import", output)
            else:  # a resource that is not drawn (role, policy, key...): follow its references
                yield from self.reach(stack, target, seen, through)

    def _parameter(self, stack: str, name: str) -> Iterator[tuple[str, str, str]]:
        """Where a parameter's value comes from: another stack's output, or a deploy input."""
        source = self.inputs.get(stack, {}).get(name)
        if source is not None and source.kind == "stack_output":
            path, output = source.source.split("::", 1)
            for found, _, _ in self._output(path.removesuffix(".yaml"), output):
                yield (found, "param", name)
        elif source is not None and source.kind == "var":
            yield (self._input_node(stack, name, source), "ref", "")

    def _output(self, stack: str, output: str) -> Iterator[tuple[str, str, str]]:
        """The shown resources an output of ``stack`` refers to (none for an unknown stack)."""
        if stack in self.graphs and self.graphs[stack].has_node(OUTPUT + output):
            yield from self.reach(stack, OUTPUT + output, set())

    def _input_node(self, stack: str, parameter: str, source: StackInput) -> str:
        """A node for a value given at deploy time (``--var image_uri=...``).

        Its id has no ``:``: DOT would read what follows one as a port of the node.
        """
        node_id = f"{stack}/input-{parameter}"
        node = Node(node_id, parameter, f"--var {source.source}", "#ffffff", is_input=True)
        self.diagram.nodes[stack].setdefault(node_id, node)
        return node_id

    def add_edges(self) -> None:
        """Reference, association and deploy edges of every stack."""
        for stack, template in sorted(self.templates.items()):
            resources = template.get("Resources", {})
            for logical_id in sorted(resources):
                source = self.owner.get((stack, logical_id))
                if source is None:
                    continue
                for node, kind, label in self.reach(stack, logical_id, set()):
                    if node != source:
                        self.diagram.edges.add(Edge(source, node, kind, label))
                self._deploy_edges(source, resources[logical_id])
            self._association_edges(stack)
        # Where a Ref path exists too, the DependsOn one adds nothing to the picture.
        refs = {(e.src, e.dst) for e in self.diagram.edges if e.kind == "ref"}
        self.diagram.edges -= {
            e for e in self.diagram.edges if e.kind == "depends" and (e.src, e.dst) in refs
        }

    def _association_edges(self, stack: str) -> None:
        """Resources that are not drawn and that nothing references, but that join drawn ones
        (VPCGatewayAttachment, WebACLAssociation, FlowLog, routes): an undirected edge between
        the resources they join, so the WAF or the internet gateway are not left floating.

        A DependsOn on such a resource does not make it referenced: it orders, it does not use.
        """
        graph = self.graphs[stack]
        pairs = {frozenset((e.src, e.dst)) for e in self.diagram.edges}
        for logical_id in sorted(self.templates[stack].get("Resources", {})):
            if (stack, logical_id) in self.owner or _referenced(graph, logical_id):
                continue
            joined = sorted(
                {
                    node
                    for node, kind, _ in self.reach(stack, logical_id, set())
                    if kind == "ref" and node.startswith(f"{stack}/")
                }
            )
            for index, first in enumerate(joined):
                for second in joined[index + 1 :]:
                    if frozenset((first, second)) not in pairs:
                        pairs.add(frozenset((first, second)))
                        self.diagram.edges.add(Edge(first, second, "assoc"))

    def _deploy_edges(self, source: str, resource: Mapping[str, Any]) -> None:
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
                    self.diagram.edges.add(
                        Edge(source, target, "deploy", f"invoke deploy --env {env}")
                    )


def _edge_key(edge: tuple[str, str, Mapping[str, Any]]) -> tuple[str, str]:
    """Sort key of a networkx ``(source, target, data)`` edge: same input, same walk."""
    return (str(edge[1]), str(edge[2].get("label", "")))


def _referenced(graph: Any, logical_id: str) -> bool:
    """Whether another resource uses ``logical_id`` (Ref/GetAtt/Sub; DependsOn only orders)."""
    return any(
        not str(source).startswith((OUTPUT, PARAMETER)) and data.get("label") != DEPENDS_ON
        for source, _, data in graph.in_edges(logical_id, data=True)
    )


def diagram(
    templates: Mapping[str, Template], inputs: Mapping[str, Mapping[str, StackInput]]
) -> Diagram:
    """The diagram of ``templates`` (keyed ``<group>/<stack>``), ``inputs`` being the stacks'
    parameter sources (:func:`stack_inputs`)."""
    builder = _Builder(templates, inputs)
    builder.add_nodes()
    builder.add_edges()
    return builder.diagram


# --------------------------------------------------------------------------------------------
# What the diagram is drawn from: the rendered templates and Sceptre's parameters
# --------------------------------------------------------------------------------------------


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


def rendered_templates(
    groups: Sequence[str] = DIAGRAM_GROUPS, root: Path = ROOT
) -> dict[str, dict[str, Any]]:
    """The stacks of ``groups`` rendered through their Sceptre handlers (the launch code path):
    ``{"<group>/<stack>": template}``. Needs the ``stacks`` dependency group."""
    return {
        f"{stack.environment}/{stack.name}": json.loads(render.render_stack(stack))
        for stack in render.stack_configs(root / "config", groups)
    }


def config_inputs(stacks: Iterable[str], root: Path = ROOT) -> dict[str, dict[str, StackInput]]:
    """The parameter sources of ``stacks`` (``<group>/<stack>``) from ``config/``."""
    return {stack: stack_inputs(root / "config" / f"{stack}.yaml") for stack in stacks}
