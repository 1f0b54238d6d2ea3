"""A task definition's volumes on this machine, as Fargate provides them.

On Fargate a task volume without a configuration is a bind mount: an empty directory owned by
root with mode 0755, unless the image declares a ``VOLUME`` at the mount point's container path;
then "the data in the VOLUME directive path is copied to the data volume", with its owners and
permissions (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html). A
local run that gave more (a tmpfs, a world-writable directory) would hide an image that cannot
start on Fargate, so each volume here is exactly that: an empty root-owned 0755 host directory,
or a copy of the image's files at the VOLUME path.

The directories live under the project's ``.local/volumes/<container name>/`` and are removed
when the service stops (``remove``). As root (rootful podman or docker) the copy keeps the
image's owners; an unprivileged user keeps modes only.
"""

from __future__ import annotations

import copy
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from delivery.engines.base import Bind
from delivery.errors import DeliveryError

if TYPE_CHECKING:
    from delivery.engines.base import ContainerEngine

VOLUMES_DIR = Path(".local") / "volumes"
# What a Fargate bind mount without image content is (see the module docstring).
EMPTY_MODE = 0o755


@dataclass(frozen=True)
class MountPoint:
    """A container definition's ``mountPoints`` entry."""

    source_volume: str
    container_path: str
    read_only: bool = False


def volumes_root(project: Path, container_name: str) -> Path:
    """``<project>/.local/volumes/<container_name>``: where one container's volumes live.

    Through any link resolved: a rollback's temporary checkout links its ``.local`` to the
    project's, and the recorded path must outlive that checkout (``invoke stop`` removes it).
    """
    return (project / VOLUMES_DIR).resolve() / container_name


def image_volumes(engine: ContainerEngine, ref: str) -> set[str]:
    """The paths image ``ref`` declares as ``VOLUME``."""
    data = engine.inspect(ref)
    config = data.get("Config") or data.get("config") or {}
    return {str(PurePosixPath(path)) for path in (config.get("Volumes") or {})}


def prepare(
    engine: ContainerEngine,
    ref: str,
    volumes: Sequence[str],
    mounts: Sequence[MountPoint],
    root: Path,
) -> list[Bind]:
    """Host directories under ``root`` for ``mounts``, filled as Fargate fills them; the binds.

    ``volumes`` are the task definition's volume names (bind mounts only). A mount of a volume the
    task definition does not declare is a one-line error, as registering it would be.
    """
    unknown = sorted({m.source_volume for m in mounts} - set(volumes))
    if unknown:
        raise DeliveryError(
            f"mount points name volume {', '.join(unknown)}, which the task definition does "
            "not declare: add it to the task definition's volumes"
        )
    declared = image_volumes(engine, ref) if mounts else set()
    remove(root)
    binds: list[Bind] = []
    filled: dict[str, Path] = {}
    for mount in mounts:
        host = root / mount.source_volume
        path = str(PurePosixPath(mount.container_path))
        if mount.source_volume not in filled:
            host.mkdir(parents=True, exist_ok=True)
            if path in declared:
                copy_image_path(engine, ref, path, host)
            else:
                _make_empty(host)
            filled[mount.source_volume] = host
        binds.append(Bind(host, mount.container_path, mount.read_only))
    return binds


def _make_empty(host: Path) -> None:
    """Root-owned (where this process may chown) and 0755, whatever this machine's umask says."""
    if os.geteuid() == 0:
        os.chown(host, 0, 0)
    host.chmod(EMPTY_MODE)


def copy_image_path(engine: ContainerEngine, ref: str, path: str, host: Path) -> None:
    """Copy the files image ``ref`` has at ``path`` into ``host``: content, owners, modes.

    Read from an export of a created (never started) container: the engine's own view of the
    image's filesystem, with numeric owners, whatever the engine or storage driver.
    """
    container = engine.create(ref)
    try:
        with tempfile.TemporaryDirectory(prefix="volume-", dir=host.parent) as tmp:
            archive = Path(tmp) / "rootfs.tar"
            engine.export(container, archive)
            extract_path(archive, path, host)
    finally:
        engine.remove(container)


def extract_path(archive: Path, path: str, host: Path) -> None:
    """Extract the tree at ``path`` of a root filesystem tar into ``host`` (``path`` becomes it).

    Owners (numeric) are kept when running as root, modes always, the sticky bit included.
    Python's safe extraction filters would clear that bit, so ``_members_under`` checks the
    paths instead: none absolute, none with ``..``, none written through a symbolic link.
    """
    prefix = PurePosixPath(path.strip("/"))
    # "fully_trusted" where Python has extraction filters (3.11.4+): what older versions do.
    options: dict[str, Any] = (
        {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
    )
    with tarfile.open(archive) as tar:
        members = list(_members_under(tar.getmembers(), prefix, host))
        tar.extractall(host, members=members, numeric_owner=True, **options)  # noqa: S202 - members checked above  # nosec B202


def _members_under(
    members: Iterable[tarfile.TarInfo], prefix: PurePosixPath, host: Path
) -> Iterator[tarfile.TarInfo]:
    """The members below ``prefix``, renamed relative to it; a one-line error for unsafe ones."""
    links: set[PurePosixPath] = set()
    for member in members:
        name = _archive_path(member.name)
        if name != prefix and prefix not in name.parents:
            continue
        relative = name.relative_to(prefix)
        if ".." in relative.parts or any(parent in links for parent in relative.parents):
            raise DeliveryError(f"image file /{name} cannot be copied into {host} safely")
        if member.isdev():
            continue  # device nodes are no volume data
        copied = copy.copy(member)
        copied.name = str(relative)
        if member.issym():
            links.add(relative)
        elif member.islnk():
            target = _archive_path(member.linkname)
            if target != prefix and prefix not in target.parents:
                raise DeliveryError(f"image file /{name} is a hard link out of /{prefix}")
            copied.linkname = str(target.relative_to(prefix))
        yield copied


def _archive_path(name: str) -> PurePosixPath:
    """A tar member name as a relative path (``./tmp/x`` and ``/tmp/x`` are ``tmp/x``)."""
    return PurePosixPath(name.removeprefix("./").lstrip("/") or ".")


def remove(root: Path, engine: ContainerEngine | None = None) -> None:
    """Remove ``root`` and the volumes in it; absent is fine.

    Files a rootless container wrote belong to a sub-uid this user cannot delete: ``podman
    unshare`` removes them as the container's root.
    """
    if not root.exists():
        return
    try:
        shutil.rmtree(root)
    except PermissionError:
        if engine is None or engine.name != "podman":
            raise
        engine.check("unshare", "rm", "-rf", str(root), what=f"remove {root}")
