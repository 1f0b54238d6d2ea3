"""The build log of one rehearsed CodeBuild build, with CodeBuild's ``[Container]`` lines.

One job: writing the rehearsal's own lines into the log file the build's commands also write
into. The line format is CodeBuild's own, as its build logs print it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import BinaryIO


class BuildLog:
    """The build log: CodeBuild's ``[Container] <time> <message>`` lines, commands' output between.

    Commands write straight into the same file (appending), so long outputs are streamed, never
    held in memory.
    """

    def __init__(self, file: BinaryIO) -> None:
        self.file = file

    def line(self, message: str) -> None:
        """Write ``message`` as one ``[Container]`` line, flushed at once."""
        stamp = datetime.now(UTC).strftime("%Y/%m/%d %H:%M:%S.%f")
        self.file.write(f"[Container] {stamp} {message}\n".encode(errors="replace"))
        self.file.flush()

    def phase_complete(self, name: str, status: str, reason: str | None) -> None:
        """Log the end of phase ``name`` as CodeBuild does: its status, then its context."""
        # As CodeBuild logs it: "Phase complete: BUILD State: FAILED", then "Phase context status
        # code: COMMAND_EXECUTION_ERROR Message: Error while executing command: ...".
        self.line(f"Phase complete: {name} State: {status}")
        code, _, message = (reason or "").partition(": ")
        self.line(f"Phase context status code: {code} Message: {message}")
