"""Hostile requests against the real gunicorn: what the service answers, byte for byte.

Requests are written on a raw socket: HTTP client libraries normalise paths (``/../``), refuse
control characters in headers and add headers of their own, which would hide exactly what these
tests are about. Every answer must be a JSON error (or the normal JSON answer) with a generated
request id, never a 500, never a stack trace, and the server must log no error for any of them.

Two layers answer hostile requests:

- the app (Flask + the middleware): everything that parses as HTTP. Its answers are JSON.
- gunicorn itself, before the app runs: requests it cannot parse or that exceed its limits. It
  answers with its own small HTML page (``Content-Type: text/html``, no request id, no security
  headers) and closes the connection. That is accepted for requests no well-formed client sends
  (a NUL in the request line, control characters in a header, an invalid method token, a
  malformed Content-Length): behind the ALB such requests are answered by the ALB's own HTML
  error page anyway. It is NOT accepted for well-formed requests within the ALB's limits (request
  line and single header 16 KB, all headers 64 KB): gunicorn's defaults (4094-byte request
  line, 8190-byte header field, 100 header fields) are lower, so app/gunicorn_conf.py raises
  them, and a 10 KB query string, a 12 KB cookie or 150 headers reach the app.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
from dataclasses import dataclass

import pytest

from tests.support.gunicorn import HOST, Server

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

GENERATED_ID = re.compile(r"[0-9a-f]{32}")
STACK_TRACE = re.compile(rb"Traceback|File \"|\.py\"?, line \d+")
MAX_REQUEST_BYTES = 1_048_576  # the service's default, which the session server runs with
XXE = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'


@dataclass(frozen=True)
class Answer:
    """An HTTP response as it came off the wire."""

    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    header_names: list[str]
    body: bytes
    raw: bytes

    def json(self) -> dict[str, object]:
        """The body as a JSON object (fails the test otherwise)."""
        assert self.headers.get("content-type", "").startswith("application/json"), self.raw[:300]
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


def send(server: Server, request: bytes, timeout: float = 10) -> Answer:
    """Write ``request`` on a new connection, read the whole response (the server closes it)."""
    port = int(server.base.rsplit(":", 1)[1])
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        # The server may answer and close before reading everything: then read that answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1."), raw[:300]
    pairs = [line.split(":", 1) for line in lines[1:] if ":" in line]
    headers = {name.strip().lower(): value.strip() for name, value in pairs}
    return Answer(
        int(lines[0].split()[1]), headers, [n.strip().lower() for n, _ in pairs], body, raw
    )


def request(
    target: str | bytes = b"/",
    method: bytes = b"GET",
    headers: list[bytes] | None = None,
    body: bytes = b"",
) -> bytes:
    """One HTTP/1.1 request with ``Connection: close``, exactly as given."""
    path = target.encode() if isinstance(target, str) else target
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", *(headers or [])]
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def assert_json_error(answer: Answer, status: int) -> dict[str, object]:
    """A JSON error of the service's Error schema, with a generated id, and no stack trace."""
    assert answer.status == status, answer.raw[:400]
    error = answer.json()
    assert set(error) == {"status", "error", "message", "request_id"}
    assert error["status"] == status
    assert GENERATED_ID.fullmatch(str(error["request_id"]))
    assert answer.headers["x-request-id"] == error["request_id"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert not STACK_TRACE.search(answer.raw)
    return error


def assert_gunicorn_refusal(answer: Answer, status: int) -> None:
    """gunicorn's own answer to a request it will not parse: a 4xx, closed, no app output."""
    assert answer.status == status, answer.raw[:400]
    assert answer.headers["connection"] == "close"
    assert "x-request-id" not in answer.headers  # the app never saw it
    assert not STACK_TRACE.search(answer.raw)


# --- oversized bodies ---------------------------------------------------------------------------


def test_declared_body_over_max_request_bytes_is_413_json(live_service: Server) -> None:
    # Only the first 64 KB is sent: the service must answer from Content-Length alone.
    head = request(
        "/",
        headers=[f"Content-Length: {MAX_REQUEST_BYTES + 1}".encode(), b"Content-Type: text/plain"],
    )
    answer = send(live_service, head + b"x" * 65536)
    assert_json_error(answer, 413)
    assert answer.headers["connection"] == "close"


def test_declared_body_over_max_on_an_unknown_path_is_413_too(live_service: Server) -> None:
    head = request("/upload", b"POST", [f"Content-Length: {10 * MAX_REQUEST_BYTES}".encode()])
    assert_json_error(send(live_service, head + b"x" * 1024), 413)


def test_chunked_body_over_max_is_never_a_500(live_service: Server) -> None:
    # No Content-Length to check up front; no endpoint reads a body, so the body is ignored.
    size = MAX_REQUEST_BYTES + 1
    body = f"{size:x}\r\n".encode() + b"x" * size + b"\r\n0\r\n\r\n"
    answer = send(live_service, request("/", headers=[b"Transfer-Encoding: chunked"], body=body))
    assert answer.status in {200, 413}, answer.raw[:300]
    assert answer.json()
    assert not STACK_TRACE.search(answer.raw)


# --- oversized request line and headers ---------------------------------------------------------


def test_query_string_of_10_kb_gets_json(live_service: Server) -> None:
    answer = send(live_service, request("/?q=" + "a" * 10 * 1024))
    assert answer.status == 200, answer.raw[:300]
    assert answer.json() == {"message": "Hello, world!"}


def test_query_string_of_3_kb_is_answered_by_the_app(live_service: Server) -> None:
    answer = send(live_service, request("/?" + "&".join(f"k{i}=v" for i in range(400))))
    assert answer.status == 200
    assert answer.json() == {"message": "Hello, world!"}


def test_header_of_12_kb_gets_json(live_service: Server) -> None:
    answer = send(live_service, request("/", headers=[b"Cookie: session=" + b"a" * 12 * 1024]))
    assert answer.status == 200, answer.raw[:300]
    assert answer.json() == {"message": "Hello, world!"}


def test_150_small_headers_get_json(live_service: Server) -> None:
    headers = [f"X-Tag-{i}: {i}".encode() for i in range(150)]  # 2 KB in all
    answer = send(live_service, request("/", headers=headers))
    assert answer.status == 200, answer.raw[:300]


def test_header_beyond_the_albs_limit_gets_gunicorns_431(live_service: Server) -> None:
    # 20 KB in one header: over the ALB's own 16 KB limit, so only a client talking to the task
    # directly can send it. gunicorn's refusal is the accepted answer (see the module docstring).
    answer = send(live_service, request("/", headers=[b"Cookie: x=" + b"a" * 20 * 1024]))
    assert_gunicorn_refusal(answer, 431)


def test_request_line_beyond_the_albs_limit_is_never_a_500(live_service: Server) -> None:
    # The ALB refuses request lines over 16 KB itself; directly, gunicorn's 414 (today) or, with
    # an unlimited limit_request_line (the proposed fix), the app's answer.
    answer = send(live_service, request("/?q=" + "a" * 20 * 1024))
    if answer.status == 414:
        assert_gunicorn_refusal(answer, 414)
    else:
        assert answer.status == 200, answer.raw[:300]
        assert answer.json()


# --- request ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        b"a" * 129,  # one over the limit
        b"x" * 8000,  # near gunicorn's header field limit
        b"abc def",  # space
        b"abc;def",
        b"<script>alert(1)</script>",
        b'{"level":"ERROR"}',  # JSON injection into the access line
        b"..%2F..%2Fetc%2Fpasswd",
        "h\u00e9llo".encode(),  # UTF-8 bytes
        "\u65e5\u672c".encode(),
        "\U0001f600".encode(),
        b"\xff\xfe\xfd",  # not UTF-8 at all
        b"",  # empty
    ],
    ids=[
        "129 chars",
        "8000 chars",
        "space",
        "semicolon",
        "markup",
        "json",
        "traversal",
        "latin accent",
        "cjk",
        "emoji",
        "invalid utf-8",
        "empty",
    ],
)
def test_invalid_request_id_is_replaced_never_echoed(live_service: Server, value: bytes) -> None:
    answer = send(live_service, request("/nope", headers=[b"X-Request-ID: " + value]))
    error = assert_json_error(answer, 404)
    if value:
        assert value not in answer.raw
    assert GENERATED_ID.fullmatch(answer.headers["x-request-id"])
    assert error["request_id"] == answer.headers["x-request-id"]


def test_valid_request_id_is_kept(live_service: Server) -> None:
    answer = send(live_service, request("/", headers=[b"X-Request-ID: abc-123.DEF_4"]))
    assert answer.status == 200
    assert answer.headers["x-request-id"] == "abc-123.DEF_4"


def test_crlf_in_a_request_id_cannot_inject_a_response_header(live_service: Server) -> None:
    # On the wire, CRLF ends the header: "Set-Cookie" becomes a request header of its own, the
    # id is just "abc". Nothing the client sent becomes a response header.
    answer = send(
        live_service,
        request("/", headers=[b"X-Request-ID: abc\r\nSet-Cookie: owned=1", b"X-Injected: 1"]),
    )
    assert answer.status == 200
    assert answer.headers["x-request-id"] == "abc"
    assert "set-cookie" not in answer.headers
    assert "x-injected" not in answer.headers
    assert answer.header_names.count("x-request-id") == 1


@pytest.mark.parametrize(
    "value",
    [b"abc\x00def", b"abc\x07def", b"abc\rdef", b"abc\x1b[31mred"],
    ids=["NUL", "BEL", "bare CR", "ANSI escape"],
)
def test_control_characters_in_a_request_id_are_refused_by_gunicorn(
    live_service: Server, value: bytes
) -> None:
    # Not HTTP (RFC 9110 forbids CTLs in field values): gunicorn refuses before the app runs.
    answer = send(live_service, request("/", headers=[b"X-Request-ID: " + value]))
    assert_gunicorn_refusal(answer, 400)
    assert value not in answer.raw


def test_obsolete_line_folding_is_refused_by_gunicorn(live_service: Server) -> None:
    answer = send(live_service, request("/", headers=[b"X-Request-ID: abc", b" Set-Cookie: x=1"]))
    assert_gunicorn_refusal(answer, 400)
    assert "set-cookie" not in answer.headers


# --- paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        b"/../etc/passwd",
        b"/../../../../etc/passwd",
        b"/%2e%2e/%2e%2e/etc/passwd",
        b"/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        b"/%252e%252e/%252e%252e/etc/passwd",  # double-encoded
        b"/..%c0%af..%c0%afetc/passwd",  # overlong UTF-8 slash
        b"/static/..\\..\\windows\\win.ini",
        b"/health/../../etc/passwd",
        b"/app/config.py",
        b"/.env",
        b"/.git/config",
        b"/%0d%0aSet-Cookie:%20owned=1",  # encoded CRLF
        b"/%00",
        b"/%zz",  # broken percent-encoding
        b"//etc/passwd",
        b"/" + b"a/" * 1000,
    ],
)
def test_path_traversal_and_odd_paths_are_json_404(live_service: Server, target: bytes) -> None:
    answer = send(live_service, request(target))
    assert_json_error(answer, 404)
    assert b"root:" not in answer.body
    assert "set-cookie" not in answer.headers


def test_dot_segments_that_resolve_to_a_route_still_never_leak(live_service: Server) -> None:
    # Werkzeug does not resolve dot segments: "/health/../version" is no route of the app.
    answer = send(live_service, request(b"/health/../version"))
    assert answer.status in {200, 404}
    assert answer.json()


def test_absolute_form_target_is_served_by_path(live_service: Server) -> None:
    answer = send(live_service, request(b"http://evil.example/"))
    assert answer.status == 200
    assert answer.json() == {"message": "Hello, world!"}


# --- methods ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method",
    [b"PROPFIND", b"TRACE", b"CONNECT", b"OPTIONS", b"DELETE", b"PATCH", b"PUT", b"POST", b"FOO"],
)
@pytest.mark.parametrize("target", [b"/", b"/health/ready", b"/metrics"])
def test_unknown_and_unsupported_methods_are_405_json(
    live_service: Server, method: bytes, target: bytes
) -> None:
    answer = send(live_service, request(target, method))
    assert_json_error(answer, 405)
    assert set(answer.headers["allow"].split(", ")) == {"GET", "HEAD"}


def test_trace_does_not_reflect_the_request(live_service: Server) -> None:
    answer = send(live_service, request("/", b"TRACE", [b"Cookie: secret=1"]))
    assert_json_error(answer, 405)
    assert b"secret" not in answer.raw


def test_invalid_method_token_is_refused_by_gunicorn(live_service: Server) -> None:
    assert_gunicorn_refusal(send(live_service, request("/", b"G@T")), 400)


def test_head_is_served_without_a_body(live_service: Server) -> None:
    answer = send(live_service, request("/", b"HEAD"))
    assert answer.status == 200
    assert answer.body == b""


# --- content types and bodies -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (b"application/json", b'{"unterminated": '),
        (b"application/json", b"\xff\xfe\x00garbage"),
        (b"application/json; charset=utf-7", b'{"a": "+ADw-script+AD4-"}'),
        (b"application/xml", XXE),
        (b"multipart/form-data; boundary=", b"--\r\n\r\n--"),
        (b"multipart/form-data", b"no boundary at all"),
        (b"application/x-www-form-urlencoded", b"a=%zz&" * 1000),
        (b"text/plain; charset=nonsense", b"hello"),
        (b"*/*", b"x"),
        (b"", b"x"),
        (b"a" * 4000, b"x"),
    ],
    ids=[
        "truncated json",
        "binary json",
        "utf-7 json",
        "xxe xml",
        "empty boundary",
        "no boundary",
        "bad urlencoded",
        "unknown charset",
        "wildcard",
        "empty type",
        "4 KB type",
    ],
)
@pytest.mark.parametrize("method", [b"GET", b"POST"])
def test_weird_content_types_never_break_the_service(
    live_service: Server, content_type: bytes, body: bytes, method: bytes
) -> None:
    headers = [b"Content-Type: " + content_type, f"Content-Length: {len(body)}".encode()]
    answer = send(live_service, request("/", method, headers, body))
    if method == b"GET":
        assert answer.status == 200, answer.raw[:300]  # the body of a GET is ignored
        assert answer.json() == {"message": "Hello, world!"}
    else:
        assert_json_error(answer, 405)
    assert b"root:" not in answer.raw


def test_malformed_content_length_is_refused_by_gunicorn(live_service: Server) -> None:
    answer = send(live_service, request("/", headers=[b"Content-Length: 12abc"]))
    assert_gunicorn_refusal(answer, 400)


def test_conflicting_content_length_and_chunked_is_refused(live_service: Server) -> None:
    # Request smuggling shape (CL.TE): refused outright, never a 500.
    answer = send(
        live_service,
        request(
            "/",
            b"POST",
            [b"Content-Length: 4", b"Transfer-Encoding: chunked"],
            b"0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
        ),
    )
    assert 400 <= answer.status < 500, answer.raw[:300]
    assert not STACK_TRACE.search(answer.raw)


def test_accept_header_asking_for_html_still_gets_json(live_service: Server) -> None:
    answer = send(live_service, request("/missing", headers=[b"Accept: text/html"]))
    assert_json_error(answer, 404)


# --- afterwards -------------------------------------------------------------------------------


def test_no_request_made_the_service_log_an_error(live_service: Server) -> None:
    """Runs last (file order, and tests/fuzz/test_api_fuzz.py before this file): nothing the
    session sent reached the 500 handler or crashed a worker.

    The access lines are written in batches, so a live read would miss the last ones: the
    server is stopped first (its exit flushes every worker's lines), then its log is read whole.
    """
    assert live_service.process.poll() is None, "the server died during the session"
    assert live_service.stop() == 0
    lines = live_service.lines()
    assert lines, "the server wrote nothing"
    errors = [line for line in lines if line.get("level") in {"ERROR", "CRITICAL"}]
    assert errors == []
    statuses = {line.get("status") for line in lines if line.get("logger") == "app.access"}
    assert statuses, "no access line at all"
    assert 500 not in statuses
