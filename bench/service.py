"""Benchmark: bare WSGI vs bare Flask vs this service's ``GET /``, side by side.

A fourth server, Flask answering with the service's response contract but uninstrumented
(bench/contract_flask.py), shows how much of the gap is the response itself. All of them run
under gunicorn with the same settings (gthread, same workers and threads, SO_REUSEPORT,
keep-alive) on free 127.0.0.1 ports, and ``wrk`` loads them in alternating rounds so that the
machine's drift hits every target alike. The service runs exactly as in production
(``--config python:app.gunicorn_conf``): JSON access line, multiprocess metrics, request ids and
security headers on every request. Its access lines go to a file and are counted at the end, to
show that every request was logged.

Usage: ``uv run nox -s bench`` or ``uv run python -m bench.service [--rounds 5 --seconds 8]``.

On a 2-CPU machine one round's ratio swings by several percent (wrk, the workers and the kernel
share the CPUs, and SO_REUSEPORT splits each run's connections between the workers anew), so
the verdict is the median of the per-round ratios, printed with their range.
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from app.config import available_cpus, default_threads, default_web_concurrency
from delivery.local import gunicorn

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
TARGET_THROUGHPUT = 0.90
TARGET_P99 = 1.2
TARGET_STARTUP_S = 0.5


@dataclass(frozen=True)
class Target:
    """One server to benchmark: how to start it and which path says it is ready."""

    name: str
    args: tuple[str, ...]
    ready_path: str
    service: bool = False
    env: tuple[tuple[str, str], ...] = ()


@dataclass
class Result:
    """Measurements of one target over all rounds."""

    rps: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    requests: int = 0
    errors: int = 0
    startup_s: list[float] = field(default_factory=list)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def targets(workers: int, threads: int) -> list[Target]:
    """The servers, on identical gunicorn settings."""
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
    )
    return [
        Target("bare WSGI", (*common, "bench.bare_wsgi:app"), "/"),
        Target("bare Flask", (*common, "bench.bare_flask:app"), "/"),
        # Not a target: shows how much of the gap is the response contract, not instrumentation.
        Target("Flask+contract", (*common, "bench.contract_flask:app"), "/"),
        Target(
            "this app",
            gunicorn.SERVICE_ARGS,
            gunicorn.READY_PATH,
            service=True,
        ),
    ]


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


@contextmanager
def serve(
    target: Target, workers: int, threads: int, cache: Path, logs: Path
) -> Iterator[tuple[str, float, ServerLog]]:
    """Run ``target`` under gunicorn; yield its base URL, start-up time and log.

    Bytecode is cached in ``cache`` (PYTHONPYCACHEPREFIX): the shell may set
    PYTHONDONTWRITEBYTECODE, and recompiling Flask on every launch would measure the compiler,
    not the start-up of a deployed image (which ships compiled bytecode).
    """
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPYCACHEPREFIX": str(cache),
        "WEB_CONCURRENCY": str(workers),
        "THREADS": str(threads),
        "LOG_LEVEL": "INFO",
        "DRAIN_SECONDS": "0",
        **dict(target.env),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
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


def run_wrk(url: str, seconds: float, connections: int) -> tuple[float, float, int, int]:
    """Run wrk against ``url``; return req/s, p99 in ms, requests completed and errors."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", url],
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


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--startups", type=int, default=5)
    opts = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk (bin/bootstrap installs it)", file=sys.stderr)
        return 2

    cpus = available_cpus()
    workers, threads = default_web_concurrency(cpus), default_threads(cpus)
    all_targets = targets(workers, threads)
    results = {t.name: Result() for t in all_targets}
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    shm = Path("/dev/shm")  # noqa: S108 - tmpfs for the server logs (see ServerLog)
    logdir = Path(tempfile.mkdtemp(prefix="bench-logs-", dir=shm if shm.is_dir() else tmp))
    print(f"gunicorn gthread {workers} workers x {threads} threads, reuse-port; {cpus} CPUs")
    print(
        f"wrk -t2 -c{opts.connections}: {opts.rounds} alternating rounds of "
        f"{opts.warmup:g} s warm-up + {opts.seconds:g} s measured"
    )
    try:
        # Start-up: launch -> first 200 on the ready path. One uncounted launch per target
        # fills the bytecode cache (see serve), then several timed launches.
        for target in all_targets:
            with serve(target, workers, threads, tmp, logdir):
                pass
        for _ in range(opts.startups):
            for target in all_targets:
                with serve(target, workers, threads, tmp, logdir) as (_, took, _log):
                    results[target.name].startup_s.append(took)

        with contextlib.ExitStack() as running:
            served = {
                t.name: running.enter_context(serve(t, workers, threads, tmp, logdir))
                for t in all_targets
            }
            urls = {name: base + "/" for name, (base, _took, _log) in served.items()}
            sent_to_app = 1  # the readiness poll that answered 200
            for round_no in range(1, opts.rounds + 1):
                for target in all_targets:
                    url = urls[target.name]
                    *_, warm_requests, _e = run_wrk(url, opts.warmup, opts.connections)
                    rps, p99, requests, errors = run_wrk(url, opts.seconds, opts.connections)
                    result = results[target.name]
                    result.rps.append(rps)
                    result.p99_ms.append(p99)
                    result.requests += requests
                    result.errors += errors
                    if target.service:
                        sent_to_app += warm_requests + requests
                    print(
                        f"  round {round_no} {target.name:<14} {rps:9.0f} req/s  "
                        f"p99 {p99:6.2f} ms  errors {errors}",
                        flush=True,
                    )
        service = next(t.name for t in all_targets if t.service)
        logged = served[service][2].access_lines  # after the server exited: every line is in
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(logdir, ignore_errors=True)

    return report(results, sent_to_app, logged)


def _ratios(numerators: list[float], denominators: list[float]) -> list[float]:
    """The per-round ratios (rounds alternate, so each pair shares its conditions)."""
    return [n / d for n, d in zip(numerators, denominators, strict=True)]


def _ratio(numerators: list[float], denominators: list[float]) -> float:
    """Median of the per-round ratios."""
    return statistics.median(_ratios(numerators, denominators))


def _spread(numerators: list[float], denominators: list[float]) -> str:
    ratios = _ratios(numerators, denominators)
    return f"rounds {min(ratios):.2f}-{max(ratios):.2f}"


def report(results: dict[str, Result], completed: int, logged: int) -> int:
    """Print the table and the verdict; 0 when every target is met."""
    print()
    print(
        f"{'target':<16}{'req/s (median)':>16}{'p99 ms (median)':>17}{'errors':>8}{'startup s':>11}"
    )
    for name, r in results.items():
        print(
            f"{name:<16}{statistics.median(r.rps):>16.0f}{statistics.median(r.p99_ms):>17.2f}"
            f"{r.errors:>8}{statistics.median(r.startup_s):>11.3f}"
        )
    flask, app = results["bare Flask"], results["this app"]
    contract = results["Flask+contract"]
    throughput = _ratio(app.rps, flask.rps)
    p99 = _ratio(app.p99_ms, flask.p99_ms)
    startup = statistics.median(app.startup_s)
    print()
    print(
        f"app/flask throughput (median of per-round ratios): {throughput:.2f}x"
        f"  (target >= {TARGET_THROUGHPUT:.2f}x; {_spread(app.rps, flask.rps)})"
    )
    print(
        f"app/flask p99 (median of per-round ratios):        {p99:.2f}x"
        f"  (target <= {TARGET_P99:.2f}x; {_spread(app.p99_ms, flask.p99_ms)})"
    )
    print(
        f"for reference, Flask+contract/flask throughput:   {_ratio(contract.rps, flask.rps):.2f}x,"
        f" app/(Flask+contract): {_ratio(app.rps, contract.rps):.2f}x"
    )
    print(
        f"app start-up, launch -> first 200 on /health/ready: {startup:.3f} s"
        f"  (target <= {TARGET_STARTUP_S} s)"
    )
    print(
        f"app access lines: {logged} for {completed} requests completed by wrk and the probe"
        " (lines >= requests: wrk does not count requests cut off when it stops)"
    )
    ok = (
        throughput >= TARGET_THROUGHPUT
        and p99 <= TARGET_P99
        and startup <= TARGET_STARTUP_S
        and logged >= completed
        and app.errors == 0
    )
    print("RESULT:", "all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
