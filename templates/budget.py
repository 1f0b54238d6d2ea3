"""Sceptre template handler of the budget stack (an adapter: settings in, JSON out)."""

from __future__ import annotations

from typing import Any

from stacks import budget
from stacks.common.handler import render


def sceptre_handler(sceptre_user_data: Any) -> str:
    """Sceptre's entry point: validate ``sceptre_user_data``, return the template JSON."""
    return render(budget, sceptre_user_data)
