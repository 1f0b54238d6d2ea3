"""Collector configurations for the stand-in's tests.

The one the stacks render (:func:`rendered_text`: tests/golden's ``AOT_CONFIG_CONTENT``, its
``Fn::Sub`` filled in as CloudFormation does), and a minimal one written by hand to the issue-13
contract (:func:`contract_config`: its component ids, endpoints and pipelines, nothing else),
which tests change part by part.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from delivery.local.collector.config import CONTAINER, SOURCE
from delivery.local.task_definition import resolve
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


def rendered_text(env: str, values: dict[str, str], *, scrape_interval: str | None = None) -> str:
    """``env``'s rendered ``AOT_CONFIG_CONTENT`` as ECS gets it: its ``Fn::Sub`` filled in from
    ``values`` (parameters, resources by logical id, ``AWS::Region``); with ``scrape_interval``,
    the scrape job's interval changed (tests cannot wait a minute)."""
    text = resolve(golden_collector_configs()[env], values)
    assert text is not None, f"{env}'s AOT_CONFIG_CONTENT needs more than {sorted(values)}"
    if scrape_interval is None:
        return text
    document = yaml.safe_load(text)
    document["receivers"]["prometheus"]["config"]["scrape_configs"][0]["scrape_interval"] = (
        scrape_interval
    )
    return yaml.safe_dump(document, sort_keys=False)


def _golden_container(env: str) -> dict[str, Any]:
    template = json.loads((GOLDEN / env / "service.json").read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ECS::TaskDefinition":
            for container in resource["Properties"]["ContainerDefinitions"]:
                if container["Name"] == CONTAINER:
                    return dict(container)
    raise AssertionError(f"tests/golden/{env}/service.json has no {CONTAINER} container")


def with_rendered_collector(
    template: dict[str, Any], env: str = "local", *, scrape_interval: str = "60s"
) -> dict[str, Any]:
    """``template`` with ``env``'s rendered ``otel-collector`` container (tests/golden) listed
    first in its task definition, its configuration's scrape interval ``scrape_interval``. The
    container refers to the ``LogGroup`` and ``MetricsLogGroup`` resources the template must
    have, as the service stack does."""
    container = _golden_container(env)
    text = json.dumps(container)
    interval = 'scrape_interval: \\"60s\\"'  # in the Fn::Sub text, as JSON escapes it
    assert interval in text, f"{env}'s collector configuration scrapes at another interval"
    container = json.loads(text.replace(interval, interval.replace("60s", scrape_interval)))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ECS::TaskDefinition":
            containers = resource["Properties"]["ContainerDefinitions"]
            resource["Properties"]["ContainerDefinitions"] = [container, *containers]
    return template
