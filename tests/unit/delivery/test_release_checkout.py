"""A rollback runs the release's own rollback in a temporary checkout of its tag.

On throwaway git repositories (tests/support/project.py's sample project) whose tags carry a tiny
``tasks.py`` standing in for the release's command line: v1.0.0's ``rollback`` predates ``--fast``
(an old release), v2.0.0's has it. Each records how it was run, so the tests see what the release's
command was given; nothing here reaches AWS.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest

from delivery import environments, pace, release_checkout
from delivery import rollback as delivery_rollback
from delivery.deploy_plan import Plan, Published, Registry
from delivery.engines.config import STATE_DIR
from delivery.errors import DeliveryError
from delivery.lifetime import Terminated
from delivery.local.record import STATE_FILE
from tests.support.git import git
from tests.support.project import make_project

DIGEST = "sha256:" + "d" * 64
REPOSITORY = "123456789012.dkr.ecr.eu-north-1.amazonaws.com/flask-fargate-local"
# The release's command line: records its argv, environment and folder, then exits with
# $FAKE_EXIT. With FAKE_SIGTERM_PARENT it sends SIGTERM to the rollback that runs it (a CI runner
# cancelling the job) and waits to be stopped.
TASKS = """\
import json, os, signal, sys, time
from invoke import task

def _record(c, env, to, **options):
    record = {{
        "args": {{"env": env, "to": to, **options}},
        "cwd": os.getcwd(),
        "release": os.environ.get("DELIVERY_RELEASE_CHECKOUT"),
        "project_root": os.environ.get("DELIVERY_PROJECT_ROOT"),
        "virtual_env": os.environ.get("VIRTUAL_ENV"),
        "local": os.path.realpath(".local") if os.path.exists(".local") else None,
    }}
    with open(os.environ["FAKE_RECORD"], "w") as out:
        json.dump(record, out)
    if os.environ.get("FAKE_SIGTERM_PARENT"):
        os.kill(os.getppid(), signal.SIGTERM)
        time.sleep(60)
    sys.exit(int(os.environ.get("FAKE_EXIT", "0")))

@task
def rollback(c, env=None, to=None, allow_prerelease=False{fast}):
    _record(c, env, to, allow_prerelease=allow_prerelease{record_fast})
"""
OLD_TASKS = TASKS.format(fast="", record_fast="")
NEW_TASKS = TASKS.format(fast=", fast=False", record_fast=", fast=fast")


def fake_invoke(path: Path) -> list[str]:
    """The checkout's own ``invoke``, without uv: this interpreter, the checkout's tasks.py."""
    return [sys.executable, "-m", "invoke", "--search-root", str(path)]


def release(root: Path, version: str, tasks: str, greeting: str) -> None:
    """Commit ``tasks`` and a config change, and tag the commit ``v<version>``."""
    (root / "tasks.py").write_text(tasks)
    (root / "config" / "local" / "greeting.txt").write_text(greeting)
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", f"feat: release {version}")
    git(root, "tag", f"v{version}")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project released as v1.0.0 (rollback without --fast) and v2.0.0 (with --fast)."""
    root = make_project(tmp_path / "project", git_init=True)
    (root / ".gitignore").write_text(".local/\n")
    release(root, "1.0.0", OLD_TASKS, "v1")
    release(root, "2.0.0", NEW_TASKS, "v2")
    monkeypatch.setenv("FAKE_RECORD", str(tmp_path / "record.json"))
    monkeypatch.setenv("VIRTUAL_ENV", str(root / ".venv"))
    return root


def recorded(tmp_path: Path) -> dict[str, object] | None:
    path = tmp_path / "record.json"
    return json.loads(path.read_text()) if path.exists() else None


def worktrees(root: Path) -> list[str]:
    return [
        line.split(" ", 1)[1]
        for line in git(root, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


def plan_for(root: Path, version: str) -> Plan:
    env = environments.load("local", root)
    registry = Registry(REPOSITORY, "flask-fargate-local", "eu-north-1")
    return Plan(env=env, existing=Published(registry, DIGEST, version))


def restore(
    root: Path, version: str, *, fast: bool = False, validated: list[str] | None = None
) -> delivery_rollback.Restored | int:
    """Restore ``version`` of ``root``; ``validated`` records each time AWS would be read."""
    found = release_checkout.find(root, version)

    def validate_image() -> Plan:
        (validated if validated is not None else []).append(version)
        return plan_for(root, version)

    return delivery_rollback.restore(
        environments.load("local", root), found, validate_image, fast=fast, invoke=fake_invoke
    )


def test_a_tag_names_its_commit(repo: Path) -> None:
    found = release_checkout.find(repo, "1.0.0")
    assert (found.ref, found.name) == ("v1.0.0", "release v1.0.0")
    assert found.commit == git(repo, "rev-list", "-n", "1", "v1.0.0")
    assert found.commit != git(repo, "rev-parse", "HEAD")


def test_no_such_tag_names_the_tags_there_and_what_to_do(repo: Path) -> None:
    with pytest.raises(DeliveryError) as error:
        release_checkout.find(repo, "1.5.0")
    assert str(error.value) == (
        "no tag v1.5.0 in this repository (release tags here: v2.0.0, v1.0.0): fetch them "
        "(git fetch --tags) or name a released version"
    )


def test_a_dev_build_is_found_by_the_commit_its_version_names(repo: Path) -> None:
    commit = git(repo, "rev-list", "-n", "1", "v1.0.0")
    found = release_checkout.find(repo, f"1.1.0-dev.g{commit[:12]}")
    assert (found.ref, found.commit) == (commit[:12], commit)
    assert found.name == f"build 1.1.0-dev.g{commit[:12]}"
    with pytest.raises(DeliveryError) as error:
        release_checkout.find(repo, "1.1.0-dev.g0123456789ab")
    assert str(error.value).startswith(
        "no tag v1.1.0-dev.g0123456789ab and no commit 0123456789ab in this repository"
    )


def test_outside_a_repository_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError, match="is not a git repository: a rollback restores"):
        release_checkout.find(tmp_path, "1.0.0")


def test_the_checkout_holds_the_tag_and_is_removed_after_success(repo: Path) -> None:
    found = release_checkout.find(repo, "1.0.0")
    with release_checkout.checkout(repo, found) as path:
        assert (path / "config" / "local" / "greeting.txt").read_text() == "v1"
        assert git(path, "rev-parse", "HEAD") == found.commit
        assert len(worktrees(repo)) == 2
    assert not path.exists()
    assert not path.parent.exists()
    assert worktrees(repo) == [str(repo)]


@pytest.mark.parametrize("raised", [DeliveryError("failed"), KeyboardInterrupt(), Terminated()])
def test_the_checkout_is_removed_after_a_failure_or_an_interruption(
    repo: Path, raised: BaseException
) -> None:
    found = release_checkout.find(repo, "1.0.0")
    with (
        pytest.raises(type(raised)),
        release_checkout.checkout(repo, found) as path,
    ):
        raise raised
    assert not path.parent.exists()
    assert worktrees(repo) == [str(repo)]


def test_an_emulator_checkout_shares_the_kept_emulators_record(repo: Path) -> None:
    kept = repo / STATE_FILE
    kept.parent.mkdir()
    kept.write_text("{}")
    with release_checkout.checkout(
        repo, release_checkout.find(repo, "1.0.0"), share_local=True
    ) as path:
        assert (path / STATE_FILE).read_text() == "{}"
    assert kept.read_text() == "{}"  # the link went, not what it pointed at
    assert not path.parent.exists()


def test_the_releases_rollback_runs_in_its_checkout_told_so(repo: Path, tmp_path: Path) -> None:
    restored = restore(repo, "2.0.0", fast=True)
    assert isinstance(restored, delivery_rollback.Restored)
    record = recorded(tmp_path)
    assert record is not None
    checkout = Path(str(record["cwd"]))
    assert record["args"] == {
        "env": "local",
        "to": "2.0.0",
        "allow_prerelease": False,
        "fast": True,
    }
    assert record["release"] == "1"
    assert record["project_root"] == str(checkout)
    assert record["virtual_env"] is None  # this checkout's environment is not the release's
    assert record["local"] == str((repo / ".local").resolve())  # local: the kept emulator's
    assert not checkout.exists()
    assert (restored.release.ref, restored.deployment_pace, restored.digest) == (
        "v2.0.0",
        pace.FAST,
        DIGEST,
    )
    assert restored.lines()[0] == (
        f"restored release v2.0.0 (commit {restored.release.commit[:12]}) to local: image "
        f"{REPOSITORY}@{DIGEST}; the stacks' templates and config are those of v2.0.0, "
        "deployed at fast pace"
    )
    assert len(restored.lines()) == 1  # a clean tree: nothing to note


def test_an_old_releases_rollback_runs_as_it_always_did(repo: Path, tmp_path: Path) -> None:
    restored = restore(repo, "1.0.0")
    assert isinstance(restored, delivery_rollback.Restored)
    assert restored.deployment_pace == pace.GUARDED
    record = recorded(tmp_path)
    assert record is not None
    assert record["args"] == {"env": "local", "to": "1.0.0", "allow_prerelease": False}


def test_fast_with_an_old_release_is_refused_before_it_runs(repo: Path, tmp_path: Path) -> None:
    validated: list[str] = []
    with pytest.raises(DeliveryError) as error:
        restore(repo, "1.0.0", fast=True, validated=validated)
    assert str(error.value) == (
        "release v1.0.0's own rollback has no --fast (it predates fast rollbacks): roll back to "
        "it without --fast (the full guarded deployment)"
    )
    assert recorded(tmp_path) is None  # its rollback never ran
    assert validated == []  # nor was AWS asked about the image
    assert worktrees(repo) == [str(repo)]


def test_a_failed_release_rollback_gives_its_exit_code_and_no_checkout(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_EXIT", "3")
    assert restore(repo, "2.0.0") == 3
    assert worktrees(repo) == [str(repo)]


def test_sigterm_stops_the_releases_rollback_and_removes_the_checkout(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SIGTERM_PARENT", "1")
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        restore(repo, "2.0.0")
    assert signal.getsignal(signal.SIGTERM) == previous
    record = recorded(tmp_path)
    assert record is not None  # it ran, and was stopped
    assert worktrees(repo) == [str(repo)]
    assert not Path(str(record["cwd"])).exists()


def test_a_dirty_tree_is_said_not_refused(repo: Path) -> None:
    (repo / "config" / "local" / "greeting.txt").write_text("uncommitted")
    restored = restore(repo, "2.0.0")
    assert isinstance(restored, delivery_rollback.Restored)
    assert restored.dirty
    assert restored.lines()[1] == (
        "note: this checkout has uncommitted changes: none of them went out (a checkout of "
        "v2.0.0 was deployed)"
    )


def test_no_uv_is_one_line_before_any_checkout(repo: Path) -> None:
    found = release_checkout.find(repo, "2.0.0")
    with pytest.raises(DeliveryError) as error:
        delivery_rollback.restore(
            environments.load("local", repo),
            found,
            lambda: plan_for(repo, "2.0.0"),
            invoke=lambda path: ["/nonexistent/uv", "run"],
        )
    assert str(error.value) == (
        "/nonexistent/uv is not installed: the release's own rollback runs in its checkout with "
        "`uv run --locked invoke`; install /nonexistent/uv (bin/bootstrap does) and retry"
    )
    assert worktrees(repo) == [str(repo)]


def test_the_real_command_is_the_checkouts_own_locked_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert release_checkout.release_invoke(tmp_path) == [
        "uv",
        "run",
        "--quiet",
        "--locked",
        "--directory",
        str(tmp_path),
        "invoke",
    ]
    monkeypatch.setenv("VIRTUAL_ENV", "/elsewhere/.venv")
    monkeypatch.setenv("DELIVERY_PROJECT_ROOT", "/elsewhere")
    # nox sets it in its sessions: the release's `uv run` would sync the release's code into
    # this checkout's environment (found by CI: the gate's own venv then imported a removed
    # checkout's app).
    monkeypatch.setenv("UV_PROJECT_ENVIRONMENT", "/elsewhere/.nox/tests")
    env = release_checkout.environment(tmp_path)
    assert "VIRTUAL_ENV" not in env
    assert "UV_PROJECT_ENVIRONMENT" not in env
    assert env["DELIVERY_PROJECT_ROOT"] == str(tmp_path)
    assert env[release_checkout.RELEASE_VARIABLE] == "1"
    # Podman's images are this checkout's store, where a kept local service's image was built.
    assert env["CONTAINERS_STORAGE_CONF"] == str(STATE_DIR.resolve() / "storage.conf")


def test_asking_the_release_for_its_options_passes_on_none_of_this_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by CI: with nox's UV_PROJECT_ENVIRONMENT passed on, the release's `uv run ...
    --help` synced the release's code into the gate's own environment."""
    monkeypatch.setenv("UV_PROJECT_ENVIRONMENT", "/elsewhere/.nox/tests")
    says = "import os; print('leaked' if 'UV_PROJECT_ENVIRONMENT' in os.environ else '--fast')"

    def invoke(path: Path) -> list[str]:
        return [sys.executable, "-c", says]

    assert release_checkout.has_option(tmp_path, "rollback", "--fast", invoke)
