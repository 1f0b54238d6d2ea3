"""The project's command line (invoke): parse options, call delivery/, print progress and results.

Every task turns a DeliveryError into ``error: <one line>`` on stderr and exit status 1
(``invoke --debug <task>`` prints its traceback and causes first); nothing here decides
anything. Run ``invoke --list`` for the tasks and ``invoke --help <task>`` for options.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from delivery.errors import DeliveryError
from delivery.lifetime import Terminated

# Each task imports the delivery/ modules it uses in its own body: boto3, Sceptre and troposphere
# take about a second to import, and `invoke --list` or `--help` needs none of them.
if TYPE_CHECKING:
    pass

# DELIVERY_PROJECT_ROOT points the tasks at another checkout's config/ and templates/ (the tests'
# sample projects use it); by default, this repository.
ROOT = Path(os.environ.get("DELIVERY_PROJECT_ROOT") or Path(__file__).resolve().parent)
F = TypeVar("F", bound=Callable[..., Any])

ENV_HELP = "environment: a folder under config/ (local, dev, prod)"
ENGINE_HELP = (
    "container engine: docker, podman or buildah (default: $CONTAINER_ENGINE, else detected)"
)
THRESHOLD_HELP = "lowest severity that fails the scan: LOW, MEDIUM, HIGH or CRITICAL (default HIGH)"
KEEP_HELP = (
    "emulator envs: leave the emulator and the local service running (recorded in "
    ".local/emulator.json) for status/rollback/diff and the AWS CLI; `invoke stop --env local` "
    "stops them"
)
FORCE_GATE_HELP = (
    "SLO-gated envs (prod): deploy even while a burn-rate alarm is in ALARM; says so loudly "
    "(rollback is never gated)"
)
PRERELEASE_HELP = (
    "releases-only envs (prod): deploy a pre-release (X.Y.Z-...) anyway; says so loudly"
)


def one_line_errors(body: F) -> F:
    """Print a DeliveryError as ``error: <message>`` on stderr and exit 1, never a traceback."""

    @functools.wraps(body)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _delivery_lines_to_stdout()
        try:
            return body(*args, **kwargs)
        except DeliveryError as exc:
            _debug_trace(exc)
            raise Exit(f"error: {exc}", code=1) from None
        # SIGTERM, turned into this by the local session (delivery/lifetime.py): after the same
        # clean stop as Ctrl-C, the exit status of a command ended by SIGTERM.
        except Terminated:
            raise Exit("error: terminated (SIGTERM)", code=128 + signal.SIGTERM) from None
        except KeyboardInterrupt:
            raise Exit("error: interrupted", code=130) from None
        except Exception as exc:
            # A last line of defence: delivery/ reports its own AWS errors.
            if _is_botocore_error(exc):
                _debug_trace(exc)
                raise Exit(
                    f"error: AWS could not be reached: {' '.join(str(exc).split())}", 1
                ) from None
            raise

    return wrapper  # type: ignore[return-value]


def _debug_trace(exc: BaseException) -> None:
    """With ``invoke --debug``, the error's traceback and its causes on stderr before the line."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        traceback.print_exception(exc, file=sys.stderr)


def _is_botocore_error(exc: Exception) -> bool:
    """Whether botocore raised ``exc``; botocore is imported only if a task already did."""
    if "botocore" not in sys.modules:
        return False
    from botocore.exceptions import BotoCoreError
    from botocore.parsers import ResponseParserError

    # ResponseParserError (an endpoint answering HTML, e.g. an emulator's 500) is not a
    # BotoCoreError.
    return isinstance(exc, BotoCoreError | ResponseParserError)


def say(message: str) -> None:
    """Progress and results go to stdout, unbuffered (CodeBuild shows them live)."""
    print(message, flush=True)


class _StdoutLines(logging.Handler):
    """Each record as its bare message, through ``say`` (stdout looked up per line, flushed)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            say(self.format(record))
        except Exception:  # logging's contract: a handler reports its failure, never raises
            self.handleError(record)


def _delivery_lines_to_stdout() -> None:
    """delivery/'s progress (its loggers' INFO records) on stdout as bare lines; once a process.

    Not propagated: ``invoke --debug`` gives the root logger a handler of its own, which would
    print every line a second time in its format.
    """
    logger = logging.getLogger("delivery")
    if any(isinstance(handler, _StdoutLines) for handler in logger.handlers):
        return
    logger.addHandler(_StdoutLines(logging.INFO))
    logger.setLevel(logging.INFO)
    logger.propagate = False


@task(help={"next": "show what `release` would tag (and the increment) instead"})
@one_line_errors
def version(c: Context, next: bool = False) -> None:
    """Print the version of the current commit (X.Y.Z when tagged, else X.Y.Z-dev.g<sha>)."""
    from delivery import versioning

    if next:
        planned = versioning.bump(ROOT)
        say(f"{planned.next} ({planned.increment or 'no release-worthy commits'})")
    else:
        say(versioning.build_version(ROOT))


@task(help={"allow_major": "allow a major (breaking-change) version bump"})
@one_line_errors
def release(c: Context, allow_major: bool = False) -> None:
    """Tag vX.Y.Z from the Conventional Commits since the last tag and update CHANGELOG.md."""
    from delivery import versioning

    planned = versioning.release(ROOT, allow_major=allow_major)
    say(f"released v{planned.next} ({planned.increment}); push it with: git push --follow-tags")


@task(
    help={
        "engine": ENGINE_HELP,
        "cache_from": "image to reuse layers from, e.g. the registry's last build (repeatable)",
    },
    iterable=["cache_from"],
)
@one_line_errors
def build(c: Context, engine: str | None = None, cache_from: list[str] | None = None) -> None:
    """Build the service image from HEAD, tagged with its version and commit."""
    from delivery import deploy_plan, environments, images
    from delivery.engines.detect import detect_engine

    plan = deploy_plan.Plan(env=environments.build_only(ROOT), engine=detect_engine(engine))
    built = images.build(plan, cache_from=cache_from or ())
    say(built.ref)


@task(
    help={
        "image": "image to scan (default: the local image of the current commit)",
        "threshold": THRESHOLD_HELP,
        "include_unfixed": "also fail on findings that have no fixed version yet",
    }
)
@one_line_errors
def scan(
    c: Context,
    image: str | None = None,
    threshold: str = "HIGH",
    include_unfixed: bool = False,
) -> None:
    """Scan an image with Trivy; fails on findings at or above the threshold, or without Trivy."""
    from delivery import project, versioning
    from delivery import scan as scanner

    scanner.check(threshold)
    ref = image or f"{project.NAME}:{versioning.build_version(ROOT)}"
    result = scanner.scan(ref, threshold, ignore_unfixed=not include_unfixed)
    say(("WARNING: " if result.skipped else "") + result.message)


@task(help={"destination": "folder to put trivy in (default /usr/local/bin)"})
@one_line_errors
def install_scanner(c: Context, destination: str | None = None) -> None:
    """Install the pinned Trivy release, verified against its pin and its release checksums."""
    from delivery import scan as scanner
    from delivery import trivy

    if reason := scanner.skip_reason():
        say(f"WARNING: no scanner installed ({scanner.SKIP_VARIABLE}: {reason})")
        return
    installed = trivy.install(Path(destination) if destination else trivy.DEFAULT_DESTINATION)
    say(f"installed trivy {trivy.VERSION} at {installed}")


@task(
    help={
        "env": "environment whose task definition to run the image as (repeatable)",
        "engine": ENGINE_HELP,
    },
    iterable=["env"],
)
@one_line_errors
def smoke(c: Context, env: list[str] | None = None, engine: str | None = None) -> None:
    """Run the built image as each environment's Fargate task definition would, before a push.

    It must become ready, report its version, pass the task definition's health check and stop
    cleanly on SIGTERM: a broken image never reaches the registry.
    """
    from delivery import smoke as smoke_test
    from delivery.engines.detect import detect_engine

    if not env:
        raise DeliveryError("no environment given: pass --env (repeatable), e.g. --env dev")
    container_engine = detect_engine(engine)
    for result in smoke_test.smoke_all(env, container_engine, root=ROOT):
        for note in result.notes:
            say(f"smoke: {note}")
        say(
            f"smoke: {result.env}: ready in {result.ready_s:.1f} s, version {result.version}, "
            f"health check passed, stopped cleanly in {result.stop_s:.1f} s (exit 0)"
        )


@task(
    help={
        "env": ENV_HELP,
        "engine": ENGINE_HELP,
        "skip_scan": "push WITHOUT the vulnerability scan (prints a loud warning)",
        "threshold": THRESHOLD_HELP,
        "output": "also write the image reference (uri, digest, version) as JSON to this file",
    }
)
@one_line_errors
def push(  # noqa: PLR0917 - invoke maps each parameter to an option
    c: Context,
    env: str | None = None,
    engine: str | None = None,
    skip_scan: bool = False,
    threshold: str = "HIGH",
    output: str | None = None,
) -> None:
    """Build, scan and push the image to the environment's registry (no deploy)."""
    from delivery import deploy as delivery_deploy
    from delivery.local import session as local_session

    with local_session.attached(env, ROOT):
        plan = delivery_deploy.validate(
            env,
            skip_scan=skip_scan,
            threshold=threshold,
            engine=engine,
            root=ROOT,
            launch=False,
        )
        image = delivery_deploy.push(plan)
    if output:
        Path(output).write_text(json.dumps(image.reference(), indent=2) + "\n")
    say(f"pushed {image.image_uri} ({image.version})")


@task(
    help={
        "env": ENV_HELP,
        "image": "deploy this existing image instead of building: a version (1.2.3) or a digest",
        "skip_scan": "deploy WITHOUT the vulnerability scan (prints a loud warning)",
        "engine": ENGINE_HELP,
        "threshold": THRESHOLD_HELP,
        "timeout": "minutes to wait for ECS to run the new version (default 30)",
        "keep": KEEP_HELP,
        "emulator_port": "emulator envs: the emulator's port on 127.0.0.1 (default: a free one)",
        "serve": "emulator envs: run the service as a container, a gunicorn process, or auto",
        "ready_timeout": "emulator envs: seconds the local service has to become ready (30)",
        "allow_prerelease": PRERELEASE_HELP,
        "force": FORCE_GATE_HELP,
    }
)
@one_line_errors
def deploy(  # noqa: PLR0917 - invoke maps each parameter to an option
    c: Context,
    env: str | None = None,
    image: str | None = None,
    skip_scan: bool = False,
    engine: str | None = None,
    threshold: str = "HIGH",
    timeout: str | None = None,
    keep: bool = False,
    emulator_port: str | None = None,
    serve: str = "auto",
    ready_timeout: str | None = None,
    allow_prerelease: bool = False,
    force: bool = False,
) -> None:
    """Deploy to an environment: validate, build, scan, push, launch stacks, wait for ECS.

    On an emulator env (local) it also runs the emulator and, after the launch, the service on
    this machine; both stop at the end unless --keep.
    """
    from delivery import deploy_command, ecs
    from delivery.local import runner as local_runner

    emulated = deploy_command.Emulated(
        keep=keep,
        port=int(_number("emulator-port", emulator_port, 0, low=0, high=65535, whole=True)),
        serve=serve,
        ready_timeout_s=_number(
            "ready-timeout", ready_timeout, local_runner.READY_TIMEOUT_S, low=1
        ),
    )
    request = deploy_command.Request(
        env=env,
        image=image,
        skip_scan=skip_scan,
        threshold=threshold,
        engine=engine,
        timeout_s=_number("timeout", timeout, ecs.DEFAULT_TIMEOUT_S / 60, low=1) * 60,
        allow_prerelease=allow_prerelease,
        force=force,
        emulated=emulated,
        root=ROOT,
    )
    for line in deploy_command.run(request):
        say(line)


@task(
    help={
        "env": ENV_HELP,
        "image": "check a deploy of this existing image: a version (1.2.3) or a digest",
        "skip_scan": "check a deploy WITHOUT the vulnerability scan",
        "engine": ENGINE_HELP,
        "threshold": THRESHOLD_HELP,
        "allow_prerelease": PRERELEASE_HELP,
        "force": FORCE_GATE_HELP,
    }
)
@one_line_errors
def check(  # noqa: PLR0917 - invoke maps each parameter to an option
    c: Context,
    env: str | None = None,
    image: str | None = None,
    skip_scan: bool = False,
    engine: str | None = None,
    threshold: str = "HIGH",
    allow_prerelease: bool = False,
    force: bool = False,
) -> None:
    """A dry run of deploy: every check it makes before changing anything, and what it would do.

    AWS (or an emulator env's kept emulator) is only read: nothing is built, pushed or launched.
    """
    from delivery import deploy_command

    request = deploy_command.Request(
        env=env,
        image=image,
        skip_scan=skip_scan,
        threshold=threshold,
        engine=engine,
        allow_prerelease=allow_prerelease,
        force=force,
        root=ROOT,
    )
    for line in deploy_command.dry_run(request):
        say(line)


def _number(
    option: str,
    value: str | None,
    default: float,
    *,
    low: float,
    high: float = float("inf"),
    whole: bool = False,
) -> float:
    """``--<option>``'s number within [low, high], or ``default`` when not given.

    Numeric options reach the task as text: invoke's own conversion would raise a traceback.
    """
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not low <= number <= high or (whole and not number.is_integer()):
        kind = "a whole number" if whole else "a number"
        bounds = f"from {low:g} to {high:g}" if high != float("inf") else f"of at least {low:g}"
        raise DeliveryError(f"--{option} must be {kind} {bounds}, not {value!r}")
    return number


@task(help={"env": ENV_HELP, "image": "preview with this version/digest (default: the live one)"})
@one_line_errors
def diff(c: Context, env: str | None = None, image: str | None = None) -> None:
    """Preview what a deploy would change in the environment's stacks (change sets)."""
    from delivery import preview
    from delivery.local import session as local_session

    with local_session.attached(env, ROOT):
        changes = preview.diff(env, image, root=ROOT)
    for change in changes:
        say(str(change))


@task(help={"env": ENV_HELP})
@one_line_errors
def status(c: Context, env: str | None = None) -> None:
    """Show the environment's alarms, stacks, live version, ECS and error budget, for on-call."""
    from delivery import status as delivery_status
    from delivery.local import session as local_session

    with local_session.attached(env, ROOT) as session:
        lines = delivery_status.status(env, ROOT).lines()
        if session is not None:
            lines += local_session.status_lines(session)
    for line in lines:
        say(line)


@task(
    help={
        "env": ENV_HELP,
        "follow": "keep printing new lines as they come (Ctrl-C stops)",
        "since": "from how long ago (15m, 2h, 1d; units s m h d w) or an ISO 8601 time "
        "(default 15m)",
        "request_id": "only the JSON records of this request (its X-Request-ID)",
        "trace_id": "only the access lines of this trace (X-Ray's 1-...-... or W3C's 32 hex "
        "digits): from a trace back to its requests",
        "version": "only the JSON records the service's version V wrote",
        "level": "only JSON records at this level and above: DEBUG, INFO, WARNING, ERROR, CRITICAL",
        "json": "print each JSON record as it is, one per line (lines that are not JSON left out)",
    }
)
@one_line_errors
def logs(  # noqa: PLR0917 - invoke maps each parameter to an option
    c: Context,
    env: str | None = None,
    follow: bool = False,
    since: str | None = None,
    request_id: str | None = None,
    version: str | None = None,
    level: str | None = None,
    json: bool = False,
    trace_id: str | None = None,
) -> None:
    """Print the service's CloudWatch Logs: one readable line per JSON record (raw with --json).

    On an emulator env, the kept local service's output is shipped to its log stream first.
    """
    from delivery import logs as delivery_logs
    from delivery.local import session as local_session

    query = delivery_logs.query(
        since, request_id=request_id, version=version, level=level, trace_id=trace_id, raw=json
    )  # bad input fails before anything else
    with local_session.attached(env, ROOT) as session:
        refresh = session.ship_logs if session is not None else None
        for line in delivery_logs.lines(env, query, ROOT, following=follow, before_poll=refresh):
            say(line)


@task(
    help={
        "env": ENV_HELP,
        "to": "the earlier version to put back: its tag v<VERSION> here, its image in the registry",
        "allow_prerelease": PRERELEASE_HELP,
        "fast": "for incidents: no canary wait, bake only as long as the deployment alarms need "
        "(alarms and circuit breaker stay on; the stack records DeploymentPace=fast)",
    }
)
@one_line_errors
def rollback(
    c: Context,
    env: str | None = None,
    to: str | None = None,
    allow_prerelease: bool = False,
    fast: bool = False,
) -> None:
    """Restore an earlier release: its image, and its tag's templates and config.

    The release's own rollback runs in a temporary checkout of its tag (removed afterwards): what
    this checkout holds never goes out. On an emulator env, the kept local service is restarted
    on the rolled-back image.
    """
    from delivery import release_checkout, rollback_command

    if release_checkout.in_release_checkout():  # the release's own rollback, in its checkout
        lines = rollback_command.in_release(
            env, to, root=ROOT, fast=fast, allow_prerelease=allow_prerelease
        )
    else:
        restored = rollback_command.restore(
            env, to, root=ROOT, fast=fast, allow_prerelease=allow_prerelease
        )
        if isinstance(restored, int):  # the release's rollback said why on its own
            raise Exit(code=restored)
        lines = restored
    for line in lines:
        say(line)


@task(
    positional=["action", "name"],
    help={
        "action": "set: write a new value (read from stdin) and roll it out",
        "name": "the secret: one declared in config/<env>/service.yaml (its environment variable)",
        "env": ENV_HELP,
    },
)
@one_line_errors
def secret(c: Context, action: str, name: str, env: str | None = None) -> None:
    """`invoke secret set --env E NAME`: a secret's new value from stdin (never the command line;
    not echoed from a terminal), rolled out through the guarded blue/green deploy of the live
    version, its version pinned in the new task definition revision."""
    from delivery import secret_command
    from delivery.local import session as local_session

    secret_command.check(env, action, name, ROOT)  # bad input fails before stdin is read
    value = secret_command.read_value(sys.stdin, name)
    with local_session.attached(env, ROOT) as session:
        steps = session.steps() if session is not None else None
        rotation = secret_command.set_secret(env, name, value, root=ROOT, steps=steps)
        live = session.service if session is not None else None
    for line in rotation.lines():
        say(line)
    if live is not None:
        say(f"service: {live.url} version {live.version}")


def _command_words(c: Context) -> list[str]:
    """The words after the first standalone ``--`` of this command line, as typed.

    invoke hands a task that text as ``c.remainder`` joined with spaces, which loses the words'
    boundaries (``-- python -c "raise SystemExit(3)"`` would reach the task as five words), so
    they are read from the command line itself when it has them.
    """
    if "--" in sys.argv:
        return sys.argv[sys.argv.index("--") + 1 :]
    return c.remainder.split()


@task(
    help={
        "env": ENV_HELP,
        "timeout": "minutes the task may run before it is stopped (default 30)",
    }
)
@one_line_errors
def run(c: Context, env: str | None = None, timeout: str | None = None) -> None:
    """Run a one-off task from the service's live task definition: invoke run --env E -- CMD...

    Its output follows as it comes; the command exits with the container's exit code. On
    timeout or Ctrl-C the task is stopped. On an emulator env (local) this machine runs it.
    """
    from delivery import oneoff

    minutes = _number("timeout", timeout, oneoff.DEFAULT_TIMEOUT_MINUTES, low=0.1)
    code = oneoff.run_command(env, _command_words(c), root=ROOT, emit=say, timeout_s=minutes * 60)
    if code:
        raise Exit(code=code)


@task(name="exec", help={"env": ENV_HELP})
@one_line_errors
def exec_(c: Context, env: str | None = None) -> None:
    """A shell in a running task of the service (ECS Exec): invoke exec --env E [-- COMMAND...]

    Where the env's settings turn it on (exec.enabled); on AWS through the Session Manager
    plugin, on an emulator env (local) in the local service's container.
    """
    from delivery import exec_session

    code = exec_session.open_session(env, _command_words(c), root=ROOT)
    if code:
        raise Exit(code=code)


@task(
    help={
        "connection_arn": "also launch the pipeline, with this AVAILABLE GitHub connection "
        "(creating the pipeline starts its first run)",
    }
)
@one_line_errors
def bootstrap(c: Context, connection_arn: str | None = None) -> None:
    """Launch the account's shared stacks (registry, CloudFormation roles; pipeline) as an admin.

    Once per account and after any change to config/shared/; deploys only read these stacks.
    """
    from delivery import bootstrap as delivery_bootstrap
    from delivery import deploy_plan, stacks

    poll = stacks.EMULATOR_POLL_S if deploy_plan.loopback_endpoint() else None
    states = delivery_bootstrap.bootstrap(ROOT, connection_arn=connection_arn, poll=poll)
    for name, state in states.items():
        say(f"{name}: {state}")


@task(
    help={
        "env": "the emulator environment standing in for the account (local)",
        "approve": "approve the manual approvals (without it the rehearsal stops at the first)",
        "trigger": "tag: a release tag's run (v<next version> on this commit; the default), "
        "push: a push to the pipeline's branch (release-only stages are skipped)",
        "gate_passed": "the quality gate already passed for this commit: the Build stage is "
        "told so (QUALITY_GATE_PASSED) instead of running it again",
    }
)
@one_line_errors
def pipeline(
    c: Context,
    env: str | None = None,
    approve: bool = False,
    trigger: str = "tag",
    gate_passed: bool = False,
) -> None:
    """Rehearse the CodePipeline on the emulator: every stage from its own template, each
    CodeBuild action under its own role, as AWS would run them."""
    from delivery.rehearsal import report, runner

    options = runner.Options(
        root=ROOT, env=env or "", trigger=trigger, approve=approve, gate_passed=gate_passed
    )
    plan = runner.validate(options)
    say(
        f"rehearsing {plan.revision.short} ({report.trigger_line(plan.revision)}) in {plan.workdir}"
    )
    result = runner.rehearse(plan)
    for line in report.lines(result):
        say(line)
    if not result.succeeded:
        raise DeliveryError(report.failure_line(result))


@task(
    help={
        "reason": "why promotion stops, shown in the pipeline and by `invoke status` (required; "
        "letters, digits, spaces and !@().*?-, at most 300 characters)",
        "env": "the environment whose promotion stops (default prod)",
    }
)
@one_line_errors
def pipeline_pause(c: Context, reason: str | None = None, env: str = "prod") -> None:
    """Stop the pipeline promoting to an environment: close the transition into its deploy stage.

    Executions wait before the stage until `invoke pipeline-resume`.
    """
    from delivery import promotion

    say(promotion.pause(reason, env, ROOT))


@task(help={"env": "the environment whose promotion resumes (default prod)"})
@one_line_errors
def pipeline_resume(c: Context, env: str = "prod") -> None:
    """Let the pipeline promote to an environment again (a no-op line when it is not paused)."""
    from delivery import promotion

    say(promotion.resume(env, ROOT))


@task(help={"env": ENV_HELP, "force": "required to destroy a protected (prod-like) environment"})
@one_line_errors
def destroy(c: Context, env: str | None = None, force: bool = False) -> None:
    """Delete the environment's stacks (retained resources such as images stay)."""
    from delivery import destroy as delivery_destroy
    from delivery.local import session as local_session

    with local_session.attached(env, ROOT):
        states = delivery_destroy.destroy(env, force=force, root=ROOT)
    for name, state in states.items():
        say(f"{name}: {state}")


@task(help={"env": "emulator environment whose kept emulator and service to stop (local)"})
@one_line_errors
def stop(c: Context, env: str = "local") -> None:
    """Stop the emulator and the local service that `deploy --keep` left running."""
    from delivery import environments
    from delivery.local import session as local_session

    target = environments.load(env, ROOT)
    if not target.emulator:
        raise DeliveryError(f"'{env}' is not an emulator environment: nothing runs locally")
    if not local_session.stop(target):
        say(f"nothing to stop: no kept emulator recorded for '{env}'")


@task(help={"out": "output folder (default build/templates)"})
@one_line_errors
def render(c: Context, out: str = "build/templates") -> None:
    """Render every stack of every environment to <out>/<env>/<stack>.json."""
    from delivery import render as renderer
    from stacks.common.errors import SettingsError

    started = time.perf_counter()
    try:
        written = renderer.render(ROOT / out, config_dir=ROOT / "config")
    except SettingsError as exc:
        raise DeliveryError(str(exc)) from None
    say(f"rendered {len(written)} templates to {out} in {time.perf_counter() - started:.2f} s")


@task(help={"check": "only report stale generated docs (exit 1); write nothing"})
@one_line_errors
def docs(c: Context, check: bool = False) -> None:
    """Regenerate the generated docs: API.md, SETTINGS.md, the architecture diagram (.dot, .svg)."""
    from docgen import generate as generated

    if check:
        if stale := generated.stale(ROOT):
            raise DeliveryError(f"stale: {', '.join(stale)} (regenerate with: invoke docs)")
        say("generated docs are current")
        return
    try:
        written = generated.write_docs(ROOT)
    except RuntimeError as exc:  # graphviz missing or failing
        raise DeliveryError(str(exc)) from None
    for path in written:
        say(f"wrote {path.relative_to(ROOT)}")
