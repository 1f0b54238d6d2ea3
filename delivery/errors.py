"""The one error type users see: a single line naming what is wrong and how to fix it."""

from __future__ import annotations


class DeliveryError(Exception):
    """A user-facing failure. ``str(error)`` is one line; tasks.py prints it and exits non-zero."""

    def __init__(self, message: str) -> None:
        # Keep the contract: one line, whatever the caller passed.
        super().__init__(" ".join(message.split()))
