"""Fixtures for the container tests: the engine, the real image built offline, a running container.

The image and the containers are tests/support/service_image.py's. The container tests need
podman + runc (and debootstrap for the local base, the first time): see
tests/support/container_tools.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from delivery import taskvolumes
from delivery.container import ContainerEngine, build_image, detect_engine
from tests.support.container_tools import require_container_tools
from tests.support.paths import ROOT
from tests.support.service_image import (
    GIT_SHA,
    IMAGE_NAME,
    SOURCE_DATE_EPOCH,
    VERSION,
    BuiltImage,
    Running,
    start_service,
)


@pytest.fixture(scope="session")
def engine() -> ContainerEngine:
    """Podman with the project's generated configuration (runc, own storage)."""
    require_container_tools()
    return detect_engine("podman")


@pytest.fixture(scope="session")
def service_image(engine: ContainerEngine) -> BuiltImage:
    """The real Dockerfile built offline (--network none) on the local Debian base."""
    build = build_image(
        IMAGE_NAME,
        VERSION,
        GIT_SHA,
        engine=engine,
        source_date_epoch=SOURCE_DATE_EPOCH,
        local_base=True,
        context=ROOT,
        log_path=ROOT / "build" / "logs" / "e2e-image-build.log",
    )
    return BuiltImage(build=build, ref=build.tags[0])


@pytest.fixture(scope="module")
def service(
    engine: ContainerEngine, service_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """One running container for the read-only checks of a module; always removed."""
    volumes = tmp_path_factory.mktemp("volumes")
    running = start_service(engine, service_image.ref, volumes)
    try:
        yield running
    finally:
        engine.remove(running.id)
        taskvolumes.remove(volumes, engine)
