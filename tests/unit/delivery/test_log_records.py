"""Selecting and showing the service's JSON log records: the same test server- and client-side.

Records are made by the app's own formatter (app/observability/logging.py), so a field the app
renames is caught here.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

import pytest

from app.observability.logging import AccessLog, JsonLineFormatter
from delivery.errors import DeliveryError
from delivery.log_records import (
    LEVELS,
    Selection,
    parse,
    readable,
    selection,
    timestamp_ms,
    w3c_trace_id,
)


def app_record(level: int, message: str, **extra: Any) -> str:
    """One line as the app writes it through its formatter (version 1.2.0)."""
    formatter = JsonLineFormatter(static_fields={"version": "1.2.0"})
    record = logging.LogRecord("app.x", level, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return formatter.format(record)


def access_line(request_id: str, status: int = 200) -> str:
    """One access line exactly as the service writes it."""
    read, write = os.pipe()
    access = AccessLog(JsonLineFormatter(static_fields={"version": "1.2.0"}), fd=write)
    access.write(request_id, "GET", "/items/<id>", "/items/7", status, 1.25, "10.0.0.1")
    access.flush()
    os.close(write)
    with os.fdopen(read) as pipe:
        return pipe.read().strip()


def test_the_app_s_records_carry_the_fields_the_selection_reads() -> None:
    access = parse(access_line("req-1"))
    error = parse(app_record(logging.ERROR, "boom", request_id="req-1"))
    assert access is not None
    assert error is not None
    for record in (access, error):
        assert {"timestamp", "level", "version", "request_id", "message"} <= set(record)
    assert Selection(request_id="req-1", version="1.2.0", level="INFO").matches(access)
    assert Selection(request_id="req-1", level="ERROR").matches(error)
    assert not Selection(level="ERROR").matches(access)


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        ("DEBUG", LEVELS),
        ("WARNING", ("WARNING", "ERROR", "CRITICAL")),
        ("ERROR", ("ERROR", "CRITICAL")),
        ("CRITICAL", ("CRITICAL",)),
    ],
)
def test_a_level_shows_itself_and_above(level: str, shown: tuple[str, ...]) -> None:
    chosen = Selection(level=level)
    assert chosen.levels() == shown
    for name in LEVELS:
        assert chosen.matches({"level": name}) == (name in shown)


def test_the_filter_pattern_says_what_the_client_side_test_does() -> None:
    assert Selection().pattern() == ""
    assert Selection(request_id="abc").pattern() == '{ ($.request_id = "abc") }'
    assert Selection(request_id="abc", version="1.2.0", level="ERROR").pattern() == (
        '{ ($.request_id = "abc") && ($.version = "1.2.0") && '
        '($.level = "ERROR" || $.level = "CRITICAL") }'
    )


def test_without_a_selection_every_line_is_shown_and_with_one_only_json_records() -> None:
    assert Selection().matches(None)
    assert Selection().matches({"level": "DEBUG"})
    assert not Selection(level="DEBUG").matches(None)
    assert not Selection(version="1.2.0").matches({"level": "INFO"})  # no version field


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"level": "LOUD"}, "unknown --level 'LOUD': choose one of DEBUG, INFO, WARNING, ERROR"),
        ({"request_id": "a b"}, "--request-id 'a b' cannot be a request id"),
        ({"request_id": "x" * 129}, "cannot be a request id"),
        ({"request_id": 'a"||'}, "cannot be a request id"),  # would break out of the pattern
        ({"version": "1.2.*"}, "--version '1.2.*' is not a version like 1.2.3"),
        ({"trace_id": "1-5759e988-bd862e3fe1be46a99427"}, "--trace-id '1-5759e988-bd86"),
        ({"trace_id": "0" * 32}, "is not a trace id: give X-Ray's 1-<8 hex>-<24 hex> or W3C's"),
        ({"trace_id": '" || $.level = "INFO'}, "is not a trace id"),  # out of the pattern
    ],
)
def test_malformed_options_are_one_line(options: dict[str, str], message: str) -> None:
    with pytest.raises(DeliveryError, match=message.replace("*", r"\*")):
        selection(**options)


def test_a_level_is_taken_in_any_case() -> None:
    assert selection(level="error").level == "ERROR"


def test_an_access_line_reads_as_one_line_with_its_request() -> None:
    line = access_line("req-9", status=503)
    record = parse(line)
    assert record is not None
    assert readable(line, 0) == (
        f"{record['timestamp']} INFO     1.2.0 req-9 request GET /items/7 503 1.25ms"
    )


def test_an_exception_record_shows_its_last_traceback_line() -> None:
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        formatter = JsonLineFormatter(static_fields={"version": "1.2.0"})
        record = logging.LogRecord(
            "app",
            logging.ERROR,
            __file__,
            1,
            "unhandled exception",
            None,
            sys.exc_info(),
        )
        record.__dict__.update(request_id="r1", method="POST", path="/x")
        line = formatter.format(record)
    shown = readable(line, 0)
    assert shown.endswith("r1 unhandled exception POST /x | ZeroDivisionError: division by zero")
    assert "\n" not in shown


def test_plain_lines_and_records_without_fields_are_shown_as_they_can_be() -> None:
    assert readable("[INFO] Booting worker\n", 0) == "[INFO] Booting worker"
    assert readable("[1, 2]", 0) == "[1, 2]"  # JSON, but no record
    # No timestamp of its own: the event's; missing fields are "-".
    assert readable(json.dumps({"message": "hi"}), 1_700_000_000_123) == (
        "2023-11-14T22:13:20.123Z -        - - hi"
    )


def test_a_record_s_own_time_is_read_in_utc() -> None:
    assert timestamp_ms({"timestamp": "2023-11-14T22:13:20.123Z"}) == 1_700_000_000_123
    assert timestamp_ms({"timestamp": "2023-11-14T22:13:20.123"}) == 1_700_000_000_123
    assert timestamp_ms({"timestamp": "yesterday"}) is None
    assert timestamp_ms({"timestamp": 5}) is None
    assert timestamp_ms(None) is None


def test_a_trace_id_selects_its_access_lines_in_either_spelling() -> None:
    """X-Ray's 1-<epoch 8 hex>-<24 hex> and W3C's 32 hex digits are one id (the access line
    carries both: trace_id, xray_trace_id); the pattern asks for the W3C field."""
    w3c = "5759e988bd862e3fe1be46a994272793"
    xray = "1-5759e988-bd862e3fe1be46a994272793"
    assert w3c_trace_id(xray) == w3c_trace_id(w3c.upper()) == w3c
    chosen = selection(trace_id=xray)
    assert chosen.pattern() == f'{{ ($.trace_id = "{w3c}") }}'
    assert chosen.matches({"trace_id": w3c, "xray_trace_id": xray})
    assert not chosen.matches({"trace_id": "0" * 31 + "1"})
    assert not chosen.matches({"request_id": "r"})  # a record with no trace
    assert not chosen.everything
