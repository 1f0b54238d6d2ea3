"""The invoke command line: the tasks exist, each explains itself, errors are one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from invoke.collection import Collection
from invoke.exceptions import Exit
from invoke.loader import FilesystemLoader

import tasks
from delivery.errors import DeliveryError

ROOT = Path(__file__).resolve().parents[2]
TASKS = {
    "build", "scan", "version", "release", "push", "deploy", "diff", "status", "rollback",
    "destroy", "render", "stop", "docs",
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


def test_delivery_error_becomes_exit_with_one_line() -> None:
    @tasks.one_line_errors
    def failing() -> None:
        raise DeliveryError("something\nwent   wrong")

    with pytest.raises(Exit) as info:
        failing()
    assert info.value.code == 1
    assert info.value.message == "error: something went wrong"
