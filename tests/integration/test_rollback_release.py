"""A rollback restores the release: its tag's config as well as its image, on the emulator.

A sample project (tests/support/project.py) whose service takes its greeting from the config is
released twice, with different greetings (tags v1.0.0 and v2.0.0), and each release is deployed
to ``dev`` (the emulator stands in for the account: its endpoint is this machine). Then
``rollback --to 1.0.0 [--fast]`` runs as the command line does: the release's own rollback in a
temporary checkout of v1.0.0. Only the release's command line is this repository's tasks.py run
by this interpreter instead of ``uv run --locked`` (the sample's tag holds config, not code).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import boto3
import pytest

from delivery import deploy, environments, pace, rollback_command
from delivery.emulator import Emulator
from delivery.local import session as local_session
from delivery.local.record import read_record
from delivery.local.runner import live_version
from tests.support.deploy_steps import fake_steps
from tests.support.git import git
from tests.support.paths import ROOT
from tests.support.project import SERVICE_CONFIG, launch_shared, make_project, service_template

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
SERVICE = "flask-fargate-dev-service"


def this_repositorys_invoke(path: Path) -> list[str]:
    """The checkout's command line, as this repository's tasks.py run by this interpreter."""
    return [sys.executable, "-m", "invoke", "--search-root", str(ROOT)]


def release(project: Path, version: str, greeting: str) -> None:
    """Commit ``greeting`` as dev's config and tag the commit ``v<version>``."""
    config = SERVICE_CONFIG.format(registry="shared") + (
        f'  Greeting: "{greeting}"\n  DeploymentPace: "{{{{ var.deployment_pace }}}}"\n'
    )
    (project / "config" / "dev" / "service.yaml").write_text(config)
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", f"feat: greeting of {version}")
    git(project, "tag", f"v{version}")


def service_with_greeting_and_pace() -> str:
    """The sample service, its GREETING from the config, and the pace a deploy passes."""
    template = json.loads(service_template())
    template["Parameters"] |= {
        "Greeting": {"Type": "String"},
        pace.PARAMETER: {
            "Type": "String",
            "AllowedValues": [pace.GUARDED, pace.FAST],
            "Default": pace.GUARDED,
        },
    }
    container = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    container["Environment"] = [e for e in container["Environment"] if e["Name"] != "GREETING"] + [
        {"Name": "GREETING", "Value": {"Ref": "Greeting"}}
    ]
    return json.dumps(template)


@pytest.fixture
def project(tmp_path: Path, aws: Emulator) -> Path:
    """Released as v1.0.0 and v2.0.0 (greetings "from v1", "from v2"), both deployed to dev."""
    root = make_project(tmp_path / "project", git_init=True)
    (root / "templates" / "service.json").write_text(service_with_greeting_and_pace())
    launch_shared(root)
    for version in ("1.0.0", "2.0.0"):
        release(root, version, f"Hello from v{version[0]}")
        deploy.deploy("dev", skip_scan=True, root=root, steps=fake_steps(version))
    return root


def service_parameters() -> dict[str, str]:
    stack = boto3.client("cloudformation").describe_stacks(StackName=SERVICE)["Stacks"][0]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}


def worktrees(project: Path) -> list[str]:
    listed = git(project, "worktree", "list", "--porcelain").splitlines()
    return [line.split(" ", 1)[1] for line in listed if line.startswith("worktree ")]


@pytest.mark.parametrize("fast", [False, True], ids=["guarded", "fast"])
def test_rollback_restores_the_releases_config_and_image(project: Path, fast: bool) -> None:
    live = service_parameters()
    assert (live["AppVersion"], live["Greeting"]) == ("2.0.0", "Hello from v2")
    assert live[pace.PARAMETER] == pace.GUARDED

    started = time.monotonic()
    lines = rollback_command.restore(
        "dev", "1.0.0", root=project, fast=fast, invoke=this_repositorys_invoke
    )
    took = time.monotonic() - started
    print(f"rollback through the release's checkout: {took:.1f} s")

    assert isinstance(lines, list), lines
    back = service_parameters()
    assert back["AppVersion"] == "1.0.0"
    assert back["Greeting"] == "Hello from v1"  # v1's config, not the checkout's (v2's)
    assert back[pace.PARAMETER] == (pace.FAST if fast else pace.GUARDED)
    assert lines[0].startswith("restored release v1.0.0 (commit ")
    assert back["ImageUri"] in lines[0]
    assert back["ImageUri"].endswith(fake_image_digest(project, "1.0.0"))
    # The task definition's GREETING is the Greeting parameter (Ref): read there, because moto
    # fills only the first revision's container definitions (see test_delivery_deploy.py).
    assert worktrees(project) == [str(project)]  # the release's checkout is gone

    # The next normal deploy is guarded again, and the checkout's config is back.
    deploy.deploy("dev", "2.0.0", root=project, steps=fake_steps("x"))
    after = service_parameters()
    assert (after["AppVersion"], after["Greeting"], after[pace.PARAMETER]) == (
        "2.0.0",
        "Hello from v2",
        pace.GUARDED,
    )


def test_a_local_gunicorn_service_outlives_the_releases_checkout(
    tmp_path: Path, aws: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--serve process`` runs a working tree's code: the release's checkout goes, so the
    rolled-back service is restarted from this one, on the same port, with v1's environment."""
    root = make_project(tmp_path / "project", git_init=True)
    (root / "templates" / "service.json").write_text(service_template())
    (root / ".gitignore").write_text(".local/\n")
    env = environments.load("local", root)
    # No container engine: the release's own rollback serves with gunicorn as well.
    monkeypatch.setenv("CONTAINER_ENGINE", "/nonexistent/engine")
    try:
        for version in ("1.0.0", "2.0.0"):
            git(root, "commit", "-q", "--allow-empty", "-m", f"feat: {version}")
            git(root, "tag", f"v{version}")
            with local_session.session(env, keep=True, serve="process") as session:
                deploy.deploy(
                    "local", skip_scan=True, root=root, steps=session.steps(fake_steps(version))
                )
        lines = rollback_command.restore(
            "local", "1.0.0", root=root, invoke=this_repositorys_invoke
        )
        assert isinstance(lines, list), lines
        record = read_record(env)
        assert record is not None
        assert record.service is not None
        assert record.service.mode == "process"
        assert record.service.image == str(root)  # not the removed checkout
        assert live_version(record.service) == "1.0.0"
        assert lines[-1] == (
            f"local service: gunicorn restarted from {root} (the release's checkout is gone): "
            f"{record.service.url} version 1.0.0"
        )
    finally:
        local_session.stop(env)


def fake_image_digest(project: Path, version: str) -> str:
    """The digest of ``version``'s image in the shared registry."""
    images = boto3.client("ecr").describe_images(
        repositoryName="flask-fargate", imageIds=[{"imageTag": version}]
    )["imageDetails"]
    return str(images[0]["imageDigest"])
