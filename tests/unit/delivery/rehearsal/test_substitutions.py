"""What the rehearsal changes in every build is what an offline machine cannot do as AWS does."""

from __future__ import annotations

from pathlib import Path

import yaml

from delivery.rehearsal import runner, source

ROOT = Path(__file__).resolve().parents[4]


def test_no_build_requires_what_needs_the_internet() -> None:
    # With the gate inside the Build, the security session failed: the buildspec requires the
    # dependency audit, which reaches no vulnerability service offline.
    declared = yaml.safe_load((ROOT / "buildspec.yml").read_text())["env"]["variables"]
    assert declared["REQUIRE_AUDIT"] == "1"
    options = runner.Options(root=ROOT, env="local", trigger="tag", approve=False)
    revision = source.Revision(commit="0" * 40, branch="main")
    seen = {**declared, **runner._substitutions(options, revision)}
    assert seen["REQUIRE_AUDIT"] != "1"
    assert seen["SCAN_SKIP_REASON"]
    assert "QUALITY_GATE_PASSED" not in seen
