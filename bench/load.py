"""Proof under load: a soak at saturation, and SIGTERM drain cycles under keep-alive load.

Both run the real service exactly as in production (``gunicorn --config
python:app.gunicorn_conf app.wsgi:app``: gthread, SO_REUSEPORT, JSON access line per request,
multiprocess metrics) on a free port of 127.0.0.1, and print every figure they judge by. Exit
status 0 means every target was met, 1 that one was missed, 2 that the run could not happen.

``soak`` (nox session ``soak``): wrk at saturation for ``--seconds`` (default 60) after a warm-up,
with default gunicorn sizing. Targets: 0 errors (wrk socket errors + non-2xx), the resident
memory of the master + workers (sum of their RSS, sampled every second) grows < 5% from
the mean of the first 10 s window to the mean of the last 10 s window, and no worker restarted
(a restart would reset its memory and hide a leak).

``drain`` (nox session ``drain``, CI): ``--cycles`` (default 5) times: start gunicorn with a short
drain (DRAIN_SECONDS=2, GRACEFUL_TIMEOUT_SECONDS=5 by default), drive keep-alive load from Python
threads that record when each request was sent and how it ended, poll readiness every 50 ms on
fresh connections, SIGTERM the master (only the master, as ECS does), keep the load on through the
drain window and a moment beyond. Targets per cycle: 0 failed requests among those sent before
readiness first answered 503 (and 0 among those sent inside the drain window), readiness turned
503 within 0.5 s and never answered 200 again, the master exited with 0 within
DRAIN_SECONDS + GRACEFUL_TIMEOUT_SECONDS, and no worker outlived it.

Usage::

    uv run python -m bench.load soak [--seconds 60 --warmup 5 --connections 32]
    uv run python -m bench.load drain [--cycles 5 --drain-seconds 2 --graceful-seconds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from bench.service import ROOT, free_port, run_wrk, wrk_missing
from delivery.local import gunicorn
from delivery.local.processes import alive

# Soak targets.
MAX_RSS_GROWTH = 0.05
RSS_WINDOW_S = 10.0
# Drain targets.
MAX_FLIP_S = 0.5
PROBE_INTERVAL_S = 0.05
# Requests sent this close to the end of the drain window may meet gunicorn's graceful stop
# (listener closed, idle keep-alive connections closed): the window target stops short of it.
WINDOW_MARGIN_S = 0.25
# Hard bounds on every load generator, whatever the options say.
MAX_REQUESTS_PER_CLIENT = 50_000
REQUEST_TIMEOUT_S = 5.0


# --- the server ---------------------------------------------------------------------------------


@contextmanager
def serve(workdir: Path, **env: str) -> Iterator[gunicorn.Gunicorn]:
    """Run the service under gunicorn with ``env`` on top of the defaults; stop it afterwards.

    Only the settings a test needs are set: everything else (workers, threads, keep-alive) is
    what app/gunicorn_conf.py derives for this machine, as in production.
    """
    port = free_port()
    variables = {
        k: v
        for k, v in os.environ.items()
        # Settings of the service come from ``env`` only, never from the caller's shell.
        if k not in {"PROMETHEUS_MULTIPROC_DIR", "PYTHONDONTWRITEBYTECODE", "PORT"}
    }
    variables.update(
        {
            # Compiled once, reused by every start: starts measure gunicorn, not the compiler.
            "PYTHONPYCACHEPREFIX": str(workdir / "pycache"),
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / f"metrics-{port}"),
            **env,
        }
    )
    service = gunicorn.launch(port, workdir / f"gunicorn-{port}.log", variables, cwd=ROOT)
    try:
        try:
            service.wait_ready(30)
        except gunicorn.NotReadyError:
            raise RuntimeError(f"gunicorn did not start:\n{service.tail()}") from None
        yield service
    finally:
        # SIGQUIT: gunicorn's quick stop, no drain; SIGKILL if stuck.
        service.stop(signal.SIGQUIT, timeout_s=15)


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (gunicorn's workers)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        return sorted(child.pid for child in psutil.Process(pid).children())
    return []


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (0 when it is gone)."""
    with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
        return int(psutil.Process(pid).memory_info().rss)
    return 0


# --- soak ---------------------------------------------------------------------------------------


@dataclass
class Soak:
    """What one soak measured."""

    rps: float = 0.0
    p99_ms: float = 0.0
    requests: int = 0
    errors: int = 0
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds in, RSS bytes)
    workers_before: list[int] = field(default_factory=list)
    workers_after: list[int] = field(default_factory=list)

    def window_mb(self, start: float, end: float) -> float:
        """Mean RSS in MiB of the samples taken in ``[start, end)`` seconds."""
        values = [rss for t, rss in self.samples if start <= t < end]
        if not values:
            raise RuntimeError(f"no RSS sample between {start:g} s and {end:g} s")
        return statistics.fmean(values) / 2**20


def soak(opts: argparse.Namespace, workdir: Path) -> int:
    """Saturate the service with wrk; sample RSS every second; print figures and the verdict."""
    result = Soak()
    with serve(workdir, DRAIN_SECONDS="0") as service:
        master = service.process.pid
        result.workers_before = children(master)
        print(
            f"soak: gunicorn pid {master}, workers {result.workers_before} (defaults of "
            f"app/gunicorn_conf.py); wrk -t2 -c{opts.connections}: {opts.warmup:g} s warm-up, "
            f"then {opts.seconds:g} s measured on GET /",
            flush=True,
        )
        run_wrk(service.url("/"), opts.warmup, opts.connections)
        outcome: list[tuple[float, float, int, int]] = []
        failure: list[BaseException] = []

        def load() -> None:
            try:
                outcome.append(run_wrk(service.url("/"), opts.seconds, opts.connections))
            except BaseException as exc:  # reported by the main thread
                failure.append(exc)

        loader = threading.Thread(target=load, name="wrk")
        started = time.monotonic()
        loader.start()
        # Sample on a fixed 1 s grid until wrk ends; the grid does not drift with the reads.
        tick = 0
        while loader.is_alive():
            now = time.monotonic() - started
            if now <= opts.seconds:
                pids = [master, *children(master)]
                result.samples.append((now, sum(rss_bytes(pid) for pid in pids)))
            tick += 1
            loader.join(timeout=max(0.0, started + tick - time.monotonic()))
        if failure:
            raise RuntimeError(f"wrk failed: {failure[0]}")
        result.rps, result.p99_ms, result.requests, result.errors = outcome[0]
        result.workers_after = children(master)
    return report_soak(result, opts.seconds)


def report_soak(result: Soak, seconds: float) -> int:
    """Print the soak's figures and targets; 0 when all are met."""
    first = result.window_mb(0, RSS_WINDOW_S)
    last = result.window_mb(seconds - RSS_WINDOW_S, seconds + 1)
    growth = (last - first) / first
    restarts = len(set(result.workers_before) ^ set(result.workers_after))
    print()
    print("RSS of master + workers, MiB (one sample per second):")
    for start in range(0, int(seconds), 10):
        window = [rss / 2**20 for t, rss in result.samples if start <= t < start + 10]
        if window:
            print(f"  {start:3d}-{start + 10:<3d} s  mean {statistics.fmean(window):7.1f}")
    print()
    checks = [
        ("throughput", f"{result.rps:.0f} req/s ({result.requests} requests)", True),
        ("p99 latency", f"{result.p99_ms:.2f} ms", True),
        ("errors (socket + non-2xx)", f"{result.errors}  (target 0)", result.errors == 0),
        (
            "RSS first/last 10 s",
            f"{first:.1f} -> {last:.1f} MiB, growth {growth:+.2%}  (target < {MAX_RSS_GROWTH:.0%})",
            growth < MAX_RSS_GROWTH,
        ),
        ("worker restarts", f"{restarts}  (target 0)", restarts == 0),
    ]
    for name, value, ok in checks:
        print(f"  {name:<27}{value}{'' if ok else '   <-- MISSED'}")
    ok = all(passed for *_, passed in checks)
    print("RESULT:", "all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


# --- drain cycles -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One request of the load: when it was sent, when it ended and whether it succeeded.

    Times are ``time.monotonic()`` while recording, seconds since the SIGTERM in a ``Cycle``.
    """

    sent: float
    ended: float
    ok: bool
    detail: str  # status code, or the exception's class name


@dataclass
class Cycle:
    """What one drain cycle measured (times in seconds since the SIGTERM)."""

    number: int
    requests: list[Sent] = field(default_factory=list)
    probes: list[tuple[float, float, int]] = field(default_factory=list)  # sent, answered, status
    flip: float | None = None
    exit_code: int | None = None
    exit_after: float | None = None
    orphans: int = 0

    def split(self, drain_s: float) -> tuple[list[Sent], list[Sent], list[Sent]]:
        """Requests sent before readiness flipped, inside the drain window, and after it."""
        flip = self.flip if self.flip is not None else float("inf")
        window_end = drain_s - WINDOW_MARGIN_S
        before = [r for r in self.requests if r.sent < flip]
        inside = [r for r in self.requests if flip <= r.sent < window_end]
        after = [r for r in self.requests if r.sent >= max(flip, window_end)]
        return before, inside, after

    @property
    def ready_again(self) -> int:
        """Probes that answered 200 after the first 503 (every worker must see the drain)."""
        flip = self.flip if self.flip is not None else float("inf")
        return sum(1 for _, answered, status in self.probes if answered > flip and status == 200)

    def failures(self, drain_s: float, graceful_s: float) -> list[str]:
        """The targets this cycle missed (empty: all met)."""
        before, inside, _ = self.split(drain_s)
        missed = []
        if self.flip is None:
            missed.append("readiness never answered 503")
        elif self.flip > MAX_FLIP_S:
            missed.append(f"readiness flipped after {self.flip:.2f} s")
        if len(before) < 100:
            missed.append(f"only {len(before)} requests before the flip: load too light")
        if failed := sum(not r.ok for r in before):
            missed.append(f"{failed} requests sent before readiness turned 503 failed")
        if failed := sum(not r.ok for r in inside):
            missed.append(f"{failed} requests sent inside the drain window failed")
        if self.ready_again:
            missed.append(f"readiness answered 200 {self.ready_again} times after 503")
        if self.exit_code != 0:
            missed.append(f"exit code {self.exit_code}")
        if self.exit_after is None or self.exit_after > drain_s + graceful_s:
            missed.append(f"exit after {self.exit_after} s > {drain_s + graceful_s:g} s")
        if self.orphans:
            missed.append(f"{self.orphans} workers outlived the master")
        return missed


class Load:
    """Keep-alive clients on Python threads, each recording every request it sends.

    A ``requests.Session`` per thread reuses its connection, like a load balancer's pool, so a
    reset of a kept-alive connection shows up as a failed request. Bounded: at most
    MAX_REQUESTS_PER_CLIENT requests per client, and stopped by ``stop()``.
    """

    def __init__(self, url: str, clients: int) -> None:
        self._url = url
        self._stop = threading.Event()
        self._records: list[list[Sent]] = [[] for _ in range(clients)]
        self._threads = [
            threading.Thread(target=self._run, args=(records,), name=f"load-{i}", daemon=True)
            for i, records in enumerate(self._records)
        ]

    def start(self) -> None:
        """Start every client."""
        for thread in self._threads:
            thread.start()

    def stop(self) -> list[Sent]:
        """Stop every client; every request sent, in order of sending."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT_S + 5)
        return sorted((r for records in self._records for r in records), key=lambda r: r.sent)

    def _run(self, records: list[Sent]) -> None:
        clock = time.monotonic
        with requests.Session() as session:
            for _ in range(MAX_REQUESTS_PER_CLIENT):
                if self._stop.is_set():
                    return
                sent = clock()
                try:
                    status = session.get(self._url, timeout=REQUEST_TIMEOUT_S).status_code
                    ok, detail = 200 <= status < 300, str(status)
                except requests.RequestException as exc:
                    ok, detail = False, type(exc).__name__
                records.append(Sent(sent, clock(), ok, detail))
                if not ok:
                    time.sleep(0.01)  # a refused connection returns at once: do not spin


def run_cycle(number: int, opts: argparse.Namespace, workdir: Path) -> Cycle:
    """One drain cycle (see the module docstring)."""
    cycle = Cycle(number)
    drain_s, graceful_s = opts.drain_seconds, opts.graceful_seconds
    env = {"DRAIN_SECONDS": f"{drain_s:g}", "GRACEFUL_TIMEOUT_SECONDS": str(graceful_s)}
    with serve(workdir, **env) as service:
        master = service.process.pid
        workers = children(master)
        load = Load(service.url("/"), opts.clients)
        load.start()
        time.sleep(opts.load_before)  # steady load before the signal
        signalled = time.monotonic()
        service.process.send_signal(signal.SIGTERM)  # the master only, as ECS does
        probe_until = signalled + drain_s + opts.load_after
        while time.monotonic() < probe_until:
            sent = time.monotonic()
            try:
                status = requests.get(service.url("/health/ready"), timeout=1).status_code
            except requests.RequestException:
                status = 0  # not listening any more: expected once the drain window is over
            answered = time.monotonic()
            cycle.probes.append((sent - signalled, answered - signalled, status))
            if status == 503 and cycle.flip is None:
                # The flip counts from when the 503 was *answered*: every request sent before
                # that moment is one a load balancer could still have sent, so the count of
                # requests that must not fail is as large as it can be.
                cycle.flip = answered - signalled
            time.sleep(max(0.0, PROBE_INTERVAL_S - (time.monotonic() - sent)))
        # From here on, every time is in seconds since the SIGTERM.
        cycle.requests = [
            Sent(r.sent - signalled, r.ended - signalled, r.ok, r.detail) for r in load.stop()
        ]
        try:
            cycle.exit_code = service.process.wait(timeout=max(0.1, drain_s + graceful_s + 5))
            cycle.exit_after = time.monotonic() - signalled
        except subprocess.TimeoutExpired:
            pass  # reported as a missed target; serve() stops it
        # Workers notice a dead master within a second or two; give them that, then count.
        deadline = time.monotonic() + 3
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        cycle.orphans = sum(alive(pid) for pid in workers)
    return cycle


def drain(opts: argparse.Namespace, workdir: Path) -> int:
    """Run the drain cycles; print the per-cycle table and totals; 0 when every target is met."""
    drain_s, graceful_s = opts.drain_seconds, opts.graceful_seconds
    print(
        f"drain: {opts.cycles} cycles, DRAIN_SECONDS={drain_s:g} GRACEFUL_TIMEOUT_SECONDS="
        f"{graceful_s} (exit deadline {drain_s + graceful_s:g} s), {opts.clients} keep-alive "
        f"clients on GET /, {opts.load_before:g} s of load before SIGTERM, load and readiness "
        f"probes (every {PROBE_INTERVAL_S * 1000:.0f} ms) until {opts.load_after:g} s after the "
        "drain window",
        flush=True,
    )
    header = (
        f"{'cycle':>5} {'flip s':>7} {'before':>7} {'failed':>6} {'window':>7} {'failed':>6} "
        f"{'after':>6} {'failed':>6} {'200 after 503':>13} {'exit':>4} {'exit s':>7}  verdict"
    )
    print(header)
    cycles: list[Cycle] = []
    for number in range(1, opts.cycles + 1):
        cycle = run_cycle(number, opts, workdir)
        cycles.append(cycle)
        before, inside, after = cycle.split(drain_s)
        missed = cycle.failures(drain_s, graceful_s)
        flip = f"{cycle.flip:.3f}" if cycle.flip is not None else "never"
        exit_s = f"{cycle.exit_after:.2f}" if cycle.exit_after is not None else "-"
        print(
            f"{number:>5} {flip:>7} {len(before):>7} {sum(not r.ok for r in before):>6} "
            f"{len(inside):>7} {sum(not r.ok for r in inside):>6} {len(after):>6} "
            f"{sum(not r.ok for r in after):>6} {cycle.ready_again:>13} "
            f"{cycle.exit_code if cycle.exit_code is not None else '-':>4} {exit_s:>7}  "
            f"{'ok' if not missed else '; '.join(missed)}",
            flush=True,
        )
    return report_drain(cycles, drain_s, graceful_s)


def report_drain(cycles: list[Cycle], drain_s: float, graceful_s: int) -> int:
    """Totals over all cycles and the verdict."""
    parts = [c.split(drain_s) for c in cycles]
    before = [r for p in parts for r in p[0]]
    inside = [r for p in parts for r in p[1]]
    after = [r for p in parts for r in p[2]]
    after_kinds = sorted({r.detail for r in after if not r.ok})
    flips = [c.flip for c in cycles if c.flip is not None]
    exits = [c.exit_after for c in cycles if c.exit_after is not None]
    print()
    print(
        f"totals: {len(before)} requests sent before readiness turned 503, "
        f"{sum(not r.ok for r in before)} failed (target 0); {len(inside)} inside the drain "
        f"window, {sum(not r.ok for r in inside)} failed (target 0); {len(after)} after the "
        f"window, {sum(not r.ok for r in after)} failed (not a target: the listener closes "
        f"then{'; ' + ', '.join(after_kinds) if after_kinds else ''})"
    )
    if flips:
        print(f"readiness 503 after SIGTERM: max {max(flips):.3f} s (target <= {MAX_FLIP_S} s)")
    if exits:
        print(
            f"exit after SIGTERM: min {min(exits):.2f} s, max {max(exits):.2f} s "
            f"(deadline {drain_s + graceful_s:g} s), codes "
            f"{sorted({c.exit_code for c in cycles}, key=str)}"
        )
    missed = sum(bool(c.failures(drain_s, graceful_s)) for c in cycles)
    print("RESULT:", "all targets met" if not missed else f"TARGET MISSED in {missed} cycles")
    return 0 if not missed else 1


# --- command line -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the chosen proof, clean up whatever it started."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.splitlines()[0] if __doc__ else None
    )
    commands = parser.add_subparsers(dest="command", required=True)
    soak_cmd = commands.add_parser("soak", help="sustained load at saturation (wrk)")
    soak_cmd.add_argument("--seconds", type=float, default=60.0, help="measured seconds (>= 30)")
    soak_cmd.add_argument("--warmup", type=float, default=5.0)
    soak_cmd.add_argument("--connections", type=int, default=32)
    drain_cmd = commands.add_parser("drain", help="SIGTERM drain cycles under load")
    drain_cmd.add_argument("--cycles", type=int, default=5)
    drain_cmd.add_argument("--drain-seconds", type=float, default=2.0)
    drain_cmd.add_argument("--graceful-seconds", type=int, default=5)
    drain_cmd.add_argument("--clients", type=int, default=8)
    drain_cmd.add_argument("--load-before", type=float, default=1.5, help="seconds before SIGTERM")
    drain_cmd.add_argument("--load-after", type=float, default=0.5, help="seconds past the window")
    opts = parser.parse_args(argv)

    # Bounds: every run is finite and small enough for a CI machine.
    if opts.command == "soak":
        if not 2 * RSS_WINDOW_S + 10 <= opts.seconds <= 3600 or not 0 < opts.warmup <= 60:
            parser.error("--seconds must be 30..3600 and --warmup 0..60")
        if wrk_missing():
            return 2
    elif not (1 <= opts.cycles <= 50 and 1 <= opts.clients <= 64 and opts.drain_seconds > 0):
        parser.error("--cycles must be 1..50, --clients 1..64, --drain-seconds > 0")

    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        if opts.command == "soak":
            return soak(opts, workdir)
        return drain(opts, workdir)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
