"""The deploy's pace values are the service template's, and every environment passes them on."""

from __future__ import annotations

import pytest

from delivery import deploy_plan, pace, sceptre_yaml
from tests.support.paths import ROOT


def test_the_paces_are_the_templates_own() -> None:
    """The deploy's values must be what the service template's parameter allows."""
    from stacks.service import pace as template_pace  # noqa: PLC0415 - the stacks group, tests

    assert (pace.GUARDED, pace.FAST) == template_pace.PACES
    assert pace.PARAMETER == template_pace.PARAMETER
    # Validating renders with the pace a deploy uses: guarded, the parameter's default.
    assert deploy_plan.PLACEHOLDER_VARIABLES[pace.VARIABLE] == pace.GUARDED


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_every_environment_passes_the_pace_to_its_service_stack(env: str) -> None:
    text = (ROOT / "config" / env / "service.yaml").read_text()
    assert f'  {pace.PARAMETER}: "{{{{ var.{pace.VARIABLE} }}}}"\n' in text
    parameters = sceptre_yaml.read(ROOT / "config" / env / "service.yaml")["parameters"]
    assert pace.PARAMETER in parameters
