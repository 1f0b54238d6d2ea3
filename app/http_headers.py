"""Headers added to every response.

The service only ever returns JSON to API clients, so the strictest settings cost nothing: no
content sniffing, no framing, no content loading, no referrer, and nothing stored by caches
(health, readiness, metrics and version must always be fresh).
"""

from __future__ import annotations

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)
