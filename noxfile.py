"""The project's quality gate: the same sessions run locally, in CI and in CodeBuild.

Every session installs exactly the locked dependency groups it needs (uv.lock) into its own
virtualenv, so a session proves its own dependency declaration is complete.
"""

from __future__ import annotations

import os

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True
# `nox` with no arguments is the full gate (what bin/test and .ci/run run).
nox.options.sessions = [
    "lint",
    "typecheck",
    "tests",
]

PYTHON = "3.11"
CODE = ["app", "stacks", "templates", "delivery", "tests", "bench", "tasks.py", "noxfile.py"]


def install(session: nox.Session, *groups: str, project: bool = True) -> None:
    """Sync the locked dependency groups into the session's virtualenv with uv."""
    args = ["uv", "sync", "--locked", "--quiet", "--no-default-groups"]
    for group in groups:
        args += ["--group", group]
    if not project:
        args.append("--no-install-project")
    session.run_install(
        *args, env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location}, external=True
    )


def pytest_args(session: nox.Session, name: str) -> list[str]:
    """Common pytest arguments: JUnit report per session (CodeBuild reports read them)."""
    return [f"--junitxml=build/reports/{name}.xml", *session.posargs]


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint rules (incl. security rules) and formatting."""
    install(session, "dev", project=False)
    session.run("ruff", "check", *CODE)
    session.run("ruff", "format", "--check", *CODE)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over all project code."""
    install(session, "dev", "stacks", "deploy", "fuzz")
    session.run("mypy", *CODE)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit and integration tests (real gunicorn and moto servers on 127.0.0.1), with coverage."""
    install(session, "dev", "stacks", "deploy", "fuzz")
    session.run(
        "pytest",
        "-m",
        "not container",
        "--cov=app",
        "--cov=stacks",
        "--cov=delivery",
        "--cov-report=term:skip-covered",
        "--cov-report=xml:build/reports/coverage.xml",
        *pytest_args(session, "tests"),
        env={"PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")},
    )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmark: bare WSGI vs bare Flask vs this app under the same gunicorn settings."""
    install(session, "dev")
    session.run("python", "-m", "bench.service", *session.posargs)


@nox.session(python=PYTHON)
def render(session: nox.Session) -> None:
    """Render every stack of every environment to build/templates/<env>/<stack>.json."""
    install(session, "stacks", "dev")
    session.run("python", "-m", "delivery.render", "--out", "build/templates", *session.posargs)


@nox.session(name="cfn_lint", python=PYTHON)
def cfn_lint(session: nox.Session) -> None:
    """cfn-lint over every rendered template: 0 errors, 0 warnings."""
    install(session, "stacks", "dev")
    session.run("python", "-m", "delivery.render", "--out", "build/templates")
    session.run("cfn-lint", "--", "build/templates/**/*.json")


@nox.session(python=PYTHON)
def container(session: nox.Session) -> None:
    """Build the real Dockerfile offline and run the image read-only, non-root, caps dropped."""
    install(session, "dev", "stacks", "deploy")
    session.run("pytest", "-m", "container", *pytest_args(session, "container"))
