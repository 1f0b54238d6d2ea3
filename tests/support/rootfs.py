"""Root filesystem exports (what ``podman export`` writes), as tar files a test describes."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence
from pathlib import Path

# One file of an exported root filesystem: name, mode, owner, content (None: a folder), link.
Member = tuple[str, int, int, bytes | None, str]


def rootfs_tar(path: Path, members: Sequence[Member]) -> None:
    """A root filesystem export: ``(name, mode, uid, file content or None for a dir, link)``."""
    with tarfile.open(path, "w") as tar:
        for name, bits, uid, content, link in members:
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid = bits, uid, uid
            if link:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            elif content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
