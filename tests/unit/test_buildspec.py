"""The CodeBuild buildspecs: valid structure, and every project command they call exists."""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
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
def noxfile() -> Any:
    """The project's noxfile, loaded as a module (its sessions register with nox)."""
    spec = importlib.util.spec_from_file_location("noxfile_under_test", ROOT / "noxfile.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def registered_nox_sessions() -> frozenset[str]:
    noxfile()
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
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert re.findall(r"uv==([0-9.]+)", release) == [pinned.group(1)]


def test_build_runs_the_gate_smoke_tests_scans_pushes_and_reports() -> None:
    spec = load("buildspec.yml")
    tasks = [call[0] for call in invoke_calls(spec)]
    assert tasks == ["install-scanner", "version", "build", "smoke", "scan", "push"]
    # The gate, whole: what it is is written here, not read from noxfile.GATE, which must agree.
    gate = ["lint", "typecheck", "tests", "cfn_lint", "security"]
    assert nox_sessions_called(spec) == gate
    assert list(noxfile().GATE) == gate
    assert spec["phases"]["build"]["on-failure"] == "ABORT"  # no push after a failed gate
    scan = next(call for call in invoke_calls(spec) if call[0] == "scan")
    assert scan[scan.index("--threshold") + 1] == "HIGH"
    push = next(call for call in invoke_calls(spec) if call[0] == "push")
    assert "--skip-scan" not in push
    assert push[push.index("--output") + 1] == "image.json"
    assert spec["artifacts"]["files"] == ["image.json"]
    # The engine is CodeBuild's docker, named once; no command calls an engine or AWS directly.
    assert spec["env"]["variables"]["CONTAINER_ENGINE"] == "docker"
    for command in commands(spec):
        assert not re.search(r"(^|[\s;|&(])(docker|podman|aws|trivy|curl)\s", command), command


def test_the_image_is_smoke_tested_as_every_environment_the_pipeline_deploys_to() -> None:
    smoke = next(call for call in invoke_calls(load("buildspec.yml")) if call[0] == "smoke")
    tested = [smoke[i + 1] for i, word in enumerate(smoke) if word == "--env"]
    deployed = [
        action["Configuration"]["EnvironmentVariables"]
        for _, action in codebuild_actions("buildspec-deploy.yml")
    ]
    import json  # noqa: PLC0415

    environments = [json.loads(v)[0]["value"] for v in deployed]
    assert tested == environments == ["dev", "prod"]


def test_build_reports_tests_and_coverage() -> None:
    reports = load("buildspec.yml")["reports"]
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


def test_the_pipelines_prod_deploy_is_held_by_the_slo_gate_and_never_forces_it() -> None:
    """The prod action runs `invoke deploy --env prod`: gated (delivery.slo), never --force."""
    from delivery import environments  # noqa: PLC0415

    deployed = [
        json.loads(action["Configuration"]["EnvironmentVariables"])[0]["value"]
        for _, action in codebuild_actions("buildspec-deploy.yml")
    ]
    assert "prod" in deployed
    assert environments.load("prod").slo_gate
    for name in BUILDSPECS:
        for call in invoke_calls(load(name)):
            assert "--force" not in call
            assert not any(re.fullmatch(r"-[a-zA-Z]*f[a-zA-Z]*", word) for word in call), call


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


# --- the buildspecs read only what the pipeline's CodeBuild projects give them ----------------

# CodeBuild's own environment variables ("Environment variables in build environments"), plus
# the secondary-source directories, which are checked against the pipeline's artifacts below.
CODEBUILD_BUILTINS = frozenset(
    {
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "CODEBUILD_BATCH_BUILD_IDENTIFIER",
        "CODEBUILD_BUILD_ARN",
        "CODEBUILD_BUILD_ID",
        "CODEBUILD_BUILD_IMAGE",
        "CODEBUILD_BUILD_NUMBER",
        "CODEBUILD_BUILD_SUCCEEDING",
        "CODEBUILD_INITIATOR",
        "CODEBUILD_KMS_KEY_ID",
        "CODEBUILD_LOG_PATH",
        "CODEBUILD_PUBLIC_BUILD_URL",
        "CODEBUILD_RESOLVED_SOURCE_VERSION",
        "CODEBUILD_SOURCE_REPO_URL",
        "CODEBUILD_SOURCE_VERSION",
        "CODEBUILD_SRC_DIR",
        "CODEBUILD_START_TIME",
        "HOME",
        "PATH",
    }
)
SECONDARY_SOURCE = "CODEBUILD_SRC_DIR_"
# $VAR, ${VAR}, ${VAR:-x}, ${VAR%%/*} ... and os.environ["VAR"] in inline Python.
_SHELL_READ = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_PYTHON_READ = re.compile(r"os\.environ(?:\.get\(|\[)\s*[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']")
_ASSIGN = re.compile(r"(?:^|[\s;(|&])(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=")


def variables_read(spec: dict[str, Any]) -> set[str]:
    """Variables the commands read that no earlier command (or the same one, before) set."""
    assigned: set[str] = set()
    unset: set[str] = set()
    for command in commands(spec):
        sets = [(m.start(1), m.group(1)) for m in _ASSIGN.finditer(command)]
        reads = [*_SHELL_READ.finditer(command), *_PYTHON_READ.finditer(command)]
        for read in reads:
            name = read.group(1)
            set_before = any(pos < read.start() and var == name for pos, var in sets)
            if name not in assigned and not set_before:
                unset.add(name)
        assigned |= {var for _, var in sets}
    return unset


@functools.cache
def rendered_pipeline() -> dict[str, Any]:
    import json  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    from delivery.render import render  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as out:
        (path,) = [p for p in render(Path(out), ["shared"]) if p.stem == "pipeline"]
        template = json.loads(path.read_text())
    assert isinstance(template, dict)
    return template


def codebuild_actions(buildspec: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(project properties, pipeline action) for every action that runs ``buildspec``."""
    template = rendered_pipeline()
    resources = template["Resources"]
    projects = {
        logical_id: resource["Properties"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::CodeBuild::Project"
        and resource["Properties"]["Source"]["BuildSpec"] == buildspec
    }
    (pipeline,) = [r for r in resources.values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    found = []
    for stage in pipeline["Properties"]["Stages"]:
        for action in stage["Actions"]:
            project = action.get("Configuration", {}).get("ProjectName", {}).get("Ref")
            if action["ActionTypeId"]["Provider"] == "CodeBuild" and project in projects:
                found.append((projects[project], action))
    assert found, f"no pipeline action runs {buildspec}"
    return found


def _defined_by_pipeline(project: dict[str, Any], action: dict[str, Any]) -> set[str]:
    names = {v["Name"] for v in project["Environment"].get("EnvironmentVariables", [])}
    overrides = action["Configuration"].get("EnvironmentVariables")
    if overrides:
        import json  # noqa: PLC0415

        names |= {v["name"] for v in json.loads(overrides)}
    return names


def _secondary_inputs(action: dict[str, Any]) -> set[str]:
    inputs = [a["Name"] for a in action.get("InputArtifacts", [])]
    primary = action["Configuration"].get("PrimarySource", inputs[0] if inputs else None)
    return {name for name in inputs if name != primary}


@pytest.mark.parametrize("name", BUILDSPECS)
def test_every_variable_read_is_defined_by_the_buildspec_the_project_or_codebuild(
    name: str,
) -> None:
    spec = load(name)
    own = set(spec.get("env", {}).get("variables", {}))
    read = variables_read(spec) - own - CODEBUILD_BUILTINS
    read = {v for v in read if not v.startswith(SECONDARY_SOURCE)}
    for project, action in codebuild_actions(name):
        defined = _defined_by_pipeline(project, action)
        missing = sorted(read - defined)
        assert not missing, (
            f"{name} reads {missing}, which action {action['Name']} / its CodeBuild project does "
            f"not define (it defines {sorted(defined)})"
        )
        unused = sorted(defined - variables_read(spec) - own)
        assert not unused, f"the pipeline gives {name} {unused}, which it never reads"


@pytest.mark.parametrize("name", BUILDSPECS)
def test_secondary_source_directories_match_the_pipeline_artifacts(name: str) -> None:
    """CodeBuild sets CODEBUILD_SRC_DIR_<artifact name> (case and all) per secondary input."""
    read = {v for v in variables_read(load(name)) if v.startswith(SECONDARY_SOURCE)}
    for _, action in codebuild_actions(name):
        given = {SECONDARY_SOURCE + artifact for artifact in _secondary_inputs(action)}
        assert read == given, f"{name} reads {sorted(read)}, action {action['Name']} gives {given}"


def test_every_input_artifact_is_an_earlier_output_and_the_build_names_its_own() -> None:
    (pipeline,) = [
        r
        for r in rendered_pipeline()["Resources"].values()
        if r["Type"] == "AWS::CodePipeline::Pipeline"
    ]
    produced: set[str] = set()
    for stage in pipeline["Properties"]["Stages"]:
        outputs: set[str] = set()
        for action in stage["Actions"]:
            for artifact in action.get("InputArtifacts", []):
                assert artifact["Name"] in produced, f"{action['Name']}: no {artifact['Name']}"
            outputs |= {a["Name"] for a in action.get("OutputArtifacts", [])}
        produced |= outputs
    ((_, build),) = codebuild_actions("buildspec.yml")
    (output,) = build["OutputArtifacts"]
    assert load("buildspec.yml")["artifacts"]["name"] == output["Name"]


def test_variables_read_sees_reads_and_ignores_local_assignments() -> None:
    spec = {
        "phases": {
            "build": {
                "commands": [
                    'x="$(true)"; echo "${x} $FOO ${BAR%%/*} $(date)"',
                    "export BAZ=1",
                    'python -c \'import os; os.environ["BAZ"], os.environ.get("QUX")\'',
                ]
            }
        }
    }
    assert variables_read(spec) == {"FOO", "BAR", "QUX"}


# --- the shell CodeBuild runs the commands with -------------------------------------------------

# CodeBuild runs each phase command with /bin/sh unless the buildspec's `env: shell` names another
# (buildspec reference, "env/shell": bash or /bin/sh on Linux); on its Ubuntu standard images
# /bin/sh is dash, which has no `pipefail` and no arrays.
CODEBUILD_SHELLS = {"sh": "dash", "/bin/sh": "dash", "bash": "bash"}
# `set -e`, `set -euo pipefail`...: the option words up to the end of the statement.
_SET_OPTIONS = re.compile(r"^\s*set\s+([-+][^\n;&|]*)", re.MULTILINE)


def codebuild_shell(spec: dict[str, Any]) -> str:
    """The shell CodeBuild would run ``spec``'s commands with, as a program on this machine."""
    declared = str(spec.get("env", {}).get("shell", "sh"))
    assert declared in CODEBUILD_SHELLS, f"CodeBuild on Linux has no shell {declared!r}"
    return CODEBUILD_SHELLS[declared]


@pytest.mark.parametrize("name", BUILDSPECS)
def test_every_command_parses_and_sets_only_options_its_shell_has(name: str) -> None:
    """`set -euo pipefail` under CodeBuild's default sh (dash) is a fatal error."""
    spec = load(name)
    shell = shutil.which(codebuild_shell(spec))
    assert shell, f"{codebuild_shell(spec)} is not installed"
    for command in commands(spec):
        syntax = subprocess.run(
            [shell, "-n", "-c", command], capture_output=True, text=True, check=False
        )
        assert syntax.returncode == 0, f"{name}: {shell} cannot parse {command!r}: {syntax.stderr}"
        for options in _SET_OPTIONS.findall(command):
            run = subprocess.run(
                [shell, "-c", f"set {options}"], capture_output=True, text=True, check=False
            )
            assert run.returncode == 0, f"{name}: {shell}: set {options}: {run.stderr.strip()}"


def test_dash_is_what_refuses_pipefail() -> None:
    """The check above can fail: CodeBuild's default shell rejects the option bash accepts."""
    dash, bash = shutil.which("dash"), shutil.which("bash")
    assert dash
    assert bash
    strict = ["-c", "set -euo pipefail"]
    assert subprocess.run([dash, *strict], capture_output=True, check=False).returncode != 0
    assert subprocess.run([bash, *strict], capture_output=True, check=False).returncode == 0
