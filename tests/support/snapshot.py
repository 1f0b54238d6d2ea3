"""This working tree as a repository of its own: what a clone of a clean tree holds.

Tests that commit, tag and deploy new versions work on such a snapshot, never on the real
repository.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.git import git
from tests.support.paths import ROOT


def snapshot(dest: Path) -> Path:
    """The working tree's files (tracked and new, not ignored) as a fresh one-commit repository.

    The host-prepared wheels come along (they are ignored, and otherwise downloaded again).
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    if (ROOT / "build" / "wheels").is_dir():
        shutil.copytree(ROOT / "build" / "wheels", dest / "build" / "wheels")
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", ".")
    git(dest, "commit", "-q", "-m", "chore: snapshot of the working tree")
    return dest
