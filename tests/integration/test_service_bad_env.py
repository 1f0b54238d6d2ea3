"""A bad environment stops the real gunicorn command with one line on stderr, no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import GUNICORN, ROOT, service_env

BAD = [
    ("PORT", "eighty"),
    ("PORT", "99999"),
    ("LOG_LEVEL", "LOUD"),
    ("WEB_CONCURRENCY", "0"),
    ("THREADS", "-1"),
    ("DRAIN_SECONDS", "-3"),
    ("DRAIN_SECONDS", "five"),
    ("GRACEFUL_TIMEOUT_SECONDS", "0"),
    ("KEEPALIVE_SECONDS", "0"),
    ("MAX_REQUEST_BYTES", "0"),
    ("GREETING", ""),
    ("APP_VERSION", "v" * 100),
]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[f"{n}={v[:8]}" for n, v in BAD])
def test_bad_value_is_one_line_and_a_nonzero_exit(name: str, value: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [*GUNICORN, "--bind", "127.0.0.1:0", "app.wsgi:app"],
        cwd=ROOT,
        env=service_env(tmp_path, **{name: value}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"invalid configuration: {name}=")
    assert repr(value) in lines[0]
    assert "accepted:" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_python_m_app_refuses_a_bad_value_the_same_way(tmp_path: Path) -> None:
    import sys  # noqa: PLC0415

    result = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=ROOT,
        env=service_env(tmp_path, THREADS="many"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "invalid configuration: THREADS='many'; accepted: an integer from 1 to 256"
    ]
