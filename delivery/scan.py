"""Image vulnerability scan with Trivy: it blocks the deploy, and it never passes silently.

No scanner installs on the project's own machines (see notes/containers.md); CodeBuild installs
Trivy. So a missing scanner is a failure unless the caller explicitly skips the scan, and a skip is
reported as such (``ScanResult.skipped``), never as a pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from delivery.errors import DeliveryError
from delivery.process import last_line

SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
DEFAULT_THRESHOLD = "HIGH"
# Trivy exits 1 on its own errors too; a distinct code tells "vulnerabilities found" apart.
FINDINGS_EXIT = 3
# Set (to why) where no scanner can run, e.g. the pipeline rehearsal on a machine that cannot
# download Trivy: every scan step then skips, saying so and why, instead of failing or pretending.
SKIP_VARIABLE = "SCAN_SKIP_REASON"

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]
Which = Callable[[str], "str | None"]


@dataclass(frozen=True)
class ScanResult:
    """Outcome of a scan that did not fail: passed, or skipped on request (loudly)."""

    image: str
    skipped: bool
    message: str


def _run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - argv built from validated options, no shell
        list(args), capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )


def skip_reason(environ: Mapping[str, str] | None = None) -> str | None:
    """Why scanning is skipped here (``$SCAN_SKIP_REASON``), or None: scan."""
    reason = (os.environ if environ is None else environ).get(SKIP_VARIABLE, "").strip()
    return reason or None


def severities(threshold: str) -> list[str]:
    """The severities at or above ``threshold`` (``HIGH`` -> HIGH, CRITICAL)."""
    level = threshold.strip().upper()
    if level not in SEVERITIES:
        raise DeliveryError(
            f"invalid scan threshold '{threshold}': choose one of {', '.join(SEVERITIES)}"
        )
    return list(SEVERITIES[SEVERITIES.index(level) :])


def command(
    image: str,
    threshold: str = DEFAULT_THRESHOLD,
    ignore_unfixed: bool = True,
    image_src: str | None = None,
) -> list[str]:
    """The trivy command line that fails (exit FINDINGS_EXIT) on findings at/above threshold."""
    args = [
        "trivy", "image", "--quiet", "--no-progress",
        "--exit-code", str(FINDINGS_EXIT),
        "--severity", ",".join(severities(threshold)),
    ]  # fmt: skip
    if ignore_unfixed:
        # Findings without a fixed version cannot be acted on by a rebuild; report the rest.
        args.append("--ignore-unfixed")
    if image_src:
        args += ["--image-src", image_src]
    return [*args, image]


def check(
    threshold: str = DEFAULT_THRESHOLD, skip: bool = False, which: Which = shutil.which
) -> None:
    """Validate scan options and scanner presence before anything is built."""
    severities(threshold)
    if not skip and not skip_reason() and which("trivy") is None:
        raise DeliveryError(
            "trivy is not installed, so the image cannot be scanned: install trivy "
            "(https://trivy.dev) or pass --skip-scan to deploy without a scan"
        )


def scan(
    image: str,
    threshold: str = DEFAULT_THRESHOLD,
    *,
    skip: bool = False,
    ignore_unfixed: bool = True,
    image_src: str | None = None,
    runner: Runner = _run,
    which: Which = shutil.which,
) -> ScanResult:
    """Scan ``image``; a one-line DeliveryError when findings or errors block it.

    ``skip`` (``--skip-scan``) or ``$SCAN_SKIP_REASON`` skips it, loudly.
    """
    args = command(image, threshold, ignore_unfixed, image_src)
    reason = skip_reason()
    if skip or reason:
        why = f"{SKIP_VARIABLE}: {reason}" if reason else "--skip-scan"
        return ScanResult(
            image=image,
            skipped=True,
            message=f"SCAN SKIPPED: {image} was NOT scanned for vulnerabilities ({why})",
        )
    check(threshold, skip=False, which=which)
    result = runner(args)
    if result.returncode == 0:
        level = ",".join(severities(threshold))
        return ScanResult(image=image, skipped=False, message=f"scan passed: no {level} findings")
    if result.returncode == FINDINGS_EXIT:
        raise DeliveryError(
            f"trivy found {'/'.join(severities(threshold))} vulnerabilities in {image}: "
            "fix them (rebuild on a patched base, bump dependencies) or raise --threshold"
        )
    reason = last_line(result.stderr + result.stdout, default=f"exit {result.returncode}")
    raise DeliveryError(f"trivy could not scan {image}: {reason}")
