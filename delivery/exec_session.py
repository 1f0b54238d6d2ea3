"""ECS Exec (``invoke exec``): a shell, or one command, in a running task of the service.

Opt-in per environment: the service stack's ``exec.enabled`` setting (stacks/service/exec.py
adds what ECS Exec needs), read from the environment's config before anything else, so an env
where it is off is a one-line error that touches nothing.

On AWS it is what ``aws ecs execute-command`` does (aws-cli's
awscli/customizations/ecs/executecommand.py): check that the Session Manager plugin runs, call
ExecuteCommand (interactive, the only mode ECS offers), find the container's runtime id
(DescribeTasks) for the SSM target ``ecs:<cluster>_<task id>_<runtime id>``, and hand the session
to the plugin: ``session-manager-plugin <session JSON> <region> StartSession <profile> <target
JSON> <endpoint>``, with Ctrl-C, Ctrl-\\ and Ctrl-Z left to the plugin (the CLI ignores them in
its own process so that they reach the remote shell, not kill the local one).

On an emulator env it runs the command in the local service's container through the container
engine, as root: ECS Exec's agent and what it runs are root whatever the container's user (the
ECS Exec guide's considerations, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html).
A local service run as a gunicorn process has no container to enter: one line says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from delivery import aws_errors, deploy_plan, ecs, environments, stacks
from delivery.environments import Environment
from delivery.errors import DeliveryError
from stacks.service.task import CONTAINER_NAME

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

log = logging.getLogger(__name__)
PLUGIN = "session-manager-plugin"
PLUGIN_INSTALL = (
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/"
    "session-manager-working-with-install-plugin.html"
)
DEFAULT_COMMAND = ("/bin/sh",)
# The managed agent DescribeTasks reports per container when ECS Exec is on
# (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ManagedAgent.html).
EXEC_AGENT = "ExecuteCommandAgent"
# ECS Exec runs as root whatever the container's user (module docstring): so does the local one.
LOCAL_EXEC_USER = "0"
# What the AWS CLI ignores while the plugin runs (awscli.compat.ignore_user_entered_signals).
USER_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP)


def enabled(env: Environment) -> bool:
    """Whether the env's service settings turn ECS Exec on (``exec.enabled``; off by default)."""
    settings = deploy_plan.service_settings(env).get("exec")
    return isinstance(settings, dict) and settings.get("enabled") is True


def check_enabled(env: Environment) -> None:
    """One line when ECS Exec is off for ``env``."""
    if not enabled(env):
        raise DeliveryError(
            f"ECS Exec is off for environment '{env.name}': set exec: {{enabled: true}} under "
            f"sceptre_user_data in config/{env.name}/{deploy_plan.SERVICE_STACK}.yaml and deploy"
        )


def check_plugin(which: Callable[[str], str | None] = shutil.which) -> str:
    """The Session Manager plugin's path; one line saying how to install it when missing."""
    found = which(PLUGIN)
    if found is None:
        raise DeliveryError(
            f"{PLUGIN} is not on PATH: ECS Exec needs AWS's Session Manager plugin, install it "
            f"({PLUGIN_INSTALL}) and try again"
        )
    return found


def command_line(words: Sequence[str]) -> str:
    """ExecuteCommand's ``command`` (one string): the words, quoted as a shell would need."""
    return shlex.join(words or DEFAULT_COMMAND)


def running_task(client: ECSClient, cluster: str, service: str) -> tuple[str, str]:
    """A RUNNING task of ``service``: its ARN and the app container's runtime id."""
    try:
        arns = client.list_tasks(cluster=cluster, serviceName=service, desiredStatus="RUNNING")[
            "taskArns"
        ]
        described = client.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(
            f"listing the tasks of {service} failed: {aws_errors.reason(exc)}"
        ) from exc
    running = [task for task in described if task.get("lastStatus") == "RUNNING"]
    for task in running:
        for container in task.get("containers", []):
            if container.get("name") == CONTAINER_NAME and _agent_running(container):
                return str(task["taskArn"]), str(container.get("runtimeId", ""))
    if running:
        raise DeliveryError(
            f"no running task of ECS service {service} runs the ECS Exec agent "
            f"({EXEC_AGENT}): tasks started before exec was enabled have none, deploy again"
        )
    raise DeliveryError(
        f"no task of ECS service {service} is running: deploy the environment, or wait for "
        "the service to start one (invoke status)"
    )


def _agent_running(container: Mapping[str, Any]) -> bool:
    """Whether DescribeTasks reports the container's ECS Exec agent RUNNING (managedAgents)."""
    return any(
        agent.get("name") == EXEC_AGENT and agent.get("lastStatus") == "RUNNING"
        for agent in container.get("managedAgents", [])
    ) and bool(container.get("runtimeId"))


def plugin_argv(
    plugin: str,
    response: Mapping[str, Any],
    *,
    region: str,
    profile: str,
    endpoint: str,
    runtime_id: str,
) -> list[str]:
    """The plugin's command line for an ExecuteCommand answer, as the AWS CLI builds it."""
    cluster = str(response["clusterArn"]).rsplit("/", 1)[-1]
    task_id = str(response["taskArn"]).rsplit("/", 1)[-1]
    target = {"Target": f"ecs:{cluster}_{task_id}_{runtime_id}"}
    return [
        plugin,
        json.dumps(response["session"]),
        region,
        "StartSession",
        profile,
        json.dumps(target),
        endpoint,
    ]


@contextlib.contextmanager
def _user_signals_to_the_plugin() -> Iterator[None]:
    """Ctrl-C, Ctrl-\\ and Ctrl-Z go to the session, not to this process, while it runs."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in USER_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _on_aws(env: Environment, words: Sequence[str], client: ECSClient | None = None) -> int:
    plugin = check_plugin()
    stack = deploy_plan.service_stack(env)
    outputs = stacks.outputs(stack)
    cluster, service = outputs.get("ClusterName", ""), outputs.get("ServiceName", "")
    client = client or ecs.client(stack.region)
    task_arn, runtime_id = running_task(client, cluster, service)
    log.info(f"exec: task {task_arn.rsplit('/', 1)[-1]}, container {CONTAINER_NAME}")
    try:
        response = client.execute_command(
            cluster=cluster,
            task=task_arn,
            container=CONTAINER_NAME,
            command=command_line(words),
            interactive=True,
        )
    except (ClientError, BotoCoreError) as exc:
        raise DeliveryError(f"ExecuteCommand failed: {aws_errors.reason(exc)}") from exc
    argv = plugin_argv(
        plugin,
        dict(response),
        region=stack.region,
        profile=os.environ.get("AWS_PROFILE", ""),
        endpoint=client.meta.endpoint_url,
        runtime_id=runtime_id,
    )
    with _user_signals_to_the_plugin():
        return subprocess.call(argv)  # noqa: S603 - the plugin's documented command line


def _on_this_machine(session: Any, words: Sequence[str]) -> int:
    from delivery.local.runner import container_engine  # noqa: PLC0415 - emulator envs only

    service = session.service
    if service is None:
        raise DeliveryError(
            "no local service is running: run `invoke deploy --env local --keep` first"
        )
    if service.mode != "container":
        raise DeliveryError(
            "exec needs the local service in a container, but it runs as a gunicorn process: "
            "deploy again with --serve container (needs podman or docker)"
        )
    engine = container_engine(service.engine)
    argv = engine.interactive_exec_argv(
        service.id, list(words or DEFAULT_COMMAND), tty=sys.stdin.isatty(), user=LOCAL_EXEC_USER
    )
    log.info(f"exec: {engine.name} container {service.id[:12]} of the local service, as root")
    return subprocess.call(argv)  # noqa: S603 - the engine's own exec command line


def open_session(env_name: str | None, words: Sequence[str], *, root: Path) -> int:
    """``invoke exec``: refused where it is off, else a session; the command's exit code."""
    from delivery.local import session as local_session  # noqa: PLC0415 - emulator envs only

    env = environments.load(env_name, root)
    check_enabled(env)
    if not env.emulator:
        check_plugin()  # before any AWS call
    with local_session.attached(env_name, root) as session:
        if session is None:
            return _on_aws(env, words)
        return _on_this_machine(session, words)
