"""The project's name has one home per layer, and the layers agree with the Sceptre config."""

from __future__ import annotations

from pathlib import Path

import yaml

from delivery import environments, project
from stacks.common import naming

ROOT = Path(__file__).resolve().parents[2]


def test_stacks_delivery_and_the_config_name_the_project_alike() -> None:
    configured = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["project_code"]
    assert configured == "flask-fargate"
    assert naming.PROJECT == project.NAME == configured
    assert environments.load("dev", ROOT).stack_name("service") == "flask-fargate-dev-service"


def test_no_other_module_spells_the_name_out() -> None:
    # Derived names go through the one constant of their layer, so a rename is a short edit.
    homes = {Path("delivery/project.py"), Path("stacks/common/naming.py")}
    spelled = [
        str(path.relative_to(ROOT))
        for folder in ("delivery", "docgen", "stacks")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.relative_to(ROOT) not in homes
        and any(
            '"flask-fargate' in line or "'flask-fargate" in line
            for line in path.read_text().splitlines()
            if not line.lstrip().startswith("#")
        )
    ]
    assert spelled == []
