"""``deploy`` on any environment: the same steps, with the emulator opened where it is one.

The command line gives a ``Request``; ``run`` checks what is cheap first (bad options, an
image that cannot go to this environment, a missing scanner) before anything starts, opens the
local session when the environment is an emulator, deploys, and returns the lines to print.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from delivery import deploy, deploy_plan, ecs, environments, scan
from delivery.errors import DeliveryError
from delivery.local import runner
from delivery.local import session as local_session


@dataclass(frozen=True)
class Emulated:
    """The options that only an emulator environment takes (``invoke deploy --env local``)."""

    keep: bool = False  # leave the emulator and the local service running at the end
    port: int = 0  # the emulator's port on 127.0.0.1; 0: a free one
    serve: str = "auto"  # run the service as a container, a gunicorn process, or auto
    ready_timeout_s: float = runner.READY_TIMEOUT_S  # for the local service to become ready

    def given(self) -> bool:
        """Whether any option differs from its default."""
        return self != Emulated()


@dataclass(frozen=True)
class Request:
    """One deploy, as asked: the environment, the image (None: build one) and the options."""

    env: str | None
    image: str | None = None
    skip_scan: bool = False
    threshold: str = scan.DEFAULT_THRESHOLD
    engine: str | None = None
    timeout_s: float = ecs.DEFAULT_TIMEOUT_S
    allow_prerelease: bool = False
    force: bool = False  # deploy past a closed SLO gate (delivery.slo), loudly
    emulated: Emulated = Emulated()
    root: Path = environments.PROJECT_ROOT


def check(request: Request, target: environments.Environment) -> None:
    """The checks that need nothing running: before an emulator starts, or AWS is read."""
    if request.force and not target.slo_gate:
        raise DeliveryError(
            f"--force overrides the SLO gate, and environment '{target.name}' has none "
            f"(slo_gate in config/{target.name}/config.yaml): drop --force"
        )
    if not target.emulator:
        if request.emulated.given():
            raise DeliveryError(
                "--keep, --emulator-port and --serve are for emulator environments, "
                f"not '{request.env}'"
            )
        return
    local_session.check_serve(request.emulated.serve)
    if request.image is None:
        scan.check(request.threshold, skip=request.skip_scan)
        return
    ref = deploy_plan.parse_image(request.image)
    if ref.version:
        deploy_plan.check_release(target, ref.version, request.allow_prerelease)


@contextlib.contextmanager
def _emulator(
    target: environments.Environment, request: Request
) -> Iterator[local_session.Session | None]:
    if not target.emulator:
        yield None
        return
    options = request.emulated
    with local_session.session(
        target,
        keep=options.keep,
        port=options.port,
        serve=options.serve,
        engine=request.engine,
        ready_timeout_s=options.ready_timeout_s,
    ) as session:
        yield session


def run(request: Request) -> list[str]:
    """Deploy as ``request`` says (its steps logged as they happen); the closing lines."""
    started = time.monotonic()
    target = environments.load(request.env, request.root)
    check(request, target)
    with _emulator(target, request) as session:
        result = deploy.deploy(
            request.env,
            request.image,
            skip_scan=request.skip_scan,
            threshold=request.threshold,
            engine=request.engine,
            root=request.root,
            steps=session.steps() if session else None,
            timeout_s=request.timeout_s,
            allow_prerelease=request.allow_prerelease,
            force=request.force,
        )
        live = session.service if session else None
    lines = [f"deployed {result.version} to {result.env}: {result.image_uri}"]
    if result.forced:
        lines.append(result.forced)
    if request.skip_scan and request.image is None:
        lines.append(f"WARNING: {result.version} was NOT scanned for vulnerabilities (--skip-scan)")
    lines += notices(target, result)
    if session is None and result.service_url:  # on an emulator the ALB's URL leads nowhere
        lines.append(f"service: {result.service_url}")
    if live is not None:
        lines.append(f"service: {live.url} version {live.version}")
    if session is not None:
        lines.append(
            f"emulator: kept at {session.endpoint}; stop both with "
            f"`invoke stop --env {target.name}`"
            if session.kept
            else "emulator and local service stopped (pass --keep to leave them running)"
        )
    lines.append(f"took {time.monotonic() - started:.1f} s")
    return lines


def notices(target: environments.Environment, result: deploy.Result) -> list[str]:
    """The loud lines of a finished deploy or rollback: a pre-release, plain HTTP."""
    found = (
        deploy_plan.prerelease_warning(target, result.version),
        deploy.http_only_notice(target, result.outputs),
    )
    return [notice for notice in found if notice]


def dry_run(request: Request, steps: deploy.Steps | None = None) -> list[str]:
    """Every check a deploy makes before it changes anything (``invoke check``); what it would do.

    AWS, or the kept emulator of an emulator environment, is read and never written.
    """
    target = environments.load(request.env, request.root)
    check(request, target)
    with local_session.attached(request.env, request.root):
        plan = deploy.validate(
            request.env,
            image=request.image,
            skip_scan=request.skip_scan,
            threshold=request.threshold,
            engine=request.engine,
            root=request.root,
            timeout_s=request.timeout_s,
            allow_prerelease=request.allow_prerelease,
            force=request.force,
            steps=steps,
        )
    if plan.existing is not None:
        image = f"{plan.existing.image_uri} ({plan.existing.version}), already in the registry"
        scanned = "not again (the registry's image was scanned when it was pushed)"
    else:
        engine = plan.engine.name if plan.engine else "no engine"
        image = f"a new build of this checkout with {engine}"
        scanned = (
            "SKIPPED (--skip-scan)"
            if plan.skip_scan
            else f"fails on {'/'.join(scan.severities(plan.threshold))} findings"
        )
    return [
        f"check: {target.name} can be deployed: account {plan.account}, region {target.region}",
        f"image: {image}, for {plan.platform}",
        f"scan: {scanned}",
        plan.gate,
        "nothing was changed",
    ]
