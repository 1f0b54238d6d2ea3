"""Fixtures shared by every test layer: free ports and the local AWS emulator."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from delivery.emulator import Emulator, environment

# The helpers' asserts report their values too (pytest rewrites only test modules by default):
# registered before the first import of tests.support.
pytest.register_assert_rewrite("tests.support")

from tests.support.switches import OPERATOR_SWITCHES  # noqa: E402 - after the rewrite hook


@pytest.fixture(scope="session", autouse=True)
def _without_operator_switches() -> Iterator[None]:
    """The session starts without the operator's switches a surrounding build may have set."""
    # Session scope: module fixtures (the bad-input catalogue's runs) copy os.environ too.
    with pytest.MonkeyPatch.context() as patch:
        for name in OPERATOR_SWITCHES:
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(autouse=True)
def _delivery_log_as_found() -> Iterator[None]:
    """delivery's logger as each test found it: propagating (to caplog), no stdout handler.

    A test that runs a task's wrapper in-process installs the CLI's handler (tasks.py), which
    stops propagation: a later test in the same worker would then see no records in caplog.
    """
    logger = logging.getLogger("delivery")
    saved = list(logger.handlers), logger.level, logger.propagate
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


@pytest.fixture
def delivery_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """pytest's caplog, with delivery's loggers at INFO (its progress lines)."""
    caplog.set_level(logging.INFO, logger="delivery")
    return caplog


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
