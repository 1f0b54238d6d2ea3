"""The pipeline stack's rendered template, and what its resources are called once launched.

``template()`` is the golden copy of the shared pipeline stack (tests/golden/shared/pipeline.json);
``launched`` names every resource as a launched stack would (``<LogicalId>-x``, and ARNs of them),
so ``delivery.rehearsal.definition`` can resolve the template as CloudFormation does.
"""

from __future__ import annotations

import json
from typing import Any

from delivery.rehearsal.definition import Names
from tests.support.paths import ROOT

GOLDEN = ROOT / "tests" / "golden" / "shared" / "pipeline.json"
STACK = "flask-fargate-shared-pipeline"


def template() -> dict[str, Any]:
    """The pipeline stack's template as rendered (a fresh copy each call)."""
    loaded: dict[str, Any] = json.loads(GOLDEN.read_text())
    return loaded


def launched(body: dict[str, Any]) -> Names:
    """What the stack's resources would be called: <LogicalId>-x, and ARNs of them."""
    values = {
        "AWS::StackName": STACK,
        "AWS::Region": "eu-north-1",
        "AWS::AccountId": "123456789012",
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "ConnectionArn": "arn:aws:codeconnections:eu-north-1:123456789012:connection/c",
        "RepositoryArn": "arn:aws:ecr:eu-north-1:123456789012:repository/flask-fargate",
    }
    for logical in body["Resources"]:
        values[logical] = f"{logical}-x"
        values[f"{logical}.Arn"] = f"arn:aws:test:::{logical}"
    return Names(values)
