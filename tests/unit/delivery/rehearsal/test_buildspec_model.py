"""The buildspec model: the project's two buildspecs read as they declare, bad ones refused.

Every refusal is one line naming the file, the key and the fix; keys the rehearsal cannot honour
are refused as unsupported rather than ignored (build-spec-ref.html is the judge).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from delivery.errors import DeliveryError
from delivery.rehearsal.buildspec import Buildspec, OnFailure, load, parse

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="module")
def build_spec() -> Buildspec:
    return load(ROOT / "buildspec.yml")


@pytest.fixture(scope="module")
def deploy_spec() -> Buildspec:
    return load(ROOT / "buildspec-deploy.yml")


def test_the_build_buildspec_reads_as_it_declares(build_spec: Buildspec) -> None:
    assert build_spec.source == "buildspec.yml"
    assert build_spec.version == "0.2"
    assert build_spec.shell == "bash"
    assert build_spec.exported_variables == ("IMAGE_VERSION",)
    assert build_spec.variables["UV_VERSION"]
    assert [phase.name for phase in build_spec.phases] == [
        "install",
        "pre_build",
        "build",
        "post_build",
    ]
    install = build_spec.phase("install")
    build = build_spec.phase("build")
    assert install is not None
    assert build is not None
    assert dict(install.runtime_versions) == {"python": "3.11"}
    assert install.on_failure is None
    assert build.on_failure is OnFailure.ABORT  # no push after a failed gate
    assert build_spec.artifacts is not None
    assert build_spec.artifacts.files == ("image.json",)
    assert build_spec.artifacts.name == "Image"
    assert build_spec.artifacts.base_directory is None
    assert build_spec.artifacts.discard_paths is False
    assert build_spec.reports["tests"].files == ("build/reports/*.xml",)
    assert build_spec.reports["tests"].file_format == "JUNITXML"
    assert build_spec.reports["coverage"].file_format == "COBERTURAXML"
    assert "/root/.cache/uv/**/*" in build_spec.cache_paths


def test_the_deploy_buildspec_reads_as_it_declares(deploy_spec: Buildspec) -> None:
    assert deploy_spec.shell == "bash"
    assert deploy_spec.exported_variables == ()
    assert deploy_spec.artifacts is None
    assert dict(deploy_spec.reports) == {}
    assert [phase.name for phase in deploy_spec.phases] == ["install", "pre_build", "build"]
    assert deploy_spec.phase("post_build") is None
    pre_build = deploy_spec.phase("pre_build")
    assert pre_build is not None
    assert any("CODEBUILD_SRC_DIR_Image" in command for command in pre_build.commands)
    assert all(phase.on_failure is None for phase in deploy_spec.phases)


def test_phases_come_in_codebuilds_order_whatever_the_files_order() -> None:
    spec = parse(
        "version: 0.2\nphases:\n  post_build: {commands: [c]}\n  install: {commands: [a]}\n"
        "  build: {commands: [b]}\n",
        "buildspec.yml",
    )
    assert [phase.name for phase in spec.phases] == ["install", "build", "post_build"]


def test_the_defaults_are_codebuilds() -> None:
    spec = parse(
        "version: '0.2'\nphases: {build: {commands: [make]}}\n"
        "reports: {unit: {files: [out/*.xml], file-format: cucumberjson}}\n"
        "artifacts: {files: ['**/*'], discard-paths: yes, base-directory: dist}\n",
        "buildspec.yml",
    )
    assert spec.shell is None  # the platform default, sh
    assert spec.reports["unit"].file_format == "CUCUMBERJSON"  # "not case sensitive"
    assert spec.artifacts is not None
    assert spec.artifacts.discard_paths is True
    assert spec.artifacts.base_directory == "dist"


def test_numbers_are_text_as_yaml_reads_them() -> None:
    # An unquoted 3.10 is the float 3.1, under CodeBuild as here: quote versions.
    spec = parse(
        "version: 0.2\nenv: {variables: {N: 8, F: 0.5}}\n"
        "phases: {install: {runtime-versions: {python: 3.10, nodejs: 18}}}\n",
        "buildspec.yml",
    )
    assert dict(spec.variables) == {"N": "8", "F": "0.5"}
    install = spec.phase("install")
    assert install is not None
    assert dict(install.runtime_versions) == {"python": "3.1", "nodejs": "18"}


def _spec(body: str) -> str:
    return f"version: 0.2\n{body}"


BUILD = "phases:\n  build:\n    commands:\n      - make\n"

# (id, buildspec text, the exact one-line error)
CATALOGUE = [
    (
        "version 0.1",
        "version: 0.1\n" + BUILD,
        "buildspec.yml: version 0.1 runs every command in its own shell (no cd or export "
        "carries over) and the rehearsal runs only 0.2: set version: 0.2",
    ),
    (
        "version unknown",
        "version: 1.0\n" + BUILD,
        "buildspec.yml: version '1.0' is not a buildspec version: set 0.2",
    ),
    (
        "no version",
        BUILD,
        "buildspec.yml: version is missing: start the buildspec with version: 0.2",
    ),
    ("empty", "", "buildspec.yml: the buildspec is empty: start it with version 0.2"),
    (
        "not yaml",
        "version: 0.2\nphases: [\n",
        "buildspec.yml: not valid YAML at line 3, column 1 (expected the node content, but found "
        "'<stream end>'): fix the YAML (quote commands that contain ': ')",
    ),
    (
        "duplicate key",
        _spec("phases:\n  build:\n    commands: [a]\n    commands: [b]\n"),
        "buildspec.yml: key 'commands' is given twice (the second at line 5): keep one of them",
    ),
    (
        "on-failure STOP",
        _spec("phases:\n  build:\n    on-failure: STOP\n    commands: [make]\n"),
        "buildspec.yml: phases.build.on-failure 'STOP' is not one of ABORT, CONTINUE: use one of "
        "them, or remove it for the default phase transitions",
    ),
    (
        "on-failure RETRY",
        _spec("phases:\n  build:\n    on-failure: RETRY-3\n    commands: [make]\n"),
        "buildspec.yml: phases.build.on-failure is not supported by the pipeline rehearsal "
        "('RETRY-3' retries the build): remove it, or run this build on CodeBuild only",
    ),
    (
        "env.parameter-store",
        _spec("env:\n  parameter-store: {PASSWORD: /ci/password}\n" + BUILD),
        "buildspec.yml: env.parameter-store is not supported by the pipeline rehearsal (it "
        "cannot read Systems Manager Parameter Store): remove it, or run this build on "
        "CodeBuild only",
    ),
    (
        "env.secrets-manager",
        _spec("env:\n  secrets-manager: {TOKEN: 'ci:token'}\n" + BUILD),
        "buildspec.yml: env.secrets-manager is not supported by the pipeline rehearsal (it "
        "cannot read Secrets Manager): remove it, or run this build on CodeBuild only",
    ),
    (
        "env.git-credential-helper",
        _spec("env:\n  git-credential-helper: yes\n" + BUILD),
        "buildspec.yml: env.git-credential-helper is not supported by the pipeline rehearsal "
        "(it has no CodeBuild Git credential helper): remove it, or run this build on CodeBuild "
        "only",
    ),
    (
        "run-as",
        _spec("run-as: builder\n" + BUILD),
        "buildspec.yml: run-as is not supported by the pipeline rehearsal (it runs every command "
        "as the current user): remove it, or run this build on CodeBuild only",
    ),
    (
        "phase run-as",
        _spec("phases:\n  build:\n    run-as: builder\n    commands: [make]\n"),
        "buildspec.yml: phases.build.run-as is not supported by the pipeline rehearsal (it runs "
        "every command as the current user): remove it, or run this build on CodeBuild only",
    ),
    (
        "proxy",
        _spec("proxy: {logs: yes}\n" + BUILD),
        "buildspec.yml: proxy is not supported by the pipeline rehearsal (it runs no explicit "
        "proxy server): remove it, or run this build on CodeBuild only",
    ),
    (
        "batch",
        _spec("batch: {fast-fail: true}\n" + BUILD),
        "buildspec.yml: batch is not supported by the pipeline rehearsal (it runs single builds "
        "only, not batch builds): remove it, or run this build on CodeBuild only",
    ),
    (
        "secondary-artifacts",
        _spec(BUILD + "artifacts:\n  files: [a]\n  secondary-artifacts: {x: {files: [b]}}\n"),
        "buildspec.yml: artifacts.secondary-artifacts is not supported by the pipeline rehearsal "
        "(it produces only the primary artifact): remove it, or run this build on CodeBuild only",
    ),
    (
        "exported AWS_ variable",
        _spec("env:\n  exported-variables: [AWS_REGION]\n" + BUILD),
        "buildspec.yml: env.exported-variables[0] 'AWS_REGION' cannot be exported (CodeBuild "
        "refuses variables starting with AWS_): export a copy under another name",
    ),
    (
        "exported twice",
        _spec("env:\n  exported-variables: [A, A]\n" + BUILD),
        "buildspec.yml: env.exported-variables names a variable twice: list it once",
    ),
    (
        "reserved variable",
        _spec("env:\n  variables: {CODEBUILD_SRC_DIR: /x}\n" + BUILD),
        "buildspec.yml: env.variables.CODEBUILD_SRC_DIR uses the reserved prefix CODEBUILD_: "
        "rename the variable",
    ),
    (
        "boolean variable",
        _spec("env:\n  variables: {PUSH: yes}\n" + BUILD),
        "buildspec.yml: env.variables.PUSH is 'true' (a YAML boolean), not text: quote the value",
    ),
    (
        "shell zsh",
        _spec("env:\n  shell: zsh\n" + BUILD),
        "buildspec.yml: env.shell 'zsh' is not one of bash, /bin/sh (the Linux shells CodeBuild "
        "supports): use bash, /bin/sh, or remove it for the default sh",
    ),
    (
        "unknown top-level key",
        _spec("enviroment: {}\n" + BUILD),
        "buildspec.yml: enviroment is not a buildspec key: use one of artifacts, cache, env, "
        "phases, reports, version (https://docs.aws.amazon.com/codebuild/latest/userguide/"
        "build-spec-ref.html)",
    ),
    (
        "unknown phase",
        _spec("phases:\n  deploy: {commands: [x]}\n"),
        "buildspec.yml: phases.deploy is not a phase: use one of install, pre_build, build, "
        "post_build",
    ),
    ("no phases", "version: 0.2\n", "buildspec.yml: phases is missing: declare at least one phase"),
    (
        "phase without commands",
        _spec("phases:\n  build:\n    finally: [x]\n"),
        "buildspec.yml: phases.build.commands is missing: list the phase's commands",
    ),
    (
        "unquoted colon",
        _spec("phases:\n  build:\n    commands:\n      - echo a: b\n"),
        "buildspec.yml: phases.build.commands[0] is a mapping, not a string (an unquoted ': ' "
        "makes YAML read a key): quote the whole item",
    ),
    (
        "empty command",
        _spec("phases:\n  build:\n    commands:\n      -\n"),
        "buildspec.yml: phases.build.commands[0] is empty: give non-empty text",
    ),
    (
        "boolean command",
        _spec("phases:\n  build:\n    commands:\n      - true\n"),
        "buildspec.yml: phases.build.commands[0] is 'true' (a YAML boolean), not text: quote it",
    ),
    (
        "runtime-versions outside install",
        _spec("phases:\n  build:\n    runtime-versions: {python: '3.11'}\n    commands: [x]\n"),
        "buildspec.yml: phases.build.runtime-versions is install only: move it to install",
    ),
    (
        "empty runtime-versions",
        _spec("phases:\n  install:\n    runtime-versions: {}\n"),
        "buildspec.yml: phases.install.runtime-versions is a mapping: give at least one "
        "runtime: version",
    ),
    (
        "artifacts without files",
        _spec(BUILD + "artifacts:\n  name: Image\n"),
        "buildspec.yml: artifacts.files is missing: list the artifact's files",
    ),
    (
        "artifact outside the source",
        _spec(BUILD + "artifacts:\n  files: [../secret]\n"),
        "buildspec.yml: artifacts.files[0] '../secret' leaves the source directory: give a path "
        "relative to it",
    ),
    (
        "discard-paths maybe",
        _spec(BUILD + "artifacts:\n  files: [a]\n  discard-paths: maybe\n"),
        "buildspec.yml: artifacts.discard-paths 'maybe' is not yes or no: use yes or no",
    ),
    (
        "report format",
        _spec(BUILD + "reports:\n  unit:\n    files: [a.xml]\n    file-format: XUNIT\n"),
        "buildspec.yml: reports.unit.file-format 'XUNIT' is not one of CUCUMBERJSON, JUNITXML, "
        "NUNITXML, NUNIT3XML, TESTNGXML, VISUALSTUDIOTRX, CLOVERXML, COBERTURAXML, JACOCOXML, "
        "SIMPLECOV: use one of them",
    ),
    (
        "six report groups",
        _spec(
            BUILD
            + "reports:\n"
            + "".join(f"  g{index}: {{files: [a.xml]}}\n" for index in range(6))
        ),
        "buildspec.yml: reports declares 6 report groups; a project can have at most 5: merge "
        "report groups",
    ),
    (
        "cache key",
        _spec(BUILD + "cache:\n  paths: [a]\n  key: deps\n"),
        "buildspec.yml: cache.key is not a buildspec key: use one of paths "
        "(https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html)",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"),
    [pytest.param(text, message, id=name) for name, text, message in CATALOGUE],
)
def test_a_bad_buildspec_is_refused_in_one_line(text: str, message: str) -> None:
    with pytest.raises(DeliveryError) as info:
        parse(text, "buildspec.yml")
    assert str(info.value) == message
    assert "\n" not in str(info.value)


def test_load_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError, match=r"buildspec-x\.yml: cannot read the buildspec"):
        load(tmp_path / "buildspec-x.yml")


def test_load_names_the_file_in_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "buildspec-custom.yml"
    path.write_text("version: 0.1\n" + BUILD)
    with pytest.raises(DeliveryError, match=r"^buildspec-custom\.yml: version 0\.1 "):
        load(path)
