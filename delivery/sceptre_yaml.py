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
