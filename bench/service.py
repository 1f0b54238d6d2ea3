"""Benchmark: bare WSGI vs bare Flask vs this service's ``GET /``, side by side.

A fourth server, Flask answering with the service's response contract but uninstrumented
(bench/contract_flask.py), shows how much of the gap is the response itself. The service runs
three times: tracing off, and tracing on at production's sampling ratio (judged: read from
config/prod/service.yaml, ``tracing.sample_ratio``, the stack's default if unset), and with every
request sampled and exported (the worst case, printed for reference, not judged: production
never samples everything, and the local stack's 100% serves a single developer).
With tracing on, spans go over OTLP/HTTP to a sink on 127.0.0.1 that the benchmark starts
(bench/otlp_sink.py) and that counts what it received, so the figures show whether the service
really exported; a build of the service without tracing exports nothing, and its tracing-on
figures are tracing-off figures. All of them run under gunicorn with the same settings
(gthread, same workers and threads, SO_REUSEPORT, keep-alive) on free 127.0.0.1 ports, and
``wrk`` loads them in alternating rounds so that the machine's drift hits every target alike.
The service runs exactly as in production
(``--config python:app.gunicorn_conf``): JSON access line, multiprocess metrics, request ids and
security headers on every request. Its access lines go to a file and are counted at the end, to
show that every request was logged. Every request wrk sends carries a new
``X-Amzn-Trace-Id: Root=...``, as the load balancer adds to each request it forwards
(bench/alb_trace_header.lua), so that with tracing on the service reads and continues that trace
as it does in production; the other targets ignore the header.

Usage: ``uv run nox -s bench`` or ``uv run python -m bench.service [--rounds 5 --seconds 8]``.

On a 2-CPU machine one round's ratio swings by several percent (wrk, the workers and the kernel
share the CPUs, and SO_REUSEPORT splits each run's connections between the workers anew), so
the verdict is the median of the per-round ratios, printed with their range. Start-up (launch
to the first 200 on the ready path) is judged the same way: each launch of the service follows
a launch of bare Flask, and the verdict is the median of the ratios of these pairs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from app.config import available_cpus, default_threads, default_web_concurrency, package_version
from bench.otlp_sink import OtlpSink
from delivery.environments import read_yaml
from delivery.local import gunicorn

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
TARGET_THROUGHPUT = 0.90
TARGET_P99 = 1.2
TARGET_STARTUP = 1.10
BASELINE = "bare Flask"
SERVICE = "this app"
TRACING = "app, tracing"
# The service variants whose ratios decide the result: tracing off, and on at production's ratio.
JUDGED = frozenset({SERVICE, TRACING})
# Sampling with tracing on, for reference: every request (the worst case).
WORST_CASE_RATIO = 1.0
PROD_SETTINGS = ROOT / "config" / "prod" / "service.yaml"
# wrk's requests as the load balancer forwards them: each with a new X-Amzn-Trace-Id root.
ALB_REQUESTS = Path(__file__).with_name("alb_trace_header.lua")


def prod_sample_ratio(path: Path = PROD_SETTINGS) -> float:
    """Production's ``tracing.sample_ratio`` (the stack's settings), its default if unset."""
    # Imported here: bench.load (the drain and soak sessions) runs without the stacks' libraries.
    from stacks.service.settings import Tracing  # noqa: PLC0415

    tracing = read_yaml(path).get("sceptre_user_data", {}).get("tracing", {})
    return Tracing.model_validate(tracing).sample_ratio


@dataclass(frozen=True)
class Target:
    """One server to benchmark: how to start it and which path says it is ready."""

    name: str
    args: tuple[str, ...]
    ready_path: str
    service: bool = False  # this service: access lines counted, ratios printed (JUDGED)
    sampling: float | None = None  # tracing on, sampling this ratio of the requests
    env: tuple[tuple[str, str], ...] = ()


@dataclass
class Result:
    """Measurements of one target over all rounds."""

    rps: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    requests: int = 0
    errors: int = 0
    startup_s: list[float] = field(default_factory=list)
    # The service only: bare Flask's start-up launched right before each of its own.
    baseline_startup_s: list[float] = field(default_factory=list)
    completed: int = 0  # requests wrk (and the readiness poll) saw answered; service only
    logged: int = 0  # access lines the service wrote; service only
    exports: int | None = None  # OTLP export requests the sink received; tracing on only


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def targets(workers: int, threads: int, prod_ratio: float) -> list[Target]:
    """The servers, on identical gunicorn settings; tracing judged at ``prod_ratio``."""
    common = (
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--reuse-port",
        "--keep-alive",
        "75",
        "--worker-tmp-dir",
        "/dev/shm",  # noqa: S108 - tmpfs heartbeat, the same as the service's config
        # As the service's config: without it, gunicorn's master starts its control socket
        # server (an asyncio thread) just as the workers start, which the service never pays.
        "--no-control-socket",
    )
    # As production runs it: the task definition sets APP_VERSION (stacks/service/task.py).
    service_env = (("APP_VERSION", package_version()),)
    return [
        Target("bare WSGI", (*common, "bench.bare_wsgi:app"), "/"),
        Target(BASELINE, (*common, "bench.bare_flask:app"), "/"),
        # Not a target: shows how much of the gap is the response contract, not instrumentation.
        Target("Flask+contract", (*common, "bench.contract_flask:app"), "/"),
        Target(
            SERVICE,
            gunicorn.SERVICE_ARGS,
            gunicorn.READY_PATH,
            service=True,
            env=service_env,
        ),
        Target(
            TRACING,
            gunicorn.SERVICE_ARGS,
            gunicorn.READY_PATH,
            service=True,
            sampling=prod_ratio,
            env=service_env,
        ),
        Target(
            f"app, tracing {WORST_CASE_RATIO:.0%}",
            gunicorn.SERVICE_ARGS,
            gunicorn.READY_PATH,
            service=True,
            sampling=WORST_CASE_RATIO,
            env=service_env,
        ),
    ]


def tracing_env(sampling: float, endpoint: str) -> dict[str, str]:
    """The OpenTelemetry variables that switch the service's tracing on (as the stack sets them)."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": f"{sampling:g}",
        "OTEL_SERVICE_NAME": "flask-fargate",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=bench",
    }


class ServerLog:
    """A server's stdout+stderr, in a file on tmpfs, and the count of the service's access lines.

    A file rather than a pipe read by this process: on a 2-CPU machine saturated by wrk and the
    workers, a reader here gets too little CPU, the pipe fills and the workers block on write,
    which would measure the benchmark's reader. tmpfs keeps it to the cost of the write itself.
    """

    def __init__(self, directory: Path, name: str) -> None:
        self.path = directory / f"{name.replace(' ', '_')}-{time.monotonic_ns()}.log"

    @property
    def access_lines(self) -> int:
        """Access lines written so far."""
        with self.path.open("rb") as lines:
            return sum(1 for line in lines if b'"logger":"app.access"' in line)

    def tail(self) -> str:
        """The end of the log, for error messages."""
        return self.path.read_bytes()[-4000:].decode(errors="replace")


Served = tuple[str, float, ServerLog]  # base URL, seconds to ready, log
Launch = Callable[[Target], contextlib.AbstractContextManager[Served]]


@contextmanager
def serve(
    target: Target,
    sizing: tuple[int, int],
    cache: Path,
    logs: Path,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Served]:
    """Run ``target`` under gunicorn with ``sizing`` (workers, threads) and ``extra_env`` on top;
    yield its base URL, start-up time and log.

    Bytecode is cached in ``cache`` (PYTHONPYCACHEPREFIX): the shell may set
    PYTHONDONTWRITEBYTECODE, and recompiling Flask on every launch would measure the compiler,
    not the start-up of a deployed image (which ships compiled bytecode).
    """
    port = free_port()
    # The caller's shell decides nothing about the servers: no tracing (OTEL_*) unless the
    # target asks for it, no multiprocess directory of its own, bytecode written.
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("OTEL_")
        and name not in {"PROMETHEUS_MULTIPROC_DIR", "PYTHONDONTWRITEBYTECODE"}
    }
    env = {
        **inherited,
        "PYTHONPYCACHEPREFIX": str(cache),
        "WEB_CONCURRENCY": str(sizing[0]),
        "THREADS": str(sizing[1]),
        "LOG_LEVEL": "INFO",
        "DRAIN_SECONDS": "0",
        **dict(target.env),
        **(extra_env or {}),
    }
    log = ServerLog(logs, target.name)
    server = gunicorn.launch(port, log.path, env, cwd=ROOT, args=target.args)
    try:
        try:
            # Every 5 ms: the start-up time is a measured target.
            took = server.wait_ready(10, target.ready_path, interval_s=0.005)
        except gunicorn.NotReadyError:
            raise RuntimeError(f"{target.name} did not start:\n{log.tail()}") from None
        yield server.base, took, log
    finally:
        server.stop(signal.SIGTERM, timeout_s=30)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk_missing() -> bool:
    """Whether wrk is not installed; if so, says so on stderr, with how to install it."""
    if shutil.which("wrk") is not None:
        return False
    print("wrk is missing: apt-get install wrk (bin/bootstrap installs it)", file=sys.stderr)
    return True


def default_sizing() -> tuple[int, int]:
    """The service's own gunicorn sizing on this machine (workers, threads), which every
    server of the benchmarks runs with."""
    cpus = available_cpus()
    return default_web_concurrency(cpus), default_threads(cpus)


def run_wrk(
    url: str, seconds: float, connections: int, script: Path | None = None
) -> tuple[float, float, int, int]:
    """Run wrk against ``url`` (each request shaped by the Lua ``script``, if given); return
    req/s, p99 in ms, requests completed and errors."""
    shape = ["-s", str(script)] if script is not None else []
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", *shape, url],
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    rps = float(_search(r"Requests/sec:\s+([\d.]+)", out))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    if p99 is None:
        raise RuntimeError(f"no p99 in wrk output:\n{out}")
    requests = int(_search(r"(\d+) requests in", out))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return rps, float(p99.group(1)) * _UNITS[p99.group(2)], requests, errors


def _search(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"{pattern!r} not in wrk output:\n{text}")
    return match.group(1)


def measure_startups(
    all_targets: list[Target], launch: Launch, launches: int, results: dict[str, Result]
) -> None:
    """Start-up, launch -> first 200 on the ready path, of every target, ``launches`` times.

    One uncounted launch per target first fills the bytecode cache (see serve). Then, round
    after round, each target is launched once, and each service variant right after a launch
    of bare Flask of its own: the pair shares the machine's conditions (a shared machine's
    load swings within seconds), and their ratio is the one judged.
    """
    for target in all_targets:
        with launch(target):
            pass
    baseline = next(t for t in all_targets if t.name == BASELINE)
    for _ in range(launches):
        for target in all_targets:
            if target.name == BASELINE:
                continue
            if target.service:
                with launch(baseline) as (_, took, _log):
                    results[BASELINE].startup_s.append(took)
                    results[target.name].baseline_startup_s.append(took)
            with launch(target) as (_, took, _log):
                results[target.name].startup_s.append(took)


def measure_load(
    all_targets: list[Target], launch: Launch, opts: argparse.Namespace, results: dict[str, Result]
) -> None:
    """Throughput and p99 under wrk, every target in turn, round after round; for the service,
    the requests completed and the access lines written."""
    with contextlib.ExitStack() as running:
        served = {t.name: running.enter_context(launch(t)) for t in all_targets}
        for target in all_targets:
            if target.service:
                results[target.name].completed = 1  # the readiness poll that answered 200
        for round_no in range(1, opts.rounds + 1):
            for target in all_targets:
                url = served[target.name][0] + "/"
                *_, warm_requests, _e = run_wrk(url, opts.warmup, opts.connections, ALB_REQUESTS)
                rps, p99, requests, errors = run_wrk(
                    url, opts.seconds, opts.connections, ALB_REQUESTS
                )
                result = results[target.name]
                result.rps.append(rps)
                result.p99_ms.append(p99)
                result.requests += requests
                result.errors += errors
                if target.service:
                    result.completed += warm_requests + requests
                print(
                    f"  round {round_no} {target.name:<18} {rps:9.0f} req/s  "
                    f"p99 {p99:6.2f} ms  errors {errors}",
                    flush=True,
                )
    # After the servers exited: every access line is in.
    for target in all_targets:
        if target.service:
            results[target.name].logged = served[target.name][2].access_lines


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--startups", type=int, default=10, help="timed launches per server")
    opts = parser.parse_args(argv)
    if wrk_missing():
        return 2

    workers, threads = default_sizing()
    prod_ratio = prod_sample_ratio()
    all_targets = targets(workers, threads, prod_ratio)
    results = {t.name: Result() for t in all_targets}
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    shm = Path("/dev/shm")  # noqa: S108 - tmpfs for the server logs (see ServerLog)
    logdir = Path(tempfile.mkdtemp(prefix="bench-logs-", dir=shm if shm.is_dir() else tmp))
    print(
        f"gunicorn gthread {workers} workers x {threads} threads, reuse-port; "
        f"{available_cpus()} CPUs"
    )
    print(f"'{TRACING}' samples production's ratio, {prod_ratio:g} (config/prod)")
    print(
        f"wrk -t2 -c{opts.connections}: {opts.rounds} alternating rounds of "
        f"{opts.warmup:g} s warm-up + {opts.seconds:g} s measured, each request with a new "
        "X-Amzn-Trace-Id root as the load balancer sends; "
        f"start-up: {opts.startups} alternating launches of each server"
    )
    try:
        with contextlib.ExitStack() as stack:
            # One OTLP sink per tracing target, so that each one's exports are its own.
            sinks = {
                t.name: stack.enter_context(OtlpSink())
                for t in all_targets
                if t.sampling is not None
            }

            def launch(target: Target) -> contextlib.AbstractContextManager[Served]:
                sink = sinks.get(target.name)
                extra = None
                if sink is not None and target.sampling is not None:
                    extra = tracing_env(target.sampling, sink.endpoint)
                return serve(target, (workers, threads), tmp, logdir, extra)

            measure_startups(all_targets, launch, opts.startups, results)
            measure_load(all_targets, launch, opts, results)
            for name, sink in sinks.items():
                results[name].exports = sink.exports
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(logdir, ignore_errors=True)

    return report(results)


def _ratios(numerators: list[float], denominators: list[float]) -> list[float]:
    """The per-round (or per-launch) ratios: they alternate, so each pair shares its conditions."""
    return [n / d for n, d in zip(numerators, denominators, strict=True)]


def _ratio(numerators: list[float], denominators: list[float]) -> float:
    """Median of the per-round (or per-launch) ratios."""
    return statistics.median(_ratios(numerators, denominators))


def _spread(numerators: list[float], denominators: list[float], what: str = "rounds") -> str:
    ratios = _ratios(numerators, denominators)
    return f"{what} {min(ratios):.2f}-{max(ratios):.2f}"


def _verdict(name: str, app: Result, flask: Result) -> bool:
    """Print one service variant's ratios to bare Flask; whether it meets every target."""
    throughput = _ratio(app.rps, flask.rps)
    p99 = _ratio(app.p99_ms, flask.p99_ms)
    startup = _ratio(app.startup_s, app.baseline_startup_s)
    print(f"{name} / {BASELINE} (medians of the per-round or per-launch ratios):")
    print(
        f"  throughput {throughput:.2f}x  (target >= {TARGET_THROUGHPUT:.2f}x; "
        f"{_spread(app.rps, flask.rps)})"
    )
    print(
        f"  p99        {p99:.2f}x  (target <= {TARGET_P99:.2f}x; "
        f"{_spread(app.p99_ms, flask.p99_ms)})"
    )
    print(
        f"  start-up   {startup:.2f}x  (target <= {TARGET_STARTUP:.2f}x; "
        f"{_spread(app.startup_s, app.baseline_startup_s, 'launches')}; "
        f"median {statistics.median(app.startup_s):.3f} s vs "
        f"{statistics.median(app.baseline_startup_s):.3f} s)"
    )
    print(
        f"  access lines: {app.logged} for {app.completed} requests completed by wrk and the"
        " probe (lines >= requests: wrk does not count requests cut off when it stops)"
    )
    if app.exports is not None:
        note = "" if app.exports else " (none: this build does not trace, figures as tracing off)"
        print(f"  OTLP export requests the sink received: {app.exports}{note}")
    return (
        throughput >= TARGET_THROUGHPUT
        and p99 <= TARGET_P99
        and startup <= TARGET_STARTUP
        and app.logged >= app.completed
        and app.errors == 0
    )


def report(results: dict[str, Result], judged: Collection[str] = JUDGED) -> int:
    """Print the table and the verdicts; 0 when every ``judged`` variant meets every target.

    The service's other variants (tracing with every request sampled) are printed for reference.
    """
    print()
    print(
        f"{'target':<20}{'req/s (median)':>16}{'p99 ms (median)':>17}{'errors':>8}{'startup s':>11}"
    )
    for name, r in results.items():
        print(
            f"{name:<20}{statistics.median(r.rps):>16.0f}{statistics.median(r.p99_ms):>17.2f}"
            f"{r.errors:>8}{statistics.median(r.startup_s):>11.3f}"
        )
    flask, contract = results[BASELINE], results["Flask+contract"]
    print()
    print(
        f"for reference, Flask+contract/flask throughput: {_ratio(contract.rps, flask.rps):.2f}x,"
        f" app/(Flask+contract): {_ratio(results[SERVICE].rps, contract.rps):.2f}x"
    )
    # What tracing alone costs: each tracing variant against the service with tracing off,
    # round by round (not judged: the targets are against bare Flask).
    off = results[SERVICE]
    for name, result in results.items():
        if name.startswith(TRACING) and result.rps:
            print(
                f"for reference, {name}/{SERVICE}: throughput {_ratio(result.rps, off.rps):.2f}x,"
                f" p99 {_ratio(result.p99_ms, off.p99_ms):.2f}x"
            )
    ok = True
    for name, result in results.items():
        if name in judged:
            ok = _verdict(name, result, flask) and ok
        elif result.completed and not _verdict(name, result, flask):
            print("  (printed for reference, not judged)")
    print("RESULT:", "all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
