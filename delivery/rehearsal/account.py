"""The account the rehearsal runs in: the emulator, as an administrator bootstrapped it.

Everything here is what an administrator and AWS itself do around the pipeline, never what the
pipeline's roles do: launching the account's shared stacks (the rehearsed commit's own
``invoke bootstrap --connection-arn``), then reading back what CloudFormation made of the pipeline
stack (resource names, the roles' policies) and handing out role sessions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from delivery import environments
from delivery.errors import DeliveryError
from delivery.process import last_line
from delivery.rehearsal.definition import Names

# A connection the emulator accepts; on AWS it is created and approved in the console.
CONNECTION_ID = "00000000-0000-4000-8000-000000000000"
PIPELINE_STACK = "pipeline"
BOOTSTRAP_TIMEOUT_S = 600.0


def connection_arn(region: str, account: str) -> str:
    """The GitHub connection the rehearsal's pipeline is launched with."""
    return f"arn:aws:codeconnections:{region}:{account}:connection/{CONNECTION_ID}"


def run_project_command(
    source: Path, argv: list[str], environ: Mapping[str, str], timeout_s: float
) -> subprocess.CompletedProcess[str]:
    """``python -m <argv>`` with the rehearsed commit's own code (``source``), not this one's.

    The dependencies are this environment's (the same lock file: the commit is this checkout's).
    """
    variables = {**environ, "PYTHONPATH": str(source), "DELIVERY_PROJECT_ROOT": str(source)}
    try:
        return subprocess.run(  # noqa: S603 - fixed argv: this Python and a project module
            [sys.executable, "-m", *argv],
            cwd=source,
            env=variables,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise DeliveryError(f"`{' '.join(argv)}` took over {timeout_s:.0f} s") from None


def bootstrap(source: Path, environ: Mapping[str, str], region: str, account: str) -> str:
    """An administrator's ``invoke bootstrap --connection-arn`` of the rehearsed commit; its log."""
    done = run_project_command(
        source,
        ["invoke", "bootstrap", "--connection-arn", connection_arn(region, account)],
        environ,
        BOOTSTRAP_TIMEOUT_S,
    )
    if done.returncode != 0:
        raise DeliveryError(
            f"bootstrap of the account failed: {last_line(done.stderr + done.stdout)}"
        )
    return done.stdout


def render_templates(source: Path, out: Path, environ: Mapping[str, str]) -> Path:
    """Every template of the rehearsed commit, rendered by its own code; the pipeline's path."""
    done = run_project_command(source, ["delivery.render", "--out", str(out)], environ, 300.0)
    rendered = out / environments.SHARED / f"{PIPELINE_STACK}.json"
    if done.returncode != 0 or not rendered.is_file():
        raise DeliveryError(
            f"rendering the pipeline failed: {last_line(done.stderr + done.stdout)}"
        )
    return rendered


def _attributes(resource: Mapping[str, Any], region: str, account: str) -> dict[str, str]:
    """What Ref and GetAtt give for one launched resource (by type, as CloudFormation documents)."""
    logical = str(resource["LogicalResourceId"])
    physical = str(resource.get("PhysicalResourceId") or "")
    kind = str(resource["ResourceType"])
    found = {logical: physical}
    if kind == "AWS::IAM::Role":
        arn = boto3.client("iam").get_role(RoleName=physical)["Role"]["Arn"]
        found[f"{logical}.Arn"] = arn
    elif kind == "AWS::KMS::Key":
        found[f"{logical}.Arn"] = f"arn:aws:kms:{region}:{account}:key/{physical}"
    elif kind == "AWS::S3::Bucket":
        found[f"{logical}.Arn"] = f"arn:aws:s3:::{physical}"
    elif kind == "AWS::Logs::LogGroup":
        found[f"{logical}.Arn"] = f"arn:aws:logs:{region}:{account}:log-group:{physical}:*"
    elif kind == "AWS::CodeBuild::Project":
        found[f"{logical}.Arn"] = f"arn:aws:codebuild:{region}:{account}:project/{physical}"
    return found


@dataclass(frozen=True)
class Account:
    """The emulated account after bootstrap: where the pipeline stack is, and what it holds."""

    id: str
    region: str
    stack: str  # the pipeline stack's name

    def names(self) -> Names:
        """Every value Ref/GetAtt/pseudo parameters give in the launched pipeline stack."""
        cfn = boto3.client("cloudformation", region_name=self.region)
        try:
            (described,) = cfn.describe_stacks(StackName=self.stack)["Stacks"]
            resources = cfn.describe_stack_resources(StackName=self.stack)["StackResources"]
        except (ClientError, BotoCoreError) as exc:
            raise DeliveryError(f"reading stack {self.stack} failed: {exc}") from exc
        values = {
            "AWS::AccountId": self.id,
            "AWS::Partition": "aws",
            "AWS::Region": self.region,
            "AWS::StackName": self.stack,
            "AWS::StackId": str(described["StackId"]),
            "AWS::URLSuffix": "amazonaws.com",
        }
        values |= {p["ParameterKey"]: p.get("ParameterValue", "") for p in described["Parameters"]}
        for resource in resources:
            if resource.get("LogicalResourceId"):  # moto lists resources it skipped without one
                values |= _attributes(resource, self.region, self.id)
        return Names(values)

    def session(self, role_arn: str, name: str) -> dict[str, str]:
        """A session of the role, as the AWS credential variables (what CodeBuild hands a build)."""
        sts = boto3.client("sts", region_name=self.region)
        credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=name)["Credentials"]
        return {
            "AWS_ACCESS_KEY_ID": str(credentials["AccessKeyId"]),
            "AWS_SECRET_ACCESS_KEY": str(credentials["SecretAccessKey"]),
            "AWS_SESSION_TOKEN": str(credentials["SessionToken"]),
        }


def administrator_environment(endpoint_env: Mapping[str, str]) -> dict[str, str]:
    """This process's environment pointed at the emulator, as the account's administrator."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**keep, **endpoint_env}
