"""Fixtures for the container tests: the engine, the real image built offline, a running container.

The image and the containers are tests/support/service_image.py's. Every test here needs podman,
runc and debootstrap, and root: where they are missing the tests fail, naming what is missing,
unless the run skips them on purpose (tests/support/container_tools.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from delivery import taskvolumes
from delivery.engines.base import ContainerEngine
from delivery.engines.detect import detect_engine
from delivery.image_build import build_image
from tests.support.container_tools import (
    OPT_OUT,
    SKIP,
    missing_prerequisites,
    require_container_tools,
)
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


@pytest.fixture(scope="session", autouse=True)
def container_tools() -> None:
    """Every container test needs the tools: fail (or skip on purpose) before anything starts."""
    require_container_tools()


@pytest.fixture(scope="session")
def engine() -> ContainerEngine:
    """Podman with the project's generated configuration (runc, own storage)."""
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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly that the container tests were skipped on purpose, and what that leaves out."""
    marker = f"{OPT_OUT}={SKIP}"
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if marker in str(r.longrepr)]
    if not skipped:
        return
    terminalreporter.section("CONTAINER TESTS SKIPPED", sep="!", red=True, bold=True)
    terminalreporter.write_line(
        f"{len(skipped)} container tests did not run ({marker}): {missing_prerequisites()}",
        red=True,
        bold=True,
    )
    terminalreporter.write_line(
        "the image was NOT built, run or checked: this run proves nothing about it",
        red=True,
        bold=True,
    )
