"""``docs/API.md`` from the service's OpenAPI document.

Every operation (method, path, summary, parameters, responses and their schemas), the shared error
responses and the component schemas, in the order the document lists them, so the page reads like
the document and changes exactly when it does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from app.config import AppConfig
from app.openapi import build_spec
from docgen import REGENERATE

API_MD = "API.md"
# The methods an OpenAPI path item may hold, in the order the page lists them.
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def openapi_document() -> dict[str, Any]:
    """The service's OpenAPI document as ``GET /openapi.json`` serves it with default settings.

    ``build_spec`` is what the route serves; calling it directly avoids ``create_app``'s side
    effect of installing the JSON log handler on the root logger of whoever generates docs.
    """
    return build_spec(AppConfig())


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
    """The last part of a ``$ref`` (the schema's name), or None for an inline schema."""
    if isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        return str(node["$ref"]).rsplit("/", 1)[-1]
    return None


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell: a ``|`` would end the cell, a newline the row."""
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
    """Every keyword of a property's schema but its type and description, as ``key value``."""
    skip = {"type", "description"}
    parts = [
        f"{key} {json.dumps(value, sort_keys=True)}"
        for key, value in sorted(schema.items())
        if key not in skip
    ]
    return ", ".join(parts)


def _schema_section(name: str, schema: Mapping[str, Any]) -> list[str]:
    """One component schema: an anchor the tables link to, then its fields."""
    lines = [f'<a id="schema-{name.lower()}"></a>', f"### {name}", ""]
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    if properties:
        lines += ["| field | type | required | constraints |", "|---|---|---|---|"]
        for prop, spec in properties.items():
            kind = spec.get("type", "any") if isinstance(spec, Mapping) else "any"
            rules = _constraints(spec) if isinstance(spec, Mapping) else ""
            lines.append(
                f"| `{prop}` | {kind} | {'yes' if prop in required else 'no'} | {cell(rules)} |"
            )
        if schema.get("additionalProperties") is False:
            lines += ["", "No other fields."]
        lines.append("")
    return lines


def _operations(document: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """``(path, method, operation)`` for every operation, in the document's order."""
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def _operation_section(
    document: Mapping[str, Any], path: str, method: str, operation: Mapping[str, Any]
) -> list[str]:
    """One operation: summary, id and tags, a parameter table and a response table."""
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
                f"| {_schema_text(p.get('schema', {}))} | {cell(p.get('description', ''))} |"
            )
        lines.append("")
    lines += ["| status | description | content type | schema |", "|---|---|---|---|"]
    for status, raw in operation.get("responses", {}).items():
        response = _resolve(document, raw)
        content = response.get("content") or {"-": {}}
        for media, body in content.items():
            schema = body.get("schema")
            lines.append(
                f"| {status} | {cell(response.get('description', ''))} | `{media}` "
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
            f"| {cell(str(operation.get('summary', '')))} |"
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
            lines.append(f"| `{name}` | {cell(response.get('description', ''))} | {shown} |")
        lines.append("")
    schemas = components.get("schemas", {})
    if schemas:
        lines += ["## Schemas", ""]
        for name, schema in schemas.items():
            lines += _schema_section(name, schema)
    return "\n".join(lines).rstrip() + "\n"
