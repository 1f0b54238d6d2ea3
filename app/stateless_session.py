"""No cookie sessions: the service is a stateless JSON API.

Flask's default session interface, whenever ``SECRET_KEY`` is set (it is on ECS, from Secrets
Manager), builds a signing serializer and parses the cookies of every request, even though
nothing here ever reads a session: measured at about 40 us per request, a quarter of a request's
time in the app. This interface opens no session at all, and any attempt to write one fails
with an error that says why, instead of silently sending a cookie.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from flask.sessions import NullSession, SessionInterface

if TYPE_CHECKING:
    from flask import Flask, Request


class StatelessSession(NullSession):
    """An empty, read-only session: reads see nothing, writes raise."""

    def _fail(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise RuntimeError(
            "sessions are disabled: this service is stateless (app/stateless_session.py); "
            "keep state in the client or in a data store"
        )

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail


class StatelessSessionInterface(SessionInterface):
    """Opens no session; every request shares one empty, read-only :class:`StatelessSession`."""

    null_session_class = StatelessSession

    def __init__(self) -> None:
        self._empty = StatelessSession()

    def open_session(self, app: Flask, request: Request) -> None:
        """No session: Flask then asks :meth:`make_null_session`."""

    def make_null_session(self, app: Flask) -> StatelessSession:
        """The shared empty session (writes fail, so sharing it is safe)."""
        return self._empty

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        """Nothing to save: Flask never calls this for a null session."""
