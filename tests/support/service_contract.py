"""What every response and access line of the service must carry, written down independently of
the app's code so the tests of each layer (test client, real gunicorn) check the same contract."""

from __future__ import annotations

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
ACCESS_FIELDS = {
    "timestamp",
    "level",
    "logger",
    "message",
    "version",
    "request_id",
    "method",
    "route",
    "path",
    "status",
    "duration_ms",
    "remote_addr",
    # The request's trace (W3C form and X-Ray form), or null: see docs/ARCHITECTURE.md.
    "trace_id",
    "xray_trace_id",
}
