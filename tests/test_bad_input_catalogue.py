"""The catalogue of bad input: every mistake the project promises to answer with one clear line.

One table, four kinds of input, each case run through the real command a person would type:

- ``env``: the service's environment variables, through the production gunicorn command
  (``gunicorn --config python:app.gunicorn_conf app.wsgi:app``) and ``python -m app``;
- ``settings``: a stack setting, in a temporary copy of ``config/`` with one line changed,
  rendered by ``python -m delivery.render --config <copy>``;
- ``task``: options of the invoke tasks (``python -m invoke ...``), against a sample project
  (``DELIVERY_PROJECT_ROOT``) and the moto emulator of the test session;
- ``emulator``: the local environment's emulator failing (port taken, moto not starting, an
  ``AWS_ENDPOINT_URL`` that is not usable, nothing running).

Every case must: exit non-zero, print exactly ONE non-empty line on stderr, matching the expected
message, with no "Traceback" anywhere in its output. Cases that could reach AWS run with the
emulator's environment (dummy credentials, ``AWS_ENDPOINT_URL`` on 127.0.0.1), and afterwards the
emulator must still hold no stack and no repository: the bad input was refused before anything
was created.

The commands run in parallel (a thread pool) once per module; each case is then its own test.
Placeholders in argv and env: ``{python}``, ``{project}`` (the sample project), ``{config}`` /
``{out}`` (the settings copy and render output), ``{taken_port}`` (a port something listens on),
``{shadow}`` (a folder whose fake ``moto`` package exits at once), ``{dead_endpoint}`` (a
127.0.0.1 URL nothing answers on).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import boto3
import pytest

from delivery.emulator import Emulator
from tests.support.gunicorn import GUNICORN, HOST, service_env
from tests.support.paths import ROOT
from tests.support.project import make_project

pytestmark = [pytest.mark.emulator, pytest.mark.slow]

PYTHON = sys.executable
GUNICORN_ARGV = (*GUNICORN, "--bind", f"{HOST}:0", "app.wsgi:app")
RENDER_ARGV = (PYTHON, "-m", "delivery.render", "--config", "{config}", "--out", "{out}")
INVOKE = (PYTHON, "-m", "invoke")
# Bad input is refused at once: a case still running after CASE_LIMIT_S is waiting on
# something (a retry, a connection) instead of answering, and TIMEOUT_S kills a hung one. Both
# bound each case on its own, with room for four cases at a time on two busy cores; the
# catalogue's total time depends on the machine's load and is only reported.
CASE_LIMIT_S = 60
TIMEOUT_S = 120
NO_CREDENTIALS: dict[str, str | None] = {
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_ENDPOINT_URL": None,
    "AWS_EC2_METADATA_DISABLED": "true",
}
# A local deploy that starts its own emulator: no ambient one (the session emulator's variables
# are what every AWS case starts from).
OWN_EMULATOR: dict[str, str | None] = {"AWS_ENDPOINT_URL": None}


@dataclass(frozen=True)
class Case:
    """One bad input: the command, what is changed, the one line it must answer with."""

    id: str
    kind: str  # env | settings | task | emulator
    argv: tuple[str, ...]
    message: str  # regex the single stderr line must match (re.search)
    env: Mapping[str, str | None] = field(default_factory=dict)  # None removes a variable
    # settings: (file under config/, the exact text to replace, its replacement)
    edit: tuple[str, str, str] | None = None
    aws: bool = False  # could reach AWS: run on the emulator, check it holds nothing after
    stdin: str | None = None  # what the command reads on stdin (None: inherited)


def env_case(name: str, value: str, accepted: str) -> Case:
    """A bad service variable, through the production gunicorn command."""
    return Case(
        id=f"env {name}={value[:12]!r}",
        kind="env",
        argv=GUNICORN_ARGV,
        env={name: value},
        message=(
            rf"^invalid configuration: {name}={re.escape(repr(value))}; "
            rf"accepted: {re.escape(accepted)}$"
        ),
    )


def settings_case(case_id: str, file: str, old: str, new: str, message: str) -> Case:
    """A bad stack setting: one line of a copy of config/ changed, rendered offline."""
    return Case(
        id=f"settings {case_id}",
        kind="settings",
        argv=(*RENDER_ARGV, "--env", file.split("/", maxsplit=1)[0]),
        edit=(file, old, new),
        message=rf"^error: {re.escape(file)}: {message}",
    )


def task_case(
    case_id: str,
    *argv: str,
    message: str,
    env: Mapping[str, str | None] | None = None,
    stdin: str | None = None,
) -> Case:
    """A bad task option, through ``python -m invoke`` on the sample project and the emulator."""
    return replace(_invoke_case("task", case_id, argv, message, env), stdin=stdin)


def emulator_case(
    case_id: str, *argv: str, message: str, env: Mapping[str, str | None] | None = None
) -> Case:
    """An emulator failure of a local-environment command."""
    return _invoke_case("emulator", case_id, argv, message, env)


def _invoke_case(
    kind: str,
    case_id: str,
    argv: tuple[str, ...],
    message: str,
    env: Mapping[str, str | None] | None,
) -> Case:
    return Case(
        id=f"{kind} {case_id}",
        kind=kind,
        argv=(*INVOKE, *argv),
        env=env or {},
        message=rf"^error: {message}",
        aws=True,
    )


INTEGER_1_65535 = "an integer from 1 to 65535"
SECONDS_0_600 = "a number of seconds from 0 to 600"
TRACING_ON = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}

CATALOGUE: list[Case] = [
    # --- the service's environment (docs/ARCHITECTURE.md) ---------------------------------------
    env_case("PORT", "eighty", INTEGER_1_65535),
    env_case("PORT", "0", INTEGER_1_65535),
    env_case("PORT", "99999", INTEGER_1_65535),
    env_case("LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    env_case("WEB_CONCURRENCY", "0", "an integer from 1 to 64"),
    env_case("WEB_CONCURRENCY", "65", "an integer from 1 to 64"),
    env_case("THREADS", "-1", "an integer from 1 to 256"),
    env_case("THREADS", "4.5", "an integer from 1 to 256"),
    env_case("DRAIN_SECONDS", "-3", SECONDS_0_600),
    env_case("DRAIN_SECONDS", "nan", SECONDS_0_600),
    env_case("DRAIN_SECONDS", "inf", SECONDS_0_600),
    env_case("GRACEFUL_TIMEOUT_SECONDS", "0", "an integer from 1 to 600"),
    env_case("KEEPALIVE_SECONDS", "forever", "an integer from 1 to 3600"),
    env_case("MAX_REQUEST_BYTES", "0", "an integer from 1 to 1073741824"),
    env_case("MAX_REQUEST_BYTES", "1GB", "an integer from 1 to 1073741824"),
    env_case("GREETING", "", "1 to 200 printable characters"),
    env_case("GREETING", "two\nlines", "1 to 200 printable characters"),
    env_case("APP_VERSION", "v" * 100, "1 to 64 printable characters"),
    env_case("GIT_SHA", "abc\x1b[2J", "1 to 64 printable characters"),
    # Tracing (OpenTelemetry's standard variables): refused before any worker starts.
    env_case(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "localhost:4318",
        "an http:// or https:// URL with a host and no query, e.g. http://localhost:4318",
    ),
    env_case("OTEL_SDK_DISABLED", "yes", "true, false"),
    # These two only count with tracing on (the endpoint set).
    replace(
        env_case("OTEL_TRACES_SAMPLER_ARG", "5%", "a number from 0 to 1"),
        env={**TRACING_ON, "OTEL_TRACES_SAMPLER_ARG": "5%"},
    ),
    replace(
        env_case("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "http/protobuf"),
        env={**TRACING_ON, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
    ),
    Case(
        id="env python -m app THREADS='many'",
        kind="env",
        argv=(PYTHON, "-m", "app"),
        env={"THREADS": "many"},
        message=r"^invalid configuration: THREADS='many'; accepted: an integer from 1 to 256$",
    ),
    # --- stack settings (config/<env>/*.yaml, validated by the stacks' settings models) --------
    settings_case(
        "domain without its hosted zone",
        "prod/service.yaml",
        "  # domain:\n  #   name: api.example.com\n",
        "  domain:\n    name: api.example.com\n",
        r"service: domain\.hosted_zone_id is required$",
    ),
    settings_case(
        "budget alert address not an address",
        "dev/budget.yaml",
        "alert_email: platform-alerts@example.com",
        "alert_email: platform-alerts",
        r"budget: alert_email='platform-alerts': String should match pattern",
    ),
    settings_case(
        "invalid Fargate cpu/memory pair",
        "prod/service.yaml",
        "memory: 1024",
        "memory: 512",
        r"service: cpu=512 memory=512 is not a valid Fargate pair; valid memory for 512 CPU: "
        r"1024, 2048, 3072, 4096$",
    ),
    settings_case(
        "bake time shorter than the alarm window",
        "dev/service.yaml",
        "bake_time_minutes: 5",
        "bake_time_minutes: 1",
        r"service: deployment\.bake_time_minutes=1: must be at least 5 \(the deployment alarms'",
    ),
    settings_case(
        "unknown key (typo)",
        "dev/service.yaml",
        "log_retention_days: 30",
        "log_retention_days: 30\n  log_retension_days: 30",
        r"service: unknown key 'log_retension_days' \(accepted: .*, log_retention_days, ",
    ),
    settings_case(
        "log level not a level",
        "dev/service.yaml",
        "log_level: DEBUG",
        "log_level: VERBOSE",
        r"service: log_level='VERBOSE': Input should be 'DEBUG', 'INFO', 'WARNING', 'ERROR' or "
        r"'CRITICAL'$",
    ),
    settings_case(
        "scaling max below its minimum",
        "local/service.yaml",
        "    max_count: 2",
        "    max_count: 0",
        r"service: scaling\.max_count=0: Input should be greater than or equal to 1$",
    ),
    settings_case(
        "public VPC range",
        "dev/network.yaml",
        "vpc_cidr: 10.20.0.0/16",
        "vpc_cidr: 8.8.0.0/16",
        r"network: vpc_cidr='8\.8\.0\.0/16': must be a private \(RFC 1918\) range",
    ),
    settings_case(
        "resolver in user data",
        "dev/service.yaml",
        "greeting: Hello from dev!",
        "greeting: !stack_output dev/network.yaml::VpcId",
        r"sceptre_user_data must be plain values, found !stack_output",
    ),
    Case(
        id="settings unknown environment",
        kind="settings",
        argv=(*RENDER_ARGV, "--env", "qa"),
        edit=None,
        message=r"^error: unknown environment qa \(accepted: dev, local, prod, shared\)$",
    ),
    # --- task options (tasks.py; the message comes from delivery/) ----------------------------
    task_case("unknown env", "deploy", "--env", "qa", message="unknown environment 'qa'"),
    task_case("no env", "status", message="no environment given: pass --env"),
    # Numeric options are parsed by tasks.py: invoke's own conversion raised a traceback.
    task_case(
        "timeout not a number",
        *("deploy", "--env", "local", "--timeout", "soon"),
        message=r"--timeout must be a number of at least 1, not 'soon'$",
    ),
    task_case(
        "port out of range",
        *("deploy", "--env", "local", "--emulator-port", "70000"),
        message=r"--emulator-port must be a whole number from 0 to 65535, not '70000'$",
    ),
    task_case(
        "ready timeout zero",
        *("deploy", "--env", "local", "--ready-timeout", "0"),
        message=r"--ready-timeout must be a number of at least 1, not '0'$",
    ),
    task_case(
        "malformed image",
        *("deploy", "--env", "local", "--image", "latest"),
        message="malformed --image 'latest'",
    ),
    task_case(
        "invalid threshold",
        *("deploy", "--env", "local", "--threshold", "SEVERE"),
        message="invalid scan threshold 'SEVERE'",
    ),
    task_case(
        "unknown engine",
        *("push", "--env", "local", "--skip-scan", "--engine", "rkt"),
        message="unknown container engine 'rkt'",
    ),
    task_case(
        "no container engine on PATH",
        *("deploy", "--env", "local", "--skip-scan", "--engine", "podman"),
        env={"PATH": str(Path(PYTHON).parent)},
        message="container engine 'podman' not found on PATH",
    ),
    task_case(
        "scanner missing",
        *("scan", "--image", "x:1"),
        env={"PATH": "/nonexistent"},
        message="trivy is not",
    ),
    task_case(
        "missing AWS credentials",
        *("deploy", "--env", "dev", "--image", "1.2.3"),
        env=NO_CREDENTIALS,
        message="no AWS credentials found",
    ),
    task_case(
        "emulator options on a real env",
        *("deploy", "--env", "dev", "--image", "1.2.3", "--keep"),
        message="--keep, --emulator-port and --serve are for emulator environments, not 'dev'",
    ),
    task_case(
        "force where nothing is gated",
        *("deploy", "--env", "dev", "--image", "1.2.3", "--force"),
        message=r"--force overrides the SLO gate, and environment 'dev' has none .*drop --force$",
    ),
    task_case(
        "check with force where nothing is gated",
        *("check", "--env", "local", "--force"),
        message=r"--force overrides the SLO gate, and environment 'local' has none",
    ),
    task_case(
        "unknown serve mode",
        *("deploy", "--env", "local", "--image", "1.2.3", "--serve", "vm"),
        message="unknown --serve 'vm': choose one of auto, container, process",
    ),
    task_case(
        "prod destroy without force",
        *("destroy", "--env", "prod"),
        message="environment 'prod' is protected against destroy: pass --force",
    ),
    task_case(
        "rollback without --to", "rollback", "--env", "local", message="rollback needs the version"
    ),
    task_case(
        "rollback to a digest",
        *("rollback", "--env", "local", "--to", "sha256:" + "a" * 64),
        message="--to takes a version like 1.2.3",
    ),
    task_case(
        "image of an env never deployed",
        *("deploy", "--env", "local", "--image", "1.2.3"),
        message="stack flask-fargate-local-registry does not exist",
    ),
    task_case(
        "pre-release to a releases-only env",
        *("deploy", "--env", "prod", "--image", "1.3.0-dev.g0123456789ab"),
        message=r"environment 'prod' takes released versions only \(X\.Y\.Z\), not the "
        r"pre-release 1\.3\.0-dev\.g0123456789ab: release it first, or pass --allow-prerelease",
    ),
    task_case(
        "rollback of a releases-only env to a pre-release",
        *("rollback", "--env", "prod", "--to", "2.0.0-rc.1"),
        message=r"environment 'prod' takes released versions only \(X\.Y\.Z\), not the "
        r"pre-release 2\.0\.0-rc\.1: .* --allow-prerelease",
    ),
    task_case(
        "rollback to a version with no tag",
        *("rollback", "--env", "local", "--to", "1.2.3"),
        message=r"no tag v1\.2\.3 in this repository \(release tags here: none\): fetch them "
        r"\(git fetch --tags\) or name a released version",
    ),
    Case(
        id="task rollback --fast to a release older than fast rollbacks",
        kind="task",
        argv=(
            *(PYTHON, "-m", "tests.support.old_release_invoke"),
            *("rollback", "--env", "local", "--to", "1.0.0", "--fast"),
        ),
        message=r"^error: release v1\.0\.0's own rollback has no --fast \(it predates fast "
        r"rollbacks\): roll back to it without --fast",
        aws=True,
    ),
    task_case(
        "stop on a real env",
        *("stop", "--env", "dev"),
        message="'dev' is not an emulator environment: nothing runs locally",
    ),
    task_case(
        "run without a command",
        *("run", "--env", "local"),
        message=r"run needs a command after --, e\.g\. invoke run --env dev -- python -m "
        r"app\.migrate$",
    ),
    task_case(
        "run on an unknown env",
        *("run", "--env", "qa", "--", "true"),
        message="unknown environment 'qa'",
    ),
    task_case(
        "run timeout not a number",
        *("run", "--env", "local", "--timeout", "never", "--", "true"),
        message=r"--timeout must be a number of at least 0\.1, not 'never'$",
    ),
    task_case(
        "exec off for the env",
        *("exec", "--env", "dev"),
        message=r"ECS Exec is off for environment 'dev': set exec: \{enabled: true\} under "
        r"sceptre_user_data in config/dev/service\.yaml and deploy$",
    ),
    task_case(
        "exec on an unknown env",
        *("exec", "--env", "qa"),
        message="unknown environment 'qa'",
    ),
    task_case("logs of an unknown env", "logs", "--env", "qa", message="unknown environment 'qa'"),
    task_case(
        "logs since a bad time",
        *("logs", "--env", "dev", "--since", "yesterday"),
        message=r"--since 'yesterday' is neither a time ago \(15m, 2h, 1d: units s, m, h, d, w\) "
        r"nor an ISO 8601 time",
    ),
    task_case(
        "logs at an unknown level",
        *("logs", "--env", "dev", "--level", "LOUD"),
        message=r"unknown --level 'LOUD': choose one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    ),
    task_case(
        "logs of a malformed request id",
        *("logs", "--env", "dev", "--request-id", 'x" || $.level = "INFO'),
        message=r"--request-id .* cannot be a request id",
    ),
    task_case(
        "logs of a malformed trace id",
        *("logs", "--env", "dev", "--trace-id", "1-5759e988-xyz"),
        message=r"--trace-id '1-5759e988-xyz' is not a trace id: give X-Ray's",
    ),
    task_case(
        "logs of a service not deployed",
        *("logs", "--env", "dev"),
        message=r"the service of 'dev' is not deployed \(stack flask-fargate-dev-service does not "
        r"exist in eu-north-1\): run `invoke deploy --env dev` first$",
    ),
    # Pausing promotion: the reason is checked against AWS's own model of it before any call.
    task_case(
        "pipeline-pause without a reason",
        "pipeline-pause",
        message=r"pipeline-pause needs a reason the on-call will read: pass --reason TEXT$",
    ),
    task_case(
        "pipeline-pause with an empty reason",
        *("pipeline-pause", "--reason", "   "),
        message=r"pipeline-pause needs a reason the on-call will read: pass --reason TEXT$",
    ),
    task_case(
        "pipeline-pause with a reason too long",
        *("pipeline-pause", "--reason", "x" * 301),
        message=r"--reason is 301 characters long: AWS takes at most 300$",
    ),
    task_case(
        "pipeline-pause with characters AWS refuses",
        *("pipeline-pause", "--reason", "INC-42: bad, release"),
        message=r"--reason has characters CodePipeline refuses \(',' ':'\): use letters, "
        r"digits, spaces and !@\(\)\.\*\?-$",
    ),
    task_case(
        "pipeline-pause of an unknown env",
        *("pipeline-pause", "--reason", "incident", "--env", "qa"),
        message="unknown environment 'qa'",
    ),
    # The sample project has no pipeline; one not launched: tests/integration/test_promotion.py.
    task_case(
        "pipeline-resume without a pipeline",
        "pipeline-resume",
        message=r"this project has no pipeline: config/shared/pipeline\.yaml is missing$",
    ),
    # secret set: the sample project declares no secret, this repository's config SECRET_KEY.
    task_case(
        "secret of an unknown env",
        *("secret", "set", "--env", "qa", "SECRET_KEY"),
        stdin="value\n",
        message="unknown environment 'qa'",
    ),
    task_case(
        "secret not declared",
        *("secret", "set", "--env", "local", "NOPE"),
        stdin="value\n",
        message=r"secret 'NOPE' is not declared for environment 'local' \(declared: none\)",
    ),
    task_case(
        "secret action unknown",
        *("secret", "rotate", "--env", "local", "SECRET_KEY"),
        message="unknown secret action 'rotate': use `invoke secret set --env E NAME`$",
    ),
    task_case(
        "secret value empty",
        *("secret", "set", "--env", "dev", "SECRET_KEY"),
        env={"DELIVERY_PROJECT_ROOT": str(ROOT)},
        stdin="\n",
        message="empty value for secret SECRET_KEY: pass the value on stdin",
    ),
    task_case(
        "secret of an env not deployed",
        *("secret", "set", "--env", "dev", "SECRET_KEY"),
        env={"DELIVERY_PROJECT_ROOT": str(ROOT)},
        stdin="value\n",
        message=r"environment 'dev' is not deployed yet: deploy it first",
    ),
    # --- the local emulator -------------------------------------------------------------------
    emulator_case(
        "port taken",
        *("deploy", "--env", "local", "--image", "1.2.3", "--emulator-port", "{taken_port}"),
        env=OWN_EMULATOR,
        message=r"emulator port \d+ on 127\.0\.0\.1 is already in use",
    ),
    emulator_case(
        "moto fails to start",
        *("deploy", "--env", "local", "--image", "1.2.3"),
        env={**OWN_EMULATOR, "PYTHONPATH": "{shadow}"},
        message=r"emulator failed to start \(exit 1\): .*moto\[server\]",
    ),
    emulator_case(
        "AWS_ENDPOINT_URL not on this machine",
        *("deploy", "--env", "local", "--image", "1.2.3"),
        env={"AWS_ENDPOINT_URL": "https://emulator.example.com"},
        message=r"environment 'local' runs on the local emulator but AWS_ENDPOINT_URL is "
        r"https://emulator\.example\.com",
    ),
    emulator_case(
        "AWS_ENDPOINT_URL does not answer",
        *("deploy", "--env", "local", "--image", "1.2.3"),
        env={"AWS_ENDPOINT_URL": "{dead_endpoint}"},
        message=r"AWS_ENDPOINT_URL http://127\.0\.0\.1:\d+ does not answer",
    ),
    emulator_case(
        "status with no emulator running",
        *("status", "--env", "local"),
        env=OWN_EMULATOR,
        message=r"no local emulator running: run `invoke deploy --env local --keep` first",
    ),
    emulator_case(
        "logs with no emulator running",
        *("logs", "--env", "local"),
        env=OWN_EMULATOR,
        message=r"no local emulator running: run `invoke deploy --env local --keep` first",
    ),
]


# --- running the catalogue -----------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """How one case's command ended."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Fixtures:
    """What the placeholders stand for in this run."""

    tmp: Path
    project: Path
    shadow: Path
    taken_port: int
    dead_endpoint: str
    aws_env: dict[str, str]

    def expand(self, text: str, case_dir: Path) -> str:
        """``text`` with its placeholders filled in."""
        return text.format(
            python=PYTHON,
            project=self.project,
            config=case_dir / "config",
            out=case_dir / "out",
            taken_port=self.taken_port,
            shadow=self.shadow,
            dead_endpoint=self.dead_endpoint,
        )


def prepare(case: Case, fixtures: Fixtures) -> tuple[list[str], dict[str, str], Path]:
    """argv, environment and working directory of one case."""
    case_dir = fixtures.tmp / re.sub(r"\W+", "_", case.id)
    case_dir.mkdir()
    if case.kind == "settings":
        shutil.copytree(ROOT / "config", case_dir / "config")
        if case.edit is not None:
            file, old, new = case.edit
            path = case_dir / "config" / file
            text = path.read_text()
            # The catalogue must follow config/: a case whose line is gone fails loudly.
            assert old in text, f"{case.id}: {old!r} is no longer in config/{file}"
            path.write_text(text.replace(old, new, 1))
    if case.kind == "env":
        environ = service_env(fixtures.tmp / "pycache")
        environ.pop("AWS_ENDPOINT_URL", None)
    elif case.aws:
        environ = {**os.environ, **fixtures.aws_env, "DELIVERY_PROJECT_ROOT": str(fixtures.project)}
    else:
        environ = dict(os.environ)
    for name, value in case.env.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = fixtures.expand(value, case_dir)
    argv = [fixtures.expand(arg, case_dir) for arg in case.argv]
    return argv, environ, case_dir


def run(case: Case, fixtures: Fixtures) -> Outcome:
    """Run one case's command to its end (bounded by TIMEOUT_S)."""
    argv, environ, case_dir = prepare(case, fixtures)
    started = time.monotonic()
    result = subprocess.run(
        argv,
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
        input=case.stdin,
    )
    shutil.rmtree(case_dir / "config", ignore_errors=True)
    return Outcome(result.returncode, result.stdout, result.stderr, time.monotonic() - started)


def resources(aws_env: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Live stacks and repositories the emulator holds."""
    session = boto3.session.Session(
        aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"],
        region_name=aws_env["AWS_DEFAULT_REGION"],
    )
    endpoint = aws_env["AWS_ENDPOINT_URL"]
    summaries = session.client("cloudformation", endpoint_url=endpoint).list_stacks()
    stacks = sorted(
        s["StackName"] for s in summaries["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"
    )
    repos = session.client("ecr", endpoint_url=endpoint).describe_repositories()["repositories"]
    return stacks, sorted(r["repositoryName"] for r in repos)


@dataclass
class Results:
    """Every case's outcome, what the emulator held afterwards, and the wall time of the run."""

    outcomes: dict[str, Outcome]
    emulator_after: tuple[list[str], list[str]]
    seconds: float


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, emulator_server: Emulator) -> Results:
    """Run the whole catalogue once, in parallel; the emulator starts empty."""
    tmp = tmp_path_factory.mktemp("catalogue")
    shadow = tmp / "shadow"
    (shadow / "moto").mkdir(parents=True)
    (shadow / "moto" / "__init__.py").write_text("")
    # What a broken moto install looks like to `python -m moto.server`: it exits at once.
    (shadow / "moto" / "server.py").write_text(
        'import sys\nsys.exit("moto.server: cannot start (simulated by the test)")\n'
    )
    emulator_server.reset()
    with socket.socket() as taken, socket.socket() as dead:
        taken.bind((HOST, 0))
        taken.listen(1)
        dead.bind((HOST, 0))  # bound, never listening: connections are refused
        fixtures = Fixtures(
            tmp=tmp,
            project=make_project(tmp / "project", git_init=True),
            shadow=shadow,
            taken_port=taken.getsockname()[1],
            dead_endpoint=f"http://{HOST}:{dead.getsockname()[1]}",
            aws_env=emulator_server.env(),
        )
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {case.id: pool.submit(run, case, fixtures) for case in CATALOGUE}
            outcomes = {case_id: future.result() for case_id, future in futures.items()}
        seconds = time.monotonic() - started
    return Results(outcomes, resources(fixtures.aws_env), seconds)


def test_catalogue_is_complete_and_unique() -> None:
    ids = [case.id for case in CATALOGUE]
    assert len(ids) == len(set(ids))
    assert len(CATALOGUE) >= 30
    assert {case.kind for case in CATALOGUE} == {"env", "settings", "task", "emulator"}


@pytest.mark.parametrize("case", CATALOGUE, ids=[case.id for case in CATALOGUE])
def test_bad_input_is_one_line_and_changes_nothing(case: Case, results: Results) -> None:
    outcome = results.outcomes[case.id]
    assert outcome.returncode != 0, outcome
    assert "Traceback" not in outcome.stderr + outcome.stdout, outcome.stderr
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, outcome.stderr
    assert re.search(case.message, lines[0]), f"{lines[0]!r} does not match {case.message!r}"
    if case.aws:
        assert results.emulator_after == ([], [])


def test_every_case_answers_well_within_its_timeout(
    results: Results, capsys: pytest.CaptureFixture[str]
) -> None:
    slowest = max(results.outcomes.items(), key=lambda item: item[1].seconds)
    with capsys.disabled():
        print(
            f"\nbad-input catalogue: {len(results.outcomes)} cases in {results.seconds:.1f} s "
            f"(4 in parallel; slowest: {slowest[0]} {slowest[1].seconds:.1f} s)"
        )
    slow = sorted(results.outcomes.items(), key=lambda item: -item[1].seconds)[:5]
    with capsys.disabled():
        for case_id, outcome in slow:
            print(f"  {outcome.seconds:5.1f} s  {case_id}")
    late = {
        case_id: round(outcome.seconds, 1)
        for case_id, outcome in results.outcomes.items()
        if outcome.seconds >= CASE_LIMIT_S
    }
    assert not late, f"cases still running after {CASE_LIMIT_S} s: {late}"
