"""The JSON formatter, the batched access log and the timestamp clock."""

from __future__ import annotations

import json
import logging
import os
import re
import select
import time

import pytest

from app.observability import logging as logging_module
from app.observability.logging import (
    CLOCK,
    AccessLog,
    JsonLineFormatter,
    LineHandler,
    gunicorn_logconfig,
)


def _record(msg: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("app.test", logging.WARNING, __file__, 1, msg, None, None)
    record.__dict__.update(extra)
    return record


def test_formatter_writes_the_service_fields_and_extras() -> None:
    formatter = JsonLineFormatter(static_fields={"version": "9.9.9"})
    line = json.loads(formatter.format(_record("hello %s", request_id="r1")))
    assert list(line)[:5] == ["timestamp", "level", "logger", "message", "version"]
    assert (line["level"], line["logger"], line["message"]) == ("WARNING", "app.test", "hello %s")
    assert line["request_id"] == "r1"


def test_clock_is_iso_utc_with_milliseconds() -> None:
    stamp = CLOCK.iso(1_780_000_000.5)
    assert stamp == "2026-05-28T20:26:40.500Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", CLOCK.iso(time.time()))


def _read_lines(read_fd: int) -> list[dict[str, object]]:
    data = os.read(read_fd, 1 << 20).decode()
    return [json.loads(line) for line in data.splitlines()]


def test_access_log_queues_lines_until_flushed_then_writes_them_in_order() -> None:
    read_fd, write_fd = os.pipe()
    try:
        log = AccessLog(JsonLineFormatter({"version": "v"}), fd=write_fd)
        for i in range(50):
            log.write(f"id{i}", "GET", "/", "/", 200, 0.5, "127.0.0.1")
        os.set_blocking(read_fd, False)
        with pytest.raises(BlockingIOError):  # nothing written before the flush
            os.read(read_fd, 1)
        os.set_blocking(read_fd, True)
        log.flush()
        lines = _read_lines(read_fd)
        assert [line["request_id"] for line in lines] == [f"id{i}" for i in range(50)]
        assert lines[0]["version"] == "v"
    finally:
        os.close(read_fd)
        os.close(write_fd)


@pytest.mark.parametrize(
    ("version", "path", "remote_addr", "trace_id", "xray_trace_id"),
    [
        ("1.2.3", "/", "127.0.0.1", None, None),
        (
            'v"2\\',
            '/a "quoted" \\ path/\u00e9\u2603\x01\n',
            "",
            "5759e988bd862e3fe1be46a994272793",
            "1-5759e988-bd862e3fe1be46a994272793",
        ),
        ("0.0.0-dev.gabc", "/" + "x" * 5000, "2001:db8::1", None, None),
    ],
)
def test_the_access_line_is_byte_for_byte_what_the_formatter_encodes(  # noqa: PLR0917
    monkeypatch: pytest.MonkeyPatch,
    version: str,
    path: str,
    remote_addr: str,
    trace_id: str | None,
    xray_trace_id: str | None,
) -> None:
    formatter = JsonLineFormatter({"version": version})
    log = AccessLog(formatter, fd=-1)
    writes: list[bytes] = []
    monkeypatch.setattr(log, "_write", writes.append)
    monkeypatch.setattr(logging_module, "_time", lambda: 1_780_000_000.25)
    log.write("rid-1", "GET", "/<route>", path, 404, 12.345, remote_addr, trace_id)
    log.flush()
    # What python-json-logger's formatter writes for the same line as a logging record.
    record = logging.LogRecord("app.access", logging.INFO, __file__, 1, "request", None, None)
    record.created = 1_780_000_000.25
    record.__dict__.update(
        request_id="rid-1",
        method="GET",
        route="/<route>",
        path=path,
        status=404,
        duration_ms=12.345,
        remote_addr=remote_addr,
        trace_id=trace_id,
        xray_trace_id=xray_trace_id,
    )
    expected = (formatter.format(record) + "\n").encode()
    assert list(json.loads(expected))[:5] == ["timestamp", "level", "logger", "message", "version"]
    assert writes == [expected]
    assert json.loads(writes[0])["path"] == path


def test_access_log_writes_batches_of_whole_lines_within_pipe_buf(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writes: list[bytes] = []
    log = AccessLog(JsonLineFormatter(), fd=-1)
    monkeypatch.setattr(log, "_write", writes.append)
    for i in range(200):
        log.write(f"id{i}", "GET", "/", "/" + "p" * 100, 200, 0.5, "127.0.0.1")
    log.flush()
    assert len(writes) > 1
    assert all(len(batch) <= select.PIPE_BUF and batch.endswith(b"\n") for batch in writes)
    ids = [json.loads(line)["request_id"] for line in b"".join(writes).splitlines()]
    assert ids == [f"id{i}" for i in range(200)]


def test_access_log_writes_on_the_request_thread_when_the_queue_overflows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(logging_module, "_MAX_PENDING", 3)
    writes: list[bytes] = []
    log = AccessLog(JsonLineFormatter(), fd=-1)
    monkeypatch.setattr(log, "_write", writes.append)
    for i in range(4):
        log.write(f"id{i}", "GET", "/", "/", 200, 0.5, "127.0.0.1")
    assert len(b"".join(writes).splitlines()) == 4  # the 4th line pushed all of them out


def test_line_handler_writes_one_json_line() -> None:
    assert LineHandler().fd == 1  # stdout unless told otherwise
    read_fd, write_fd = os.pipe()  # its own pipe: no other test's app writes into it
    try:
        handler = LineHandler(fd=write_fd)
        handler.setFormatter(JsonLineFormatter())
        handler.handle(_record("to stdout\nand a second line"))
        out = os.read(read_fd, 1 << 16).decode()
    finally:
        os.close(read_fd)
        os.close(write_fd)
    (line,) = out.splitlines()  # one line, even for a message that has two
    assert out == line + "\n"
    assert json.loads(line)["message"] == "to stdout\nand a second line"


def test_gunicorn_logconfig_silences_gunicorn_access_log() -> None:
    config = gunicorn_logconfig("INFO", "1.0")
    assert config["loggers"]["gunicorn.access"]["handlers"] == []
    assert config["loggers"]["gunicorn.access"]["propagate"] is False
    assert config["loggers"]["gunicorn.error"]["handlers"] == ["stdout"]
