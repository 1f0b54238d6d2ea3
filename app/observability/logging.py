"""JSON-lines logging: one python-json-logger formatter for app logs, gunicorn and access lines.

Every line is a JSON object with ``timestamp``, ``level``, ``logger``, ``message`` and ``version``
first, then the record's extra fields. The per-request access line takes a fast path
(:class:`AccessLog`): it is the most frequent line by far, and routing it through
``logging.Logger`` (LogRecord creation, caller lookup, attribute scanning) measured as the single
largest per-request cost of the service. The fast path still goes through the same
python-json-logger formatter (its orjson flavour: the encoder alone measured 7x cheaper than the
stdlib one), so both kinds of line are formatted identically.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import sys
import threading
import time
from collections import deque
from typing import Any

import orjson
from pythonjsonlogger.orjson import OrjsonFormatter

from app.observability.trace_context import xray_trace_id as _xray

ACCESS_LOGGER = "app.access"
_STDOUT = 1
_time = time.time
_dumps = orjson.dumps
_NEWLINE = orjson.OPT_APPEND_NEWLINE
# Writes up to this size are atomic on a pipe: batches never split or interleave lines.
_PIPE_BUF = select.PIPE_BUF
# Beyond this many queued lines the request thread writes them itself (slow or blocked sink).
_MAX_PENDING = 10_000


class _Clock:
    """ISO-8601 UTC timestamps with milliseconds, cheap enough to take on every request.

    ``time.strftime`` dominates a naive formatter; the date-and-time part only changes once a
    second, so it is cached and only the milliseconds are formatted per call. The cache is one
    tuple swapped atomically, so concurrent threads never see a torn (second, prefix) pair.
    """

    __slots__ = ("_cache",)

    # ".000Z" to ".999Z": a list lookup and one concatenation instead of formatting per call.
    _MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))

    def __init__(self) -> None:
        self._cache: tuple[int, str] = (-1, "")

    def iso(self, epoch: float) -> str:
        """``epoch`` (seconds since the Unix epoch) as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
        second = int(epoch)
        cached_second, prefix = self._cache
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._cache = (second, prefix)
        return prefix + self._MILLIS[int((epoch - second) * 1000)]


CLOCK = _Clock()


class JsonLineFormatter(OrjsonFormatter):
    """python-json-logger's orjson formatter with the service's field names.

    Args:
        static_fields: fields added to every line (the service adds ``version``).
    """

    def __init__(self, static_fields: dict[str, Any] | None = None) -> None:
        super().__init__(
            fmt=["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            static_fields=static_fields,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """Put the timestamp first, in the same format as the access line, then the usual fields."""
        log_data["timestamp"] = CLOCK.iso(record.created)
        super().add_fields(log_data, record, message_dict)


def write_line(fd: int, line: bytes) -> None:
    """Write one line to ``fd`` with a single ``write`` in the common case.

    No Python-level lock: a write of at most PIPE_BUF (4096) bytes to a pipe is atomic, so lines
    from concurrent threads and worker processes never interleave; buffered ``sys.stdout`` would
    need a lock and a flush per line.
    """
    written = os.write(fd, line)
    while written < len(line):  # only for lines over PIPE_BUF, or signals mid-write
        line = line[written:]
        written = os.write(fd, line)


class LineHandler(logging.Handler):
    """A logging handler that writes each formatted record as one line to a file descriptor."""

    def __init__(self, fd: int = _STDOUT) -> None:
        super().__init__()
        self.fd = fd

    def emit(self, record: logging.LogRecord) -> None:
        """Format and write ``record``; failures go to logging's usual error path."""
        try:
            write_line(self.fd, (self.format(record) + "\n").encode("utf-8", "backslashreplace"))
        except Exception:  # logging must never take the request down with it
            self.handleError(record)


class AccessLog:
    """Writes the one access line per request, with every field, through the shared formatter.

    Lines are encoded on the request thread and queued; :meth:`flush` writes them in batches (an
    app.observability.flusher.Flusher calls it). Measured under load, one ``write`` per request to
    the shared stdout (a pipe or file all threads and workers write to) cost more CPU in kernel
    lock contention than everything else the service adds to a request; batches of up to PIPE_BUF
    bytes cut the system calls about tenfold and stay atomic on a pipe, so lines of different
    workers never interleave.

    Args:
        formatter: the service's JSON formatter (its static fields are included).
        enabled: False when LOG_LEVEL is above INFO, the access line's level.
        fd: where lines go (stdout by default).
    """

    def __init__(
        self, formatter: JsonLineFormatter, enabled: bool = True, fd: int = _STDOUT
    ) -> None:
        self._default = formatter.json_default
        self._fd = fd
        # The line is spliced from parts orjson encodes: the timestamp, the fields that never
        # change (encoded once, here) and the request's own fields. The bytes are exactly what
        # formatter.format() writes for the same line as a LogRecord (tested), at ~1/5 the cost.
        static = {"level": "INFO", "logger": ACCESS_LOGGER, "message": "request"}
        static.update(formatter.static_fields)
        self._middle = b'",' + orjson.dumps(static, default=self._default)[1:-1] + b","
        self.enabled = enabled
        # deque.append/popleft are atomic: request threads never wait for each other here.
        self._pending: deque[bytes] = deque()
        self._append = self._pending.append
        self._flush_lock = threading.Lock()

    def write(  # noqa: PLR0917 - per-request hot path: positional arguments are cheapest
        self,
        request_id: str,
        method: str,
        route: str,
        path: str,
        status: int,
        duration_ms: float,
        remote_addr: str,
        trace_id: str | None = None,
    ) -> None:
        """Queue the access line of one finished request (see the class docstring).

        ``trace_id`` (32 hex, or None) is written in both its W3C and its X-Ray form, so a line
        leads to its trace in either tool.
        """
        fields = _dumps(
            {
                "request_id": request_id,
                "method": method,
                "route": route,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "remote_addr": remote_addr,
                "trace_id": trace_id,
                "xray_trace_id": None if trace_id is None else _xray(trace_id),
            },
            default=self._default,
            option=_NEWLINE,
        )
        # The timestamp is ASCII digits and punctuation: nothing in it needs escaping.
        self._append(
            b"".join((b'{"timestamp":"', CLOCK.iso(_time()).encode(), self._middle, fields[1:]))
        )
        if len(self._pending) > _MAX_PENDING:
            # The flusher cannot keep up (slow sink): write on this thread, which bounds memory
            # and pushes back on the request path.
            self.flush()

    def flush(self) -> None:
        """Write every queued line now, in chunks of whole lines of at most PIPE_BUF bytes."""
        with self._flush_lock:
            popleft = self._pending.popleft
            chunk: list[bytes] = []
            size = 0
            while True:
                try:
                    line = popleft()
                except IndexError:
                    break
                if chunk and size + len(line) > _PIPE_BUF:
                    self._write(b"".join(chunk))
                    chunk, size = [], 0
                chunk.append(line)
                size += len(line)
            if chunk:
                self._write(b"".join(chunk))

    def _write(self, data: bytes) -> None:
        # stdout gone (e.g. the log pipe closed at shutdown): drop the lines, keep serving.
        with contextlib.suppress(OSError):
            write_line(self._fd, data)


def configure_logging(level: str, version: str) -> JsonLineFormatter:
    """Send every log record (root logger) to stdout as JSON lines at ``level``.

    Idempotent: earlier :class:`LineHandler` instances are replaced, so calling it from the
    factory after gunicorn's ``logconfig_dict`` (same formatter) does not duplicate lines.

    Returns:
        the formatter, for :class:`AccessLog` to share.
    """
    formatter = JsonLineFormatter(static_fields={"version": version})
    handler = LineHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, LineHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return formatter


def gunicorn_logconfig(level: str, version: str) -> dict[str, Any]:
    """``logconfig_dict`` for gunicorn: its error log as JSON lines, its access log silenced.

    The app writes the access line itself, so gunicorn's access logger gets no handler and does
    not propagate (no duplicate lines).
    """
    formatter = f"{__name__}.JsonLineFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": formatter, "static_fields": {"version": version}}},
        "handlers": {"stdout": {"()": f"{__name__}.LineHandler", "formatter": "json"}},
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stdout"], "propagate": False},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }


def stderr_line(message: str) -> None:
    """Print one plain line to stderr (used before logging exists, e.g. for config errors)."""
    sys.stderr.write(message.replace("\n", " ") + "\n")
    sys.stderr.flush()
