"""A container engine on a scripted runner: the commands it would run, answered as the tools do.

``FakeRunner`` answers commands from a script of ``(argv prefix, result)`` rules and records what
was run, so each test states the command line it expects; a command no rule answers fails the
test (a fake that answers everything would let a dropped or mistyped command pass). The scripts
here behave as the real tools do where the code relies on it: a podman push prints no digest and
writes it to ``--digestfile`` only; docker prints it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from delivery.engines.base import ContainerEngine
from delivery.engines.cli import EngineName
from delivery.engines.detect import ENGINES
from delivery.process import Completed


@dataclass
class Call:
    """One command the runner was asked to run."""

    argv: tuple[str, ...]
    env: dict[str, str]
    stdin: str | None


class UnscriptedError(AssertionError):
    """A command the test did not script: the code ran something the test does not expect."""


@dataclass
class FakeRunner:
    """Answers commands by argv prefix (first matching rule wins); anything else fails the test.

    ``effects`` run on every call, before the answer: what the real command would leave behind
    (an image id file, an archive, downloaded wheels, a root filesystem).
    """

    rules: list[tuple[tuple[str, ...], Completed]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    effects: list[Callable[[Sequence[str]], None]] = field(default_factory=list)

    def on(self, *prefix: str, returncode: int = 0, stdout: str = "", stderr: str = "") -> None:
        self.rules.append((prefix, Completed(prefix, returncode, stdout, stderr)))

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
        timeout: float | None = None,
    ) -> Completed:
        self.calls.append(Call(tuple(argv), dict(env or {}), stdin))
        for effect in self.effects:
            effect(argv)
        for prefix, result in self.rules:
            if tuple(argv[: len(prefix)]) == prefix:
                return Completed(tuple(argv), result.returncode, result.stdout, result.stderr)
        raise UnscriptedError(f"FakeRunner: no rule answers {' '.join(argv)}")

    def argvs(self) -> list[tuple[str, ...]]:
        """Every command run so far, in order."""
        return [call.argv for call in self.calls]


# What podman 4 prints for a push, all of it on stderr: no digest anywhere (the digest goes to
# --digestfile only). Captured from `podman push --format v2s2 --digestfile F IMAGE dir:D`.
PODMAN_PUSH_STDERR = (
    "Getting image source signatures\n"
    "Copying blob sha256:dfb9d9bd3043af57edf2e549100f44102a5c2deea36509211350db83e96816d3\n"
    "Copying config sha256:e70d051718a8d113d8472148571e28ad0c762bdcf4f7cff285fba5f91b4e3689\n"
    "Writing manifest to image destination\n"
    "Storing signatures\n"
)


def podman_push_writes(runner: FakeRunner, digest: str) -> None:
    """Script ``podman push`` as podman behaves: progress on stderr, the digest in the file only.

    podman writes the digest without a newline (``--digestfile``: "After copying the image,
    write the digest of the resulting image to the file", podman-push(1)).
    """
    runner.on("podman", "push", stderr=PODMAN_PUSH_STDERR)

    def write_digest(argv: Sequence[str]) -> None:
        if tuple(argv[:2]) == ("podman", "push") and "--digestfile" in argv:
            Path(argv[argv.index("--digestfile") + 1]).write_text(digest)

    runner.effects.append(write_digest)


def docker_push_prints(runner: FakeRunner, tag: str, digest: str) -> None:
    """Script ``docker push`` as docker behaves: ``<tag>: digest: sha256:... size: N`` on stdout."""
    runner.on(
        "docker", "push",
        stdout=(
            f"The push refers to repository [reg.example/svc]\n5f70bf18a086: Pushed\n"
            f"{tag}: digest: {digest} size: 1570\n"
        ),
    )  # fmt: skip


def which_of(*present: str) -> Callable[[str], str | None]:
    """A shutil.which stand-in that finds exactly ``present``."""
    return lambda name: f"/usr/bin/{name}" if name in present else None


def engine(name: EngineName = "podman", runner: FakeRunner | None = None) -> ContainerEngine:
    """The engine ``name`` (its bare name as the executable) on ``runner``, no environment."""
    return ENGINES[name](executable=name, env={}, runner=runner or FakeRunner())
