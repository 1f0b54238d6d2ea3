"""CodeBuild's execution semantics, with real shells: what would die under CodeBuild dies here.

Each test writes a small buildspec and runs it with an image environment whose PATH is the host's
/usr/bin:/bin (dash is /bin/sh there, as on CodeBuild's Ubuntu images). The expected behaviour is
the one AWS documents; codebuild.py cites the page next to each rule.
"""

from __future__ import annotations

import json
import re
import stat
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from delivery.errors import DeliveryError
from delivery.rehearsal.buildspec import Buildspec, load, parse
from delivery.rehearsal.codebuild import BuildRequest, BuildResult, Status, run

ROOT = Path(__file__).resolve().parents[4]
HOST_PATH = "/usr/bin:/bin"
PHASES = ["DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS"]


def base_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The image's environment: the host's system PATH, a HOME of the test's own."""
    return {"PATH": HOST_PATH, "HOME": str(tmp_path), "LANG": "C.UTF-8", **extra}


def request(tmp_path: Path, spec: Buildspec | str, **fields: Any) -> BuildRequest:
    if isinstance(spec, str):
        spec = parse(spec, "buildspec.yml")
    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    defaults: dict[str, Any] = {
        "project": "rehearsal-test",
        "buildspec": spec,
        "primary": source,
        "output_dir": tmp_path / "out",
        "log_path": tmp_path / "build.log",
        "timeout_s": 30.0,
        "base_environment": base_environment(tmp_path),
    }
    return BuildRequest(**{**defaults, **fields})


def build(tmp_path: Path, spec: Buildspec | str, **fields: Any) -> BuildResult:
    return run(request(tmp_path, spec, **fields))


def statuses(result: BuildResult) -> dict[str, Status]:
    return {phase.name: phase.status for phase in result.phases}


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


# --- state, shell ---------------------------------------------------------------------------------


def test_exported_variables_and_the_directory_carry_over_commands_and_phases(
    tmp_path: Path,
) -> None:
    result = build(
        tmp_path,
        """
version: 0.2
phases:
  install:
    commands:
      - export GREETING=hello
      - mkdir -p work && cd work
  pre_build:
    commands:
      - test "$GREETING" = hello
      - test "$(basename "$(pwd)")" = work
      - GREETING="$GREETING world"; export GREETING
  build:
    commands:
      - echo "$GREETING" > greeting.txt
""",
    )
    assert result.status is Status.SUCCEEDED, result.reason
    assert list(statuses(result)) == PHASES
    assert set(statuses(result).values()) == {Status.SUCCEEDED}
    assert read(tmp_path / "src" / "work" / "greeting.txt") == "hello world"


def test_unexported_variables_do_not_carry_over(tmp_path: Path) -> None:
    """The docs promise exported variables and the directory; nothing more is assumed."""
    result = build(
        tmp_path,
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        "      - LOCAL=1\n"
        '      - test -z "${LOCAL:-}"\n',
    )
    assert result.status is Status.SUCCEEDED, result.reason


PIPEFAIL = """
version: 0.2
{env}phases:
  install:
    commands:
      - |
        set -euo pipefail
        echo installed | cat
"""


def test_pipefail_under_the_default_sh_fails_the_install_phase(tmp_path: Path) -> None:
    """dash has no pipefail: the build dies in INSTALL, as on CodeBuild."""
    result = build(tmp_path, PIPEFAIL.format(env=""))
    assert result.status is Status.FAILED
    install = result.phase("INSTALL")
    assert install.status is Status.FAILED
    assert install.exit_code == 2
    assert install.failed_command == "set -euo pipefail\necho installed | cat\n"
    assert result.reason == (
        "COMMAND_EXECUTION_ERROR: Error while executing command: set -euo pipefail echo "
        "installed | cat. Reason: exit status 2"
    )
    # A failed INSTALL goes straight to FINALIZING (build phase transitions).
    assert [statuses(result)[name] for name in PHASES[2:]] == [Status.NOT_RUN] * 4
    log = read(tmp_path / "build.log")
    assert "Illegal option -o pipefail" in log
    assert "Phase complete: INSTALL State: FAILED" in log


def test_pipefail_under_env_shell_bash_passes(tmp_path: Path) -> None:
    result = build(tmp_path, PIPEFAIL.format(env="env:\n  shell: bash\n"))
    assert result.status is Status.SUCCEEDED, result.reason
    assert "installed" in read(tmp_path / "build.log")


# buildspec.yml's trivy install as it was when it died under CodeBuild's default sh (before
# `env: shell: bash`): dash stops at the first line, exit status 2, before any download.
HISTORIC_INSTALL = """
version: 0.2
env:
  variables:
    TRIVY_VERSION: "0.74.0"
    TRIVY_SHA256: "2ae6fe3ee734b7fdf11335663e18c75ea12dccc76062f09f164a3b0f8be4371a"
phases:
  install:
    commands:
      - |
        set -euo pipefail
        base="https://github.com/aquasecurity/trivy/releases/download/v${TRIVY_VERSION}"
        tarball="trivy_${TRIVY_VERSION}_Linux-64bit.tar.gz"
        curl -fsSL -o "/tmp/${tarball}" "${base}/${tarball}"
        curl -fsSL -o /tmp/trivy_checksums.txt "${base}/trivy_${TRIVY_VERSION}_checksums.txt"
        echo "${TRIVY_SHA256}  /tmp/${tarball}" | sha256sum -c -
        (cd /tmp && grep " ${tarball}\\$" trivy_checksums.txt | sha256sum -c -)
        tar -xzf "/tmp/${tarball}" -C /usr/local/bin trivy
        trivy --version
  build:
    commands:
      - uv run nox -s tests
"""


def test_the_historic_install_dies_here_as_it_died_under_codebuild(
    tmp_path: Path, stub_bin: Path
) -> None:
    result = build(
        tmp_path, HISTORIC_INSTALL, base_environment=stubbed_environment(tmp_path, stub_bin)
    )
    assert result.status is Status.FAILED
    assert result.phase("INSTALL").status is Status.FAILED
    assert result.phase("INSTALL").exit_code == 2
    assert result.reason is not None
    assert result.reason.startswith(
        "COMMAND_EXECUTION_ERROR: Error while executing command: set -euo pipefail base="
    )
    assert result.reason.endswith(". Reason: exit status 2")
    assert result.phase("BUILD").status is Status.NOT_RUN
    assert not (tmp_path / "calls.txt").exists()  # not one download, not one later command


def test_env_shell_bin_sh_is_the_images_sh(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        "version: 0.2\nenv:\n  shell: /bin/sh\nphases:\n  build:\n    commands:\n"
        "      - set -o pipefail\n",
    )
    assert result.phase("BUILD").status is Status.FAILED  # /bin/sh is dash on Debian and Ubuntu


def test_the_shell_is_found_on_the_images_path_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    spec = "version: 0.2\nenv:\n  shell: bash\nphases:\n  build:\n    commands: ['true']\n"
    with pytest.raises(DeliveryError, match=r"^the build image has no 'bash' on its PATH"):
        build(tmp_path, spec, base_environment={"PATH": str(empty)})


# --- phase transitions, on-failure, finally ------------------------------------------------------

FAILING_BUILD = """
version: 0.2
phases:
  build:
    {on_failure}
    commands:
      - echo "$CODEBUILD_BUILD_SUCCEEDING" > before.txt
      - exit 3
      - touch never.txt
    finally:
      - echo "$CODEBUILD_BUILD_SUCCEEDING" > finally.txt
  post_build:
    commands:
      - echo "$CODEBUILD_BUILD_SUCCEEDING" > after.txt
artifacts:
  files: [before.txt]
"""


def test_a_failed_build_phase_still_runs_post_build_and_the_artifacts(tmp_path: Path) -> None:
    result = build(tmp_path, FAILING_BUILD.format(on_failure=""))
    source = tmp_path / "src"
    assert result.status is Status.FAILED
    assert result.reason == (
        "COMMAND_EXECUTION_ERROR: Error while executing command: exit 3. Reason: exit status 3"
    )
    failed = result.phase("BUILD")
    assert (failed.status, failed.failed_command, failed.exit_code) == (Status.FAILED, "exit 3", 3)
    assert not (source / "never.txt").exists()  # the rest of `commands` is skipped
    assert statuses(result)["POST_BUILD"] is Status.SUCCEEDED
    # "The UPLOAD_ARTIFACTS phase is always attempted, even if the BUILD phase fails."
    assert statuses(result)["UPLOAD_ARTIFACTS"] is Status.SUCCEEDED
    assert (read(source / "before.txt"), read(source / "finally.txt")) == ("1", "0")
    assert read(source / "after.txt") == "0"


def test_on_failure_abort_ends_the_build_there(tmp_path: Path) -> None:
    result = build(tmp_path, FAILING_BUILD.format(on_failure="on-failure: ABORT"))
    assert result.status is Status.FAILED
    assert statuses(result)["BUILD"] is Status.FAILED
    assert statuses(result)["POST_BUILD"] is Status.NOT_RUN
    assert statuses(result)["UPLOAD_ARTIFACTS"] is Status.NOT_RUN
    assert (tmp_path / "src" / "finally.txt").exists()  # the phase's own finally still runs
    assert not (tmp_path / "src" / "after.txt").exists()
    assert result.artifact_dir is None


def test_a_failed_pre_build_skips_build_and_post_build(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        "version: 0.2\nphases:\n  pre_build: {commands: ['false']}\n"
        "  build: {commands: [touch built]}\n  post_build: {commands: [touch posted]}\n",
    )
    assert statuses(result) == {
        "DOWNLOAD_SOURCE": Status.SUCCEEDED,
        "INSTALL": Status.SUCCEEDED,
        "PRE_BUILD": Status.FAILED,
        "BUILD": Status.NOT_RUN,
        "POST_BUILD": Status.NOT_RUN,
        "UPLOAD_ARTIFACTS": Status.NOT_RUN,
    }
    assert not (tmp_path / "src" / "built").exists()


def test_on_failure_continue_goes_on_to_the_next_phase_and_the_build_still_fails(
    tmp_path: Path,
) -> None:
    result = build(
        tmp_path,
        "version: 0.2\nphases:\n  install:\n    on-failure: CONTINUE\n    commands: ['false']\n"
        "  pre_build: {commands: [touch pre_built]}\n",
    )
    assert statuses(result)["INSTALL"] is Status.FAILED
    assert statuses(result)["PRE_BUILD"] is Status.SUCCEEDED
    assert (tmp_path / "src" / "pre_built").exists()
    assert result.status is Status.FAILED


def test_a_failing_finally_command_fails_the_phase(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        "version: 0.2\nphases:\n  build:\n    commands: ['true']\n    finally: ['exit 4']\n",
    )
    assert result.phase("BUILD").status is Status.FAILED
    assert result.phase("BUILD").exit_code == 4
    assert result.phase("BUILD").failed_command == "exit 4"


# --- variables ----------------------------------------------------------------------------------


def test_variables_override_beats_project_beats_buildspec_beats_image(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        "version: 0.2\nenv:\n  variables: {A: spec, B: spec, C: spec, D: spec}\n"
        'phases:\n  build:\n    commands:\n      - echo "$A $B $C $D" > vars.txt\n',
        base_environment=base_environment(tmp_path, D="image", E="image"),
        project_variables={"B": "project", "C": "project"},
        override_variables={"C": "override"},
    )
    assert result.status is Status.SUCCEEDED, result.reason
    assert read(tmp_path / "src" / "vars.txt") == "spec project override spec"


def test_codebuilds_own_variables(tmp_path: Path) -> None:
    image = tmp_path / "image-artifact"
    image.mkdir()
    (image / "image.json").write_text('{"digest": "sha256:1"}')
    result = build(
        tmp_path,
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        '      - cat "$CODEBUILD_SRC_DIR_Image/image.json" > copied.json\n'
        "      - env > env.txt\n",
        secondaries={"Image": image},
        builtins={"CODEBUILD_INITIATOR": "codepipeline/p", "AWS_REGION": "eu-north-1"},
        build_number=7,
    )
    assert result.status is Status.SUCCEEDED, result.reason
    source = tmp_path / "src"
    seen = dict(line.split("=", 1) for line in read(source / "env.txt").splitlines())
    assert seen["CODEBUILD_SRC_DIR"] == str(source.resolve())
    assert seen["CODEBUILD_SRC_DIR_Image"] == str(image.resolve())  # the name spelled exactly
    assert json.loads(read(source / "copied.json")) == {"digest": "sha256:1"}
    assert seen["CODEBUILD_BUILD_ID"] == result.build_id
    assert re.fullmatch(r"rehearsal-test:[0-9a-f-]{36}", result.build_id)
    assert seen["CODEBUILD_BUILD_NUMBER"] == "7"
    assert seen["CODEBUILD_BUILD_SUCCEEDING"] == "1"
    assert abs(int(seen["CODEBUILD_START_TIME"]) - time.time() * 1000) < 60_000
    assert seen["CODEBUILD_INITIATOR"] == "codepipeline/p"
    assert seen["AWS_REGION"] == "eu-north-1"


def test_the_build_sees_only_the_images_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REHEARSAL_LEAK", "from this process")
    result = build(tmp_path, "version: 0.2\nphases:\n  build:\n    commands: [env > env.txt]\n")
    assert result.status is Status.SUCCEEDED, result.reason
    names = {line.split("=", 1)[0] for line in read(tmp_path / "src" / "env.txt").splitlines()}
    assert "REHEARSAL_LEAK" not in names
    codebuild = {
        "CODEBUILD_SRC_DIR",
        "CODEBUILD_BUILD_ID",
        "CODEBUILD_BUILD_SUCCEEDING",
        "CODEBUILD_START_TIME",
    }
    shell = {"PWD", "OLDPWD", "SHLVL", "_"}  # what a shell itself sets
    assert names <= set(base_environment(tmp_path)) | codebuild | shell


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "project_variables",
            {"CODEBUILD_X": "1"},
            r"^project variable CODEBUILD_X uses the reserved prefix CODEBUILD_",
        ),
        ("override_variables", {"NOT-A-NAME": "1"}, r"^override variable 'NOT-A-NAME' is not"),
        (
            "builtins",
            {"CODEBUILD_BUILD_ID": "x"},
            r"^builtin CODEBUILD_BUILD_ID is not a CodeBuild",
        ),
        ("secondaries", {"bad-name": Path("/")}, r"^secondary source 'bad-name' cannot name"),
        ("base_environment", {"HOME": "/root"}, r"^the image's environment has no PATH"),
    ],
)
def test_a_request_codebuild_would_not_take_is_refused_in_one_line(
    tmp_path: Path, field: str, value: Mapping[str, object], message: str
) -> None:
    with pytest.raises(DeliveryError, match=message):
        build(tmp_path, "version: 0.2\nphases: {build: {commands: ['true']}}\n", **{field: value})


# --- exported variables -------------------------------------------------------------------------

EXPORTING = """
version: 0.2
env:
  exported-variables: [IMAGE_VERSION, NEVER_SET]
phases:
  pre_build:
    commands:
      - export IMAGE_VERSION=1.0.0
  build:
    commands:
      - {build}
  post_build:
    commands:
      - export IMAGE_VERSION="$IMAGE_VERSION-final"
"""


def test_exported_variables_are_read_when_post_build_ends(tmp_path: Path) -> None:
    result = build(tmp_path, EXPORTING.format(build="echo built"))
    assert result.status is Status.SUCCEEDED, result.reason
    # NEVER_SET is left out, not exported empty.
    assert dict(result.exported_variables) == {"IMAGE_VERSION": "1.0.0-final"}
    assert "Exported variable NEVER_SET is not set" in read(tmp_path / "build.log")


def test_a_failed_build_exports_nothing(tmp_path: Path) -> None:
    result = build(tmp_path, EXPORTING.format(build="exit 1"))
    assert result.status is Status.FAILED
    assert statuses(result)["POST_BUILD"] is Status.SUCCEEDED
    assert dict(result.exported_variables) == {}


# --- artifacts and reports ----------------------------------------------------------------------


@pytest.fixture
def doc_tree(tmp_path: Path) -> Path:
    """The directory structure of the reference's artifacts/base-directory example."""
    source = tmp_path / "src"
    for name in ("my-build-1/my-file-1.txt", "my-build-2/my-file-2.txt"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(name)
    (source / "my-build-2/my-subdirectory").mkdir()
    (source / "my-build-2/my-subdirectory/my-file-3.txt").write_text("3")
    return source


def files_under(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


def test_artifacts_follow_base_directory_as_the_reference_shows(
    tmp_path: Path, doc_tree: Path
) -> None:
    result = build(
        tmp_path,
        "version: 0.2\nphases: {build: {commands: ['true']}}\n"
        "artifacts:\n  files: ['*/my-file-3.txt']\n  base-directory: my-build-2\n",
    )
    assert result.status is Status.SUCCEEDED, result.reason
    assert result.artifact_dir == tmp_path / "out"
    assert files_under(tmp_path / "out") == {"my-subdirectory/my-file-3.txt"}


def test_artifacts_with_a_base_directory_pattern_and_discard_paths(
    tmp_path: Path, doc_tree: Path
) -> None:
    result = build(
        tmp_path,
        "version: 0.2\nphases: {build: {commands: ['true']}}\n"
        "artifacts:\n  files: ['**/*']\n  base-directory: 'my-build*'\n  discard-paths: yes\n",
    )
    assert result.status is Status.SUCCEEDED, result.reason
    assert files_under(tmp_path / "out") == {"my-file-1.txt", "my-file-2.txt", "my-file-3.txt"}


def test_recursive_files_keep_their_paths(tmp_path: Path, doc_tree: Path) -> None:
    result = build(
        tmp_path,
        "version: 0.2\nphases: {build: {commands: ['true']}}\nartifacts:\n  files: ['**/*']\n",
    )
    assert result.status is Status.SUCCEEDED, result.reason
    assert files_under(tmp_path / "out") == files_under(doc_tree)


def test_an_artifact_path_matching_nothing_fails_the_build(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        "version: 0.2\nphases: {build: {commands: ['true']}}\nartifacts:\n  files: [image.json]\n",
    )
    assert result.status is Status.FAILED
    assert result.phase("UPLOAD_ARTIFACTS").status is Status.FAILED
    assert result.reason == "CLIENT_ERROR: no matching artifact paths found"
    assert result.artifact_dir is None
    assert "Skipping invalid file path image.json" in read(tmp_path / "build.log")


def test_one_artifact_path_matching_nothing_fails_too(tmp_path: Path, doc_tree: Path) -> None:
    result = build(
        tmp_path,
        "version: 0.2\nphases: {build: {commands: ['true']}}\n"
        "artifacts:\n  files: ['my-build-1/*', missing.txt]\n",
    )
    assert result.reason == "CLIENT_ERROR: no matching artifact paths found for missing.txt"


def test_a_missing_base_directory_fails_the_build(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        "version: 0.2\nphases: {build: {commands: ['true']}}\n"
        "artifacts:\n  files: ['**/*']\n  base-directory: dist\n",
    )
    assert result.reason == "CLIENT_ERROR: no matching base directory path found for dist"


def test_reports_collect_their_files_and_a_missing_one_is_incomplete(tmp_path: Path) -> None:
    result = build(
        tmp_path,
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        "      - mkdir -p reports && echo '<testsuite/>' > reports/unit.xml\n"
        "reports:\n  unit: {files: ['reports/*.xml']}\n"
        "  coverage: {files: [coverage.xml], file-format: COBERTURAXML}\n",
    )
    # An incorrect report path makes the report INCOMPLETE (test-report.html), not the build fail.
    assert result.status is Status.SUCCEEDED, result.reason
    unit, coverage = result.reports
    assert (unit.group, unit.file_format, unit.incomplete) == ("unit", "JUNITXML", False)
    assert unit.files == ((tmp_path / "src" / "reports" / "unit.xml").resolve(),)
    assert (coverage.group, coverage.incomplete, coverage.files) == ("coverage", True, ())


# --- runtimes -----------------------------------------------------------------------------------

RUNTIMES = {"python": ["3.11", "3.12"], "nodejs": ["18", "20"]}


@pytest.mark.parametrize(
    ("runtime_versions", "selected"),
    [
        ("python: '3.11'", "Selecting 'python' runtime version '3.11'"),
        ("python: 3.x", "Selecting 'python' runtime version '3.12'"),
        ("nodejs: latest", "Selecting 'nodejs' runtime version '20'"),
        ("python: $PYTHON_WANTED", "Selecting 'python' runtime version '3.11'"),
    ],
)
def test_an_offered_runtime_is_selected(
    tmp_path: Path, runtime_versions: str, selected: str
) -> None:
    result = build(
        tmp_path,
        "version: 0.2\nenv:\n  variables: {PYTHON_WANTED: '3.11'}\n"
        f"phases:\n  install:\n    runtime-versions:\n      {runtime_versions}\n",
        available_runtimes=RUNTIMES,
    )
    assert result.status is Status.SUCCEEDED, result.reason
    assert selected in read(tmp_path / "build.log")


@pytest.mark.parametrize(
    ("runtime_versions", "reason"),
    [
        (
            "python: '3.10'",
            "YAML_FILE_ERROR: Unknown runtime version named '3.10' of python. This build image "
            "has the following versions: 3.11, 3.12",
        ),
        (
            "python: 3.10",  # unquoted: YAML reads 3.1
            "YAML_FILE_ERROR: Unknown runtime version named '3.1' of python. This build image "
            "has the following versions: 3.11, 3.12",
        ),
        (
            "docker: 20",
            "YAML_FILE_ERROR: Unknown runtime named 'docker'. This build image has the following "
            "runtimes: nodejs, python",
        ),
    ],
)
def test_a_runtime_the_image_does_not_offer_fails_before_install(
    tmp_path: Path, runtime_versions: str, reason: str
) -> None:
    """CodeBuild selects runtimes in DOWNLOAD_SOURCE (its troubleshooting guide and samples):
    the YAML_FILE_ERROR fails that phase, and INSTALL and every later phase never run."""
    result = build(
        tmp_path,
        "version: 0.2\nphases:\n  install:\n    runtime-versions:\n"
        f"      {runtime_versions}\n    commands: [touch installed]\n",
        available_runtimes=RUNTIMES,
    )
    assert result.status is Status.FAILED
    assert result.reason == reason
    assert result.phase("DOWNLOAD_SOURCE").status is Status.FAILED
    assert [statuses(result)[name] for name in PHASES[1:]] == [Status.NOT_RUN] * 5
    assert not (tmp_path / "src" / "installed").exists()


# --- timeout and processes ----------------------------------------------------------------------


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (zombies have an empty environ)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if marker.encode() in environ.split(b"\0"):
                found.append(int(entry.name))
    return found


def test_the_timeout_kills_the_build_and_every_process_it_started(tmp_path: Path) -> None:
    """The commands would run 120 s: a build that ends long before that was cut short, by any
    measure of a busy machine (the kill comes at 1 s)."""
    marker = f"REHEARSAL_MARKER={uuid.uuid4()}"
    name, value = marker.split("=")
    started = time.monotonic()
    result = build(
        tmp_path,
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        "      - (sleep 120 &) ; sleep 120\n"
        "  post_build: {commands: [touch posted]}\n",
        timeout_s=1.0,
        base_environment=base_environment(tmp_path, **{name: value}),
    )
    elapsed = time.monotonic() - started
    assert result.status is Status.TIMED_OUT
    assert result.phase("BUILD").status is Status.TIMED_OUT
    assert result.reason == "BUILD_TIMED_OUT: Build has timed out."
    assert statuses(result)["POST_BUILD"] is Status.NOT_RUN
    assert not (tmp_path / "src" / "posted").exists()
    assert elapsed < 30, f"the build took {elapsed:.1f}s to stop"
    assert processes_with(marker) == []


def test_background_processes_live_until_the_build_ends(tmp_path: Path) -> None:
    marker = f"REHEARSAL_MARKER={uuid.uuid4()}"
    name, value = marker.split("=")
    result = build(
        tmp_path,
        "version: 0.2\nphases:\n  install:\n    commands:\n"
        "      - nohup sleep 30 > /dev/null 2>&1 & echo $! > pidfile\n"
        "      - setsid sleep 30 > /dev/null 2>&1 &\n"
        "  build:\n    commands:\n"
        '      - kill -0 "$(cat pidfile)"\n',  # still running in a later phase
        base_environment=base_environment(tmp_path, **{name: value}),
    )
    assert result.status is Status.SUCCEEDED, result.reason
    assert processes_with(marker) == []  # not even the one that left its process group


# --- the log ------------------------------------------------------------------------------------


def test_the_log_echoes_each_command_and_its_output_and_nothing_is_printed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    result = build(
        tmp_path,
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        "      - echo to-stdout\n      - echo to-stderr >&2\n      - seq 1 20000\n",
    )
    assert result.status is Status.SUCCEEDED, result.reason
    log = read(tmp_path / "build.log")
    lines = log.splitlines()
    assert re.fullmatch(
        r"\[Container\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} Running command echo to-stdout",
        lines[lines.index("to-stdout") - 1],
    )
    assert "to-stderr" in lines
    assert "20000" in lines
    assert "Entering phase BUILD" in log
    assert "Phase complete: BUILD State: SUCCEEDED" in log
    assert capfd.readouterr() == ("", "")


def test_a_fresh_artifact_directory_is_required(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stale.json").write_text("{}")
    with pytest.raises(DeliveryError, match=r"artifact directory .* is not empty"):
        build(tmp_path, "version: 0.2\nphases: {build: {commands: ['true']}}\n")


# --- the project's own buildspecs, with stand-ins for the tools they call -----------------------


def stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def stub_bin(tmp_path: Path) -> Path:
    """Stand-ins that record their arguments: the buildspecs run without network or AWS."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = 'echo "$(basename "$0") $*" >> "$STUB_CALLS"'
    stub(
        bin_dir,
        "python",
        f'case "$1" in -m) {record} ;; *) exec {sys.executable} "$@" ;; esac',
    )
    stub(
        bin_dir,
        "uv",
        f"""{record}
case "$*" in
  "run invoke version") echo 1.2.3 ;;
  "run invoke push"*) echo '{{"digest": "sha256:built"}}' > image.json ;;
  "run nox"*) mkdir -p build/reports && echo '<testsuite/>' > build/reports/junit.xml &&
    echo '<coverage/>' > build/reports/coverage.xml ;;
esac""",
    )
    for name in ("aws", "docker", "curl", "trivy", "tar", "sha256sum"):
        stub(bin_dir, name, f"{record}; cat > /dev/null")
    return bin_dir


def stubbed_environment(tmp_path: Path, bin_dir: Path) -> dict[str, str]:
    return base_environment(
        tmp_path, PATH=f"{bin_dir}:{HOST_PATH}", STUB_CALLS=str(tmp_path / "calls.txt")
    )


def test_the_build_buildspec_runs_end_to_end(tmp_path: Path, stub_bin: Path) -> None:
    result = build(
        tmp_path,
        load(ROOT / "buildspec.yml"),
        base_environment=stubbed_environment(tmp_path, stub_bin),
        available_runtimes={"python": ["3.11", "3.12"]},
    )
    assert result.status is Status.SUCCEEDED, result.reason
    assert dict(result.exported_variables) == {"IMAGE_VERSION": "1.2.3"}
    assert files_under(tmp_path / "out") == {"image.json"}
    assert [report.incomplete for report in result.reports] == [False, False]
    push = read(tmp_path / "calls.txt").splitlines()[-1]
    assert push.startswith("uv run invoke push --env dev ")
    assert push.endswith(" --output image.json")


def test_the_deploy_buildspec_runs_end_to_end(tmp_path: Path, stub_bin: Path) -> None:
    image = tmp_path / "Image"
    image.mkdir()
    (image / "image.json").write_text('{"digest": "sha256:built"}')
    result = build(
        tmp_path,
        load(ROOT / "buildspec-deploy.yml"),
        base_environment=stubbed_environment(tmp_path, stub_bin),
        secondaries={"Image": image},
        override_variables={"DEPLOY_ENV": "dev"},
        available_runtimes={"python": ["3.11"]},
    )
    assert result.status is Status.SUCCEEDED, result.reason
    assert read(tmp_path / "calls.txt").splitlines()[-2:] == [
        "uv run invoke deploy --env dev --image sha256:built",
        "uv run invoke status --env dev",
    ]


def test_the_deploy_buildspec_fails_without_its_image_artifact(
    tmp_path: Path, stub_bin: Path
) -> None:
    result = build(
        tmp_path,
        load(ROOT / "buildspec-deploy.yml"),
        base_environment=stubbed_environment(tmp_path, stub_bin),
        override_variables={"DEPLOY_ENV": "dev"},
        available_runtimes={"python": ["3.11"]},
    )
    assert result.phase("PRE_BUILD").status is Status.FAILED
    assert result.phase("BUILD").status is Status.NOT_RUN
    assert "no Image input artifact (CODEBUILD_SRC_DIR_Image)" in read(tmp_path / "build.log")
    assert not any("deploy" in call for call in read(tmp_path / "calls.txt").splitlines())
