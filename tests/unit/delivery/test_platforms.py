"""The image is built for the task definition's architecture, on the fake runner.

An arm64 workstation used to build arm64 images (and download arm64 wheels) for an X86_64 task:
now the build takes the task's platform, and a machine that cannot build it is refused first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from delivery import image_build as image
from delivery import platforms
from delivery.errors import DeliveryError
from tests.support.fake_engine import FakeRunner, engine


@pytest.mark.parametrize(
    ("architecture", "platform"), [("X86_64", "linux/amd64"), ("ARM64", "linux/arm64")]
)
def test_the_task_definitions_architecture_names_the_image_platform(
    architecture: str, platform: str
) -> None:
    assert platforms.platform_for(architecture) == platform


def test_the_default_platform_is_the_task_definitions_default() -> None:
    assert platforms.DEFAULT_PLATFORM == "linux/amd64"  # stacks/service/settings.py: X86_64


def test_an_unknown_architecture_is_one_line() -> None:
    with pytest.raises(DeliveryError) as info:
        platforms.platform_for("RISCV64")
    assert str(info.value) == "unknown cpu_architecture 'RISCV64': Fargate runs X86_64 or ARM64"


@pytest.fixture
def arm64_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """An arm64 workstation (Apple silicon Linux VM, Graviton)."""
    monkeypatch.setattr(platforms, "host_platform", lambda: "linux/arm64")


def binfmt(directory: Path, name: str, state: str) -> Path:
    """A binfmt_misc directory with one entry, as /proc/sys/fs/binfmt_misc shows it."""
    directory.mkdir(exist_ok=True)
    (directory / "status").write_text("enabled\n")
    (directory / name).write_text(f"{state}\ninterpreter /usr/bin/{name}-static\n")
    return directory


@pytest.mark.usefixtures("arm64_host")
def test_podman_without_emulation_cannot_build_for_another_architecture(tmp_path: Path) -> None:
    podman = engine("podman", FakeRunner())
    with pytest.raises(DeliveryError) as info:
        podman.check_buildable("linux/amd64", binfmt_dir=tmp_path / "absent")
    assert str(info.value) == (
        "podman on this linux/arm64 machine cannot build linux/amd64 images (the task "
        "definition's architecture): enable emulation for x86_64 (e.g. the qemu-user-static "
        "package), or build on a machine of that architecture"
    )
    disabled = binfmt(tmp_path / "off", "qemu-x86_64", "disabled")
    with pytest.raises(DeliveryError):
        podman.check_buildable("linux/amd64", binfmt_dir=disabled)
    podman.check_buildable("linux/arm64", binfmt_dir=tmp_path / "absent")  # native


@pytest.mark.usefixtures("arm64_host")
def test_podman_with_emulation_builds_for_another_architecture(tmp_path: Path) -> None:
    enabled = binfmt(tmp_path / "on", "qemu-x86_64", "enabled")
    engine("buildah", FakeRunner()).check_buildable("linux/amd64", binfmt_dir=enabled)


@pytest.mark.usefixtures("arm64_host")
def test_docker_builds_for_what_its_builder_lists() -> None:
    runner = FakeRunner()
    runner.on(
        "docker", "buildx", "inspect",
        stdout=(
            "Name:          desktop-linux\nDriver:        docker\n\nNodes:\n"
            "Name:      desktop-linux\nStatus:    running\nBuildKit version: v0.16.0\n"
            "Platforms: linux/arm64, linux/amd64*, linux/amd64/v2, linux/riscv64\n"
        ),
    )  # fmt: skip
    assert engine("docker", runner).buildable_platforms() == {
        "linux/arm64",
        "linux/amd64",
        "linux/riscv64",
    }
    engine("docker", runner).check_buildable("linux/amd64")


@pytest.mark.usefixtures("arm64_host")
def test_docker_without_buildx_builds_for_this_machine_only() -> None:
    runner = FakeRunner()
    runner.on("docker", "buildx", "inspect", returncode=1, stderr="unknown command: buildx")
    with pytest.raises(DeliveryError, match=r"^docker on this linux/arm64 machine cannot build"):
        engine("docker", runner).check_buildable("linux/amd64")


@pytest.mark.usefixtures("arm64_host")
def test_an_arm64_workstation_is_refused_before_anything_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platforms, "BINFMT_DIR", tmp_path / "absent")
    runner = FakeRunner()
    with pytest.raises(DeliveryError, match=r"cannot build linux/amd64 images"):
        image.build_image("svc", "1.0.0", "f00", engine=engine("podman", runner), context=tmp_path)
    assert runner.argvs() == []  # no git, no wheels, no build


def test_an_unknown_platform_is_one_line() -> None:
    with pytest.raises(DeliveryError) as info:
        engine("podman", FakeRunner()).check_buildable("linux/s390x")
    assert str(info.value) == (
        "unknown image platform 'linux/s390x': build for one of linux/amd64, linux/arm64"
    )
