"""The WSGI entry point for gunicorn: ``app.wsgi:app``."""

from __future__ import annotations

from app.config import load_config
from app.factory import create_app

# gunicorn_conf has already validated the same environment in the master, so a ConfigError
# here can only come from another server loading this module directly, where a traceback is fine.
# Tracing (if on) is installed just after the worker starts answering: see
# app.observability.deferred_tracing.
app = create_app(load_config(), defer_tracing=True)
