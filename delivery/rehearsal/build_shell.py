"""The shell of a rehearsed CodeBuild build: one command at a time, the state carried over.

One job: running the buildspec's commands with the image's shell as CodeBuild does, each in a
new shell that starts with the exported variables and working directory the last one left, and
killing every process the build started when it ends. The judges are the buildspec reference
(https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html, cited with the anchor
of each key) and shells and commands
(https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-cmd.html).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from delivery.errors import DeliveryError
from delivery.rehearsal.build_log import BuildLog

# Kept from one command to the next by the rehearsal itself, never from a shell's dump: bash
# raises SHLVL and sets _ in every shell it starts.
_SHELL_BOOKKEEPING = ("SHLVL", "_")
# The rehearsal's own tool to read a shell's exported environment, wherever the build's PATH
# points: /usr/bin/env of this machine.
_ENV_PROGRAM = next((p for p in ("/usr/bin/env", "/bin/env") if os.access(p, os.X_OK)), None)


def shell_program(shell: str | None, base_environment: Mapping[str, str]) -> str:
    """The shell the commands run with, found on the image's PATH (never this process's).

    env/shell (#build-spec.shell) names bash or /bin/sh on Linux; without it CodeBuild uses sh,
    "Shell command language (sh)" (build-env-ref-cmd). On CodeBuild's Ubuntu images, as on
    Debian, sh is dash: no pipefail, no arrays.
    """
    name = shell or "sh"
    path = base_environment["PATH"]
    found = shutil.which(name, path=path)
    if found is None:
        raise DeliveryError(
            f"the build image has no '{name}' on its PATH ({path}): install it in the image or "
            "change env.shell"
        )
    if _ENV_PROGRAM is None:
        raise DeliveryError("this machine has no /usr/bin/env: the rehearsal needs coreutils")
    return found


@dataclass(frozen=True)
class Outcome:
    """How one command ended: its exit code (negative: killed by that signal), or timed out."""

    returncode: int
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """Whether the command succeeded: exit status 0, in time."""
        return self.returncode == 0 and not self.timed_out

    @property
    def reason(self) -> str:
        """How the command ended, in CodeBuild's words: ``exit status 2``, ``signal: killed``."""
        # As CodeBuild's logs word it, "Reason: exit status 1"; a signal as Go's exec package
        # words it (the agent's language), "signal: killed".
        if self.returncode < 0:
            return f"signal: {signal.strsignal(-self.returncode) or -self.returncode}".lower()
        return f"exit status {self.returncode}"


class Shell:
    """Runs commands one at a time, each in a new shell that starts where the last one ended.

    Version 0.2 keeps state between commands and phases: the reference says 0.1 ran each command
    "in isolation from all other commands" so that one "that relies on the state of any previous
    commands (for example, changing directories or setting environment variables)" could not work,
    and that 0.2 "solves this issue" (#build-spec.phases, note). That documented state (exported
    variables and the working directory) is what each command hands on: after it, its shell
    dumps its exported environment and directory, and the next command starts with them. The
    reference is silent on non-exported variables and shell options; they do not carry over, the
    stricter reading.

    Each command runs in its own process group; every group, and every process carrying this
    build's CODEBUILD_BUILD_ID (a daemon that left its group), is killed when the build ends.
    Background processes stay up until then: "use the nohup command to run a command as a task in
    the background, even if the build process exits the shell"
    (https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-background-tasks.html).
    """

    def __init__(
        self,
        *,
        program: str,
        environment: dict[str, str],
        cwd: Path,
        scratch: Path,
        deadline: float,
        log: BuildLog,
    ) -> None:
        self.program = program
        self.environment = environment
        self.cwd = cwd
        self.scratch = scratch
        self.deadline = deadline
        self.log = log
        self.groups: list[int] = []
        self.count = 0

    def timed_out(self) -> bool:
        """Whether the build's time has run out."""
        return time.monotonic() >= self.deadline

    def run(self, command: str) -> Outcome:
        """Run ``command`` (its output into the log), then take on the state it left."""
        if self.timed_out():
            return Outcome(returncode=-int(signal.SIGKILL), timed_out=True)
        self.log.line(f"Running command {command}")
        self.count += 1
        script, cwd_file, env_file = self._script(command)
        outcome = self._execute(script)
        self._take_state(cwd_file, env_file)
        return outcome

    def _script(self, command: str) -> tuple[Path, Path, Path]:
        # The EXIT trap runs however the command ends (exit N, set -e, a failing special
        # builtin such as dash's `set -o pipefail`) and keeps the command's exit status.
        # CodeBuild also runs each command from a script file of its own making.
        base = self.scratch / f"command-{self.count}"
        cwd_file, env_file = base.with_suffix(".cwd"), base.with_suffix(".env")
        save = (
            f"__codebuild_save() {{ __codebuild_rc=$?; pwd > {shlex.quote(str(cwd_file))}; "
            f"{shlex.quote(str(_ENV_PROGRAM))} -0 > {shlex.quote(str(env_file))}; "
            "exit $__codebuild_rc; }\n"
            "trap __codebuild_save EXIT\n"
        )
        script = base.with_suffix(".sh")
        script.write_text(save + command + "\n", encoding="utf-8")
        return script, cwd_file, env_file

    def _execute(self, script: Path) -> Outcome:
        try:
            process = subprocess.Popen(  # noqa: S603 (the image's shell, given the buildspec's command)
                [self.program, str(script)],
                cwd=self.cwd,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=self.log.file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            # The working directory a previous command moved to is gone, for one.
            self.log.line(f"Cannot start {self.program}: {error.strerror}")
            return Outcome(returncode=127)
        self.groups.append(process.pid)
        try:
            return Outcome(returncode=process.wait(timeout=self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            return Outcome(returncode=process.wait(), timed_out=True)

    def _take_state(self, cwd_file: Path, env_file: Path) -> None:
        # No dump (the shell was killed, or exec'd another program): the state stays as it was.
        if cwd_file.exists():
            directory = cwd_file.read_text(encoding="utf-8", errors="surrogateescape")
            self.cwd = Path(directory.removesuffix("\n"))
        if env_file.exists():
            dumped = _parse_env_dump(env_file.read_bytes())
            for name in _SHELL_BOOKKEEPING:
                dumped.pop(name, None)
                if name in self.environment:
                    dumped[name] = self.environment[name]
            self.environment = dumped

    def set(self, name: str, value: str) -> None:
        """Set a variable for every later command (CodeBuild's own, such as SUCCEEDING)."""
        self.environment[name] = value

    def kill_all(self, build_id: str) -> None:
        """Kill every process the build started: no process outlives the build."""
        for group in self.groups:
            _kill_group(group)
        _kill_marked(f"CODEBUILD_BUILD_ID={build_id}".encode())


def _parse_env_dump(data: bytes) -> dict[str, str]:
    environment: dict[str, str] = {}
    for entry in data.split(b"\0"):
        name, separator, value = entry.partition(b"=")
        if separator:
            environment[os.fsdecode(name)] = os.fsdecode(value)
    return environment


def _kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(group, signal.SIGKILL)


def _kill_marked(marker: bytes, rounds: int = 100) -> None:
    """Kill the processes whose environment holds ``marker``, until none is left (Linux /proc)."""
    for _ in range(rounds):
        found = list(_processes_with(marker))
        if not found:
            return
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)  # let the kernel finish them before looking again


def _processes_with(marker: bytes) -> Iterator[int]:
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # another user's process, or gone
        if marker in environ.split(b"\0"):
            yield int(entry.name)
