"""The invoke command line: the tasks exist, each explains itself, errors are one line."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import NoRegionError
from botocore.parsers import ResponseParserError
from invoke.collection import Collection
from invoke.exceptions import Exit
from invoke.loader import FilesystemLoader

import tasks
from delivery import deploy, deploy_command, environments
from delivery.errors import DeliveryError
from tests.support.fresh_python import run_python
from tests.support.project import make_project

ROOT = Path(__file__).resolve().parents[2]
TASKS = {
    "build", "scan", "version", "release", "push", "deploy", "diff", "status", "rollback",
    "destroy", "render", "stop", "docs", "bootstrap", "install-scanner", "smoke", "pipeline",
    "check",
    "logs",
    "pipeline-pause", "pipeline-resume",
    "secret",
    "run", "exec",
}  # fmt: skip


def collection() -> Any:
    module, _ = FilesystemLoader(start=str(ROOT)).load("tasks")
    return Collection.from_module(module)


def test_every_task_exists() -> None:
    assert set(collection().task_names) == TASKS


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_and_option_has_help(name: str) -> None:
    task = collection()[name]
    assert (task.__doc__ or "").strip()
    for argument in task.get_arguments():
        assert argument.help, f"invoke {name}: --{argument.name} has no help text"


def test_list_and_help_through_the_cli() -> None:
    listing = subprocess.run(
        [sys.executable, "-m", "invoke", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert all(f"  {name} " in listing for name in TASKS)
    help_text = subprocess.run(
        [sys.executable, "-m", "invoke", "--help", "deploy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for option in ("--env", "--image", "--skip-scan", "--engine", "--threshold"):
        assert option in help_text
    assert "--allow-prerelease" in help_text


def test_delivery_error_becomes_exit_with_one_line() -> None:
    @tasks.one_line_errors
    def failing() -> None:
        raise DeliveryError("something\nwent   wrong")

    with pytest.raises(Exit) as info:
        failing()
    assert info.value.code == 1
    assert info.value.message == "error: something went wrong"


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (NoRegionError(), "You must specify a region."),
        (ResponseParserError("Unable to parse response\n<!doctype html>"), "Unable to parse"),
    ],
)
def test_a_botocore_error_that_escapes_delivery_is_one_line_too(
    error: Exception, said: str
) -> None:
    @tasks.one_line_errors
    def failing() -> None:
        raise error

    with pytest.raises(Exit) as info:
        failing()
    message = str(info.value.message)
    assert info.value.code == 1
    assert message.startswith(f"error: AWS could not be reached: {said}")
    assert "\n" not in message


def test_a_finished_deploy_says_loudly_what_needs_saying(tmp_path: Path) -> None:
    prod = environments.load("prod", make_project(tmp_path))
    result = deploy.Result(
        env="prod",
        version="1.3.0-dev.g0123456789ab",
        digest="sha256:" + "a" * 64,
        image_uri="x",
        service_url="http://alb.example.invalid",
        outputs={"Https": "false", "ServiceUrl": "http://alb.example.invalid"},
    )
    assert deploy_command.notices(prod, result) == [
        "WARNING: 1.3.0-dev.g0123456789ab is a pre-release, deployed to releases-only "
        "environment 'prod' because of --allow-prerelease",
        "NOTE: environment 'prod' serves plain HTTP only (http://alb.example.invalid): to serve "
        "HTTPS, set the service's domain and its Route 53 hosted zone in "
        "config/prod/service.yaml and deploy again",
    ]


def test_listing_the_tasks_imports_no_aws_or_stack_library() -> None:
    # `invoke --list` and `--help` load tasks.py alone: boto3, Sceptre and troposphere took about
    # a second to import, which every command paid before it did anything.
    # What the import adds: an interpreter may have loaded some already (the pipeline rehearsal's
    # builds load botocore at start-up, to judge every AWS call against the build's role).
    heavy = ("boto3", "botocore", "sceptre", "troposphere", "cfnlint", "pydantic")
    probe = (
        "import sys; before = set(sys.modules); import tasks; "
        f"print(' '.join(m for m in {heavy!r} if m in set(sys.modules) - before))"
    )
    loaded = run_python(probe).split()
    assert loaded == []


def test_delivery_progress_is_printed_once_as_bare_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @tasks.one_line_errors
    def step() -> None:
        logging.getLogger("delivery.deploy").info("build: flask-fargate:1.0.0")
        logging.getLogger("delivery.deploy").debug("a detail the CLI does not print")

    step()
    step()  # a second command in the process: still one handler, each line once
    assert capsys.readouterr().out == "build: flask-fargate:1.0.0\n" * 2
    logger = logging.getLogger("delivery")
    assert sum(isinstance(handler, tasks._StdoutLines) for handler in logger.handlers) == 1
    assert not logger.propagate  # invoke --debug's root handler would print it again
