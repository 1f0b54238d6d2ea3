"""The Trivy scan blocks on findings and never passes silently (fake runner: no Trivy here)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

import pytest

from delivery import scan
from delivery.errors import DeliveryError


class FakeTrivy:
    """Records the argv and answers with a fixed exit code and output."""

    def __init__(self, returncode: int = 0, stderr: str = "") -> None:
        self.returncode = returncode
        self.stderr = stderr
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(args))
        return subprocess.CompletedProcess(list(args), self.returncode, "", self.stderr)


def installed(_: str) -> str:
    return "/usr/local/bin/trivy"


def missing(_: str) -> None:
    return None


def test_command_fails_on_the_threshold_and_above() -> None:
    args = scan.command("app:1.0.0", "high", image_src="podman")
    assert args[:2] == ["trivy", "image"]
    assert args[args.index("--severity") + 1] == "HIGH,CRITICAL"
    # 3, not trivy's own 1 for "could not scan": a scanner error must never read as findings.
    assert args[args.index("--exit-code") + 1] == "3"
    assert "--ignore-unfixed" in args
    assert args[args.index("--image-src") + 1] == "podman"
    assert args[-1] == "app:1.0.0"
    assert "--ignore-unfixed" not in scan.command("app", "LOW", ignore_unfixed=False)
    assert scan.severities("medium") == ["MEDIUM", "HIGH", "CRITICAL"]


def test_clean_image_passes() -> None:
    trivy = FakeTrivy(0)
    result = scan.scan("app:1", runner=trivy, which=installed)
    assert not result.skipped
    assert "scan passed" in result.message
    assert len(trivy.calls) == 1


def test_findings_block() -> None:
    with pytest.raises(DeliveryError, match="trivy found HIGH/CRITICAL vulnerabilities in app:1"):
        scan.scan("app:1", runner=FakeTrivy(3), which=installed)


def test_scanner_error_is_not_a_pass() -> None:
    trivy = FakeTrivy(1, "2026 FATAL unable to find the image\n")
    with pytest.raises(DeliveryError, match=r"trivy could not scan app:1: .*unable to find"):
        scan.scan("app:1", runner=trivy, which=installed)


def test_missing_scanner_fails_plainly() -> None:
    trivy = FakeTrivy(0)
    with pytest.raises(DeliveryError, match=r"trivy is not installed.*--skip-scan"):
        scan.scan("app:1", runner=trivy, which=missing)
    assert trivy.calls == []


def test_skip_is_loud_and_never_runs_the_scanner() -> None:
    trivy = FakeTrivy(0)
    result = scan.scan("app:1", skip=True, runner=trivy, which=missing)
    assert result.skipped
    assert result.message.startswith("SCAN SKIPPED")
    assert "NOT scanned" in result.message
    assert trivy.calls == []


@pytest.mark.parametrize("threshold", ["SEVERE", "", "high,critical"])
def test_invalid_threshold_is_rejected_even_when_skipping(threshold: str) -> None:
    with pytest.raises(DeliveryError, match="invalid scan threshold"):
        scan.check(threshold, skip=True, which=installed)


def test_a_skip_reason_skips_every_scan_loudly_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(scan.SKIP_VARIABLE, "no internet to download Trivy")
    trivy = FakeTrivy(0)
    scan.check(which=lambda _: None)  # no scanner installed, and that is fine now
    result = scan.scan("app:1", runner=trivy, which=lambda _: None)
    assert result.skipped
    assert result.message == (
        "SCAN SKIPPED: app:1 was NOT scanned for vulnerabilities "
        "(SCAN_SKIP_REASON: no internet to download Trivy)"
    )
    assert trivy.calls == []


def test_an_empty_skip_reason_skips_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(scan.SKIP_VARIABLE, "  ")
    assert scan.skip_reason() is None
    with pytest.raises(DeliveryError, match="trivy is not installed"):
        scan.check(which=lambda _: None)
