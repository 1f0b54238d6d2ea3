"""The ECR registry through boto3: login, image lookups, and recording an image where no push works.

Every function takes the ECR client to use: ``client(region)`` for the registry stack's region (the
caller knows it from config; never the shell's default region). The endpoint (AWS or the local
emulator) and the credentials come from the standard AWS environment, never from code here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from delivery import aws_errors
from delivery.errors import DeliveryError

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# <registry>/<name>, e.g. 123456789012.dkr.ecr.eu-north-1.amazonaws.com/flask-fargate
_URI = re.compile(r"^(?P<registry>[^/]+)/(?P<name>[a-z0-9][a-z0-9._/-]*)$")


@dataclass(frozen=True)
class Image:
    """One image in a repository: its digest, tags and push time (ISO 8601)."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: str


@dataclass(frozen=True)
class Tagged:
    """What a tag names in a repository: the manifest, its digest and its config's digest."""

    digest: str
    manifest: str
    media_type: str
    # The image id a local engine knows the image by (None for a multi-platform index).
    config_digest: str | None

    def is_image(self, image_id: str) -> bool:
        """Whether this is the local image ``image_id`` (``sha256:`` of its config).

        Or of its manifest: docker's containerd image store names images that way.
        """
        return image_id in (self.digest, self.config_digest)


def client(region: str) -> ECRClient:
    """An ECR client for ``region`` (explicit: boto3 ignores AWS_REGION, boto/boto3#3620)."""
    return boto3.client("ecr", region_name=region)


def split_uri(repository_uri: str) -> tuple[str, str]:
    """``<registry>/<name>`` -> (registry, name); a one-line error for anything else."""
    match = _URI.match(repository_uri)
    if match is None:
        raise DeliveryError(f"'{repository_uri}' is not a repository URI (<registry>/<name>)")
    return match.group("registry"), match.group("name")


def login(repository_uri: str, ecr: ECRClient) -> tuple[str, str, str]:
    """(username, password, registry) for ``docker/podman login`` to the repository's registry."""
    registry, _ = split_uri(repository_uri)
    try:
        data = ecr.get_authorization_token()["authorizationData"]
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(f"ECR login failed: {aws_errors.reason(exc)}") from exc
    if not data:
        raise DeliveryError("ECR returned no authorization data")
    decoded = base64.b64decode(data[0]["authorizationToken"]).decode()
    username, _, password = decoded.partition(":")
    return username, password, registry


def image_digest(repository: str, tag: str, ecr: ECRClient) -> str:
    """The digest of ``repository:tag``; a one-line error naming both when there is none."""
    try:
        images = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])[
            "imageDetails"
        ]
    except (ClientError, BotoCoreError) as exc:
        code = aws_errors.code(exc)
        if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
            raise DeliveryError(
                f"image '{repository}:{tag}' does not exist in ECR: "
                f"list the versions with `invoke status` or build and push it first"
            ) from exc
        raise DeliveryError(
            f"ECR lookup of '{repository}:{tag}' failed: {aws_errors.reason(exc)}"
        ) from exc
    if not images:
        raise DeliveryError(f"image '{repository}:{tag}' does not exist in ECR")
    return images[0]["imageDigest"]


def has_digest(repository: str, digest: str, ecr: ECRClient) -> bool:
    """Whether ``repository@digest`` exists."""
    try:
        found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])[
            "imageDetails"
        ]
    except (ClientError, BotoCoreError) as exc:
        if aws_errors.code(exc) in (
            "ImageNotFoundException",
            "RepositoryNotFoundException",
        ):
            return False
        raise DeliveryError(
            f"ECR lookup of '{repository}@{digest}' failed: {aws_errors.reason(exc)}"
        ) from exc
    return bool(found)


def record_image(repository: str, tag: str, manifest: str, media_type: str, ecr: ECRClient) -> str:
    """Register ``manifest`` under ``tag`` with put_image; the digest ECR computed.

    Used where the image itself cannot be pushed (the local emulator has no registry endpoint):
    the repository then holds the same manifest, hence the same digest, a push would have given.
    Re-recording an identical manifest under the same tag is a no-op, not an error.
    """
    # A registry's digest is sha256 of the manifest bytes; saying so keeps the emulator honest
    # (moto otherwise derives one from the layer list) and lets ECR check it.
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    try:
        image = ecr.put_image(
            repositoryName=repository,
            imageManifest=manifest,
            imageManifestMediaType=media_type,
            imageTag=tag,
            imageDigest=digest,
        )["image"]
    except ClientError as exc:
        code = aws_errors.code(exc)
        if code == "ImageAlreadyExistsException":
            return image_digest(repository, tag, ecr)
        if code == "ImageTagAlreadyExistsException":
            raise DeliveryError(
                f"tag '{tag}' already names another image in '{repository}' (tags are immutable): "
                "build from a new commit or release a new version"
            ) from exc
        raise DeliveryError(
            f"recording '{repository}:{tag}' failed: {aws_errors.reason(exc)}"
        ) from exc
    return image["imageId"]["imageDigest"]


def list_images(repository: str, ecr: ECRClient) -> list[Image]:
    """Every image in ``repository``, newest push first."""
    images: list[Image] = []
    try:
        for page in ecr.get_paginator("describe_images").paginate(repositoryName=repository):
            images.extend(
                Image(
                    digest=detail["imageDigest"],
                    tags=tuple(sorted(detail.get("imageTags", []))),
                    pushed_at=detail["imagePushedAt"].isoformat()
                    if "imagePushedAt" in detail
                    else "",
                )
                for detail in page["imageDetails"]
            )
    except (ClientError, BotoCoreError) as exc:
        code = aws_errors.code(exc)
        if code == "RepositoryNotFoundException":
            raise DeliveryError(f"ECR repository '{repository}' does not exist") from exc
        raise DeliveryError(f"listing '{repository}' failed: {aws_errors.reason(exc)}") from exc
    return sorted(images, key=lambda image: image.pushed_at, reverse=True)


def find_version(repository: str, version: str, ecr: ECRClient) -> str:
    """The digest tagged ``version`` (rollback and promote look versions up by tag)."""
    return image_digest(repository, version, ecr)


# What ``tagged`` accepts back from ECR: every manifest kind an engine pushes.
MANIFEST_MEDIA_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
]


def tagged(repository: str, tags: Sequence[str], ecr: ECRClient) -> dict[str, Tagged]:
    """What each of ``tags`` names in ``repository`` now; a tag naming nothing is left out.

    The lookup a push makes first, so an immutable tag that already holds this image is not
    pushed again, and one holding another image is a clear error instead of the registry's
    refusal halfway through. One ``BatchGetImage`` call per tag: a call naming two tags of one
    image may answer once for both (the emulator does), which would hide a tag.
    """
    found: dict[str, Tagged] = {}
    for tag in tags:
        try:
            images = ecr.batch_get_image(
                repositoryName=repository,
                imageIds=[{"imageTag": tag}],
                acceptedMediaTypes=MANIFEST_MEDIA_TYPES,
            ).get("images", [])
        except (ClientError, BotoCoreError) as exc:
            code = aws_errors.code(exc)
            if code == "RepositoryNotFoundException":
                raise DeliveryError(f"ECR repository '{repository}' does not exist") from exc
            raise DeliveryError(
                f"ECR lookup of '{repository}:{tag}' failed: {aws_errors.reason(exc)}"
            ) from exc
        for image in images[:1]:  # absent: in "failures" (ImageNotFound), not in "images"
            manifest = image.get("imageManifest", "")
            try:
                config = json.loads(manifest).get("config") or {}
            except ValueError:
                config = {}
            found[tag] = Tagged(
                digest=image["imageId"].get("imageDigest", ""),
                manifest=manifest,
                media_type=image.get("imageManifestMediaType", ""),
                config_digest=config.get("digest"),
            )
    return found


def image_uri(repository_uri: str, digest: str) -> str:
    """``<repository-uri>@sha256:...`` (what the service stack's ``ImageUri`` takes)."""
    if not DIGEST.match(digest):
        raise DeliveryError(f"'{digest}' is not an image digest (sha256:<64 hex>)")
    return f"{repository_uri}@{digest}"
