"""A local Debian base image for machines that reach no container registry.

``debootstrap --variant=minbase`` with Python 3.11 (bookworm's python3) and venv, imported into the
engine's store as ``localhost/flask-fargate-base:bookworm``. It stands in for the public
``python:3.11-slim-bookworm``: same Debian release, same Python minor version, useradd/groupadd
present, so the one Dockerfile builds on both. Made once (about a minute), cached after that.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from delivery import project
from delivery.errors import DeliveryError
from delivery.process import last_line

if TYPE_CHECKING:
    from delivery.engines.base import ContainerEngine

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WORK_DIR = PROJECT_ROOT / ".local" / "base"
LOCAL_BASE_REF = f"localhost/{project.NAME}-base:bookworm"
SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv", "ca-certificates")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEBOOTSTRAP_TIMEOUT_S = 900.0
# Never needed at run time and half the tree's size: package caches and lists, documentation
# (the copyright files stay), manual pages, translations.
TRIM = (
    "var/cache/apt",
    "var/lib/apt/lists",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/log",
)
CHANGES = ("ENV LANG=C.UTF-8", 'CMD ["python3"]')


def ensure_local_base(
    engine: ContainerEngine,
    ref: str = LOCAL_BASE_REF,
    *,
    work_dir: Path = WORK_DIR,
    mirror: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
    is_root: bool | None = None,
) -> str:
    """Return ``ref``, first building it with debootstrap if the engine does not have it yet.

    Needs root (debootstrap chroots) and the Debian packages debootstrap and tar; bin/bootstrap
    installs them. The mirror is ``$DEBIAN_MIRROR`` or deb.debian.org.
    """
    if engine.image_exists(ref):
        return ref
    missing = [tool for tool in ("debootstrap", "tar") if which(tool) is None]
    if missing:
        raise DeliveryError(
            f"the local base image needs {' and '.join(missing)}: run bin/bootstrap "
            f"(apt-get install {' '.join(missing)}), or pass a base image that exists"
        )
    if not (os.geteuid() == 0 if is_root is None else is_root):
        raise DeliveryError(
            "the local base image needs root (debootstrap): run as root, or pass a base image "
            "that exists"
        )
    work_dir.mkdir(parents=True, exist_ok=True)
    runner = engine.runner
    with tempfile.TemporaryDirectory(prefix="base-", dir=work_dir) as tmp:
        rootfs = Path(tmp) / "rootfs"
        result = runner(
            debootstrap_argv(rootfs, mirror or os.environ.get("DEBIAN_MIRROR") or DEFAULT_MIRROR),
            timeout=DEBOOTSTRAP_TIMEOUT_S,
        )
        if not result.ok:
            raise DeliveryError(
                f"debootstrap of Debian {SUITE} failed: {last_line(result.stderr + result.stdout)}"
            )
        trim_rootfs(rootfs)
        tarball = Path(tmp) / "rootfs.tar"
        result = runner(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."],
            timeout=DEBOOTSTRAP_TIMEOUT_S,
        )
        if not result.ok:
            raise DeliveryError(
                f"packing the base root filesystem failed: {last_line(result.stderr)}"
            )
        # The tree is root-owned from a chroot; removing it needs no special care as root.
        shutil.rmtree(rootfs, ignore_errors=True)
        engine.import_rootfs(tarball, ref, CHANGES)
    return ref


def debootstrap_argv(rootfs: Path, mirror: str = DEFAULT_MIRROR) -> list[str]:
    """The debootstrap command for the base's root filesystem."""
    return [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(rootfs),
        mirror,
    ]


def trim_rootfs(rootfs: Path) -> None:
    """Drop what a service never uses at run time from a fresh root filesystem (see TRIM)."""
    for relative in TRIM:
        target = rootfs / relative
        if target.is_dir():
            for child in target.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
    docs = rootfs / "usr" / "share" / "doc"
    if docs.is_dir():
        for path in sorted(docs.rglob("*"), reverse=True):
            if path.is_file() or path.is_symlink():
                if path.name != "copyright":
                    path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
