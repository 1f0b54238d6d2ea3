"""The in-process benchmark (bench/per_request.py): its table, and nothing else on stdout."""

from __future__ import annotations

import re

from bench.per_request import BASELINE, TRACING_OFF, report
from tests.support.fresh_python import run_python


def test_the_table_gives_each_variant_its_cost_over_tracing_off_and_its_ratio_to_flask() -> None:
    table = report({BASELINE: [80.0, 82.0, 90.0], TRACING_OFF: [88.0], "app, tracing": [99.0]})
    flask, off, traced = (table.splitlines()[i] for i in (1, 2, 3))
    assert re.search(r" 82\.0 +80\.0-90\.0 +-6\.0 +1\.00x$", flask)
    assert re.search(r" 88\.0 +88\.0-88\.0 +\+0\.0 +1\.07x$", off)
    assert re.search(r" 99\.0 +99\.0-99\.0 +\+11\.0 +1\.21x$", traced)


def test_a_run_prints_one_row_per_variant_and_no_access_line() -> None:
    # A fresh interpreter: the benchmark points file descriptor 1 at /dev/null while it serves.
    out = run_python(
        "from bench.per_request import main; main(['--rounds', '1', '--requests', '20'])"
    )
    lines = out.splitlines()
    assert lines[0].startswith("CPU per GET / in one process")
    names = [line[:32].strip() for line in lines[2:]]
    assert names[:2] == [BASELINE, TRACING_OFF]
    assert len(names) == 5
    assert any(name.endswith("ALB header") for name in names)
    assert all(name.startswith("app, tracing") for name in names[2:])
    assert not any(line.startswith("{") for line in lines)
