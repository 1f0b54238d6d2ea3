"""The service stack: ECS cluster, Fargate task, ALB and blue/green service, autoscaling.

Parameters ``ImageUri`` and ``AppVersion`` change on every deploy (a deploy or rollback is a
stack update with new values and the same template), and so may ``ProductionTargetGroup`` (which
group serves production before the update: stacks/service/production.py), ``SecretVersions``
(the version each declared secret is pinned to: stacks/service/secrets.py) and ``DeploymentPace``
(guarded, or fast for an incident rollback: stacks/service/pace.py); the network and
registry come in as parameters from those stacks' outputs (Sceptre ``!stack_output``).
"""

from __future__ import annotations

from troposphere import GetAtt, Parameter, Ref, Template

from stacks.common.settings import EVERY_FEATURE_PROJECT
from stacks.common.template import (
    add_output,
    load_balancer_full_name,
    new_template,
    target_group_full_name,
)
from stacks.service.deployment import add_cluster, add_service, deployment_alarms
from stacks.service.domain import add_alias, url
from stacks.service.exec import add_exec
from stacks.service.loadbalancer import add_load_balancing
from stacks.service.pace import add_deployment_pace
from stacks.service.production import add_production_target_group
from stacks.service.scaling import add_scaling
from stacks.service.settings import AccessLogs, Domain, Exec, Secret, Settings, Waf
from stacks.service.task import add_task
from stacks.service.waf import add_waf

__all__ = ["STACK", "Settings", "build"]

STACK = "service"

# <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>@sha256:<digest> or :<tag>
IMAGE_URI_PATTERN = (
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"
    r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(@sha256:[a-f0-9]{64}|:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$"
)
# Semantic version 2.0.0 (https://semver.org), as the release tooling produces it.
SEMVER_PATTERN = (
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)


# Every optional feature on: what CloudFormation may be asked to create for this stack in any
# environment (stacks/cloudformation_roles.py derives the environment's permissions from it).
EVERY_FEATURE = Settings(
    project=EVERY_FEATURE_PROJECT,
    environment="every-feature",
    domain=Domain(name="service.example.com", hosted_zone_id="Z0123456789ABCDEFGHIJ"),
    access_logs=AccessLogs(),
    waf=Waf(),
    secrets=[Secret(name="EVERY_FEATURE", description="a declared secret")],
    exec=Exec(enabled=True),
)


def _parameters(template: Template) -> dict[str, Parameter]:
    specs = {
        "ImageUri": {
            "Type": "String",
            "AllowedPattern": IMAGE_URI_PATTERN,
            "ConstraintDescription": "<repository-uri>@sha256:<64 hex> or <repository-uri>:<tag>",
            "Description": "the image to run (build once, promote the same digest)",
        },
        "AppVersion": {
            "Type": "String",
            "AllowedPattern": SEMVER_PATTERN,
            "ConstraintDescription": "a semantic version such as 1.4.2",
            "Description": "the release's version: the container's APP_VERSION",
        },
        "VpcId": {"Type": "AWS::EC2::VPC::Id", "Description": "network: VpcId"},
        "VpcCidr": {"Type": "String", "Description": "network: VpcCidr"},
        "PublicSubnetIds": {
            "Type": "List<AWS::EC2::Subnet::Id>",
            "Description": "network: PublicSubnetIds (the ALB)",
        },
        "PrivateSubnetIds": {
            "Type": "List<AWS::EC2::Subnet::Id>",
            "Description": "network: PrivateSubnetIds (the tasks)",
        },
        "RepositoryArn": {"Type": "String", "Description": "registry: RepositoryArn"},
    }
    return {name: template.add_parameter(Parameter(name, **spec)) for name, spec in specs.items()}


def build(settings: Settings) -> Template:
    """The service template for ``settings``."""
    template = new_template(
        settings.project, f"{settings.environment} service: ECS Fargate behind an ALB"
    )
    p = _parameters(template)
    add_production_target_group(template)
    add_deployment_pace(template)
    lb = add_load_balancing(
        template, settings, Ref(p["VpcId"]), Ref(p["VpcCidr"]), Ref(p["PublicSubnetIds"])
    )
    add_alias(template, settings, lb.load_balancer)
    if settings.waf is not None:
        add_waf(template, settings.waf, lb.load_balancer)
    task = add_task(
        template, settings, Ref(p["ImageUri"]), Ref(p["AppVersion"]), Ref(p["RepositoryArn"])
    )
    cluster = add_cluster(template, settings)
    alarms = deployment_alarms(template, settings, lb)
    service = add_service(
        template,
        settings,
        cluster=cluster,
        task=task,
        lb=lb,
        alarms=alarms,
        private_subnets=Ref(p["PrivateSubnetIds"]),
    )
    add_exec(template, settings, task=task, cluster=cluster, service=service)
    add_scaling(template, settings, cluster, service, lb)

    add_output(template, "ClusterName", Ref(cluster), "ECS cluster name")
    add_output(template, "ServiceName", GetAtt(service, "Name"), "ECS service name")
    add_output(template, "ServiceUrl", url(settings, lb.load_balancer), "the service's URL")
    # Read by the deploy: "false" means the environment serves plain HTTP (no certificate_arn
    # and no domain in its settings), which it should say out loud.
    add_output(template, "Https", str(settings.https).lower(), "whether the ALB serves HTTPS")
    add_output(template, "TaskDefinitionArn", Ref(task.definition), "current task definition")
    add_output(template, "LogGroupName", Ref(task.log_group), "the app's log group")
    # The monitoring stack's alarms on the collector's metrics exist only where it runs.
    add_output(
        template,
        "CollectorEnabled",
        str(settings.collector.enabled).lower(),
        "whether the tasks run the collector that sends the service's own metrics",
    )
    if task.metrics_log_group is not None:
        add_output(
            template,
            "MetricsLogGroupName",
            Ref(task.metrics_log_group),
            "the collector's EMF log group (the service's metrics)",
        )
    add_output(
        template,
        "LoadBalancerFullName",
        load_balancer_full_name(Ref(lb.load_balancer)),
        "ALB dimension for CloudWatch",
    )
    for name, group in (("Blue", lb.blue), ("Green", lb.green)):
        add_output(
            template,
            f"{name}TargetGroupFullName",
            target_group_full_name(Ref(group)),
            f"{name.lower()} target group dimension for CloudWatch",
        )
    return template
