"""JSON error responses: every error has the same small body, with the request id.

Nothing from the exception (message, type, stack) reaches the client; the 500 handler logs it with
the request id instead, so an operator can find the details from what the client saw.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from types import TracebackType

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, InternalServerError

from app.observability.request_id import ENVIRON_KEY, new_request_id

JSON = "application/json"
ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
logger = logging.getLogger(__name__)


def error_body(status: int, request_id: str, message: str | None = None) -> bytes:
    """The JSON body of an error response: ``{"status", "error", "message", "request_id"}``."""
    phrase = HTTPStatus(status).phrase
    return json.dumps(
        {
            "status": status,
            "error": phrase,
            "message": message or HTTPStatus(status).description or phrase,
            "request_id": request_id,
        },
        separators=(",", ":"),
    ).encode()


def current_request_id() -> str:
    """The id the middleware assigned to the current request (a new one outside the middleware)."""
    request_id = request.environ.get(ENVIRON_KEY)
    return request_id if isinstance(request_id, str) else new_request_id()


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    response = Response(
        error_body(status, current_request_id(), error.description), status, content_type=JSON
    )
    # Keep the headers an error defines for clients, e.g. Allow on 405; drop its HTML type.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _internal_error(error: InternalServerError) -> Response:
    # Flask has already logged the exception (see log_exception); the client only gets the id.
    message = "The server encountered an internal error."
    return Response(error_body(500, current_request_id(), message), 500, content_type=JSON)


def log_exception(exc_info: ExcInfo) -> None:
    """Log an unhandled exception with its stack trace and the request id (never to the client)."""
    logger.error(
        "unhandled exception",
        exc_info=exc_info,
        extra={"request_id": current_request_id(), "method": request.method, "path": request.path},
    )


def register_error_handlers(app: Flask) -> None:
    """Render every HTTP error, and any unhandled exception, as a JSON error response."""
    app.register_error_handler(InternalServerError, _internal_error)
    app.register_error_handler(HTTPException, _http_error)
