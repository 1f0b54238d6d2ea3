"""`invoke secret set` on the emulator: a new value is a new task definition revision, and no more.

A sample project (``make_project``, the repository's ``app/`` linked in) whose service template
carries the real secret wiring of stacks/service/secrets.py (the secret, ``SecretVersions``, the
pinned ``valueFrom``); the emulator creates the secret (delivery/emulator_resources/secrets.py).
``deploy --keep`` runs the service under gunicorn (build and scan faked); then, as an operator
would, ``python -m invoke --debug secret set --env local SECRET_KEY`` with the value on stdin.
Checked: the stack pins the new version id, the task definition the service runs names it, the
restarted local service has the value in its environment, and the value appears in no output,
log, stack parameter, stack event or task definition.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from troposphere import Template as Troposphere

from delivery import deploy, deploy_plan, environments, stacks, tasksecrets
from delivery.local.record import read_record
from delivery.local.session import session as local_session
from delivery.local.session import stop as stop_local
from delivery.local.task_definition import service_spec
from delivery.project import NAME as PROJECT
from stacks.service.secrets import VERSIONS_PARAMETER, add_secrets, container_secrets
from stacks.service.settings import Secret, Settings
from tests.support.cli import run_invoke
from tests.support.deploy_steps import fake_steps
from tests.support.project import make_project, service_template

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
NAME = "SECRET_KEY"
SECRETS_CONFIG = f"""\
sceptre_user_data:
  secrets:
    - name: {NAME}
      description: the sample's signing key
"""


def secret_template() -> str:
    """The sample service with the real secret wiring added to its task definition."""
    pieces = Troposphere()
    settings = Settings(
        project=PROJECT, environment="local", secrets=[Secret(name=NAME, description="key")]
    )
    declared = add_secrets(pieces, settings)
    wiring: dict[str, Any] = pieces.to_dict()
    template = json.loads(service_template())
    template["Parameters"].update(wiring["Parameters"])
    template["Conditions"] = wiring["Conditions"]
    template["Resources"].update(wiring["Resources"])
    container = template["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    container["Secrets"] = [secret.to_dict() for secret in container_secrets(declared)]
    return json.dumps(template)


@pytest.fixture(autouse=True)
def no_ambient_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS_* from the shell: the session starts and keeps its own emulator."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """The sample project with one declared secret, its version pinned through the config."""
    root = make_project(tmp_path)
    (root / "app").symlink_to(REPO / "app")
    (root / "templates" / "service.json").write_text(secret_template())
    config = root / "config" / "local" / "service.yaml"
    config.write_text(
        config.read_text()
        + f"  {VERSIONS_PARAMETER}: \"{{{{ var.secret_versions | default('') }}}}\"\n"
        + SECRETS_CONFIG
    )
    yield root
    stop_local(environments.load("local", root))


def process_environment(pid: str) -> dict[str, str]:
    """The environment the local service's gunicorn master runs with (Linux /proc)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    pairs = (entry.decode(errors="replace").partition("=") for entry in raw if entry)
    return {name: value for name, _, value in pairs}


def everything_aws_keeps(stack: str, family: str) -> str:
    """The stack's parameters, outputs and events, and every revision of the task definition."""
    cfn = boto3.client("cloudformation", region_name="eu-north-1")
    ecs = boto3.client("ecs", region_name="eu-north-1")
    described = cfn.describe_stacks(StackName=stack)["Stacks"]
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    revisions = [
        ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        for arn in ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
    ]
    return json.dumps([described, events, revisions], default=str)


GENERATED = "secrets still holding the value the stack generated: SECRET_KEY"


def test_secret_set_rolls_out_a_new_revision_and_the_value_is_nowhere(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = environments.load("local", project)
    caplog.set_level(logging.INFO, logger="delivery")
    with local_session(env, keep=True, serve="process") as session:
        first = deploy.deploy(
            "local", root=project, steps=session.steps(fake_steps("1.0.0")), skip_scan=True
        )
    assert any(GENERATED in line for line in caplog.messages)  # said until secret set
    caplog.clear()
    kept = read_record(env)
    assert kept is not None
    assert kept.service is not None
    before = first.outputs["TaskDefinitionArn"]
    stack = deploy_plan.service_stack(env)
    value = f"s3cret-{uuid.uuid4().hex}"

    result = run_invoke(
        project,
        *("--debug", "secret", "set", "--env", "local", NAME),
        ambient_aws=False,
        stdin=value + "\n",
        timeout=300,
    )
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr
    written = re.search(rf"secret {NAME}: new version (\S+) written", result.stdout)
    assert written is not None, result.stdout
    version_id = written.group(1)

    record = read_record(env)
    assert record is not None
    assert record.service is not None
    with local_session(env, start=False):
        # The stack pins the new version, and the secret's current version is that one.
        assert stacks.parameters(stack)[VERSIONS_PARAMETER] == f"{NAME}={version_id}"
        secretsmanager = boto3.client("secretsmanager", region_name=stack.region)
        arn = stacks.resource_ids(stack)["AppSecret"]
        current = secretsmanager.get_secret_value(SecretId=arn)
        assert (current["VersionId"], current["SecretString"]) == (version_id, value)
        # A new task definition revision, whose valueFrom names the new version.
        outputs = stacks.outputs(stack)
        after = outputs["TaskDefinitionArn"]
        assert int(after.rsplit(":", 1)[1]) > int(before.rsplit(":", 1)[1])
        assert f"{after.rsplit('/', 1)[1]} now runs 1.0.0 with {NAME} at version {version_id}" in (
            result.stdout
        )
        spec = service_spec(env, outputs)
        assert spec.secrets == {NAME: f"{arn}:::{version_id}"}
        assert tasksecrets.resolve(spec.secrets) == {NAME: value}
        kept_elsewhere = everything_aws_keeps(stack.name, stack.name)
    # The local service was restarted on the new revision and reads the new value.
    assert record.service.id != kept.service.id
    assert process_environment(record.service.id)[NAME] == value

    # Nowhere else: the command's output (with --debug), the emulator's log, the service's log,
    # the stack's parameters and events, the task definitions.
    logs = [Path(record.log), Path(record.service.log)]
    places = {
        "stdout": result.stdout,
        "stderr": result.stderr,
        "aws": kept_elsewhere,
        **{str(path): path.read_text(errors="replace") for path in logs if path.is_file()},
    }
    assert [where for where, text in places.items() if value in text] == []

    # A normal deploy afterwards keeps the pin: only `secret set` moves it.
    with local_session(env, start=False, serve="process") as session:
        deploy.deploy("local", "1.0.0", root=project, steps=session.steps(fake_steps("1.0.0")))
        assert stacks.parameters(stack)[VERSIONS_PARAMETER] == f"{NAME}={version_id}"
    assert not any(GENERATED in line for line in caplog.messages)
