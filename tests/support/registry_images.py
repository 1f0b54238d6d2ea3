"""Images as a registry holds them, and a podman whose push lands in the emulator's ECR.

The emulator has no registry endpoint to push to: ``podman_holding`` scripts a podman (on
tests/support/fake_engine.py's runner) that has an image in its store and whose ``push`` records
the image's manifest under the pushed tag in the emulator's ECR, as a real push leaves it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from delivery import registry
from delivery.engines.base import ContainerEngine
from delivery.engines.podman import PodmanEngine
from tests.support.fake_engine import FakeRunner, podman_push_writes

V2S2 = "application/vnd.docker.distribution.manifest.v2+json"
REPOSITORY = "flask-fargate"  # the shared registry's repository
REGION = "eu-north-1"  # config/config.yaml's region


def image(config: str) -> tuple[str, str]:
    """An image as a registry holds it: (image id = config digest, manifest)."""
    image_id = "sha256:" + hashlib.sha256(config.encode()).hexdigest()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": V2S2,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": image_id,
            },
            "layers": [],
        }
    )
    return image_id, manifest


def digest_of(manifest: str) -> str:
    """The digest a registry gives ``manifest``: the sha256 of its bytes."""
    return "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()


def podman_holding(
    runner: FakeRunner,
    built: tuple[str, str],
    repository: str = REPOSITORY,
    region: str = REGION,
) -> ContainerEngine:
    """podman with ``built`` in its store; its push puts the manifest in the emulator's ECR."""
    image_id, manifest = built
    runner.on("podman", "image", "inspect", "--format", "{{.Id}}", stdout=f"{image_id}\n")
    runner.on("podman", "login", stdout="Login Succeeded!\n")
    podman_push_writes(runner, digest_of(manifest))

    def registry_receives(argv: Sequence[str]) -> None:
        if tuple(argv[:2]) == ("podman", "push"):
            tag = argv[-1].rsplit(":", 1)[1]
            registry.record_image(repository, tag, manifest, V2S2, registry.client(region))

    runner.effects.append(registry_receives)
    return PodmanEngine("podman", {}, runner)
