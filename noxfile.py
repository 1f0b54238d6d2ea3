"""The project's quality gate: the same sessions run locally, in CI and in CodeBuild.

Every session installs exactly the locked dependency groups it needs (uv.lock) into its own
virtualenv, so a session proves its own dependency declaration is complete.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

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
    "cfn_lint",
    "security",
    "fuzz",
    "drain",
    "container",
    "integration",
    "rehearsal",
]

PYTHON = "3.11"
SOURCES = ["app", "stacks", "templates", "delivery", "docgen", "tasks.py"]
CODE = [*SOURCES, "tests", "bench", "noxfile.py"]


# The quality gate: what every push must pass (buildspec.yml runs exactly these sessions).
GATE = ("lint", "typecheck", "tests", "cfn_lint", "security")
# QUALITY_GATE_PASSED=<commit>: the gate already passed for that commit's tree (the project's CI
# ran it just before the pipeline rehearsal), so its sessions skip instead of running twice. For
# any other commit, or a working tree with changes, they run.
GATE_PASSED = "QUALITY_GATE_PASSED"


def _git(*args: str) -> str:
    done = subprocess.run(  # noqa: S603 - fixed git argv
        ["git", *args],  # noqa: S607 - git from PATH, as every project command finds it
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def skip_if_gate_passed(session: nox.Session) -> None:
    """Skip a gate session when ``QUALITY_GATE_PASSED`` names this very commit, tree unchanged."""
    passed = os.environ.get(GATE_PASSED, "").strip()
    if not passed:
        return
    head = _git("rev-parse", "HEAD")
    if passed == head and not _git("status", "--porcelain"):
        session.skip(f"the quality gate already passed for {head[:12]} ({GATE_PASSED})")
    session.log(f"{GATE_PASSED} names {passed[:12]}, not this checkout: running the gate")


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


def pytest_args(session: nox.Session, name: str, *, parallel: bool = False) -> list[str]:
    """Common pytest arguments: JUnit report per session (CodeBuild reports read them).

    ``parallel``: one worker per core (PYTEST_WORKERS overrides; 0 runs in-process), for suites
    whose tests share nothing but the machine: each worker starts its own emulator.
    """
    workers = ["-n", os.environ.get("PYTEST_WORKERS", "auto")] if parallel else []
    return [*workers, f"--junitxml=build/reports/{name}.xml", *session.posargs]


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint rules (incl. security rules) and formatting."""
    skip_if_gate_passed(session)
    install(session, "dev", project=False)
    session.run("ruff", "check", *CODE)
    session.run("ruff", "format", "--check", *CODE)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over all project code."""
    skip_if_gate_passed(session)
    install(session, "dev", "stacks", "deploy", "fuzz", "release")
    session.run("mypy", *CODE)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit and integration tests (real gunicorn and moto servers on 127.0.0.1), with coverage."""
    skip_if_gate_passed(session)
    install(session, "dev", "stacks", "deploy", "fuzz", "release")
    session.run(
        "pytest",
        "-m",
        "not container and not fuzz",
        "--cov=app",
        "--cov=stacks",
        "--cov=delivery",
        "--cov=docgen",
        "--cov-report=term:skip-covered",
        "--cov-report=xml:build/reports/coverage.xml",
        *pytest_args(session, "tests", parallel=True),
        env={"PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")},
    )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmark: bare WSGI vs bare Flask vs this app under the same gunicorn settings (judged),
    then, for reading, the CPU each layer costs per request in one process (bench.per_request)
    and the garbage collector's pauses in the workers, frozen heap or not (bench.gc_pauses)."""
    install(session, "dev", "stacks")  # the stacks' settings give prod's sampling ratio
    session.run("python", "-m", "bench.service", *session.posargs)
    session.run("python", "-m", "bench.per_request")
    session.run("python", "-m", "bench.gc_pauses")


@nox.session(python=PYTHON)
def render(session: nox.Session) -> None:
    """Render every stack of every environment to build/templates/<env>/<stack>.json."""
    install(session, "stacks", "dev")
    session.run("python", "-m", "delivery.render", "--out", "build/templates", *session.posargs)


@nox.session(name="cfn_lint", python=PYTHON)
def cfn_lint(session: nox.Session) -> None:
    """cfn-lint over every rendered template, each for its stack's region: 0 errors, 0 warnings;
    then every CloudFormation service role against the provider schemas: 0 missing."""
    skip_if_gate_passed(session)
    install(session, "stacks", "dev")
    session.run("python", "-m", "delivery.lint", "--out", "build/templates")
    session.run("python", "-m", "delivery.permissions")


@nox.session(python=PYTHON)
def container(session: nox.Session) -> None:
    """Build the real Dockerfile offline and run the image read-only, non-root, caps dropped."""
    install(session, "dev", "stacks", "deploy")
    session.run("pytest", "tests/e2e/test_image.py", *pytest_args(session, "container"))


@nox.session(python=PYTHON)
def security(session: nox.Session) -> None:
    """bandit, ruff's security rules, hadolint, checkov (templates + Dockerfile), pip-audit."""
    skip_if_gate_passed(session)
    # checkov pins an old boto3, so this session has its own environment without `deploy`.
    install(session, "security", "stacks", "dev")
    session.run("bandit", "-q", "-c", "pyproject.toml", "-r", *SOURCES)
    session.run("ruff", "check", "--select", "S", *CODE)
    session.run("hadolint", "Dockerfile")
    session.run("python", "-m", "delivery.render", "--out", "build/templates")
    checkov = ["checkov", "--quiet", "--compact", "--skip-download", "--output", "cli"]
    session.run(*checkov, "--framework", "cloudformation", "-d", "build/templates")
    session.run(*checkov, "--framework", "dockerfile", "-f", "Dockerfile")
    audit_runtime_dependencies(session)


def audit_runtime_dependencies(session: nox.Session) -> None:
    """pip-audit the locked runtime dependencies (what ships in the image).

    Known vulnerabilities always fail. Packages that could not be audited (no vulnerability
    service reachable, as on the project's offline build machines) are reported loudly and fail
    only where the audit is required (REQUIRE_AUDIT=1: GitHub Actions and CodeBuild set it).
    """
    requirements = Path("build/requirements-runtime.txt")
    requirements.parent.mkdir(parents=True, exist_ok=True)
    exported = session.run(
        "uv", "export", "--locked", "--quiet", "--no-dev", "--no-default-groups",
        "--no-emit-project", "--no-hashes", silent=True, external=True,
    )  # fmt: skip
    requirements.write_text(str(exported))
    report = Path("build/reports/pip-audit.json")
    report.parent.mkdir(parents=True, exist_ok=True)
    session.run(
        "pip-audit", "--requirement", str(requirements), "--format", "json",
        "--output", str(report), "--progress-spinner", "off", success_codes=[0, 1],
    )  # fmt: skip
    dependencies = json.loads(report.read_text())["dependencies"]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    unaudited = [d["name"] for d in dependencies if "skip_reason" in d]
    if vulnerable:
        found = ", ".join(f"{d['name']} {d['version']}" for d in vulnerable)
        session.error(f"pip-audit: known vulnerabilities in {found} (see {report})")
    if unaudited:
        message = (
            f"pip-audit: {len(unaudited)} of {len(dependencies)} runtime packages could NOT be "
            f"audited (no vulnerability service reachable): {', '.join(unaudited)}"
        )
        if os.environ.get("REQUIRE_AUDIT") == "1":
            session.error(message)
        session.warn(message + " - not a pass: run where PyPI's JSON API or OSV is reachable")
    else:
        session.log(f"pip-audit: {len(dependencies)} runtime packages, 0 known vulnerabilities")


@nox.session(python=PYTHON)
def release(session: nox.Session) -> None:
    """Tag vX.Y.Z from Conventional Commits and update CHANGELOG.md (-- --allow-major for 2.0)."""
    # invoke imports delivery.deploy, which needs boto3: hence the deploy group.
    install(session, "dev", "release", "deploy")
    session.run("invoke", "release", *session.posargs)


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """The main job on the local emulator through the CLI: deploy, a second version, status,
    rollback, status, stop (real image build, moto server, container).

    The local flow's failure cases run in `tests` (tests/integration/test_local_*.py).
    """
    install(session, "dev", "stacks", "deploy", "release")  # release: commitizen for versions
    session.run(
        "pytest",
        "tests/e2e/test_local_deploy.py",
        *pytest_args(session, "integration"),
    )


@nox.session(python=PYTHON)
def rehearsal(session: nox.Session) -> None:
    """The pipeline rehearsal's unhappy paths: a missing permission, a failing test, an image
    that cannot run on Fargate, a deploy that rolls back; and a re-run pushing nothing."""
    install(session, "dev", "stacks", "deploy", "release")
    session.run(
        "pytest",
        "tests/e2e/test_pipeline_rehearsal.py",
        *pytest_args(session, "rehearsal", parallel=True),
    )


@nox.session(python=PYTHON)
def pipeline(session: nox.Session) -> None:
    """The pipeline rehearsed on the emulator: every stage, each build under its own role,
    approved through to prod (`invoke pipeline --env local --approve`; -- passes options).

    ``-- --gate-passed`` (after the gate passed for this commit) tells the Build stage so; it
    rehearses a commit, so with uncommitted changes it is skipped, saying so, rather than HEAD.
    """
    install(session, "dev", "stacks", "deploy", "release")
    if "--gate-passed" in session.posargs and _git("status", "--porcelain"):
        session.skip(
            "the working tree has uncommitted changes: the rehearsal runs commits; commit them "
            "and run `uv run nox -s pipeline`"
        )
    session.run("invoke", "pipeline", "--env", "local", "--approve", *session.posargs)


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """schemathesis over the live OpenAPI document (1000+ cases) and hostile input."""
    install(session, "dev", "fuzz")
    session.run("pytest", "-m", "fuzz", "tests/fuzz", *pytest_args(session, "fuzz"))


@nox.session(python=PYTHON)
def drain(session: nox.Session) -> None:
    """SIGTERM drain cycles under keep-alive load: 0 failed requests, exit in time."""
    install(session, "dev")
    session.run("python", "-m", "bench.load", "drain", *session.posargs)


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """60 s at saturation (wrk): 0 errors, RSS growth < 5 %, no worker restart. Not in the gate."""
    install(session, "dev")
    session.run("python", "-m", "bench.load", "soak", *session.posargs)
