"""One engine's command line: its executable, the environment it runs with, one-line failures.

Every engine command goes through ``EngineCommands.command`` (or ``check``), so through a
``Runner`` (delivery/process.py): tests inject a fake one and check the exact command lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from delivery.errors import DeliveryError
from delivery.process import Completed, Runner, SubprocessRunner, last_line

EngineName = Literal["docker", "podman", "buildah"]

INFO_TIMEOUT_S = 20.0
BUILD_TIMEOUT_S = 1800.0
COMMAND_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class EngineCommands:
    """An engine CLI's commands, run with the environment it needs; its class names the engine."""

    name: ClassVar[EngineName]
    executable: str
    env: Mapping[str, str] = field(default_factory=dict)
    runner: Runner = field(default_factory=SubprocessRunner)

    def command(
        self,
        *args: str,
        stdin: str | None = None,
        timeout: float = COMMAND_TIMEOUT_S,
        env: Mapping[str, str] | None = None,
    ) -> Completed:
        """Run ``<engine> args...`` and return what happened, whatever the exit code."""
        return self.runner(
            [self.executable, *args], env={**self.env, **(env or {})}, stdin=stdin, timeout=timeout
        )

    def check(
        self,
        *args: str,
        what: str,
        stdin: str | None = None,
        timeout: float = COMMAND_TIMEOUT_S,
        env: Mapping[str, str] | None = None,
    ) -> Completed:
        """Like ``command`` but a non-zero exit is a one-line DeliveryError naming ``what``."""
        result = self.command(*args, stdin=stdin, timeout=timeout, env=env)
        if not result.ok:
            raise DeliveryError(f"{self.name}: {what} failed: {last_line(result.stderr)}")
        return result
