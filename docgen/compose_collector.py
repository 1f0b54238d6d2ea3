"""compose's collector configuration (compose/otel-collector.yaml), generated like the docs.

It is the sidecar's configuration with local exporters (stacks/service/collector_config.py
``local_collector_config``), so what runs under compose is what runs in the task; ``invoke docs``
writes it and a test fails when the committed file differs.
"""

from __future__ import annotations

from stacks.service.collector_config import local_collector_config, render
from stacks.service.settings import Collector

# Relative to the repository's root.
COMPOSE_COLLECTOR = "compose/otel-collector.yaml"
HEADER = (
    "The ADOT collector under compose: the sidecar's receivers and limits, local exporters.\n"
    "Generated from stacks/service/collector_config.py by `invoke docs`: do not edit."
)


def compose_collector_yaml() -> str:
    """The text of compose/otel-collector.yaml."""
    return render(local_collector_config(Collector().memory_limit_mib), header=HEADER)
