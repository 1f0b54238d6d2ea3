"""A docker-archive (what ``docker save`` writes) read back as the registry manifest of its image.

For recording an image in a registry that cannot receive a push (the local emulator's ECR, through
put_image): the manifest is derived from the archive the same way for every engine.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

from delivery.errors import DeliveryError

DOCKER_V2_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_V2_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_V2_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


def manifest_from_archive(archive: Path) -> bytes:
    """A Docker v2 schema 2 manifest (JSON bytes) for the single image in a docker-archive tar."""
    with tarfile.open(archive) as tar:
        index = json.loads(member_bytes(tar, "manifest.json"))
        if not index:
            raise DeliveryError(f"{archive.name} holds no image")
        entry = index[0]
        config = member_bytes(tar, entry["Config"])
        layers = [_digest_member(tar, name) for name in entry["Layers"]]
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_V2_MANIFEST,
        "config": {
            "mediaType": DOCKER_V2_CONFIG,
            "size": len(config),
            "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
        },
        "layers": [
            {"mediaType": DOCKER_V2_LAYER, "size": size, "digest": digest}
            for digest, size in layers
        ],
    }
    return json.dumps(manifest, indent=3).encode()


def member_bytes(tar: tarfile.TarFile, name: str) -> bytes:
    """The contents of file ``name`` in an image archive; a one-line error when it has none."""
    handle = tar.extractfile(name)
    if handle is None:
        raise DeliveryError(f"image archive has no file {name}")
    with handle:
        return handle.read()


def _digest_member(tar: tarfile.TarFile, name: str) -> tuple[str, int]:
    """``(sha256 digest, size)`` of layer ``name``, read in chunks: a layer can be large."""
    handle = tar.extractfile(name)
    if handle is None:
        raise DeliveryError(f"image archive has no layer {name}")
    digest = hashlib.sha256()
    size = 0
    with handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return "sha256:" + digest.hexdigest(), size
