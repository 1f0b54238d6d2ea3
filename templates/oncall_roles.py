"""Sceptre template handler of the on-call roles stack (an adapter: settings in, JSON out)."""

from __future__ import annotations

from typing import Any

from stacks import oncall_roles
from stacks.common.handler import render


def sceptre_handler(sceptre_user_data: Any) -> str:
    """Sceptre's entry point: validate ``sceptre_user_data``, return the template JSON."""
    return render(oncall_roles, sceptre_user_data)
