"""The CodeBuild buildspecs: valid structure, and every project command they call exists."""

from __future__ import annotations

import functools
import importlib.util
import re
import shlex
from pathlib import Path
from typing import Any

import nox
import pytest
import yaml
from invoke.collection import Collection
from invoke.loader import FilesystemLoader

ROOT = Path(__file__).resolve().parents[2]
BUILDSPECS = ["buildspec.yml", "buildspec-deploy.yml"]
PHASES = {"install", "pre_build", "build", "post_build"}


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(data, dict)
    return data


def commands(spec: dict[str, Any]) -> list[str]:
    """Every shell command of every phase."""
    return [cmd for phase in spec["phases"].values() for cmd in phase.get("commands", [])]


def invoke_calls(spec: dict[str, Any]) -> list[list[str]]:
    """argv after ``uv run invoke`` for every call in the spec."""
    found = []
    for command in commands(spec):
        # Up to the end of the shell word list: newline, ;, |, & or the ) of a $(...).
        for match in re.finditer(r"uv run invoke ([^\n;|&)]+)", command):
            found.append(shlex.split(match.group(1)))
    return found


def nox_sessions_called(spec: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for command in commands(spec):
        for match in re.finditer(r"uv run nox -s ([^\n;|&]+)", command):
            found += [s for s in shlex.split(match.group(1)) if not s.startswith("-")]
    return found


def task_collection() -> Any:
    module, _ = FilesystemLoader(start=str(ROOT)).load("tasks")
    return Collection.from_module(module)


@functools.cache
def registered_nox_sessions() -> frozenset[str]:
    spec = importlib.util.spec_from_file_location("noxfile_under_test", ROOT / "noxfile.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return frozenset(nox.registry.get())


@pytest.mark.parametrize("name", BUILDSPECS)
def test_structure(name: str) -> None:
    spec = load(name)
    assert str(spec["version"]) == "0.2"
    assert set(spec["phases"]) <= PHASES
    assert {"install", "build"} <= set(spec["phases"])
    assert spec["phases"]["install"]["runtime-versions"]["python"] == "3.11"
    assert any(cmd.startswith("uv sync --locked") for cmd in commands(spec))
    for phase in spec["phases"].values():
        assert all(isinstance(cmd, str) and cmd.strip() for cmd in phase["commands"])


def test_uv_is_pinned_like_bootstrap() -> None:
    bootstrap = (ROOT / "bin" / "bootstrap").read_text()
    pinned = re.search(r'UV_VERSION="([^"]+)"', bootstrap)
    assert pinned is not None
    for name in BUILDSPECS:
        assert load(name)["env"]["variables"]["UV_VERSION"] == pinned.group(1)


def test_build_runs_the_gate_scans_pushes_and_reports() -> None:
    spec = load("buildspec.yml")
    tasks = [call[0] for call in invoke_calls(spec)]
    assert tasks == ["version", "build", "scan", "push"]
    assert set(nox_sessions_called(spec)) >= {"lint", "typecheck", "tests", "cfn_lint"}
    assert spec["phases"]["build"]["on-failure"] == "ABORT"  # no push after a failed gate
    scan = next(call for call in invoke_calls(spec) if call[0] == "scan")
    assert scan[scan.index("--threshold") + 1] == "HIGH"
    push = next(call for call in invoke_calls(spec) if call[0] == "push")
    assert "--skip-scan" not in push
    assert push[push.index("--output") + 1] == "image.json"
    assert spec["artifacts"]["files"] == ["image.json"]
    install = "\n".join(spec["phases"]["install"]["commands"])
    assert "sha256sum -c" in install
    assert re.fullmatch(r"[0-9a-f]{64}", spec["env"]["variables"]["TRIVY_SHA256"])
    reports = spec["reports"]
    assert reports["tests"]["file-format"] == "JUNITXML"
    assert reports["tests"]["files"] == ["build/reports/*.xml"]
    assert reports["coverage"]["file-format"] == "COBERTURAXML"
    assert reports["coverage"]["files"] == ["build/reports/coverage.xml"]


def test_deploy_promotes_the_built_digest() -> None:
    spec = load("buildspec-deploy.yml")
    calls = invoke_calls(spec)
    deploy = next(call for call in calls if call[0] == "deploy")
    assert deploy[deploy.index("--env") + 1] == "${DEPLOY_ENV}"
    assert deploy[deploy.index("--image") + 1] == "${IMAGE_DIGEST}"
    assert "--skip-scan" not in deploy
    assert "image.json" in "\n".join(commands(spec))


@pytest.mark.parametrize("name", BUILDSPECS)
def test_every_invoke_task_and_option_exists(name: str) -> None:
    collection = task_collection()
    for call in invoke_calls(load(name)):
        task = collection[call[0]]
        options = {
            f"--{arg.replace('_', '-')}" for arg in task.get_arguments() for arg in arg.names
        }
        for word in call[1:]:
            if word.startswith("--"):
                assert word.split("=")[0] in options, f"{name}: invoke {call[0]} has no {word}"


@pytest.mark.parametrize("name", BUILDSPECS)
def test_every_nox_session_exists(name: str) -> None:
    sessions = registered_nox_sessions()
    for session in nox_sessions_called(load(name)):
        assert session in sessions, f"{name}: nox has no session {session!r}"
