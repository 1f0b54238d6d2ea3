"""What a deploy is, and the checks that validate one before anything changes.

A ``Plan`` is a validated deploy: the environment, the image ``--image`` names (an ``ImageRef``,
found in the env's ``Registry`` as a ``Published`` image), the engine and platform a build
targets. The checks here only read (the env's config, the environment variables, the registry
stack's outputs, ECR) and fail with one line each; ``deploy.validate`` runs them, cheapest first.
Whether the emulator stands in for the account (``on_emulator``) is decided here too: the image
and environment steps both ask.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from delivery import (
    ecs,
    environments,
    pace,
    platforms,
    project,
    registry,
    releases,
    scan,
    sceptre_yaml,
    stacks,
    traffic,
)
from delivery.environments import Environment
from delivery.errors import DeliveryError

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

    from delivery.engines.base import ContainerEngine

REGISTRY_STACK = "registry"
SERVICE_STACK = "service"
_VERSION = re.compile(r"^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$")
# What the config sees while only validating: well-formed, obviously not a real image.
PLACEHOLDER_VARIABLES = {
    "image_uri": f"placeholder.invalid/{project.NAME}@sha256:" + "0" * 64,
    "app_version": "0.0.0",
    traffic.VARIABLE: traffic.DEFAULT,
    # delivery.secrets.VARIABLE: no secret pinned (version ids, never a value)
    "secret_versions": "",  # nosec B105 - not a password
    pace.VARIABLE: pace.GUARDED,
}
_DIGEST_REF = re.compile(r"^(?:(?P<repo>[^@\s]+)@)?(?P<digest>sha256:[0-9a-f]{64})$")


@dataclass(frozen=True)
class ImageRef:
    """What ``--image`` names: a released version (a tag in ECR) or a digest."""

    version: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        return self.version or self.digest or "?"


def parse_image(value: str) -> ImageRef:
    """``1.2.3``/``v1.2.3``/``1.3.0-dev.gabc`` or ``[<repo>@]sha256:<64 hex>``; else one line."""
    text = value.strip()
    if match := _VERSION.match(text):
        return ImageRef(version=match.group(1))
    if match := _DIGEST_REF.match(text):
        return ImageRef(digest=match.group("digest"))
    raise DeliveryError(
        f"malformed --image '{value}': give a version like 1.2.3 or a digest sha256:<64 hex>"
    )


@dataclass(frozen=True)
class Registry:
    """The ECR repository an environment's images live in (registry stack outputs)."""

    uri: str
    name: str
    region: str  # the registry stack's region, where ECR is asked about it

    def ecr(self) -> ECRClient:
        """An ECR client for this repository's region."""
        return registry.client(self.region)


@dataclass(frozen=True)
class Published:
    """An image in the registry: what the service stack's ImageUri/AppVersion get."""

    registry: Registry
    digest: str
    version: str

    @property
    def image_uri(self) -> str:
        """``<repository-uri>@sha256:...``."""
        return registry.image_uri(self.registry.uri, self.digest)

    def reference(self) -> dict[str, str]:
        """The build's output artifact (image.json) that the deploy actions promote."""
        return {
            "uri": self.image_uri,
            "repository": self.registry.uri,
            "digest": self.digest,
            "version": self.version,
        }


@dataclass(frozen=True)
class Plan:
    """A validated deploy: everything the steps need, checked before anything changes."""

    env: Environment
    image: ImageRef | None = None
    engine: ContainerEngine | None = None
    skip_scan: bool = False
    threshold: str = scan.DEFAULT_THRESHOLD
    account: str = ""
    existing: Published | None = None  # the image ``--image`` named, once found in ECR
    timeout_s: float = ecs.DEFAULT_TIMEOUT_S
    allow_prerelease: bool = False  # a releases-only env takes a pre-release anyway (loudly)
    platform: str = platforms.DEFAULT_PLATFORM  # the task definition's: what the build targets
    gate: str = ""  # the SLO gate's verdict line ("" when not read: a push, a rollback)
    forced: str = ""  # the WARNING of a deploy forced past a closed SLO gate, else ""
    # Secrets to pin to a new version (name, version id): a rotation; the rest keep their pin.
    pin_secrets: tuple[tuple[str, str], ...] = ()
    pace: str = pace.GUARDED  # the deployment's pace: fast only for ``rollback --fast``

    @property
    def poll(self) -> float | None:
        """Sceptre's poll interval: short on the emulator, Sceptre's own on AWS."""
        return poll_for(self.env)


def service_settings(env: Environment) -> dict[str, Any]:
    """The env's service stack settings as its config gives them (``sceptre_user_data``; {}
    when there are none): read before anything is rendered or asked of AWS."""
    path = env.config_dir / f"{SERVICE_STACK}.yaml"
    data = sceptre_yaml.read(path) if path.is_file() else {}
    user_data = (data.get("sceptre_user_data") or {}) if isinstance(data, dict) else {}
    return dict(user_data) if isinstance(user_data, dict) else {}


def task_platform(env: Environment) -> str:
    """The image platform the env's task definition runs (its service stack's
    ``cpu_architecture``; the stack's default, X86_64, when the config sets none)."""
    architecture = service_settings(env).get("cpu_architecture")
    if architecture is None:
        return platforms.DEFAULT_PLATFORM
    return platforms.platform_for(str(architecture))


def check_settings(env: Environment) -> None:
    """Render every template of ``env`` and its registry: bad settings fail here, not in AWS.

    This repository's config renders through ``delivery.render`` (each stack's Sceptre handler,
    offline, the launch code path). Another project root (the tests' sample projects, whose
    templates are plain JSON) renders through Sceptre itself with placeholder image variables.
    """
    render = importlib.import_module("delivery.render")  # on use: it needs the stacks group
    config_dir = env.root / "config"
    if config_dir.resolve() != Path(render.CONFIG_DIR).resolve():
        stacks.generate(env.name, PLACEHOLDER_VARIABLES, root=env.root)
        return
    groups = [env.name] if env.registry_group == env.name else [env.name, env.registry_group]
    try:
        for stack in render.stack_configs(config_dir, groups):
            if stack.environment == env.name or stack.name == REGISTRY_STACK:
                render.render_stack(stack)
    except DeliveryError:
        raise
    except Exception as exc:  # SettingsError and the handlers' own errors: one line for users
        raise DeliveryError(f"settings of environment '{env.name}' are invalid: {exc}") from exc


def loopback_endpoint() -> bool:
    """Whether AWS_ENDPOINT_URL points at this machine (the emulator), not at AWS."""
    host = urlparse(os.environ.get("AWS_ENDPOINT_URL", "")).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1")


def on_emulator(env: Environment) -> bool:
    """Whether the local emulator stands in for ``env``'s account now.

    An emulator environment (``local``), or any environment whose AWS endpoint is this machine:
    the pipeline rehearsal deploys ``dev`` and ``prod`` there. The emulator has no registry
    endpoint (images are recorded with put_image) and runs no tasks (nothing to wait for).
    """
    return env.emulator or loopback_endpoint()


def poll_for(env: Environment) -> float | None:
    """Sceptre's poll interval for ``env``: short when the emulator answers, else Sceptre's 4 s."""
    return stacks.EMULATOR_POLL_S if on_emulator(env) else None


def check_emulator_endpoint(env: Environment) -> None:
    """An emulator env only ever talks to a loopback endpoint (never to a real account)."""
    if not env.emulator:
        return
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if not loopback_endpoint():
        raise DeliveryError(
            f"environment '{env.name}' runs on the local emulator but AWS_ENDPOINT_URL is "
            f"{endpoint or 'unset'}: start the emulator (bin/deploy does) and point "
            "AWS_ENDPOINT_URL at it"
        )


def registry_stack(env: Environment) -> environments.StackRef:
    """Name and region of the registry stack ``env`` pushes to and pulls from."""
    return env.stack_ref(REGISTRY_STACK, env.registry_group)


def service_stack(env: Environment) -> environments.StackRef:
    """Name and region of ``env``'s service stack."""
    return env.stack_ref(SERVICE_STACK)


def existing_registry(env: Environment) -> Registry:
    """The env's registry from its stack outputs (read-only; the stack must exist)."""
    stack = registry_stack(env)
    outputs = stacks.outputs(stack)
    try:
        return Registry(
            uri=outputs["RepositoryUri"], name=outputs["RepositoryName"], region=stack.region
        )
    except KeyError as exc:
        raise DeliveryError(
            f"registry stack of '{env.name}' has no output {exc.args[0]}: redeploy it"
        ) from exc


def find_image(env: Environment, ref: ImageRef) -> Published:
    """The image ``ref`` names in the env's registry; one line naming repo/tag when absent."""
    repo = existing_registry(env)
    ecr = repo.ecr()
    if ref.version:
        digest = registry.find_version(repo.name, ref.version, ecr)
        return Published(repo, digest, ref.version)
    digest = ref.digest or ""
    if not registry.has_digest(repo.name, digest, ecr):
        raise DeliveryError(f"image '{repo.name}@{digest}' does not exist in ECR")
    tags = next((i.tags for i in registry.list_images(repo.name, ecr) if i.digest == digest), ())
    # An image carries one version tag; should it carry more, the highest by SemVer precedence
    # (1.10.0 above 1.9.0, a release above its pre-releases) names it.
    version = releases.newest(tags)
    if version is None:
        raise DeliveryError(
            f"image '{repo.name}@{digest}' has no version tag: deploy it by version instead"
        )
    return Published(repo, digest, version)


def check_release(env: Environment, version: str, allow_prerelease: bool) -> None:
    """A releases-only env takes ``X.Y.Z`` only, unless allowed; one line naming both."""
    if env.releases_only and not allow_prerelease and not releases.is_release(version):
        raise DeliveryError(
            f"environment '{env.name}' takes released versions only (X.Y.Z), not the "
            f"pre-release {version}: release it first, or pass --allow-prerelease to deploy it "
            "anyway"
        )


def prerelease_warning(env: Environment, version: str) -> str | None:
    """The loud line for a pre-release going to a releases-only env (None otherwise)."""
    if not env.releases_only or releases.is_release(version):
        return None
    return (
        f"WARNING: {version} is a pre-release, deployed to releases-only environment "
        f"'{env.name}' because of --allow-prerelease"
    )
