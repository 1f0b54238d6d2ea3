"""The local env's failures through the real command line: one line on stderr, exit 1, nothing left.

No AWS_* variables reach the command, so it manages its own emulator (or finds none).
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from delivery.environments import load
from delivery.local.record import Record, read_record, write_record
from tests.support.cli import run_invoke
from tests.support.git import git
from tests.support.project import make_project

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def invoke(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m invoke <args>`` pointed at ``project``, without the shell's AWS settings."""
    return run_invoke(project, *args, ambient_aws=False)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--env", "local"],
        ["diff", "--env", "local"],
        ["rollback", "--env", "local", "--to", "1.0.0"],
        ["push", "--env", "local", "--skip-scan"],
    ],
    ids=["status", "diff", "rollback", "push"],
)
def test_commands_on_the_kept_emulator_say_when_there_is_none(
    tmp_path: Path, argv: list[str]
) -> None:
    project = make_project(tmp_path, git_init=argv[0] == "rollback")
    if argv[0] == "rollback":  # its release exists: only the emulator is missing
        git(project, "tag", "v1.0.0")
    assert one_line_error(invoke(project, *argv)) == (
        "error: no local emulator running: run `invoke deploy --env local --keep` first"
    )


def test_a_dead_recorded_emulator_is_forgotten(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    env = load("local", project)
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    write_record(env, Record(f"http://127.0.0.1:{port}", "eu-north-1", 2**22 + 7))
    assert one_line_error(invoke(project, "status", "--env", "local")).startswith(
        "error: no local emulator running"
    )
    assert read_record(env) is None


def test_taken_emulator_port_is_one_line_and_starts_nothing(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = invoke(
            project, "deploy", "--env", "local", "--skip-scan", "--emulator-port", str(port)
        )
    assert one_line_error(result).startswith(
        f"error: emulator port {port} on 127.0.0.1 is already in use"
    )
    assert "starting moto" not in result.stdout
    assert read_record(load("local", project)) is None


def test_unknown_serve_mode_is_one_line(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    result = invoke(project, "deploy", "--env", "local", "--serve", "vm")
    assert one_line_error(result) == (
        "error: unknown --serve 'vm': choose one of auto, container, process"
    )


def test_stop_with_nothing_kept_is_fine(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    result = invoke(project, "stop", "--env", "local")
    assert (result.returncode, result.stdout.strip()) == (
        0,
        "nothing to stop: no kept emulator recorded for 'local'",
    )
    assert one_line_error(invoke(project, "stop", "--env", "dev")) == (
        "error: 'dev' is not an emulator environment: nothing runs locally"
    )
