"""The architecture an image is built for: the task definition's, never the build machine's.

The service stack's ``cpu_architecture`` setting (the task definition's
``runtimePlatform.cpuArchitecture``, X86_64 by default) decides: a task cannot start an image of
another architecture. The engine builds for it (``--platform``) and the host downloads the wheels
for it. A machine that can neither run that architecture nor emulate it (binfmt_misc, or what
docker's builder lists) is refused before anything is built (``ContainerEngine.check_buildable``).
"""

from __future__ import annotations

import platform as host
from pathlib import Path

from delivery.errors import DeliveryError

# runtimePlatform.cpuArchitecture -> the OCI platform of its images. The two values Fargate
# takes: https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RuntimePlatform.html
TASK_PLATFORMS = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}
# The task definition's architecture when the service stack sets none (stacks/service/settings.py).
DEFAULT_PLATFORM = TASK_PLATFORMS["X86_64"]
# Each platform's machine name: ``uname -m``, manylinux wheel tags and binfmt_misc entries use it.
MACHINES = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")


def platform_for(cpu_architecture: str) -> str:
    """The image platform (``linux/amd64``) for a task definition's ``cpu_architecture``."""
    try:
        return TASK_PLATFORMS[cpu_architecture]
    except KeyError:
        raise DeliveryError(
            f"unknown cpu_architecture '{cpu_architecture}': Fargate runs "
            f"{' or '.join(TASK_PLATFORMS)}"
        ) from None


def machine_of(platform: str) -> str:
    """The machine name of ``platform`` (``x86_64``, ``aarch64``); one line for an unknown one."""
    try:
        return MACHINES[platform]
    except KeyError:
        raise DeliveryError(
            f"unknown image platform '{platform}': build for one of {', '.join(MACHINES)}"
        ) from None


def host_platform() -> str:
    """This machine's own platform, e.g. ``linux/arm64`` on an arm64 workstation."""
    machine = host.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    found = [name for name, known in MACHINES.items() if known == machine]
    return found[0] if found else f"linux/{machine}"


def emulated(platform: str, binfmt_dir: Path | None = None) -> bool:
    """Whether the kernel runs ``platform``'s binaries through an emulator (binfmt_misc).

    qemu-user-static and tonistiigi/binfmt register entries named after the machine
    (``qemu-x86_64``, ``qemu-aarch64``); an entry counts when its first line says ``enabled``.
    """
    machine = machine_of(platform)
    binfmt_dir = binfmt_dir or BINFMT_DIR
    if not binfmt_dir.is_dir():
        return False
    for entry in binfmt_dir.iterdir():
        if machine in entry.name:
            try:
                if entry.read_text().splitlines()[:1] == ["enabled"]:
                    return True
            except OSError:
                continue
    return False
