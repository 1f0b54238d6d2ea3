"""``invoke rollback``: the operator's side (find the release, restore it from its own checkout)
and the release's side (its own rollback, run in that checkout), each with the local session
an emulator environment needs. Returns the lines to print; tasks.py prints them.
"""

from __future__ import annotations

from pathlib import Path

from delivery import (
    deploy,
    deploy_command,
    deploy_plan,
    environments,
    pace,
    release_checkout,
    rollback,
    stacks,
)
from delivery.deploy_plan import Plan
from delivery.local import session as local_session


def in_release(
    env: str | None,
    to: str | None,
    *,
    root: Path,
    fast: bool = False,
    allow_prerelease: bool = False,
    steps: deploy.Steps | None = None,
) -> list[str]:
    """The release's own rollback, in its checkout ``root``: the stack update from this tree.

    On an emulator env the kept local service is restarted on the rolled-back image.
    """
    rollback.target_version(env, to, root)  # bad input fails before anything else
    with local_session.attached(env, root) as session:
        result = rollback.rollback(
            env,
            to,
            root=root,
            steps=session.steps(steps) if session is not None else steps,
            allow_prerelease=allow_prerelease,
            deployment_pace=pace.FAST if fast else pace.GUARDED,
        )
        live = session.service if session is not None else None
    lines = [f"rolled {result.env} back to {result.version}: {result.image_uri}"]
    lines += deploy_command.notices(environments.load(env, root), result)
    if live is not None:
        lines.append(f"service: {live.url} version {live.version}")
    return lines


def restore(
    env: str | None,
    to: str | None,
    *,
    root: Path,
    fast: bool = False,
    allow_prerelease: bool = False,
    steps: deploy.Steps | None = None,
    invoke: release_checkout.Invoke | None = None,
) -> list[str] | int:
    """Restore release ``to`` from its tag's checkout: the lines to print, or the exit code of
    the release's rollback when it failed (it printed why).

    ``invoke``: how a checkout's command line runs (default, looked up now:
    ``release_checkout.release_invoke``).
    """
    release = rollback.find_release(env, to, root, allow_prerelease)  # before AWS is asked

    def validate_image() -> Plan:
        with local_session.attached(env, root) as session:
            return rollback.validate(
                env,
                to,
                root=root,
                steps=session.steps(steps) if session is not None else steps,
                allow_prerelease=allow_prerelease,
            )

    restored = rollback.restore(
        environments.load(env, root),
        release,
        validate_image,
        fast=fast,
        allow_prerelease=allow_prerelease,
        invoke=invoke or release_checkout.release_invoke,
    )
    if isinstance(restored, int):
        return restored
    return restored.lines() + _serve_from_here(restored)


def _serve_from_here(restored: rollback.Restored) -> list[str]:
    """On an emulator env, a local service left running from the removed checkout (gunicorn:
    no container engine) restarted from this one; what was done.

    gunicorn runs a working tree's code with the task definition's environment, never the
    image (``Session.serve``): the release's checkout is gone, so it runs this one's, as
    ``deploy --serve process`` does.
    """
    plan = restored.plan
    if not plan.env.emulator:
        return []
    with local_session.attached(plan.env.name, plan.env.root) as session:
        service = session.service if session is not None else None
        if session is None or service is None or service.mode != "process":
            return []
        if not Path(service.image).is_relative_to(restored.checkout):
            return []
        session.serve(plan, stacks.outputs(deploy_plan.service_stack(plan.env)))
        live = session.service
    if live is None:
        return []
    return [
        f"local service: gunicorn restarted from {plan.env.root} (the release's checkout is "
        f"gone): {live.url} version {live.version}"
    ]
