"""Fixtures: every environment's templates, rendered once through the Sceptre handlers."""

from __future__ import annotations

import json

import pytest

from delivery.render import render
from tests.support.cfn import Template


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Template]]:
    """``rendered[env][stack]``: the parsed JSON of every rendered template."""
    out = tmp_path_factory.mktemp("templates")
    result: dict[str, dict[str, Template]] = {}
    for path in render(out):
        result.setdefault(path.parent.name, {})[path.stem] = json.loads(path.read_text())
    return result
