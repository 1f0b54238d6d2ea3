"""delivery/'s progress lines, as tests see them: its loggers' records through pytest's caplog."""

from __future__ import annotations

import logging

import pytest

DELIVERY = "delivery"


def progress_lines(caplog: pytest.LogCaptureFixture, since: int = 0) -> list[str]:
    """The lines the CLI would print for delivery/'s records (INFO and above), in order.

    ``since``: the number of records caplog held before, to see only what came after.
    """
    return [
        record.getMessage()
        for record in caplog.records[since:]
        if record.levelno >= logging.INFO
        and (record.name == DELIVERY or record.name.startswith(f"{DELIVERY}."))
    ]
