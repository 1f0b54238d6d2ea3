"""Fixtures shared by every test layer: free ports and the local AWS emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from delivery.emulator import Emulator, environment


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
