"""Fixtures shared by every test layer: free ports and the local AWS emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from delivery import scan
from delivery.emulator import Emulator, environment

# The operator's switches that change what delivery does. A build sets them for its own steps
# (the buildspec sets CONTAINER_ENGINE, a rehearsal SCAN_SKIP_REASON), and the gate's tests run
# inside that build: the tests start without them and set the ones they are about.
OPERATOR_SWITCHES = (scan.SKIP_VARIABLE, "CONTAINER_ENGINE", "QUALITY_GATE_PASSED")


@pytest.fixture(scope="session", autouse=True)
def _without_operator_switches() -> Iterator[None]:
    # Session scope: module fixtures (the bad-input catalogue's runs) copy os.environ too.
    with pytest.MonkeyPatch.context() as patch:
        for name in OPERATOR_SWITCHES:
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Emulator]:
    """One moto server on 127.0.0.1 for the whole test session (started lazily)."""
    with Emulator() as server:
        yield server


@pytest.fixture
def aws(emulator_server: Emulator) -> Iterator[Emulator]:
    """A freshly reset emulator, with this process's AWS environment pointed at it."""
    # Imported here: it needs boto3 and Sceptre, which the fuzz and drain sessions do not install.
    from delivery import stacks  # noqa: PLC0415

    emulator_server.reset()
    with environment(emulator_server.env()):
        # Sceptre caches boto sessions process-wide: without this, a Sceptre call in this test
        # would reuse a client bound to an emulator an earlier test started and stopped.
        stacks.fresh_connections()
        yield emulator_server
