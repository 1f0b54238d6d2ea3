"""What an environment's service stack says it runs: the image and version of its parameters.

A deploy or rollback is a stack update of exactly these two parameters (stacks/service), so
they are the record of what is live; diff, status and the local runner read them here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

IMAGE_URI = "ImageUri"
APP_VERSION = "AppVersion"


@dataclass(frozen=True)
class Running:
    """The image (``<repository-uri>@sha256:...``) and the release version a service stack names."""

    image_uri: str
    version: str

    def parameters(self) -> dict[str, str]:
        """The service stack's parameters that name this image and version."""
        return {IMAGE_URI: self.image_uri, APP_VERSION: self.version}


def from_parameters(parameters: Mapping[str, str]) -> Running | None:
    """What ``parameters`` (a service stack's) name; None when they name no image yet."""
    image = parameters.get(IMAGE_URI, "")
    if not image:
        return None
    return Running(image_uri=image, version=parameters.get(APP_VERSION, ""))
