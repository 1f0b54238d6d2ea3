"""The project's generated documentation: one module per document, each built from the code.

- ``docgen.api``: ``docs/API.md`` from the service's OpenAPI document;
- ``docgen.stackgraph``: the graph of the rendered CloudFormation templates (cfn-lint's);
- ``docgen.architecture``: ``docs/architecture.dot`` and ``.svg`` drawn from that graph;
- ``docgen.settings_reference``: ``docs/SETTINGS.md`` from the stacks' settings models;
- ``docgen.compose_collector``: ``compose/otel-collector.yaml``, the sidecar's collector
  configuration with local exporters;
- ``docgen.grafana``: the local Grafana dashboard (``compose/grafana/``) from the CloudWatch
  dashboard's panels (stacks/monitoring/panels.py);
- ``docgen.generate``: writes them all, or reports which are stale (``invoke docs [--check]``).

Why generated: hand-drawn diagrams and hand-written references drift from the code the day after
they are written. ``tests/unit/test_docs.py`` fails when a committed file differs from what these
modules produce now. Doc generation is not delivery: it reads ``app``, ``stacks`` and
``delivery.render`` (the launch code path) and nothing here talks to AWS, engines or git.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What a stale-doc message tells the reader to run.
REGENERATE = "uv run invoke docs"
