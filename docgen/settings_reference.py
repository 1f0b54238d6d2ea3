"""``docs/SETTINGS.md``: every key a stack accepts in ``sceptre_user_data``, from its model.

Each stack module's pydantic ``Settings`` (and each block nested in it) is the one definition of
what its config may say: the type, bounds and default come from the model's JSON schema, the
meaning from each field's ``Field(description=...)``, and which environment sets a key (and to
what) from the Sceptre config under ``config/``. A key added without a description fails
``tests/unit/stacks/test_settings_descriptions.py``; a reference not regenerated fails
``tests/unit/test_docs.py``.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

import stacks
from delivery import render
from docgen import REGENERATE, ROOT
from docgen.api import cell
from stacks.common.settings import StackSettings

SETTINGS_MD = "SETTINGS.md"
# The order the stacks are launched in (docs/ARCHITECTURE.md lists them so); a stack module not
# named here still gets its section, after these.
STACK_ORDER = (
    "network",
    "registry",
    "service",
    "monitoring",
    "budget",
    "pipeline",
    "cloudformation-roles",
)
COMMON = "every stack"


@dataclass(frozen=True)
class Section:
    """One table of the reference: a model's fields, found at ``path`` in a stack's settings."""

    stack: str
    model: type[BaseModel]
    path: tuple[str, ...]  # () for the stack's own settings, ("deployment", "canary") nested
    fields: tuple[str, ...]

    @property
    def anchor(self) -> str:
        """The HTML id other tables link to (``service-deployment-canary``)."""
        return "-".join([self.stack.replace(" ", "-"), *self.path]).lower()

    @property
    def title(self) -> str:
        """The heading: the stack, then the key path of a nested block."""
        return f"`{self.stack}`" + "".join(f" > `{part}`" for part in self.path)


def stack_modules() -> list[ModuleType]:
    """Every stack module (``stacks.<name>`` with ``STACK`` and ``Settings``), in launch order."""
    found = []
    for info in pkgutil.iter_modules(stacks.__path__):
        module = importlib.import_module(f"stacks.{info.name}")
        if hasattr(module, "STACK") and hasattr(module, "Settings"):
            found.append(module)

    def order(module: ModuleType) -> tuple[int, str]:
        name = str(module.STACK)
        return (STACK_ORDER.index(name) if name in STACK_ORDER else len(STACK_ORDER), name)

    return sorted(found, key=order)


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The settings block inside an annotation like ``Canary | None`` or ``list[Stage]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = nested_model(arg)
        if found is not None:
            return found
    return None


def sections(stack: str, model: type[BaseModel], skip: Sequence[str] = ()) -> Iterator[Section]:
    """The model's own table, then one per nested block, depth first in field order."""

    def walk(current: type[BaseModel], path: tuple[str, ...]) -> Iterator[Section]:
        names = tuple(name for name in current.model_fields if not (path == () and name in skip))
        yield Section(stack, current, path, names)
        for name in names:
            inner = nested_model(current.model_fields[name].annotation)
            if inner is not None:
                yield from walk(inner, (*path, name))

    yield from walk(model, ())


def every_model() -> Iterator[type[BaseModel]]:
    """Every settings model and nested block of every stack, each once."""
    seen: set[type[BaseModel]] = set()
    for module in stack_modules():
        for section in sections(module.STACK, module.Settings):
            if section.model not in seen:
                seen.add(section.model)
                yield section.model


# --------------------------------------------------------------------------------------------
# One field: type, bounds, default, where it is set
# --------------------------------------------------------------------------------------------


def _type(schema: Mapping[str, Any], link: str | None) -> str:
    """A field's JSON schema as a short type: ``integer``, ``list of string (ipv4network)``."""
    if "$ref" in schema:
        return f"[{schema['$ref'].rsplit('/', 1)[-1]}](#{link})" if link else "object"
    if "anyOf" in schema:
        kinds = [_type(option, link) for option in schema["anyOf"] if option != {"type": "null"}]
        return " or ".join(kinds) + " (optional)"
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return "list of " + _type(schema.get("items", {}), link)
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def _bounds(schema: Mapping[str, Any]) -> list[str]:
    """The bounds a field's JSON schema states (of the non-null option of an optional one)."""
    for option in schema.get("anyOf", []):
        if option != {"type": "null"}:
            return _bounds(option)
    if schema.get("type") == "array":
        items = [f"each {bound}" for bound in _bounds(schema.get("items", {}))]
        return ([f"at least {schema['minItems']}"] if "minItems" in schema else []) + items
    found = []
    if "enum" in schema:
        found.append("one of " + ", ".join(f"`{_text(value)}`" for value in schema["enum"]))
    # "2 to 3" when both ends are inclusive, else each end on its own ("> 0, <= 100").
    if "minimum" in schema and "maximum" in schema:
        found.append(f"{schema['minimum']:,} to {schema['maximum']:,}")
    else:
        words = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<="}
        ends = [f"{word} {schema[key]:,}" for key, word in words.items() if key in schema]
        found += [", ".join(ends)] if ends else []
    if "minLength" in schema or "maxLength" in schema:
        found.append(
            f"{schema.get('minLength', 0):,} to {schema['maxLength']:,} characters"
            if "maxLength" in schema
            else f"at least {schema['minLength']:,} characters"
        )
    if "pattern" in schema:
        found.append(f"`{schema['pattern']}`")
    return found


def _text(value: Any) -> str:
    """A value as a config would spell it: text as is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(to_jsonable_python(value), separators=(", ", ": "))


def _default(field: FieldInfo) -> str:
    """The default as the config would spell it (JSON), or *required*."""
    if field.is_required():
        return "*required*"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "its fields' defaults"
    return f"`{_text(value)}`" if value is not None else "none"


def _lookup(data: Any, path: Sequence[str]) -> list[Any]:
    """The values at ``path`` in a config's user data (each item of a list on the way)."""
    if not path:
        return [data]
    if isinstance(data, list):
        return [found for item in data for found in _lookup(item, path)]
    if isinstance(data, dict) and path[0] in data:
        return _lookup(data[path[0]], path[1:])
    return []


def _set_in(configs: Sequence[render.StackConfig], path: Sequence[str], *, values: bool) -> str:
    """Which configs set the key at ``path``: environment names, with the value when it is
    short (``values``), or ``<env>/<stack>`` for the keys every stack takes."""
    shown = []
    for config in configs:
        found = _lookup(config.user_data, path)
        if not found:
            continue
        if not values:
            shown.append(f"{config.environment}/{config.name}")
            continue
        text = _text(found[0]) if len(found) == 1 else ""
        if isinstance(found[0], (dict, list)) or not text or len(text) > 24:
            shown.append(config.environment)
        else:
            shown.append(f"{config.environment} `{text}`")
    if not values and configs and len(shown) == len(configs):
        return "every config"
    return ", ".join(shown) or "-"


# --------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------


def _table(
    section: Section, configs: Sequence[render.StackConfig], intro: Sequence[str] = ()
) -> list[str]:
    """A section: anchor and heading (``##`` for a stack, ``###`` for a nested block), then
    ``intro``, the model's docstring and one row per field."""
    schema = section.model.model_json_schema()
    properties = schema.get("properties", {})
    level = "##" if not section.path else "###"
    lines = [f'<a id="{section.anchor}"></a>', f"{level} {section.title}", "", *intro]
    doc = (section.model.__doc__ or "").strip().split("\n\n")[0]
    lines += [" ".join(doc.split()), ""]
    lines += ["| key | type | bounds | default | set in | description |", "|---" * 6 + "|"]
    for name in section.fields:
        field = section.model.model_fields[name]
        inner = nested_model(field.annotation)
        link = Section(section.stack, inner, (*section.path, name), ()).anchor if inner else None
        prop = properties.get(name, {})
        where = _set_in(configs, (*section.path, name), values=section.stack != COMMON)
        lines.append(
            f"| `{name}` | {cell(_type(prop, link))} | {cell(', '.join(_bounds(prop))) or '-'} "
            f"| {cell(_default(field))} | {cell(where)} | {cell(field.description or '')} |"
        )
    return [*lines, ""]


def settings_markdown(config_dir: Path = ROOT / "config") -> str:
    """docs/SETTINGS.md: the keys every stack takes, then each stack's own, each nested block
    after the key that holds it."""
    configs = render.stack_configs(config_dir)
    modules = stack_modules()
    common = next(sections(COMMON, StackSettings))
    lines = [
        "# Settings reference",
        "",
        f"<!-- Generated from the stacks' settings models by `{REGENERATE}`; do not edit. -->",
        "",
        "What each stack accepts under `sceptre_user_data` in its Sceptre config "
        "(`config/<env>/<stack>.yaml`), read from the pydantic models in `stacks/`. A key not "
        "listed is an error that names the accepted ones, a value out of bounds an error that "
        "says what is accepted, and `uv run invoke render` checks every environment offline. "
        "*set in* shows which environments set a key (and to what, when short); the others "
        "get the default.",
        "",
        f"Stacks: [keys of {COMMON}](#{common.anchor}), "
        + ", ".join(f"[`{module.STACK}`](#{module.STACK})" for module in modules)
        + ".",
        "",
    ]
    lines += _table(common, configs)
    for module in modules:
        mine = [c for c in configs if c.handler == _handler(module)]
        files = ", ".join(f"`{c.path.relative_to(config_dir.parent)}`" for c in mine)
        intro = [
            f"Module `{_source(module)}`; config {files or '-'}. Also takes the keys of "
            f"[{COMMON}](#{common.anchor}).",
            "",
        ]
        for section in sections(module.STACK, module.Settings, skip=common.fields):
            lines += _table(section, mine, intro if not section.path else ())
    return "\n".join(lines).rstrip() + "\n"


def _handler(module: ModuleType) -> str:
    """The Sceptre template handler of a stack module: ``templates/<stack_with_underscores>``."""
    return f"templates.{module.__name__.removeprefix('stacks.')}"


def _source(module: ModuleType) -> str:
    """The module's path in the repository (a package's folder)."""
    path = Path(str(module.__file__)).relative_to(ROOT)
    return f"{path.parent}/" if path.name == "__init__.py" else str(path)
