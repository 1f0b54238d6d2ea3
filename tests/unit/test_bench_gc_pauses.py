"""The GC-pause benchmark: its start-up hook records every collection of a process (and of its
forked children, each its own), switches the freeze off on request, and the report reads them.

No timing and no load here (a saturating run would starve the tests beside it): the hook's
records are checked for what they are, in a bare interpreter and in a real gunicorn service
answering a few requests, and the report is given figures.
"""

from __future__ import annotations

import http.client
import os
from pathlib import Path

import pytest

from bench.gc_pauses import (
    FULL,
    HOOK,
    Collection,
    Pauses,
    hook_env,
    read_collections,
    report,
)
from bench.service import SERVICE, serve, targets
from tests.support.fresh_python import run_python


def _hooked(record: Path, code: str, no_freeze: str = "0") -> str:
    env = {"PYTHONPATH": str(HOOK), "BENCH_GC_PAUSES": str(record), "BENCH_GC_NO_FREEZE": no_freeze}
    return run_python(code, env=env)


def _records(record: Path) -> list[list[str]]:
    return [line.split() for line in record.read_text(encoding="utf-8").splitlines()]


def test_the_hook_records_each_collection_with_its_generation_window_and_cpu(
    tmp_path: Path,
) -> None:
    record = tmp_path / "gc.txt"
    pid = _hooked(
        record,
        "import gc, os, time\n"
        "print(os.getpid())\n"
        "print(time.monotonic())\n"
        "gc.collect(0); gc.collect(1); gc.collect(2)\n"
        "print(time.monotonic())\n",
    ).split()
    mine = [fields for fields in _records(record) if fields[0] == pid[0]]
    # The three asked for, in order, inside the window around them (start-up's own come first).
    in_window = [f for f in mine if float(pid[1]) <= float(f[2]) <= float(pid[2])]
    assert [int(f[1]) for f in in_window] == [0, 1, 2]
    for _pid, _generation, start, end, cpu in in_window:
        assert float(start) <= float(end)
        assert 0 <= float(cpu) <= float(end) - float(start) + 0.01


def test_a_forked_child_writes_its_own_collections_not_its_parents(tmp_path: Path) -> None:
    record = tmp_path / "gc.txt"
    out = _hooked(
        record,
        "import gc, os, sys\n"
        "for _ in range(5): gc.collect(2)\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    gc.collect(1)\n"
        "    sys.exit(0)\n"
        "os.waitpid(child, 0)\n"
        "print(child)\n",
    )
    child = out.split()[-1]
    assert [f[1] for f in _records(record) if f[0] == child] == ["1"]


def test_the_freeze_is_switched_off_only_when_asked(tmp_path: Path) -> None:
    code = "import gc; gc.freeze(); print(gc.get_freeze_count() > 0)"
    assert _hooked(tmp_path / "a.txt", code).strip() == "True"
    assert _hooked(tmp_path / "b.txt", code, no_freeze="1").strip() == "False"


def test_only_the_collections_inside_the_window_are_read(tmp_path: Path) -> None:
    record = tmp_path / "gc.txt"
    record.write_text(
        "10 2 0.5 0.6 0.05\n"  # before the window
        "10 2 1.5 1.52 0.02\n"
        "11 0 1.9 1.9001 0.0001\n"
        "11 2 3.5 3.6 0.05\n",  # after it
        encoding="utf-8",
    )
    assert read_collections(record, (1.0, 3.0)) == [
        Collection(2, 1.5, 1.52, 0.02),
        Collection(0, 1.9, 1.9001, 0.0001),
    ]
    assert read_collections(tmp_path / "none.txt", (0, 1)) == []


def test_the_report_compares_each_variant_with_its_unfrozen_twin() -> None:
    def pauses(*full_ms: float, requests: int = 10_000) -> Pauses:
        collections = [Collection(FULL, 0, 1, ms / 1000) for ms in full_ms]
        return Pauses([*collections, Collection(0, 0, 1, 0.001)], requests, [20.0])

    table = report(
        {
            "tracing 5%": pauses(2.0, 4.0),
            "tracing 5%, no freeze": pauses(30.0, 50.0, 40.0),
        }
    ).splitlines()
    assert table[1].split() == ["tracing", "5%", "2", "3.00", "4.00", "0.60", "0.10", "20.00"]
    assert table[2].split()[4:] == ["3", "40.00", "50.00", "12.00", "0.10", "20.00"]
    # 0.6 against 12 ms of full collections per 1000 requests.
    assert table[3] == (
        "tracing 5%: full-collection time per request 0.05x of the same without the freeze"
    )


def test_the_hook_reaches_the_services_workers_through_gunicorn(tmp_path: Path) -> None:
    # A few requests, no load: what must hold is that gunicorn's master and its forked worker
    # each write their own collections (a worker imports the app after the fork, which collects).
    record = tmp_path / "gc.txt"
    service = next(t for t in targets(1, 1, 0.05) if t.name == SERVICE)
    with serve(service, (1, 1), tmp_path, tmp_path, hook_env(record, freeze=True)) as served:
        host, port = served[0].removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        for _ in range(3):
            connection.request("GET", "/")
            assert connection.getresponse().read()
        connection.close()
    assert len({fields[0] for fields in _records(record)}) >= 2


def test_the_hook_environment_keeps_what_python_path_had(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    env = hook_env(tmp_path / "gc.txt", freeze=False)
    assert env["PYTHONPATH"].split(os.pathsep) == [str(HOOK), "/somewhere"]
    assert env["BENCH_GC_NO_FREEZE"] == "1"
    assert hook_env(tmp_path / "gc.txt", freeze=True)["BENCH_GC_NO_FREEZE"] == "0"
