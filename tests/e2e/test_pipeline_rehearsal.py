"""The pipeline rehearsed end to end: the happy path, and each way it must stop.

Every test rehearses a commit of this checkout (HEAD plus the working tree's changes, as one
commit: what CI's clean clone is), changed by the test where it needs a broken commit, on an
emulator standing in for the account. The image is really built (podman stands in for
CodeBuild's Docker engine) and really smoke-tested; dev and prod are the real config.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from delivery import environments
from delivery.emulator import Emulator, environment
from delivery.rehearsal import runner
from delivery.rehearsal.actions import FAILED, STOPPED, SUCCEEDED
from tests.support.cli import run_invoke

pytestmark = [pytest.mark.container, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = environments.PROJECT_ROOT
REPOSITORY = "flask-fargate"
REGION = "eu-north-1"
# What the broken commit adds to app/wsgi.py.
STARTED_FILE = (
    '\nfrom pathlib import Path as _Path\n\n_Path(__file__).with_name("started").touch()\n'
)


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=rehearsal", "-c", "user.email=rehearsal@example.invalid", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def snapshot(into: Path) -> Path:
    """This checkout as a commit: HEAD, plus whatever the working tree changes, committed."""
    _git(ROOT, "clone", "--quiet", "--no-local", str(ROOT), str(into))
    for path in _git(ROOT, "ls-files", "--modified", "--others", "--exclude-standard").splitlines():
        if (ROOT / path).is_file():
            (into / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, into / path)
    for path in _git(ROOT, "ls-files", "--deleted").splitlines():
        (into / path).unlink(missing_ok=True)
    if _git(into, "status", "--porcelain"):
        _git(into, "add", "--all")
        _git(into, "commit", "--quiet", "--message", "test: the working tree")
    return into


def commit(root: Path, message: str, edits: dict[str, Callable[[str], str]]) -> None:
    """Change files (path -> edit of its text) and commit them."""
    for name, edit in edits.items():
        path = root / name
        before = path.read_text() if path.exists() else ""
        after = edit(before)
        assert after != before, f"the edit of {path} changed nothing"
        path.write_text(after)
    _git(root, "add", "--all")
    _git(root, "commit", "--quiet", "--message", message)


def rehearse(project: Path, server: Emulator | None = None, **options: object) -> runner.Result:
    plan = runner.validate(runner.Options(root=project, env="local", **options))  # type: ignore[arg-type]
    return runner.rehearse(plan, emulator=server)


def results(result: runner.Result) -> dict[str, str]:
    return {f"{o.stage}/{o.action}": o.result for o in result.outcomes}


def images(server: Emulator) -> dict[str, str]:
    """tag -> digest in the emulator's shared repository."""
    with environment(server.env()):
        ecr = boto3.client("ecr", region_name=REGION)
        found = ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"]
    return {tag: image["imageDigest"] for image in found for tag in image.get("imageTags", [])}


def stack_status(server: Emulator, name: str) -> str:
    with environment(server.env()):
        cfn = boto3.client("cloudformation", region_name=REGION)
        return str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])


def test_a_release_stops_for_approval_reruns_to_one_digest_and_a_failed_deploy_rolls_back(
    tmp_path: Path,
) -> None:
    project = snapshot(tmp_path / "project")
    with Emulator() as server:
        # A release tag's run, nobody approving: built, in dev, stopped before prod.
        waiting = rehearse(project, server, trigger="tag", gate_passed=True)
        assert results(waiting) == {
            "Source/Source": SUCCEEDED,
            "Build/Build": SUCCEEDED,
            "DeployDev/Deploy": SUCCEEDED,
            "ApproveProd/Approval": STOPPED,
        }
        assert not waiting.succeeded
        assert set(waiting.running) == {"dev"}
        released = waiting.revision.tag
        assert released is not None
        version = released.removeprefix("v")
        digest = waiting.running["dev"]
        assert images(server)[version] == digest
        assert images(server)[f"sha-{waiting.revision.commit[:12]}"] == digest

        # The same commit again, approved: nothing new is pushed, and prod runs dev's digest.
        approved = rehearse(project, server, trigger="tag", approve=True, gate_passed=True)
        assert approved.succeeded, approved.failure
        assert approved.running == {"dev": digest, "prod": digest}
        build_log = next(o.log for o in approved.outcomes if o.stage == "Build")
        assert build_log is not None
        assert "is already there" in build_log.read_text()  # the idempotent push
        assert len(set(images(server).values())) == 1

        # A broken change reaches dev: its listener rule takes the forward rule's priority, so the
        # service stack's update fails; CloudFormation rolls it back and dev keeps the release.
        commit(
            project,
            "fix: move the private paths rule",
            {
                "stacks/service/listeners.py": lambda text: text.replace(
                    "PRIVATE_PATHS_PRIORITY = 10\n", "PRIVATE_PATHS_PRIORITY = 100\n"
                )
            },
        )
        broken = rehearse(project, server, trigger="push", gate_passed=True)
        assert results(broken) == {
            "Source/Source": SUCCEEDED,
            "Build/Build": SUCCEEDED,
            "DeployDev/Deploy": FAILED,
        }
        assert broken.failure is not None
        assert "UPDATE_ROLLBACK_COMPLETE" in broken.failure.log.read_text()  # type: ignore[union-attr]
        assert stack_status(server, "flask-fargate-dev-service") == "UPDATE_ROLLBACK_COMPLETE"
        assert broken.running == {"dev": digest, "prod": digest}  # dev kept it; prod untouched
        assert stack_status(server, "flask-fargate-prod-service") in (
            "CREATE_COMPLETE",
            "UPDATE_COMPLETE",
        )


def test_a_permission_a_stage_needs_missing_from_its_role_fails_it_in_one_line(
    tmp_path: Path,
) -> None:
    project = snapshot(tmp_path / "project")
    commit(
        project,
        "fix: the build role without PutImage",
        {"stacks/pipeline/roles.py": lambda text: text.replace('    "ecr:PutImage",\n', "")},
    )
    done = run_invoke(
        project, "pipeline", "--env", "local", "--trigger", "push", "--gate-passed", timeout=900
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith(
        "error: pipeline failed at Build/Build: role BuildRole lacks ecr:PutImage on "
        f"arn:aws:ecr:{REGION}:123456789012:repository/{REPOSITORY}"
    ), error
    assert not re.search(r"^DeployDev\s+Deploy\s", done.stdout, re.MULTILINE)  # never started


def test_a_failing_test_in_the_build_stops_the_pipeline_before_any_push(tmp_path: Path) -> None:
    project = snapshot(tmp_path / "project")
    # The gate, cut down to one failing test so the test stays fast: what is proven is that a
    # failing command of the Build (on-failure ABORT) means no push and no later stage.
    commit(
        project,
        "test: a test that fails",
        {
            "tests/unit/test_fails_on_purpose.py": lambda _: (
                "def test_fails() -> None:\n    assert 1 + 1 == 3\n"
            ),
            "buildspec.yml": lambda text: text.replace(
                "uv run nox -s lint typecheck tests cfn_lint security",
                "uv run pytest -q tests/unit/test_fails_on_purpose.py",
            ),
        },
    )
    with Emulator() as server:
        result = rehearse(project, server, trigger="tag", approve=True)
        assert results(result) == {"Source/Source": SUCCEEDED, "Build/Build": FAILED}
        assert result.failure is not None
        assert "uv run pytest -q tests/unit/test_fails_on_purpose.py" in result.failure.detail
        log = result.failure.log.read_text()  # type: ignore[union-attr]
        assert "invoke push" not in log  # POST_BUILD never ran
        assert images(server) == {}
        assert result.running == {}


def test_an_image_that_cannot_run_on_fargate_is_stopped_by_the_smoke_test_before_the_push(
    tmp_path: Path,
) -> None:
    project = snapshot(tmp_path / "project")
    # Writes beside its code at start-up: fine on a laptop, fatal on Fargate's read-only root.
    commit(
        project,
        "fix: remember when the app started",
        {"app/wsgi.py": lambda text: text + STARTED_FILE},
    )
    with Emulator() as server:
        result = rehearse(project, server, trigger="push", gate_passed=True)
        assert results(result) == {"Source/Source": SUCCEEDED, "Build/Build": FAILED}
        assert result.failure is not None
        assert "uv run invoke smoke" in result.failure.detail
        log = result.failure.log.read_text()  # type: ignore[union-attr]
        assert "Read-only file system" in log
        assert images(server) == {}
