"""Write every generated document, or report which committed ones are stale.

``python -m docgen`` (what ``invoke docs`` runs) writes them under ``docs/``, compose's
collector configuration (compose/otel-collector.yaml) and the local Grafana's dashboard and
provisioning under ``compose/grafana/`` (docgen.grafana);
``python -m docgen --check`` writes nothing and exits 1 when one differs from what the code
produces now.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from docgen import REGENERATE, ROOT
from docgen.api import API_MD, api_markdown, openapi_document
from docgen.architecture import (
    ARCHITECTURE_DOT,
    ARCHITECTURE_SVG,
    architecture_dot,
    dot_hash,
    render_svg,
    svg_dot_hash,
)
from docgen.compose_collector import COMPOSE_COLLECTOR, compose_collector_yaml
from docgen.grafana import grafana_files
from docgen.settings_reference import SETTINGS_MD, settings_markdown
from docgen.stackgraph import DIAGRAM_GROUPS, config_inputs, rendered_templates


def generate(root: Path = ROOT) -> dict[str, str]:
    """The generated docs' text: file name under docs/ -> content (the SVG is not included:
    it is drawn from the DOT, and checked through the DOT's hash it carries)."""
    templates = rendered_templates(DIAGRAM_GROUPS, root)
    return {
        API_MD: api_markdown(openapi_document()),
        ARCHITECTURE_DOT: architecture_dot(templates, config_inputs(templates, root)),
        SETTINGS_MD: settings_markdown(root / "config"),
    }


def generated_files() -> dict[str, str]:
    """Generated files outside docs/: path relative to the root -> content."""
    return {COMPOSE_COLLECTOR: compose_collector_yaml(), **grafana_files()}


def write_docs(root: Path = ROOT) -> list[Path]:
    """Write every generated document and the diagram's SVG under ``root/docs``; the paths.

    Raises RuntimeError when Graphviz's ``dot`` is missing or fails (nothing of the SVG is
    written then, the text documents are).
    """
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    written = []
    generated = generate(root)
    for name, text in generated.items():
        target = docs / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    for relative, text in generated_files().items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    svg = docs / ARCHITECTURE_SVG
    svg.write_text(render_svg(generated[ARCHITECTURE_DOT]), encoding="utf-8")
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
    for relative, text in generated_files().items():
        path = root / relative
        if not path.is_file() or path.read_text("utf-8") != text:
            found.append(relative)
    svg = root / "docs" / ARCHITECTURE_SVG
    if not svg.is_file() or svg_dot_hash(svg.read_text("utf-8")) != dot_hash(
        generated[ARCHITECTURE_DOT]
    ):
        found.append(f"docs/{ARCHITECTURE_SVG}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the generated docs, or with ``--check`` report stale ones (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m docgen", description=__doc__)
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
