"""Running the project's command line as a user does: ``python -m invoke`` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.support.paths import ROOT


def run_invoke(
    project: Path,
    *args: str,
    env: Mapping[str, str | None] | None = None,
    ambient_aws: bool = True,
    timeout: float = 120,
    stdin: str | None = None,
    fake_build: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m invoke <args>`` from the repository, its tasks pointed at ``project``.

    ``env`` overrides this process's environment (``None`` removes a variable); with
    ``ambient_aws=False`` every ``AWS_*`` variable of the shell is dropped first, as on a machine
    with no AWS configuration. ``stdin``: what the command reads on its standard input.
    ``fake_build``: a version, built and scanned fakely (tests/support/fake_build_invoke.py), so
    that a deploy needs no container engine.
    """
    environ = {
        name: value
        for name, value in os.environ.items()
        if ambient_aws or not name.startswith("AWS_")
    }
    environ["DELIVERY_PROJECT_ROOT"] = str(project)
    for name, value in (env or {}).items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return subprocess.run(
        [sys.executable, "-m", *_program(fake_build), *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=stdin,
    )


def _program(fake_build: str | None) -> list[str]:
    return ["invoke"] if fake_build is None else ["tests.support.fake_build_invoke", fake_build]
