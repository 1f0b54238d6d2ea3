"""Running one command: argv in, exit code and output out.

The engines, the image build, git and debootstrap all run their commands through a ``Runner``, so
a test injects a fake one and checks the exact command lines without mocking internals.
``last_line`` is the one way a failed command's output becomes the end of a one-line error.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from delivery.errors import DeliveryError


@dataclass(frozen=True)
class Completed:
    """What a command did: its argv, exit code and captured output."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        """Whether the command exited 0."""
        return self.returncode == 0


class Runner(Protocol):
    """Runs one command to completion. Never raises for a non-zero exit: callers decide."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        timeout: float | None = None,
    ) -> Completed:
        """Run ``argv`` with ``env`` added to this process's environment."""
        ...


class SubprocessRunner:
    """The real runner: ``subprocess.run`` with captured text output."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        timeout: float | None = None,
    ) -> Completed:
        """Run ``argv``; a missing program is exit code 127, like a shell reports it."""
        full_env = {**os.environ, **(env or {})}
        try:
            proc = subprocess.run(  # noqa: S603 - argv lists built by the callers, never a shell
                list(argv),
                env=full_env,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            return Completed(tuple(argv), 127, "", f"{argv[0]}: command not found")
        except subprocess.TimeoutExpired as exc:
            raise DeliveryError(
                f"{' '.join(argv[:2])} did not finish within {timeout:.0f} s"
            ) from exc
        return Completed(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


def last_line(text: str, *, default: str = "no output", width: int | None = None) -> str:
    """The last non-empty line of ``text``, stripped: usually the one that says what failed.

    ``default`` when there is none. With ``width``, a longer line is cut to that many characters
    (ending in ``...``): a JSON log line can run to kilobytes, and the line ends a one-line error.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[-1] if lines else default
    return line if width is None or len(line) <= width else line[: width - 3] + "..."
