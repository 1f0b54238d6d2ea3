"""Reading Sceptre config YAML offline, without Sceptre: one loader for every such reader.

Resolver and hook tags (``!stack_output x``, ``!termination_protection``) become inert ``Tagged``
values instead of errors, and Jinja expressions are replaced before parsing, so config can be
inspected with no AWS call and no Sceptre import.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

JINJA = re.compile(r"{{.*?}}|{%.*?%}")


@dataclass(frozen=True)
class Tagged:
    """A Sceptre resolver or hook left unresolved, e.g. ``Tagged("!stack_output", "a.yaml::B")``."""

    tag: str
    value: Any


class _Loader(yaml.SafeLoader):
    """A SafeLoader (no arbitrary objects) that turns any ``!tag`` into ``Tagged``."""


def _tagged(loader: _Loader, suffix: str, node: yaml.Node) -> Tagged:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node)
    else:
        value = loader.construct_mapping(node)  # type: ignore[arg-type]
    return Tagged(f"!{suffix}", value)


# Only YAML's own tags: Sceptre registers its resolvers on yaml.SafeLoader itself when its config
# reader runs, and a subclass would otherwise inherit them (exact tags win over our catch-all).
_Loader.yaml_constructors = {
    tag: construct
    for tag, construct in yaml.SafeLoader.yaml_constructors.items()
    if tag is None or tag.startswith("tag:yaml.org,2002:")
}
_Loader.add_multi_constructor("!", _tagged)


def read(path: Path, jinja: str | Callable[[re.Match[str]], str] = "jinja-placeholder") -> Any:
    """Parse a Sceptre config file; each Jinja expression is replaced by ``jinja`` first.

    Raises ``yaml.YAMLError`` for malformed YAML: callers turn it into their own one-line error.
    """
    text = JINJA.sub(jinja, path.read_text(encoding="utf-8"))
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass  # nosec B506


# The keys whose inheritance ``stack_config`` follows; Sceptre's strategies for them
# (sceptre/config/reader.py CONFIG_MERGE_STRATEGIES, Sceptre 4.7): a child's value wins when it
# sets one; ``sceptre_user_data`` merges parent and child key by key (the child winning) when
# ``sceptre_user_data_inheritance`` (the child's, else the parent's) is ``merge``.
USER_DATA = "sceptre_user_data"
USER_DATA_INHERITANCE = "sceptre_user_data_inheritance"
STACK_ATTR = "!stack_attr"


def stack_config(config_dir: Path, path: Path) -> dict[str, Any]:
    """The stack config file ``path`` under ``config_dir`` as Sceptre's reader inherits it.

    Each folder's ``config.yaml`` from ``config_dir`` down, then the file: every key the child
    sets wins, ``sceptre_user_data`` merges when inheritance says ``merge``. In
    ``sceptre_user_data``, ``!stack_attr <key>`` of a key the folders set (``project_code``) is
    resolved as Sceptre's resolver does (the stack group config's value); other tags stay
    ``Tagged``. Raises ``yaml.YAMLError`` for malformed YAML.
    """
    folders = path.parent.relative_to(config_dir).parts
    chain = [
        config_dir.joinpath(*folders[:depth], "config.yaml") for depth in range(len(folders) + 1)
    ]
    merged: dict[str, Any] = {}
    for file in [*chain, path]:
        data = read(file) if file.is_file() else {}
        child = data if isinstance(data, dict) else {}
        inheritance = child.get(USER_DATA_INHERITANCE) or merged.get(USER_DATA_INHERITANCE)
        parent_data = merged.get(USER_DATA)
        merged.update({key: value for key, value in child.items() if value is not None})
        if inheritance == "merge" and isinstance(parent_data, dict):
            merged[USER_DATA] = {**parent_data, **(child.get(USER_DATA) or {})}
    user_data = merged.get(USER_DATA)
    if isinstance(user_data, dict):
        merged[USER_DATA] = {key: _stack_attr(value, merged) for key, value in user_data.items()}
    return merged


def _stack_attr(value: Any, config: dict[str, Any]) -> Any:
    """``value``, or the config's value of the key a top-level ``!stack_attr`` names."""
    if isinstance(value, Tagged) and value.tag == STACK_ATTR and value.value in config:
        return config[value.value]
    return value
