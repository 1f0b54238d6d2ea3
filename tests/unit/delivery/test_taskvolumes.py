"""Task volumes on this machine as Fargate makes them, on the fake runner and real tar files.

Fargate gives a task volume as an empty root-owned 0755 directory, or, when the image declares a
VOLUME at the mount point, a copy of the image's files there with their owners and modes.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest

from delivery import taskvolumes
from delivery.engines.base import Bind
from delivery.errors import DeliveryError
from delivery.taskvolumes import MountPoint
from tests.support.fake_engine import FakeRunner, engine
from tests.support.rootfs import Member, rootfs_tar

TMP = [MountPoint("tmp", "/tmp")]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="owners are kept by root only")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def image_with(
    runner: FakeRunner,
    volumes: dict[str, object],
    members: list[Member],
) -> None:
    """Script an image declaring ``volumes`` whose exported filesystem holds ``members``."""
    runner.on("podman", "inspect", stdout=json.dumps([{"Config": {"Volumes": volumes}}]))
    runner.on("podman", "create", stdout="c0ffee\n")
    runner.on("podman", "export")
    runner.on("podman", "rm", "--force", "c0ffee")

    def export(argv: Sequence[str]) -> None:
        if tuple(argv[:2]) == ("podman", "export"):
            rootfs_tar(Path(argv[argv.index("--output") + 1]), members)

    runner.effects.append(export)


IMAGE_FILES: list[Member] = [
    ("etc/", 0o755, 0, None, ""),
    ("etc/passwd", 0o644, 0, b"root:x:0:0\n", ""),
    ("tmp/", 0o1777, 0, None, ""),
    ("tmp/.keep", 0o640, 10001, b"kept", ""),
    ("tmp/cache/", 0o700, 10001, None, ""),
    ("tmp/current", 0o777, 10001, None, "cache"),
]


@needs_root
def test_a_volume_the_image_declares_gets_the_images_files_owners_and_modes(
    tmp_path: Path,
) -> None:
    runner = FakeRunner()
    image_with(runner, {"/tmp": {}}, IMAGE_FILES)
    binds = taskvolumes.prepare(engine(runner=runner), "svc:1", ["tmp"], TMP, tmp_path / "v")
    host = tmp_path / "v" / "tmp"
    assert binds == [Bind(host, "/tmp")]
    assert (mode(host), host.stat().st_uid) == (0o1777, 0)  # sticky, world-writable, as /tmp
    assert sorted(path.name for path in host.iterdir()) == [".keep", "cache", "current"]
    assert (host / ".keep").read_bytes() == b"kept"
    assert (mode(host / ".keep"), (host / ".keep").stat().st_uid) == (0o640, 10001)
    assert (mode(host / "cache"), (host / "cache").stat().st_uid) == (0o700, 10001)
    assert os.readlink(host / "current") == "cache"
    assert not (tmp_path / "v" / "etc").exists()  # only the volume's own path
    # The container that was read is gone; it was never started.
    assert [argv[1] for argv in runner.argvs()] == ["inspect", "create", "export", "rm"]


@needs_root
def test_a_volume_the_image_does_not_declare_is_empty_root_owned_0755(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on("podman", "inspect", stdout=json.dumps([{"Config": {"Volumes": None}}]))
    old = os.umask(0o077)  # the machine's umask must not matter
    try:
        taskvolumes.prepare(engine(runner=runner), "svc:1", ["tmp"], TMP, tmp_path / "v")
    finally:
        os.umask(old)
    host = tmp_path / "v" / "tmp"
    assert (mode(host), host.stat().st_uid, list(host.iterdir())) == (0o755, 0, [])
    assert [argv[1] for argv in runner.argvs()] == ["inspect"]  # no image files read


def test_one_volume_mounted_twice_is_one_folder(tmp_path: Path) -> None:
    runner = FakeRunner()
    runner.on("podman", "inspect", stdout=json.dumps([{"Config": {}}]))
    mounts = [MountPoint("scratch", "/a"), MountPoint("scratch", "/b", read_only=True)]
    binds = taskvolumes.prepare(engine(runner=runner), "svc:1", ["scratch"], mounts, tmp_path)
    assert binds == [Bind(tmp_path / "scratch", "/a"), Bind(tmp_path / "scratch", "/b", True)]


def test_a_mount_of_an_undeclared_volume_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError) as info:
        taskvolumes.prepare(engine(runner=FakeRunner()), "svc:1", [], TMP, tmp_path)
    assert str(info.value) == (
        "mount points name volume tmp, which the task definition does not declare: add it to "
        "the task definition's volumes"
    )


def test_image_files_written_through_a_link_are_refused(tmp_path: Path) -> None:
    runner = FakeRunner()
    image_with(
        runner,
        {"/tmp": {}},
        [("tmp/", 0o1777, 0, None, ""), ("tmp/out", 0o777, 0, None, "/etc"),
         ("tmp/out/passwd", 0o644, 0, b"x", "")],
    )  # fmt: skip
    with pytest.raises(DeliveryError, match=r"^image file /tmp/out/passwd cannot be copied"):
        taskvolumes.prepare(engine(runner=runner), "svc:1", ["tmp"], TMP, tmp_path / "v")
    assert runner.argvs()[-1][:2] == ("podman", "rm")  # the container is removed all the same


def test_remove_falls_back_to_podman_unshare_for_a_rootless_containers_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "v" / "tmp").mkdir(parents=True)

    def denied(path: Path) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(shutil, "rmtree", denied)
    runner = FakeRunner()
    runner.on("podman", "unshare", "rm", "-rf")
    taskvolumes.remove(tmp_path / "v", engine(runner=runner))
    assert runner.argvs() == [("podman", "unshare", "rm", "-rf", str(tmp_path / "v"))]
    with pytest.raises(PermissionError):
        taskvolumes.remove(tmp_path / "v", engine("docker", FakeRunner()))


def test_remove_of_nothing_is_fine(tmp_path: Path) -> None:
    taskvolumes.remove(tmp_path / "absent")


def test_the_volumes_root_outlives_a_checkout_that_links_the_projects_local(
    tmp_path: Path,
) -> None:
    """A rollback's release checkout links ``.local`` to the project's: record the real path."""
    project, checkout = tmp_path / "project", tmp_path / "checkout"
    (project / ".local").mkdir(parents=True)
    checkout.mkdir()
    (checkout / ".local").symlink_to(project / ".local", target_is_directory=True)
    root = taskvolumes.volumes_root(checkout, "c")
    assert root == project.resolve() / ".local" / "volumes" / "c"
