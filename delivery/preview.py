"""``diff``: what a deploy would change in an environment, before it changes anything."""

from __future__ import annotations

from pathlib import Path

from delivery import credentials, deploy, deploy_plan, environments, running, stacks


def live_image(env: environments.Environment) -> running.Running | None:
    """What the env's service stack runs now; None when nothing is deployed."""
    service = deploy_plan.service_stack(env)
    if stacks.state(service).status == "NOT_CREATED":
        return None
    return running.from_parameters(stacks.parameters(service))


def diff(
    env_name: str | None,
    image: str | None = None,
    *,
    root: Path = environments.PROJECT_ROOT,
) -> list[stacks.Change]:
    """Changes a launch of ``env_name`` would make, with ``image`` or the image live now."""
    env = environments.load(env_name, root)
    ref = deploy_plan.parse_image(image) if image is not None else None
    deploy_plan.check_emulator_endpoint(env)
    credentials.check(env.region)
    if ref is not None:
        found = deploy_plan.find_image(env, ref)
        image_uri, version = found.image_uri, found.version
    else:
        # Nothing live means every stack would be created: the image does not matter yet.
        placeholder = deploy_plan.PLACEHOLDER_VARIABLES
        live = live_image(env) or running.Running(
            placeholder["image_uri"], placeholder["app_version"]
        )
        image_uri, version = live.image_uri, live.version
    variables = deploy.stack_variables(env, image_uri, version)
    poll = deploy_plan.poll_for(env)
    # What a deploy would launch: the environment's own stacks, never the account's shared ones.
    return stacks.diff(env.name, variables, root=root, poll=poll, only_under=env.name)
