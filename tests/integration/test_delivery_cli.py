"""Bad input through the real command line: one line on stderr, exit 1, nothing built or changed.

Each case runs ``python -m invoke`` as a user would, against a sample project
(``DELIVERY_PROJECT_ROOT``) and the emulator, then checks the emulator holds nothing new.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import boto3
import pytest

from delivery import deploy, stacks
from delivery.emulator import Emulator
from tests.support.cli import run_invoke
from tests.support.deploy_steps import fake_steps
from tests.support.git import git
from tests.support.project import launch_shared, make_project

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
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
    """``python -m invoke <args>`` pointed at ``project``, in this process's AWS environment."""
    return run_invoke(project, *args, env=env)


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


# The plain bad-option cases (unknown env, malformed --image, missing scanner or credentials, ...)
# live in tests/test_bad_input_catalogue.py, the one list of every bad input the project handles.
# Here: the cases that need a state the catalogue does not build (a registry, a git history).


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
    if argv[0] == "rollback":  # its tag exists: only the registry lacks the image
        git(with_registry, "tag", f"v{argv[-1]}")
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
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["No idea what '--nope' is!"]
    assert result.stdout == ""


# --- the region comes from config, never from the shell -----------------------------------------
# boto3 reads AWS_DEFAULT_REGION or the profile, never AWS_REGION (boto/boto3#3620); Sceptre
# deploys to the config's region. Profile files are /dev/null here (the emulator's environment).

ONLY_AWS_REGION = {"AWS_DEFAULT_REGION": None, "AWS_REGION": "eu-north-1"}


@pytest.mark.parametrize(
    "shell",
    [ONLY_AWS_REGION, {"AWS_DEFAULT_REGION": "us-west-2", "AWS_REGION": "us-west-2"}],
    ids=["only AWS_REGION", "another default region"],
)
def test_status_and_diff_read_the_configs_region(
    project: Path, shell: dict[str, str | None]
) -> None:
    assert os.environ["AWS_CONFIG_FILE"] == os.devnull  # no profile can name a region
    launch_shared(project)
    deploy.deploy("dev", skip_scan=True, root=project, steps=fake_steps("1.0.0"))
    shown = invoke(project, "status", "--env", "dev", env=shell)
    assert (shown.returncode, shown.stderr) == (0, "")
    assert "  stack flask-fargate-dev-service: CREATE_COMPLETE" in shown.stdout.splitlines()
    assert "  live version: 1.0.0 (" in shown.stdout
    previewed = invoke(project, "diff", "--env", "dev", env=shell)
    assert (previewed.returncode, previewed.stderr) == (0, "")
    assert previewed.stdout.splitlines() == ["flask-fargate-dev-service: no changes"]


def test_debug_prints_the_error_with_its_causes_then_the_one_line(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "config" / "dev" / "config.yaml").write_text("region: [eu-north-1\n")
    plain = run_invoke(project, "status", "--env", "dev")
    assert plain.returncode == 1
    assert plain.stderr.splitlines() == [
        f"error: {project}/config/dev/config.yaml is not valid YAML (line 2): fix the file"
    ]
    debug = run_invoke(project, "--debug", "status", "--env", "dev")
    assert debug.returncode == 1
    assert "yaml.parser.ParserError" in debug.stderr  # the cause, kept by `raise ... from exc`
    assert "The above exception was the direct cause of the following exception" in debug.stderr
    assert debug.stderr.rstrip().splitlines()[-1] == plain.stderr.rstrip()
