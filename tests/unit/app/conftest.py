"""Fixtures for the service's unit tests: a configured app and its test client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.config import AppConfig
from app.factory import create_app


@pytest.fixture
def make_app() -> Callable[..., Flask]:
    """Build apps from AppConfig overrides; single-process metrics, failing route enabled."""

    def make(**overrides: Any) -> Flask:
        settings: dict[str, Any] = {"enable_failing_route": True, **overrides}
        base = AppConfig(app_version="1.2.3", git_sha="abc123", build_time="2026-01-01T00:00:00Z")
        config = replace(base, **settings)
        return create_app(config)

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The app with default settings."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``."""
    return app.test_client()
