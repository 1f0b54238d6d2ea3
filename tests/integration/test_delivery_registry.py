"""ECR through the emulator: login, recording an image with put_image, lookups by tag/digest."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from delivery import registry
from delivery.emulator import Emulator
from delivery.errors import DeliveryError

pytestmark = pytest.mark.emulator
MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def manifest(seed: str) -> str:
    """A Docker v2 manifest whose config digest depends on ``seed``."""
    config = "sha256:" + hashlib.sha256(seed.encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 100,
                "digest": config,
            },
            "layers": [],
        }
    )


@pytest.fixture
def ecr(aws: Emulator) -> Any:
    return registry.client(aws.region)


@pytest.fixture
def repository(ecr: Any) -> str:
    uri = ecr.create_repository(
        repositoryName="flask-fargate-local", imageTagMutability="IMMUTABLE"
    )["repository"]["repositoryUri"]
    return str(uri)


def test_login_gives_registry_credentials(repository: str, ecr: Any) -> None:
    username, password, host = registry.login(repository, ecr)
    assert username == "AWS"
    assert password
    assert repository.startswith(host + "/")


def test_record_then_find_by_tag_and_digest(repository: str, ecr: Any) -> None:
    _, name = registry.split_uri(repository)
    digest = registry.record_image(name, "1.0.0", manifest("a"), MEDIA_TYPE, ecr)
    assert registry.DIGEST.match(digest)
    assert registry.record_image(name, "sha-0123456789ab", manifest("a"), MEDIA_TYPE, ecr) == digest
    assert registry.find_version(name, "1.0.0", ecr) == digest
    assert registry.image_digest(name, "sha-0123456789ab", ecr) == digest
    assert registry.has_digest(name, digest, ecr)
    assert not registry.has_digest(name, "sha256:" + "0" * 64, ecr)
    (image,) = registry.list_images(name, ecr)
    assert image.tags == ("1.0.0", "sha-0123456789ab")
    assert registry.image_uri(repository, digest) == f"{repository}@{digest}"


def test_recording_the_same_image_again_is_idempotent(repository: str, ecr: Any) -> None:
    _, name = registry.split_uri(repository)
    first = registry.record_image(name, "1.0.0", manifest("a"), MEDIA_TYPE, ecr)
    assert registry.record_image(name, "1.0.0", manifest("a"), MEDIA_TYPE, ecr) == first


def test_missing_tag_names_repository_and_tag(repository: str, ecr: Any) -> None:
    _, name = registry.split_uri(repository)
    with pytest.raises(DeliveryError) as info:
        registry.find_version(name, "9.9.9", ecr)
    assert str(info.value).startswith("image 'flask-fargate-local:9.9.9' does not exist in ECR")


def test_missing_repository_is_one_line(ecr: Any) -> None:
    with pytest.raises(DeliveryError, match=r"'nope:1\.0\.0' does not exist"):
        registry.image_digest("nope", "1.0.0", ecr)
    with pytest.raises(DeliveryError, match="repository 'nope' does not exist"):
        registry.list_images("nope", ecr)


@pytest.mark.parametrize("uri", ["no-slash", "", "host/UPPER"])
def test_malformed_repository_uri(uri: str) -> None:
    with pytest.raises(DeliveryError, match="is not a repository URI"):
        registry.split_uri(uri)


def test_malformed_digest() -> None:
    with pytest.raises(DeliveryError, match="is not an image digest"):
        registry.image_uri("host/repo", "latest")
