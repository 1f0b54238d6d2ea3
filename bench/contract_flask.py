"""Benchmark reference: Flask answering with this service's response contract, uninstrumented.

The same JSON body, security headers and ``X-Request-ID`` as the service's ``GET /``, but no
access line, no metrics and no middleware: the app/this ratio isolates what the instrumentation
costs, apart from what the response the service must send costs.
"""

from __future__ import annotations

from flask import Flask, Response

from app.http_headers import SECURITY_HEADERS
from app.observability.request_id import new_request_id

app = Flask(__name__)
BODY = b'{"message":"Hello, world!"}\n'


@app.route("/")
def hello() -> Response:
    """The service's greeting, with its headers, built the plainest way."""
    response = Response(BODY, content_type="application/json")
    response.headers.extend([*SECURITY_HEADERS, ("X-Request-ID", new_request_id())])
    return response
