"""A release's own checkout: its tag in a temporary git worktree, and its own command line there.

A rollback restores a release, not the operator's checkout: the stacks are rendered from the
templates and config of the release's tag and launched with its image, by the release's own
``invoke rollback``. So the rollback here checks that tag ``v<version>`` exists, checks it out
with ``git worktree add --detach`` into a temporary folder, and runs ``uv run --locked invoke
rollback ...`` there, telling it through ``RELEASE_VARIABLE`` that it is the release's checkout
(it then rolls back in its own tree; a release older than this ignores the variable and does its
old in-tree rollback, which in its own tree is exactly right). The worktree is removed however
the command ends: success, failure, Ctrl-C or SIGTERM (``lifetime.sigterm_as_interrupt``).

The operator's working tree is never deployed, so uncommitted changes there are harmless; the
rollback says so (``is_dirty``) rather than refusing. ``uv`` is what the project runs its tasks
with (README, bin/bootstrap, both buildspecs install it); without it this is one line up front.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from delivery import process, versioning
from delivery.engines.config import engine_environment
from delivery.errors import DeliveryError
from delivery.local.record import STATE_FILE

log = logging.getLogger(__name__)

# Set in the release's own rollback: it already runs in the release's checkout.
RELEASE_VARIABLE = "DELIVERY_RELEASE_CHECKOUT"
# What runs the release's own command line (bin/bootstrap installs uv; the buildspecs do too).
UV = "uv"
# Variables that describe this checkout's environment, not the release's: uv warns about, and
# ignores, an active VIRTUAL_ENV that is not the project's own.
# What points a command at this checkout or its environment. UV_PROJECT_ENVIRONMENT (which nox
# sets in its sessions, and a CI may) would make the release's `uv run` sync the release's code
# into THIS checkout's environment, replacing it: the release gets its own .venv instead.
_THIS_CHECKOUT = ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "DELIVERY_PROJECT_ROOT")
_SHOWN_TAGS = 5


def release_invoke(path: Path) -> list[str]:
    """``invoke`` of the checkout at ``path``, in its locked environment, which uv makes there
    from its cache (``.venv`` in the checkout, removed with it). Quietly: uv's own lines would
    add to the release's, whose errors are one line."""
    return [UV, "run", "--quiet", "--locked", "--directory", str(path), "invoke"]


# The command line of a checkout (tests substitute one that needs no uv).
Invoke = Callable[[Path], Sequence[str]]


@dataclass(frozen=True)
class Release:
    """A version's source in this repository: its release tag (or, for a dev build, the commit
    its version names) and the commit."""

    version: str
    ref: str  # the tag v<version>, or the commit of a dev build
    commit: str

    @property
    def name(self) -> str:
        """How the output names it: ``release v1.2.3`` or ``build 1.3.0-dev.g<commit>``."""
        return f"release {self.ref}" if self.ref == tag(self.version) else f"build {self.version}"


def in_release_checkout() -> bool:
    """Whether this process is a release's own rollback, run in that release's checkout."""
    return bool(os.environ.get(RELEASE_VARIABLE))


def tag(version: str) -> str:
    """The release tag of ``version`` (commitizen's ``tag_format``: ``v$version``)."""
    return f"v{version}"


def find(root: Path, version: str) -> Release:
    """Where ``version``'s source is in ``root``'s repository: its tag ``v<version>``, or for a
    dev build (``X.Y.Z-dev.g<commit>``, no tag) the commit it names; one line when absent."""
    _check_repository(root)
    name = tag(version)
    commit = _commit(root, f"refs/tags/{name}")
    if commit is not None:
        return Release(version=version, ref=name, commit=commit)
    built = versioning.build_commit(version)
    commit = _commit(root, built) if built else None
    if built and commit is not None:
        return Release(version=version, ref=built, commit=commit)
    known = versioning.git(root, "tag", "--list", "v[0-9]*", "--sort=-v:refname").split()
    shown = ", ".join(known[:_SHOWN_TAGS]) if known else "none"
    what = f"no tag {name}" + (f" and no commit {built}" if built else "")
    raise DeliveryError(
        f"{what} in this repository (release tags here: {shown}): fetch them (git fetch "
        "--tags) or name a released version"
    )


def _commit(root: Path, ref: str) -> str | None:
    """The commit ``ref`` names in ``root``'s repository, or None."""
    try:
        return versioning.git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except DeliveryError:
        return None


def _check_repository(root: Path) -> None:
    try:
        versioning.git(root, "rev-parse", "--git-dir")
    except DeliveryError as exc:
        raise DeliveryError(
            f"{root} is not a git repository: a rollback restores a version from its tag, so "
            "run it from a clone of the project"
        ) from exc


def is_dirty(root: Path) -> bool:
    """Whether ``root``'s working tree has changes (none of which a rollback deploys)."""
    return versioning.is_dirty(root)


def check_runner(invoke: Invoke = release_invoke) -> None:
    """The program that runs the release's command line is installed; one line otherwise."""
    program = invoke(Path())[0]
    if shutil.which(program) is None:
        raise DeliveryError(
            f"{program} is not installed: the release's own rollback runs in its checkout with "
            f"`uv run --locked invoke`; install {program} (bin/bootstrap does) and retry"
        )


@contextlib.contextmanager
def checkout(root: Path, release: Release, *, share_local: bool = False) -> Iterator[Path]:
    """The release's tag checked out in a temporary worktree of ``root``; removed on the way out.

    ``share_local``: the checkout's ``.local`` is ``root``'s, so the release's command attaches
    to the emulator and local service a ``--keep`` left running (``.local/emulator.json``).
    """
    parent = Path(tempfile.mkdtemp(prefix=f"rollback-{release.version}-"))
    path = parent / "checkout"
    try:
        versioning.git(root, "worktree", "add", "--detach", "--quiet", str(path), release.commit)
        log.info(f"rollback: {release.name} ({release.commit[:12]}) checked out in {path}")
        if share_local:
            (root / STATE_FILE.parent).mkdir(exist_ok=True)
            (path / STATE_FILE.parent).symlink_to(
                root / STATE_FILE.parent, target_is_directory=True
            )
        yield path
    finally:
        _remove(root, path, parent)


def _remove(root: Path, path: Path, parent: Path) -> None:
    """Remove the worktree and its folder, and git's record of it; never raises."""
    link = path / STATE_FILE.parent
    if link.is_symlink():  # only the link goes: the kept emulator's record stays in root
        link.unlink()
    with contextlib.suppress(DeliveryError):
        versioning.git(root, "worktree", "remove", "--force", str(path))
    shutil.rmtree(parent, ignore_errors=True)
    with contextlib.suppress(DeliveryError):
        versioning.git(root, "worktree", "prune")
    log.info(f"rollback: checkout {path} removed")


def environment(path: Path) -> dict[str, str]:
    """The environment the release's command runs with: this one, pointed at the checkout.

    With this checkout's container engine configuration: the release's code would otherwise
    keep podman's images under its own checkout, where a kept local service's image (built
    here) is not.
    """
    env = {k: v for k, v in os.environ.items() if k not in _THIS_CHECKOUT}
    env |= engine_environment()
    env[RELEASE_VARIABLE] = "1"
    env["DELIVERY_PROJECT_ROOT"] = str(path)
    return env


def has_option(path: Path, task: str, option: str, invoke: Invoke = release_invoke) -> bool:
    """Whether the release's own ``invoke <task>`` takes ``option`` (its ``--help`` lists it)."""
    runner = process.SubprocessRunner()
    done = runner([*invoke(path), "--help", task], env=environment(path), inherit=False)
    if not done.ok:
        raise DeliveryError(
            f"the release's command line in {path} failed: "
            f"{process.last_line(done.stderr or done.stdout, width=300)}"
        )
    return any(word.strip(",") == option for word in done.stdout.split())


def run(path: Path, args: Sequence[str], invoke: Invoke = release_invoke) -> int:
    """Run the release's own ``invoke <args>`` in its checkout, output streaming; its exit code."""
    log.info(f"rollback: running its own `invoke {' '.join(args)}` in {path}")
    return process.stream([*invoke(path), *args], cwd=path, env=environment(path))
