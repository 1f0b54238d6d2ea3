"""The service's JSON log records: which of them a reader asked for, and how they are shown.

The field names are the app's (app/observability/logging.py): every JSON line has ``timestamp``
(ISO 8601 UTC, milliseconds), ``level`` (Python's level names), ``logger``, ``message`` and
``version``; the access line (logger ``app.access``, message ``request``) adds ``request_id``,
``method``, ``route``, ``path``, ``status``, ``duration_ms``, ``remote_addr`` and the request's
trace (``trace_id``, 32 hex digits as W3C writes it, ``xray_trace_id`` as X-Ray does); the app's own
records about a request carry ``request_id`` (and ``method``, ``path``: app/errors.py) and, for an
exception, ``exc_info`` (the traceback).

One ``Selection`` gives both the server-side CloudWatch Logs filter pattern and the same test on
the client, so a reader gets the same records whether or not the service evaluated the pattern.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from delivery.errors import DeliveryError

# Python's level names, lowest first: what the app and gunicorn write in ``level``.
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The app accepts a caller's X-Request-ID only in this shape (app/observability/request_id.py),
# so an id outside it can never be in a record. Both shapes also keep the values free of what a
# filter pattern's quoted string would need escaped.
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
VERSION = re.compile(r"^[0-9A-Za-z.+-]{1,128}$")
# One trace id in its two spellings: W3C's 32 hex digits and X-Ray's 1-<8 hex>-<24 hex>, which
# are the same 128 bits (the first 8 digits are X-Ray's epoch seconds).
W3C_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
XRAY_TRACE_ID = re.compile(r"^1-([0-9a-f]{8})-([0-9a-f]{24})$")
MISSING = "-"


def w3c_trace_id(text: str) -> str | None:
    """``text`` as a W3C trace id (32 lowercase hex digits) whichever way it is spelt; None when
    it is neither spelling (or the all-zero id, which W3C says is invalid)."""
    value = text.strip().lower()
    xray = XRAY_TRACE_ID.match(value)
    if xray:
        value = xray.group(1) + xray.group(2)
    if not W3C_TRACE_ID.match(value) or value == "0" * 32:
        return None
    return value


def parse(message: str) -> dict[str, Any] | None:
    """The JSON object a log message holds, or None (a plain line, or JSON that is no object)."""
    text = message.strip()
    if not text.startswith("{"):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


@dataclass(frozen=True)
class Selection:
    """Which JSON records a reader asked for; no field given selects every line, JSON or not.

    ``level`` is the lowest level shown: ``ERROR`` shows ERROR and CRITICAL, as Python's logging
    and the ``--level`` of most log tools mean it.
    """

    request_id: str | None = None
    version: str | None = None
    level: str | None = None
    trace_id: str | None = None  # W3C spelling (``w3c_trace_id``)

    @property
    def everything(self) -> bool:
        """Whether nothing is selected on (every line is shown, plain ones too)."""
        return not (self.request_id or self.version or self.level or self.trace_id)

    def levels(self) -> tuple[str, ...]:
        """The level names shown (all of them without ``level``)."""
        return LEVELS[LEVELS.index(self.level) :] if self.level else LEVELS

    def _conditions(self) -> list[str]:
        conditions = []
        if self.request_id:
            conditions.append(f'($.request_id = "{self.request_id}")')
        if self.trace_id:
            conditions.append(f'($.trace_id = "{self.trace_id}")')
        if self.version:
            conditions.append(f'($.version = "{self.version}")')
        if self.level:
            conditions.append("(" + " || ".join(f'$.level = "{n}"' for n in self.levels()) + ")")
        return conditions

    def pattern(self) -> str:
        """The CloudWatch Logs JSON filter pattern for this selection ("" for everything).

        Syntax: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
        and, for JSON, .../logs/matching-terms-json-log-events.html: ``{ $.field = "value" }``,
        conditions joined with ``&&`` and ``||`` and grouped in parentheses; string values in
        double quotes match exactly (``*`` would be a wildcard: no value here can hold one).
        A JSON pattern never matches a line that is not JSON.
        """
        conditions = self._conditions()
        return "{ " + " && ".join(conditions) + " }" if conditions else ""

    def matches(self, record: dict[str, Any] | None) -> bool:
        """Whether a parsed message (None: not JSON) is selected: the pattern's test, here."""
        if self.everything:
            return True
        if record is None:
            return False
        if self.request_id and record.get("request_id") != self.request_id:
            return False
        if self.trace_id and record.get("trace_id") != self.trace_id:
            return False
        if self.version and record.get("version") != self.version:
            return False
        return not self.level or record.get("level") in self.levels()


def selection(
    request_id: str | None = None,
    version: str | None = None,
    level: str | None = None,
    trace_id: str | None = None,
) -> Selection:
    """The ``--request-id``/``--version``/``--level``/``--trace-id`` options checked; one line
    when malformed."""
    trace = None
    if trace_id is not None:
        trace = w3c_trace_id(trace_id)
        if trace is None:
            raise DeliveryError(
                f"--trace-id {trace_id!r} is not a trace id: give X-Ray's 1-<8 hex>-<24 hex> "
                "or W3C's 32 hex digits (an access line's xray_trace_id or trace_id)"
            )
    if request_id is not None and not REQUEST_ID.match(request_id):
        raise DeliveryError(
            f"--request-id {request_id!r} cannot be a request id: the service's ids are 1 to "
            "128 letters, digits, '.', '_' or '-' (its X-Request-ID header)"
        )
    if version is not None and not VERSION.match(version):
        raise DeliveryError(f"--version {version!r} is not a version like 1.2.3")
    name = level.upper() if level is not None else None
    if name is not None and name not in LEVELS:
        raise DeliveryError(
            f"unknown --level {level!r}: choose one of {', '.join(LEVELS)} "
            "(that level and above are shown)"
        )
    return Selection(
        request_id=request_id or None, version=version or None, level=name, trace_id=trace
    )


def _iso(timestamp_ms: int) -> str:
    moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _field(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    return MISSING if value is None or value == "" else str(value)


def readable(message: str, timestamp_ms: int) -> str:
    """One line for one log message: a JSON record's fields in a fixed order, else the message.

    ``time level version request-id message``, then what the record says of a request (method,
    path, status, duration) and the last line of an exception's traceback. The time is the
    record's own, else the event's ``timestamp_ms``.
    """
    record = parse(message)
    if record is None:
        return message.rstrip("\n")
    when = record.get("timestamp") or _iso(timestamp_ms)
    parts = [
        str(when),
        f"{_field(record, 'level'):<8}",
        _field(record, "version"),
        _field(record, "request_id"),
        _field(record, "message"),
    ]
    parts += [str(record[name]) for name in ("method", "path", "status") if name in record]
    if "duration_ms" in record:
        parts.append(f"{record['duration_ms']}ms")
    error = str(record.get("exc_info") or "").strip()
    if error:
        parts.append("| " + error.splitlines()[-1])
    return " ".join(parts)


def timestamp_ms(record: dict[str, Any] | None) -> int | None:
    """The record's own ``timestamp`` in epoch milliseconds; None without a readable one."""
    text = record.get("timestamp") if record else None
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:  # the app writes UTC ("Z"); a zone-less time is taken as UTC too
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
