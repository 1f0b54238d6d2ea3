"""Golden files: the rendered templates are reviewed in diffs, never changed by accident.

Refresh after an intended change, then review ``git diff tests/golden``:

    uv run python -m delivery.render --out tests/golden
"""

from __future__ import annotations

import time
from pathlib import Path

from delivery.render import render
from tests.unit.stacks.cfn import ROOT

GOLDEN = ROOT / "tests" / "golden"
REFRESH = "uv run python -m delivery.render --out tests/golden"


def test_rendered_templates_match_the_golden_files(tmp_path: Path) -> None:
    written = render(tmp_path)
    rendered = {p.relative_to(tmp_path): p.read_text() for p in written}
    golden = {p.relative_to(GOLDEN): p.read_text() for p in GOLDEN.glob("*/*.json")}
    assert sorted(rendered) == sorted(golden), f"stacks differ; refresh with: {REFRESH}"
    changed = [str(path) for path, text in rendered.items() if golden[path] != text]
    assert not changed, f"templates changed: {changed}; review, then refresh with: {REFRESH}"


def test_render_of_every_stack_takes_under_two_seconds(tmp_path: Path) -> None:
    started = time.perf_counter()
    render(tmp_path)
    assert time.perf_counter() - started < 2.0
