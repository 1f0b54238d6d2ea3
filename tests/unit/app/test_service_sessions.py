"""The service opens no cookie sessions, even with SECRET_KEY set (as on ECS)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, session


def test_the_session_reads_empty_and_refuses_writes_with_a_reason(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(secret_key="s" * 64)
    with app.test_request_context("/", headers={"Cookie": "session=eyJ4IjoxfQ.forged"}):
        assert dict(session) == {}
        assert session.get("x") is None
        with pytest.raises(RuntimeError, match="sessions are disabled: this service is stateless"):
            session["user"] = "someone"
        with pytest.raises(RuntimeError, match="stateless"):
            session.update(user="someone")
