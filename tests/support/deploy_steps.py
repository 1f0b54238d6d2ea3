"""Deploy steps for the emulator: build and scan nothing, publish, launch and wait for real.

``fake_steps(version)`` stands in for the engine and the scanner of ``delivery.deploy``: the build
is a name, the scan is skipped, and the "engine" publishes the image's manifest to the emulator's
ECR as a push would. Everything after the build (validation, the registry, the stack launch, the
check of the service) is the real code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from delivery import deploy, deploy_plan, images, registry, scan


def commit_of(version: str) -> str:
    """A made-up commit per version: one commit builds one image (its sha- tag is immutable)."""
    return hashlib.sha1(version.encode()).hexdigest()  # noqa: S324 - a name, not security


@dataclass(frozen=True)
class FakeEngine:
    """Just enough of delivery.engines.base.ContainerEngine for publishing on the emulator."""

    name: str = "podman"

    def check_buildable(self, platform: str, binfmt_dir: Path | None = None) -> None:
        """The fake builds nothing, so it builds for any platform."""

    def manifest(self, ref: str) -> tuple[str, bytes, str]:
        """(media type, manifest, digest) of an image named ``ref`` with no layers."""
        config = "sha256:" + hashlib.sha256(ref.encode()).hexdigest()
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "size": 1,
                    "digest": config,
                },
                "layers": [],
            }
        ).encode()
        return (
            "application/vnd.docker.distribution.manifest.v2+json",
            body,
            "sha256:" + hashlib.sha256(body).hexdigest(),
        )

    def image_id(self, ref: str) -> str:
        """The id an engine knows the image by: its config's digest (as in ``manifest``)."""
        return "sha256:" + hashlib.sha256(ref.encode()).hexdigest()

    def push(self, local_ref: str, remote_ref: str, username: str, password: str) -> str:
        """A push, as the emulator can take one: the manifest recorded under the tag."""
        assert (username, password) != ("", "")
        host, _, path = remote_ref.partition("/")
        repository, tag = path.rsplit(":", 1)
        region = host.split(".")[3]  # <account>.dkr.ecr.<region>.amazonaws.com
        media_type, body, _ = self.manifest(local_ref)
        return registry.record_image(
            repository, tag, body.decode(), media_type, registry.client(region)
        )


def fake_steps(version: str, built: list[str] | None = None) -> deploy.Steps:
    """Steps that build and scan nothing; publishing, launching and waiting are real."""

    def build(plan: deploy_plan.Plan) -> images.Built:
        if built is not None:
            built.append(version)
        return images.Built(ref=f"flask-fargate:{version}", version=version, sha=commit_of(version))

    def no_scan(plan: deploy_plan.Plan, image: images.Built) -> scan.ScanResult:
        return scan.ScanResult(image.ref, skipped=True, message="SCAN SKIPPED (test)")

    return deploy.Steps(
        detect_engine=lambda _: FakeEngine(),  # type: ignore[arg-type,return-value]
        identify=lambda plan: (version, commit_of(version)),
        build_image=build,
        scan_image=no_scan,
        # dev/prod are AWS-shaped envs served by the emulator here: one read, no ECS waiter.
        after_launch=deploy.check_service,
    )
