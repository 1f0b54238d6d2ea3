"""Every settings key documents itself: one strict base, a description on every field.

docs/SETTINGS.md is generated from these descriptions (``docgen.settings_reference``), so a key
without one would be a blank in the reference; this test fails first, naming the key.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import pytest
from pydantic import BaseModel, Field

from docgen.settings_reference import every_model, stack_modules
from stacks.common.settings import StrictModel
from tests.support.paths import ROOT

# Long enough to say what the key is, in which unit, and why its bound or default.
MIN_DESCRIPTION = 30


def undocumented(models: Iterable[type[BaseModel]]) -> list[str]:
    """``Model.field`` for every field whose description is missing, too short to say what
    the key is and why, or not a sentence (the reference prints it as one)."""
    found = []
    for model in models:
        for name, field in model.model_fields.items():
            text = (field.description or "").strip()
            if len(text) < MIN_DESCRIPTION or not text.endswith((".", ")")):
                found.append(f"{model.__module__}.{model.__qualname__}.{name}")
    return found


def test_every_settings_field_has_a_description() -> None:
    models = list(every_model())
    assert len(models) >= 15, "the walk found too few models: is every_model broken?"
    missing = undocumented(models)
    assert not missing, (
        "settings fields without a description (Field(description=...): what it is, its unit, "
        "why its bound or default): " + ", ".join(missing)
    )


def test_the_check_catches_a_field_without_a_description() -> None:
    class Example(StrictModel):
        documented: int = Field(1, description="A count of things, in things; 1 by default.")
        bare: int = 1
        terse: int = Field(1, description="A count.")

    assert undocumented([Example]) == [
        f"{__name__}.{Example.__qualname__}.bare",
        f"{__name__}.{Example.__qualname__}.terse",
    ]


@pytest.mark.parametrize(
    "model", list(every_model()), ids=lambda m: f"{m.__module__}.{m.__qualname__}"
)
def test_every_settings_model_is_strict_through_the_one_base(model: type[BaseModel]) -> None:
    assert issubclass(model, StrictModel), f"{model.__qualname__} must derive from StrictModel"
    assert model.model_config.get("extra") == "forbid"
    assert model.model_config.get("frozen") is True


def test_strictness_is_configured_in_one_place() -> None:
    """StrictModel is the one ConfigDict of the settings: no model configures its own."""
    homes = [
        str(path.relative_to(ROOT))
        for folder in ("stacks", "delivery", "app", "docgen")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "ConfigDict(" in path.read_text(encoding="utf-8")
    ]
    assert homes == ["stacks/common/settings.py"]


def test_the_reference_covers_every_sceptre_template() -> None:
    """A stack launched through a handler in templates/ is in the reference (and this test)."""
    documented = {module.Settings for module in stack_modules()}
    for path in sorted((ROOT / "templates").glob("*.py")):
        if path.stem == "__init__":
            continue
        handler = importlib.import_module(f"templates.{path.stem}")
        stack = importlib.import_module(f"stacks.{path.stem}")
        assert hasattr(handler, "sceptre_handler")
        assert stack.Settings in documented, f"stacks.{path.stem} is missing from the reference"
