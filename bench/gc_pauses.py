"""Benchmark: the garbage collector's pauses in the service's workers under load, with the
loaded heap frozen (app.lifecycle.heap, as shipped) and without, side by side.

A full collection (generation 2) walks every object the collector tracks while it holds the
GIL, so each one stalls every request its worker is serving. The service freezes what a worker
has loaded (Flask, prometheus-client, OpenTelemetry's SDK with tracing on), so full collections
walk only what was made since. This runs the service as bench/service.py does (gunicorn with
the service's config, wrk with the load balancer's trace header), tracing off and at
production's sampling ratio, each as shipped and with ``gc.freeze`` made a no-op, in
alternating rounds; every collection in the workers is timed (the CPU it took, holding the GIL) by a
start-up hook (bench/gc_hook/sitecustomize.py), and the ones inside wrk's measured window are
counted.

Usage: ``uv run python -m bench.gc_pauses [--rounds 3 --seconds 8]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.otlp_sink import OtlpSink
from bench.service import (
    ALB_REQUESTS,
    SERVICE,
    default_sizing,
    prod_sample_ratio,
    run_wrk,
    serve,
    targets,
    tracing_env,
    wrk_missing,
)

HOOK = Path(__file__).with_name("gc_hook")
FULL = 2  # the oldest generation: a full collection


@dataclass(frozen=True)
class Collection:
    """One collection in a worker: its generation, when it ran (CLOCK_MONOTONIC seconds) and
    the CPU seconds it took."""

    generation: int
    start: float
    end: float
    cpu: float

    @property
    def ms(self) -> float:
        """The CPU it took, in ms: how long it held the GIL, and so every thread of the worker
        (its wall time also counts waits for a CPU on a busy machine)."""
        return self.cpu * 1000


@dataclass
class Pauses:
    """One variant's collections inside the measured windows, and the requests served there."""

    collections: list[Collection] = field(default_factory=list)
    requests: int = 0
    p99_ms: list[float] = field(default_factory=list)

    def of(self, generation: int) -> list[float]:
        """The CPU, in ms, of each collection of ``generation``."""
        return [c.ms for c in self.collections if c.generation == generation]


def hook_env(record: Path, *, freeze: bool) -> dict[str, str]:
    """The environment that loads the hook into a server and its workers: they write their
    collections to ``record``; without ``freeze``, ``gc.freeze`` does nothing."""
    python_path = os.pathsep.join(p for p in (str(HOOK), os.environ.get("PYTHONPATH")) if p)
    return {
        "PYTHONPATH": python_path,
        "BENCH_GC_PAUSES": str(record),
        "BENCH_GC_NO_FREEZE": "0" if freeze else "1",
    }


def read_collections(path: Path, window: tuple[float, float]) -> list[Collection]:
    """The collections the hook wrote to ``path`` that started inside ``window``."""
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        _pid, generation, start, end, cpu = line.split()
        collection = Collection(int(generation), float(start), float(end), float(cpu))
        if window[0] <= collection.start <= window[1]:
            found.append(collection)
    return found


def report(results: dict[str, Pauses]) -> str:
    """A line per variant: full collections (count, median, max, ms per 1000 requests), the
    younger generations' total, p99; then each frozen variant against its unfrozen twin."""
    lines = [
        f"{'variant':34s} {'full':>5s} {'median ms':>10s} {'max ms':>8s} {'ms/1k req':>10s}"
        f" {'gen0+1 ms/1k':>13s} {'p99 ms':>7s}"
    ]
    per_1k: dict[str, float] = {}
    for name, pauses in results.items():
        full = pauses.of(FULL)
        young = pauses.of(0) + pauses.of(1)
        thousands = max(pauses.requests, 1) / 1000
        per_1k[name] = sum(full) / thousands
        lines.append(
            f"{name:34s} {len(full):5d} {_median(full):10.2f} {max(full, default=0):8.2f}"
            f" {per_1k[name]:10.2f} {sum(young) / thousands:13.2f}"
            f" {_median(pauses.p99_ms):7.2f}"
        )
    for name in results:
        twin = f"{name}, no freeze"
        if twin in results and per_1k[twin]:
            lines.append(
                f"{name}: full-collection time per request {per_1k[name] / per_1k[twin]:.2f}x"
                " of the same without the freeze"
            )
    return "\n".join(lines)


def _median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else 0.0


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8, help="measured seconds per run")
    parser.add_argument("--connections", type=int, default=32)
    opts = parser.parse_args(argv)
    if opts.rounds < 1 or opts.seconds < 1:
        parser.error("--rounds and --seconds must be at least 1")
    if wrk_missing():
        return 2
    sizing = default_sizing()
    ratio = prod_sample_ratio()
    service = next(t for t in targets(*sizing, ratio) if t.name == SERVICE)
    variants: dict[str, float | None] = {"tracing off": None, f"tracing {ratio:.0%}": ratio}
    results = {f"{name}{twin}": Pauses() for name in variants for twin in ("", ", no freeze")}
    tmp = Path(tempfile.mkdtemp(prefix="bench-gc-"))
    print(f"gunicorn gthread {sizing[0]} workers x {sizing[1]} threads; wrk -c{opts.connections}")
    try:
        for round_no in range(opts.rounds):
            for name, pauses in results.items():
                sampling = variants[name.removesuffix(", no freeze")]
                record = tmp / f"{round_no}-{name.replace(' ', '_')}.txt"
                with contextlib.ExitStack() as stack:
                    extra = hook_env(record, freeze=not name.endswith("no freeze"))
                    if sampling is not None:
                        sink = stack.enter_context(OtlpSink())
                        extra.update(tracing_env(sampling, sink.endpoint))
                    url, _took, _log = stack.enter_context(serve(service, sizing, tmp, tmp, extra))
                    run_wrk(url + "/", 2, opts.connections, ALB_REQUESTS)  # warm-up
                    started = time.monotonic()
                    _rps, p99, requests, _errors = run_wrk(
                        url + "/", opts.seconds, opts.connections, ALB_REQUESTS
                    )
                    window = (started, time.monotonic())
                # The workers have exited: each wrote its collections.
                pauses.collections += read_collections(record, window)
                pauses.requests += requests
                pauses.p99_ms.append(p99)
                print(f"  round {round_no + 1} {name:28s} p99 {p99:6.2f} ms", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
