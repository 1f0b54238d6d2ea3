"""Run one CodeBuild build of a parsed buildspec on this machine, with CodeBuild's semantics.

One job: the build and its phases. The buildspec comes validated from
``delivery.rehearsal.buildspec``; the caller supplies what the CodeBuild project and the image would
(variables, the image's environment, the runtimes it offers, the timeout) and gets back what
CodeBuild would report: the build status, each phase's status and failure context in CodeBuild's
wording, the exported variables, the artifact and the report files. Everything the build prints
goes to ``log_path``, streamed; nothing is printed. The build's environment, its shell, runtime
selection and artifact and report files are ``build_environment``'s, ``build_shell``'s,
``build_runtimes``' and ``build_files``'.

The judges are AWS's documents, cited next to the code that follows them:

- the buildspec reference, https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html
  ("the reference", cited with the anchor of each key);
- build phase transitions,
  https://docs.aws.amazon.com/codebuild/latest/userguide/view-build-details-phases.html
- environment variables in build environments,
  https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html
- the API's build and phase statuses,
  https://docs.aws.amazon.com/codebuild/latest/APIReference/API_Build.html and
  https://docs.aws.amazon.com/codebuild/latest/APIReference/API_BuildPhase.html

Where they are silent the stricter behaviour is chosen, and the comment says so. Messages and log
lines the docs do not spell out are CodeBuild's own, as its build logs print them.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from delivery.errors import DeliveryError
from delivery.rehearsal import build_environment, build_files, build_runtimes, build_shell
from delivery.rehearsal.build_log import BuildLog
from delivery.rehearsal.buildspec import (
    PHASE_NAMES,
    Buildspec,
    OnFailure,
    Phase,
)

DOCS_TRANSITIONS = (
    "https://docs.aws.amazon.com/codebuild/latest/userguide/view-build-details-phases.html"
)

# CodeBuild's phaseType names (API_BuildPhase) for the phases this rehearsal runs, in order.
DOWNLOAD_SOURCE = "DOWNLOAD_SOURCE"
UPLOAD_ARTIFACTS = "UPLOAD_ARTIFACTS"
COMMAND_PHASES = {name: name.upper() for name in PHASE_NAMES}  # install -> INSTALL ...
PHASE_TYPES = (DOWNLOAD_SOURCE, *COMMAND_PHASES.values(), UPLOAD_ARTIFACTS)

# TIMED_OUT is the phase's and the build's status (API_BuildPhase, API_Build); this context wording
# is CodeBuild's as its console shows it: the docs do not spell it out.
TIMED_OUT_REASON = "BUILD_TIMED_OUT: Build has timed out."


class Status(StrEnum):
    """Build and phase statuses, as API_Build and API_BuildPhase name them, plus NOT_RUN.

    CodeBuild leaves a phase that never ran out of the build's phase list; the rehearsal lists
    every phase and marks those NOT_RUN, so a caller can see what was skipped.
    """

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    NOT_RUN = "NOT_RUN"


@dataclass(frozen=True)
class BuildRequest:
    """One build, as a CodePipeline CodeBuild action would start it.

    ``base_environment`` is the image's environment (PATH, HOME, LANG, AWS credentials...): the
    build sees only it, what CodeBuild sets, ``builtins`` and the merged variables, never this
    process's ``os.environ``. ``builtins`` are the CodeBuild variables only the caller knows
    (CODEBUILD_INITIATOR, AWS_REGION...); the rehearsal sets CODEBUILD_SRC_DIR(_<name>),
    CODEBUILD_BUILD_ID, CODEBUILD_BUILD_NUMBER (from ``build_number``), CODEBUILD_BUILD_SUCCEEDING
    and CODEBUILD_START_TIME. ``available_runtimes`` is what the image offers to
    ``runtime-versions`` (runtime -> versions).
    """

    project: str
    buildspec: Buildspec
    primary: Path
    output_dir: Path
    log_path: Path
    timeout_s: float
    base_environment: Mapping[str, str]
    secondaries: Mapping[str, Path] = field(default_factory=dict)
    project_variables: Mapping[str, str] = field(default_factory=dict)
    override_variables: Mapping[str, str] = field(default_factory=dict)
    builtins: Mapping[str, str] = field(default_factory=dict)
    available_runtimes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    build_number: int | None = None


@dataclass(frozen=True)
class PhaseResult:
    """One phase: CodeBuild's phaseType, its status, how long, and why it failed.

    ``reason`` is CodeBuild's phase context, ``<status code>: <message>``, e.g.
    ``COMMAND_EXECUTION_ERROR: Error while executing command: make. Reason: exit status 2``.
    """

    name: str
    status: Status
    seconds: float = 0.0
    failed_command: str | None = None
    exit_code: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class BuildResult:
    """What CodeBuild would report for the build; ``reason`` is one line, or None."""

    build_id: str
    status: Status
    phases: tuple[PhaseResult, ...]
    exported_variables: Mapping[str, str]
    artifact_dir: Path | None
    reports: tuple[build_files.ReportResult, ...]
    reason: str | None
    log_path: Path

    def phase(self, name: str) -> PhaseResult:
        """The result of phase ``name`` (``BUILD``, ``POST_BUILD``...)."""
        return next(result for result in self.phases if result.name == name)


def run(request: BuildRequest) -> BuildResult:
    """Run ``request``'s buildspec as CodeBuild would; DeliveryError if the request is unusable.

    A failing build is a result, not an exception: only a request the rehearsal cannot run (a
    reserved variable name, no shell on the image's PATH, an output directory already in use...)
    raises.
    """
    _check(request)
    program = build_shell.shell_program(request.buildspec.shell, request.base_environment)
    build_id = f"{request.project}:{uuid.uuid4()}"
    request.log_path.parent.mkdir(parents=True, exist_ok=True)
    request.log_path.write_bytes(b"")  # one log per build
    with (
        # Appending: the commands write into the same file, after the rehearsal's own lines.
        request.log_path.open("ab") as log_file,
        tempfile.TemporaryDirectory(prefix="codebuild-") as scratch,
    ):
        log = BuildLog(log_file)
        shell = build_shell.Shell(
            program=program,
            environment=build_environment.merge(
                image=request.base_environment,
                builtins=request.builtins,
                codebuild=build_environment.codebuild_variables(
                    build_id, request.primary, request.secondaries, request.build_number
                ),
                buildspec=request.buildspec.variables,
                project=request.project_variables,
                override=request.override_variables,
            ),
            cwd=request.primary.resolve(),
            scratch=Path(scratch),
            deadline=time.monotonic() + request.timeout_s,
            log=log,
        )
        try:
            return _Build(request, build_id, shell, log).run()
        finally:
            shell.kill_all(build_id)


# --- the request --------------------------------------------------------------------------------


def _check(request: BuildRequest) -> None:
    """Refuse, in one line, a request CodeBuild would not accept or the rehearsal cannot run."""
    if request.timeout_s <= 0:
        raise DeliveryError(f"timeout {request.timeout_s}s is not positive: give the timeout")
    if not request.primary.is_dir():
        raise DeliveryError(f"primary source {request.primary} is not a directory: check it")
    build_files.check_output_dir(request.output_dir)
    for name, directory in request.secondaries.items():
        build_environment.check_secondary(name, directory)
    build_environment.check_base_environment(request.base_environment)
    build_environment.check_builtins(request.builtins)
    for where, variables in (
        ("project", request.project_variables),
        ("override", request.override_variables),
    ):
        build_environment.check_variables(where, variables)


# --- the build ----------------------------------------------------------------------------------


class _Build:
    """The phases in CodeBuild's order, with its documented transitions after a failure."""

    def __init__(
        self, request: BuildRequest, build_id: str, shell: build_shell.Shell, log: BuildLog
    ) -> None:
        self.request = request
        self.spec = request.buildspec
        self.build_id = build_id
        self.shell = shell
        self.log = log
        self.results: list[PhaseResult] = []
        self.exported: dict[str, str] = {}
        self.reports: tuple[build_files.ReportResult, ...] = ()
        self.artifact_dir: Path | None = None

    def run(self) -> BuildResult:
        carry_on = self.record(self.download_source())
        for name in PHASE_NAMES:
            if not carry_on:
                self.record(PhaseResult(COMMAND_PHASES[name], Status.NOT_RUN))
                continue
            result = self.command_phase(name)
            self.record(result)
            carry_on = self.next_phase_runs(name, result)
        if carry_on:
            self.record(self.upload_artifacts())
        else:
            self.record(PhaseResult(UPLOAD_ARTIFACTS, Status.NOT_RUN))
        return self.result()

    def record(self, result: PhaseResult) -> bool:
        """Keep ``result``; True if it succeeded."""
        self.results.append(result)
        if result.status in {Status.FAILED, Status.TIMED_OUT}:
            self.shell.set(build_environment.SUCCEEDING, "0")
        return result.status is Status.SUCCEEDED

    def next_phase_runs(self, name: str, result: PhaseResult) -> bool:
        """Whether the phase after ``name`` runs, given how ``name`` ended.

        on-failure (#build-spec.phases.on-failure): ABORT "Abort the build", CONTINUE "Continue to
        the next phase"; without it "the failure process follows the transition phases"
        (DOCS_TRANSITIONS): a failed INSTALL or PRE_BUILD goes straight to FINALIZING ("if a
        command fails during the install phase, none of the commands in the pre_build, build, and
        post_build phases are run", #build-spec.phases); a failed BUILD goes on to POST_BUILD and
        a failed POST_BUILD to UPLOAD_ARTIFACTS ("The UPLOAD_ARTIFACTS phase is always attempted,
        even if the BUILD phase fails"). A timeout ends the build. ABORT skips UPLOAD_ARTIFACTS
        too: the reference is silent, aborting everything is the stricter reading.
        """
        if name == "post_build":
            self.exported = build_environment.exported(
                self.spec.exported_variables, self.shell.environment, self.log
            )
        if result.status is Status.SUCCEEDED:
            return True
        if result.status is Status.TIMED_OUT:
            return False
        phase = self.spec.phase(name)
        on_failure = phase.on_failure if phase else None
        if on_failure is not None:
            return on_failure is OnFailure.CONTINUE
        return name in {"build", "post_build"}

    def download_source(self) -> PhaseResult:
        """DOWNLOAD_SOURCE: where CodeBuild reads the buildspec and selects the runtimes.

        A runtime the image does not offer fails this phase, before INSTALL, with a
        YAML_FILE_ERROR: the troubleshooting guide's "the DOWNLOAD_SOURCE build phase fails with
        the error YAML_FILE_ERROR: This build image requires selecting at least one runtime
        version" (https://docs.aws.amazon.com/codebuild/latest/userguide/troubleshooting.html)
        and the two-runtimes sample's log, where "Selecting 'golang' runtime version '1.13' based
        on manual selections..." and the installs come before "Phase complete: DOWNLOAD_SOURCE"
        (https://docs.aws.amazon.com/codebuild/latest/userguide/sample-runtime-two-major-version-runtimes.html).
        """
        started = time.monotonic()
        self.log.line(f"Phase is {DOWNLOAD_SOURCE}")
        for name, value in sorted(self.shell.environment.items()):
            if name.startswith("CODEBUILD_SRC_DIR"):
                self.log.line(f"{name}={value}")
        self.log.line(f"YAML location is {self.spec.source}")
        self.log.line("Processing environment variables")
        install = self.spec.phase("install")
        failure = build_runtimes.select_runtimes(
            install.runtime_versions if install else {},
            self.request.available_runtimes,
            self.shell.environment,
            self.log,
        )
        if failure is None:
            self.log.line(f"Moving to directory {self.shell.cwd}")
            self.log.line(f"Phases found in YAML: {len(self.spec.phases)}")
            for phase in self.spec.phases:
                self.log.line(f" {COMMAND_PHASES[phase.name]}: {len(phase.commands)} commands")
        status = Status.SUCCEEDED if failure is None else Status.FAILED
        result = PhaseResult(DOWNLOAD_SOURCE, status, time.monotonic() - started, reason=failure)
        self.log.phase_complete(result.name, result.status, result.reason)
        return result

    def command_phase(self, name: str) -> PhaseResult:
        """One of install, pre_build, build, post_build; an undeclared one simply succeeds.

        "CodeBuild runs each command, one at a time, in the order listed"; after a failed command
        "CodeBuild skips the remaining [...] commands and runs any commands in the finally
        block"; "The phase is successful when all commands in the commands and the finally blocks
        run successfully. If any command in a phase fails, the phase fails"
        (#build-spec.phases.finally). A timeout stops the build there, finally included.
        """
        phase_type = COMMAND_PHASES[name]
        phase = self.spec.phase(name) or Phase(name)
        if self.shell.timed_out():
            return self.timed_out(phase_type)
        started = time.monotonic()
        self.log.line(f"Entering phase {phase_type}")
        failure = self.run_commands(phase.commands)
        if failure is None or not failure[1].timed_out:
            # The reference is silent on a failing finally command: the rest of the block is
            # skipped, as for commands (the stricter reading).
            late = self.run_commands(phase.finally_commands)
            failure = failure or late
        result = _phase_result(phase_type, failure, time.monotonic() - started)
        self.log.phase_complete(result.name, result.status, result.reason)
        return result

    def run_commands(self, commands: Sequence[str]) -> tuple[str, build_shell.Outcome] | None:
        """Run ``commands`` until one fails; that command and how it ended, or None."""
        for command in commands:
            outcome = self.shell.run(command)
            if not outcome.ok:
                if not outcome.timed_out:
                    self.log.line(f"Command did not exit successfully {command} {outcome.reason}")
                    # The build is failing from here on: a finally block already sees 0
                    # (build-env-ref-env-vars: "Set to 0 if the build is failing").
                    self.shell.set(build_environment.SUCCEEDING, "0")
                return command, outcome
        return None

    def timed_out(self, phase_type: str) -> PhaseResult:
        """The build's time ran out between commands, as ``phase_type`` was to start."""
        result = PhaseResult(phase_type, Status.TIMED_OUT, reason=TIMED_OUT_REASON)
        self.log.phase_complete(result.name, result.status, result.reason)
        return result

    def upload_artifacts(self) -> PhaseResult:
        """UPLOAD_ARTIFACTS: the report groups' files, then the artifact's into ``output_dir``."""
        if self.shell.timed_out():
            return self.timed_out(UPLOAD_ARTIFACTS)
        started = time.monotonic()
        self.log.line(f"Entering phase {UPLOAD_ARTIFACTS}")
        self.reports = tuple(
            build_files.collect_report(self.source_root(), group, report, self.log)
            for group, report in self.spec.reports.items()
        )
        failure = None
        if self.spec.artifacts is not None:
            output = self.request.output_dir
            failure = build_files.collect_artifacts(
                self.source_root(), self.spec.artifacts, output, self.log
            )
            if failure is None:
                self.artifact_dir = output
        status = Status.SUCCEEDED if failure is None else Status.FAILED
        result = PhaseResult(UPLOAD_ARTIFACTS, status, time.monotonic() - started, reason=failure)
        self.log.phase_complete(result.name, result.status, result.reason)
        return result

    def source_root(self) -> Path:
        # "relative to the original build location" (#build-spec.artifacts.files), whatever
        # directory the last command ended in.
        return self.request.primary.resolve()

    def result(self) -> BuildResult:
        statuses = [result.status for result in self.results]
        if Status.TIMED_OUT in statuses:
            status = Status.TIMED_OUT
        elif Status.FAILED in statuses:
            status = Status.FAILED
        else:
            status = Status.SUCCEEDED
        reason = next((r.reason for r in self.results if r.status is status), None)
        return BuildResult(
            build_id=self.build_id,
            status=status,
            phases=tuple(self.results),
            # A failed build exports nothing: the reference is silent, and CodePipeline runs no
            # later action of a failed one to read them (the stricter reading).
            exported_variables=MappingProxyType(
                dict(self.exported) if status is Status.SUCCEEDED else {}
            ),
            artifact_dir=self.artifact_dir,
            reports=self.reports or build_files.unreported(self.spec.reports),
            reason=reason,
            log_path=self.request.log_path,
        )


def _phase_result(
    phase_type: str, failure: tuple[str, build_shell.Outcome] | None, seconds: float
) -> PhaseResult:
    if failure is None:
        return PhaseResult(phase_type, Status.SUCCEEDED, seconds)
    command, outcome = failure
    # CodeBuild quotes the command as written; a multi-line one is folded onto one line here so
    # that the reason stays one line (failed_command keeps it exactly).
    quoted = " ".join(command.split())
    if outcome.timed_out:
        return PhaseResult(
            phase_type,
            Status.TIMED_OUT,
            seconds,
            failed_command=command,
            reason=TIMED_OUT_REASON,
        )
    return PhaseResult(
        phase_type,
        Status.FAILED,
        seconds,
        failed_command=command,
        exit_code=outcome.returncode,
        reason=(
            f"COMMAND_EXECUTION_ERROR: Error while executing command: {quoted}. "
            f"Reason: {outcome.reason}"
        ),
    )
