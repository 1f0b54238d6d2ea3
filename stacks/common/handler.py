"""The one code path from ``sceptre_user_data`` to template JSON (Sceptre and render use it)."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from stacks.common.errors import load_settings

# CloudFormation takes a template body of at most 51,200 bytes when it is sent inline, as Sceptre
# sends it without a template bucket (CloudFormation quotas: "Template body size in a request").
# Whitespace counts: the body is compact JSON (delivery.render writes files indented for review).
MAX_TEMPLATE_BODY_BYTES = 51_200


def render(stack: ModuleType, sceptre_user_data: Any) -> str:
    """Validate ``sceptre_user_data`` with ``stack.Settings`` and build the template's JSON.

    Compact, as CloudFormation receives it. Raises ``SettingsError`` (one line: stack, key, what
    is accepted) on invalid settings.
    """
    settings = load_settings(stack.Settings, stack.STACK, sceptre_user_data)
    template = stack.build(settings).to_dict()
    return json.dumps(template, separators=(",", ":"), sort_keys=True)
