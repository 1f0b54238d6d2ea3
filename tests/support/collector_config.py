"""A collector configuration written by hand to the issue-13 contract (its collector section).

Until the stack renders its own (stacks/service/collector_config.py), the local stand-in's tests
read this: the contract's component ids, endpoints and pipelines, and nothing else.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from delivery.local.collector.config import CONTAINER, SOURCE
from tests.support.paths import ROOT

GOLDEN = ROOT / "tests" / "golden"

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


COLLECTOR_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"


def with_collector(template: dict[str, Any], config_text: str | None) -> dict[str, Any]:
    """``template`` with the contract's sidecar listed first in its task definition: container
    ``otel-collector``, not essential, its configuration in AOT_CONFIG_CONTENT (None: without
    it), a port mapping of its own (so the app must be told apart by more than having one)."""
    environment = (
        [] if config_text is None else [{"Name": "AOT_CONFIG_CONTENT", "Value": config_text}]
    )
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ECS::TaskDefinition":
            containers = resource["Properties"]["ContainerDefinitions"]
            sidecar = {
                "Name": "otel-collector",
                "Image": COLLECTOR_IMAGE,
                "Essential": False,
                # Its own share, as the issue asks of the sidecar (and ECS requires when the
                # task declares no memory of its own).
                "Cpu": 64,
                "Memory": 128,
                "PortMappings": [{"ContainerPort": 4318}],
                "Environment": environment,
            }
            resource["Properties"]["ContainerDefinitions"] = [sidecar, *containers]
    return template


def golden_collector_configs() -> dict[str, Any]:
    """Per environment, the ``AOT_CONFIG_CONTENT`` value of the rendered service template's
    ``otel-collector`` container (tests/golden, which the golden test keeps equal to what the
    stacks render): a string, or the intrinsic function that makes one; none without the sidecar.
    """
    found: dict[str, Any] = {}
    for path in sorted(GOLDEN.glob("*/service.json")):
        template = json.loads(path.read_text())
        for resource in template.get("Resources", {}).values():
            if resource.get("Type") != "AWS::ECS::TaskDefinition":
                continue
            for container in resource.get("Properties", {}).get("ContainerDefinitions", []):
                if container.get("Name") != CONTAINER:
                    continue
                for variable in container.get("Environment", []):
                    if variable.get("Name") == SOURCE:
                        found[path.parent.name] = variable.get("Value")
    return found
