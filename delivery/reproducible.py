"""What makes two builds of one commit one image, hence one digest.

ECR tags are immutable, so a pipeline that runs again for the same commit can only pass if its
rebuild is byte-identical to the first build. Three things differed between builds:

- time: the image config's ``created`` times and the modification times of every file a build
  step writes. The commit's committer time replaces the clock (``SOURCE_DATE_EPOCH``; BUILD_TIME
  is the same instant in ISO 8601), and the engine stamps it on the config and the layers:
  podman/buildah ``--timestamp``; docker BuildKit ``SOURCE_DATE_EPOCH`` plus the image exporter's
  ``rewrite-timestamp`` (BuildKit v0.13 or later, see ``ContainerEngine.build_argv``);
- the build container: buildah up to at least 1.28 writes its build container's id
  (``container``, ``Hostname``), the parent image and the ids of its intermediate images (history
  comments) into the config. They name things that exist on the build machine only and differ on
  every build: ``normalized_config`` drops them (newer buildah leaves them out itself when given a
  timestamp; then nothing changes);
- the Dockerfile's own steps: handled there (useradd's date in /etc/shadow, bytecode hash seed).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from delivery.errors import DeliveryError
from delivery.image_archive import member_bytes
from delivery.process import Runner, last_line

# A history comment buildah writes for each step: the id of the intermediate image it built on.
_INTERMEDIATE_COMMENT = re.compile(r"^FROM [0-9a-f]{12,64}$")
GIT_TIMEOUT_S = 30.0


def commit_epoch(context: Path, git_sha: str, runner: Runner) -> int:
    """The committer time of ``git_sha`` in ``context``'s repository, in seconds since the epoch.

    The committer time, not the author time: a rebase or cherry-pick makes a new commit with a new
    committer time, so two different commits of the same change never share a timestamp by accident.
    """
    result = runner(
        ["git", "-C", str(context), "log", "-1", "--format=%ct", git_sha], timeout=GIT_TIMEOUT_S
    )
    text = result.stdout.strip()
    if not result.ok or not text.isdigit():
        reason = last_line(result.stderr or result.stdout)
        raise DeliveryError(
            f"cannot read the commit time of {git_sha[:12]} in {context}: "
            f"{reason} (build from a git checkout of that commit)"
        )
    return int(text)


def iso_utc(epoch: int) -> str:
    """``epoch`` as the ISO 8601 UTC time the image reports (label ``created``, ``BUILD_TIME``)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalized_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (a docker image config) without what identifies the build machine's containers.

    Dropped: ``container`` (the build container's id), ``parent`` (a local intermediate image),
    the hostname the build container had, and history comments naming intermediate images.
    Everything that describes the image itself (layers, environment, labels, history commands
    and times) stays.
    """
    result: dict[str, Any] = json.loads(json.dumps(config))
    result.pop("container", None)
    result.pop("parent", None)
    for key in ("config", "container_config"):
        if isinstance(result.get(key), dict) and result[key].get("Hostname"):
            result[key]["Hostname"] = ""
    for entry in result.get("history") or []:
        if _INTERMEDIATE_COMMENT.match(str(entry.get("comment", ""))):
            del entry["comment"]
    return result


def normalize_archive(source: Path, target: Path) -> str | None:
    """Write ``source`` (a docker-archive of one image) to ``target`` with a normalized config.

    Returns the new image id (``sha256:`` of the new config), or None when the config already is
    normalized (then ``target`` is not written). Layers are copied byte for byte.
    """
    with tarfile.open(source) as archive:
        index = json.loads(member_bytes(archive, "manifest.json"))
        config_name = index[0]["Config"]
        original = member_bytes(archive, config_name)
        config = json.loads(original)
        normalized = normalized_config(config)
        if normalized == config:
            return None
        body = json.dumps(normalized, separators=(",", ":")).encode()
        digest = hashlib.sha256(body).hexdigest()
        index[0]["Config"] = f"{digest}.json"
        with tarfile.open(target, "w") as out:
            for member in archive.getmembers():
                if member.name in (config_name, "manifest.json"):
                    continue
                out.addfile(member, archive.extractfile(member) if member.isfile() else None)
            _add(out, f"{digest}.json", body)
            _add(out, "manifest.json", json.dumps(index).encode())
    return f"sha256:{digest}"


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))
