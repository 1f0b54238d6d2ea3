"""``diff``: what a deploy would change in an environment, before it changes anything."""

from __future__ import annotations

from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from delivery import credentials, deploy, environments, stacks


def live_variables(env: environments.Environment) -> dict[str, str]:
    """The image the env runs now, as Sceptre variables (empty when nothing is deployed)."""
    name = env.stack_name(deploy.SERVICE_STACK)
    try:
        described = stacks.cloudformation().describe_stacks(StackName=name)["Stacks"][0]
    except (ClientError, BotoCoreError):
        return {}
    params = {
        p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])
    }
    if "ImageUri" not in params:
        return {}
    return {"image_uri": params["ImageUri"], "app_version": params.get("AppVersion", "")}


def diff(
    env_name: str | None,
    image: str | None = None,
    *,
    root: Path = environments.PROJECT_ROOT,
    progress: deploy.Progress = deploy._quiet,
) -> list[stacks.Change]:
    """Changes a launch of ``env_name`` would make, with ``image`` or the image live now."""
    env = environments.load(env_name, root)
    ref = deploy.parse_image(image) if image is not None else None
    deploy.check_emulator_endpoint(env)
    credentials.check(env.region)
    if ref is not None:
        found = deploy.find_image(env, ref)
        variables = {"image_uri": found.image_uri, "app_version": found.version}
    else:
        # Nothing live means every stack would be created: the image does not matter yet.
        variables = live_variables(env) or dict(deploy.PLACEHOLDER_VARIABLES)
    poll = deploy.poll_for(env)
    return stacks.diff(env.name, variables, root=root, progress=progress, poll=poll)
