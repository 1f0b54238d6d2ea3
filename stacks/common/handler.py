"""The one code path from ``sceptre_user_data`` to template JSON (Sceptre and render use it)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from stacks.common.errors import load_settings


def render(stack: ModuleType, sceptre_user_data: Any) -> str:
    """Validate ``sceptre_user_data`` with ``stack.Settings`` and build the template's JSON.

    Raises ``SettingsError`` (one line: stack, key, what is accepted) on invalid settings.
    """
    settings = load_settings(stack.Settings, stack.STACK, sceptre_user_data)
    return str(stack.build(settings).to_json())
