"""Bad input through the real command line: one line on stderr, exit 1, nothing built or changed.

Each case runs ``python -m invoke`` as a user would, against a sample project
(``DELIVERY_PROJECT_ROOT``) and the emulator, then checks the emulator holds nothing new.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from delivery import stacks
from delivery.emulator import Emulator
from tests.unit.delivery.test_environments import git, make_project

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
NO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def invoke(
    project: Path, *args: str, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m invoke <args>`` from the repository, pointed at ``project``."""
    environ = {**os.environ, "DELIVERY_PROJECT_ROOT": str(project)}
    for name, value in (env or {}).items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def resources() -> tuple[list[str], list[str]]:
    """Stacks and repositories the emulator holds (live ones)."""
    summaries = boto3.client("cloudformation").list_stacks()["StackSummaries"]
    live = sorted(s["StackName"] for s in summaries if s["StackStatus"] != "DELETE_COMPLETE")
    repos = boto3.client("ecr").describe_repositories()["repositories"]
    return live, sorted(r["repositoryName"] for r in repos)


@pytest.fixture
def project(tmp_path: Path, aws: Emulator) -> Path:
    return make_project(tmp_path, git_init=True)


@pytest.fixture
def with_registry(project: Path) -> Path:
    """The local registry stack exists (so image lookups reach ECR) and holds no image."""
    stacks.launch("local/registry.yaml", root=project, poll=stacks.EMULATOR_POLL_S)
    return project


BAD_INPUT = [
    # (id, argv, extra env, expected message start)
    ("unknown env", ["deploy", "--env", "qa"], {}, "unknown environment 'qa': choose one of"),
    ("no env", ["status"], {}, "no environment given: pass --env"),
    (
        "malformed image",
        ["deploy", "--env", "local", "--image", "latest"],
        {},
        "malformed --image 'latest'",
    ),
    (
        "invalid threshold",
        ["deploy", "--env", "local", "--threshold", "SEVERE"],
        {},
        "invalid scan threshold 'SEVERE'",
    ),
    (
        "scanner missing",
        ["deploy", "--env", "local"],
        {"PATH": str(Path(sys.executable).parent)},
        "trivy is not installed",
    ),
    (
        "no container engine",
        ["deploy", "--env", "local", "--skip-scan", "--engine", "podman"],
        {"PATH": str(Path(sys.executable).parent)},
        "container engine 'podman' not found on PATH",
    ),
    (
        "unknown engine",
        ["push", "--env", "local", "--skip-scan", "--engine", "rkt"],
        {},
        "unknown container engine 'rkt'",
    ),
    (
        "missing credentials",
        ["deploy", "--env", "dev", "--image", "1.2.3"],
        NO_CREDENTIALS,
        "no AWS credentials found",
    ),
    (
        "emulator env without emulator",
        ["status", "--env", "local"],
        {"AWS_ENDPOINT_URL": None},
        "no local emulator running: run `invoke deploy --env local --keep` first",
    ),
    (
        "emulator env pointed at a real endpoint",
        ["deploy", "--env", "local", "--image", "1.2.3"],
        {"AWS_ENDPOINT_URL": "https://cloudformation.eu-north-1.amazonaws.com"},
        "environment 'local' runs on the local emulator but AWS_ENDPOINT_URL is https://",
    ),
    (
        "keep on a real environment",
        ["deploy", "--env", "dev", "--image", "1.2.3", "--keep"],
        {},
        "--keep, --emulator-port and --serve are for emulator environments, not 'dev'",
    ),
    (
        "prod destroy without force",
        ["destroy", "--env", "prod"],
        {},
        "environment 'prod' is protected against destroy: pass --force",
    ),
    ("rollback without --to", ["rollback", "--env", "local"], {}, "rollback needs the version"),
    (
        "rollback to a digest",
        ["rollback", "--env", "local", "--to", "sha256:" + "a" * 64],
        {},
        "--to takes a version like 1.2.3",
    ),
    (
        "image of an env never deployed",
        ["deploy", "--env", "local", "--image", "1.2.3"],
        {},
        "stack flask-fargate-local-registry does not exist",
    ),
    ("scan without trivy", ["scan", "--image", "x:1"], {"PATH": "/nonexistent"}, "trivy is not"),
]


@pytest.mark.parametrize(
    ("argv", "env", "message"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT]
)
def test_bad_input_is_one_line_and_changes_nothing(
    project: Path, argv: list[str], env: dict[str, str | None], message: str
) -> None:
    result = invoke(project, *argv, env=env)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {message}"), lines[0]
    assert resources() == ([], [])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["deploy", "--env", "local", "--image", "9.9.9"],
            "image 'flask-fargate-local:9.9.9' does",
        ),
        (["rollback", "--env", "local", "--to", "0.9.0"], "image 'flask-fargate-local:0.9.0' does"),
        (
            ["deploy", "--env", "local", "--image", "sha256:" + "b" * 64],
            "image 'flask-fargate-local@",
        ),
    ],
    ids=["deploy unknown version", "rollback to unknown version", "deploy unknown digest"],
)
def test_image_that_does_not_exist_changes_nothing(
    with_registry: Path, argv: list[str], message: str
) -> None:
    before = resources()
    result = invoke(with_registry, *argv)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"error: {message}")
    assert resources() == before == (["flask-fargate-local-registry"], ["flask-fargate-local"])


def test_release_on_a_dirty_tree(project: Path) -> None:
    (project / "config" / "config.yaml").write_text("changed: true\n")
    result = invoke(project, "release")
    assert (result.returncode, result.stderr.strip()) == (
        1,
        "error: the git tree has uncommitted changes: commit or stash them before a release",
    )
    assert git(project, "tag") == ""


def test_release_of_a_breaking_change_without_the_flag(project: Path) -> None:
    git(project, "tag", "v1.0.0")
    (project / "new.txt").write_text("x")
    git(project, "add", "new.txt")
    git(project, "commit", "-q", "-m", "feat!: drop the old API")
    result = invoke(project, "release")
    assert result.returncode == 1
    assert result.stderr.strip().endswith("pass --allow-major to release it")
    assert git(project, "tag") == "v1.0.0"


def test_unknown_option_is_invokes_own_one_line(project: Path) -> None:
    result = invoke(project, "deploy", "--nope")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
