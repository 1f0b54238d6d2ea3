"""Golden files: the rendered templates are reviewed in diffs, never changed by accident.

Refresh after an intended change, then review ``git diff tests/golden``:

    uv run python -m delivery.render --out tests/golden
"""

from __future__ import annotations

import time
from pathlib import Path

from delivery.render import render
from tests.support.paths import ROOT

GOLDEN = ROOT / "tests" / "golden"
REFRESH = "uv run python -m delivery.render --out tests/golden"


def test_rendered_templates_match_the_golden_files(tmp_path: Path) -> None:
    written = render(tmp_path)
    rendered = {p.relative_to(tmp_path): p.read_text() for p in written}
    golden = {p.relative_to(GOLDEN): p.read_text() for p in GOLDEN.glob("*/*.json")}
    assert sorted(rendered) == sorted(golden), f"stacks differ; refresh with: {REFRESH}"
    changed = [str(path) for path, text in rendered.items() if golden[path] != text]
    assert not changed, f"templates changed: {changed}; review, then refresh with: {REFRESH}"


def test_render_of_every_stack_takes_under_two_cpu_seconds(tmp_path: Path) -> None:
    """Counted in this process's CPU time: other work on the machine slows the wall clock, not
    the work the render does (about 0.1-0.5 s of it)."""
    started = time.process_time()
    render(tmp_path)
    assert time.process_time() - started < 2.0


def test_every_template_fits_in_a_request_as_cloudformation_receives_it() -> None:
    """Sceptre sends the body inline (no template bucket): CloudFormation takes 51,200 bytes.

    The CloudFormation roles stack rendered indented was 53,569 bytes: it could not be created.
    """
    from delivery.render import render_stack, stack_configs  # noqa: PLC0415
    from stacks.common.handler import MAX_TEMPLATE_BODY_BYTES  # noqa: PLC0415

    for stack in stack_configs():
        size = len(render_stack(stack).encode())
        assert size <= MAX_TEMPLATE_BODY_BYTES, f"{stack.environment}/{stack.name}: {size} bytes"
