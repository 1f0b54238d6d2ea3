"""A collector configuration written by hand to the issue-13 contract (its collector section).

Until the stack renders its own (stacks/service/collector_config.py), the local stand-in's tests
read this: the contract's component ids, endpoints and pipelines, and nothing else.
"""

from __future__ import annotations

from typing import Any

import yaml

NAMESPACE = "flask-fargate/local"
LOG_GROUP = "/flask-fargate/local/metrics"
LOG_STREAM = "app-metrics"


def contract_config(
    *, namespace: str = NAMESPACE, log_group: str = LOG_GROUP, log_stream: str = LOG_STREAM
) -> dict[str, Any]:
    """The contract's configuration as a mapping (tests change parts of it)."""
    return {
        "receivers": {
            "otlp": {"protocols": {"http": {"endpoint": "0.0.0.0:4318"}}},
            "prometheus": {
                "config": {
                    "scrape_configs": [
                        {
                            "job_name": "app",
                            "scrape_interval": "60s",
                            "metrics_path": "/metrics",
                            "static_configs": [{"targets": ["localhost:8000"]}],
                        }
                    ]
                }
            },
        },
        "processors": {"batch": {"timeout": "200ms"}},
        "exporters": {
            "awsxray": {},
            "awsemf": {
                "namespace": namespace,
                "log_group_name": log_group,
                "log_stream_name": log_stream,
                "dimension_rollup_option": "NoDimensionRollup",
            },
        },
        "extensions": {"health_check": {"endpoint": "0.0.0.0:13133"}},
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["batch"],
                    "exporters": ["awsxray"],
                },
                "metrics": {
                    "receivers": ["prometheus"],
                    "processors": ["batch"],
                    "exporters": ["awsemf"],
                },
            },
        },
    }


def contract_text(**overrides: str) -> str:
    """The contract's configuration as the YAML text ``AOT_CONFIG_CONTENT`` holds."""
    return yaml.safe_dump(contract_config(**overrides), sort_keys=False)
