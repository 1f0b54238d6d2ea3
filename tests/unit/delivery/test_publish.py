"""``publish`` on its AWS branch: a real push through the engine, ECR lookups on the emulator.

The engine is the real ``ContainerEngine`` on a fake runner whose ``podman push`` behaves as
podman does and leaves in the registry what a push leaves (tests/support/registry_images.py).
ECR is the emulator's, tags IMMUTABLE as in the registry stack.

A pipeline re-run for the same commit builds the same image (reproducible builds) and must pass:
its tags are already there, so nothing is pushed. A tag holding another image is a one-line error
before anything is pushed.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from delivery import deploy_plan, images, registry
from delivery.emulator import Emulator
from delivery.engines.base import ContainerEngine
from delivery.environments import load
from delivery.errors import DeliveryError
from tests.support.fake_engine import FakeRunner
from tests.support.logs import progress_lines
from tests.support.project import make_project
from tests.support.registry_images import (
    REGION,
    REPOSITORY,
    V2S2,
    digest_of,
    image,
    podman_holding,
)

pytestmark = [pytest.mark.emulator]

URI = f"123456789012.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}"
SHA = "0123456789abcdef0123456789abcdef01234567"
BUILT = images.Built(ref="flask-fargate:1.4.0", version="1.4.0", sha=SHA)
TAGS = ["1.4.0", "v1.4.0", "sha-0123456789ab"]  # a release: with its mark
THIS_BUILD = image('{"architecture":"amd64","created":"2026-01-01T00:00:00Z"}')
OTHER_BUILD = image('{"architecture":"amd64","created":"2026-01-02T00:00:00Z"}')


@pytest.fixture
def ecr(aws: Emulator, monkeypatch: pytest.MonkeyPatch) -> object:
    # The emulator plays ECR on AWS here: the AWS branch is under test, not the emulator's.
    monkeypatch.setattr(deploy_plan, "on_emulator", lambda env: False)
    client = registry.client(REGION)
    client.create_repository(repositoryName=REPOSITORY, imageTagMutability="IMMUTABLE")
    return client


def publish(
    tmp_path: Path, engine: ContainerEngine, log: pytest.LogCaptureFixture
) -> deploy_plan.Published:
    """``images.publish`` of BUILT to dev; ``log`` holds its progress lines (only)."""
    log.clear()
    plan = deploy_plan.Plan(env=load("dev", make_project(tmp_path)), engine=engine)
    runner = engine.runner
    assert isinstance(runner, FakeRunner)
    try:
        return images.publish(plan, deploy_plan.Registry(URI, REPOSITORY, REGION), BUILT)
    finally:
        # The AWS branch ran: it starts from the local image's id, which the emulator's branch
        # (the manifest recorded with put_image) never reads, and it recorded nothing itself.
        assert runner.argvs()[:1] == [
            ("podman", "image", "inspect", "--format", "{{.Id}}", BUILT.ref)
        ]
        lines = progress_lines(log)
        assert not any(line.startswith("publish: recorded") for line in lines), lines


def tags_in_ecr() -> dict[str, str]:
    described = boto3.client("ecr", region_name=REGION).describe_images(repositoryName=REPOSITORY)[
        "imageDetails"
    ]
    return {tag: d["imageDigest"] for d in described for tag in d.get("imageTags", [])}


@pytest.mark.usefixtures("ecr")
def test_a_new_image_is_pushed_under_both_tags(
    tmp_path: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    runner = FakeRunner()
    published = publish(tmp_path, podman_holding(runner, THIS_BUILD), delivery_log)
    lines = progress_lines(delivery_log)
    digest = digest_of(THIS_BUILD[1])
    assert published.digest == digest  # read from podman's --digestfile
    assert [argv[-1] for argv in runner.argvs() if argv[1] == "push"] == [
        f"docker://{URI}:{tag}" for tag in TAGS
    ]
    assert lines == [f"publish: pushed {URI}:{tag} {digest}" for tag in TAGS]
    assert tags_in_ecr() == dict.fromkeys(TAGS, digest)


@pytest.mark.usefixtures("ecr")
def test_a_rerun_for_the_same_commit_pushes_nothing_and_says_so(
    tmp_path: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    publish(tmp_path / "first", podman_holding(FakeRunner(), THIS_BUILD), delivery_log)
    runner = FakeRunner()
    published = publish(tmp_path / "again", podman_holding(runner, THIS_BUILD), delivery_log)
    lines = progress_lines(delivery_log)
    digest = digest_of(THIS_BUILD[1])
    assert published.digest == digest
    assert [argv[1] for argv in runner.argvs()] == ["image"]  # the local id only: no login/push
    assert lines == [
        f"publish: {URI}:{tag} is already there ({digest}): not pushed" for tag in TAGS
    ]


@pytest.mark.usefixtures("ecr")
def test_a_tag_still_missing_gets_the_manifest_already_there(
    tmp_path: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    manifest = THIS_BUILD[1]
    digest = registry.record_image(REPOSITORY, TAGS[0], manifest, V2S2, registry.client(REGION))
    runner = FakeRunner()
    published = publish(tmp_path, podman_holding(runner, THIS_BUILD), delivery_log)
    lines = progress_lines(delivery_log)
    assert published.digest == digest
    assert not any(argv[1] in ("login", "push") for argv in runner.argvs())
    assert lines == [
        f"publish: {URI}:{TAGS[0]} is already there ({digest}): not pushed",
        *(f"publish: tagged {URI}:{tag} {digest} (image already there)" for tag in TAGS[1:]),
    ]
    assert tags_in_ecr() == dict.fromkeys(TAGS, digest)


@pytest.mark.usefixtures("ecr")
def test_a_tag_naming_another_image_is_one_line_before_any_push(
    tmp_path: Path, delivery_log: pytest.LogCaptureFixture
) -> None:
    other_id, other_manifest = OTHER_BUILD
    other = registry.record_image(
        REPOSITORY, TAGS[1], other_manifest, V2S2, registry.client(REGION)
    )
    runner = FakeRunner()
    with pytest.raises(DeliveryError) as info:
        publish(tmp_path, podman_holding(runner, THIS_BUILD), delivery_log)
    assert str(info.value) == (
        f"tag '{TAGS[1]}' in '{REPOSITORY}' already names another image ({other}), not this "
        f"build ({THIS_BUILD[0]}): tags are immutable, so build from a new commit"
    )
    assert not any(argv[1] in ("login", "push") for argv in runner.argvs())
    assert tags_in_ecr() == {TAGS[1]: other}
    assert other_id != THIS_BUILD[0]
