"""The ALB in front of the service: security groups, blue/green target groups, access logs.

Listeners and rules: stacks/service/listeners.py; certificate and DNS: stacks/service/domain.py.

Timings (see docs/ARCHITECTURE.md, the app's drain contract):
- health check every 5 s, healthy after 2 passes: a new task takes traffic ~10 s after it is
  ready, instead of 150 s with AWS defaults (30 s x 5), which keeps blue/green shifts short;
  unhealthy after 2 failures, so a broken task leaves within ~10 s.
- deregistration delay 30 s (AWS default 300 s): in-flight requests of this service finish in well
  under a second; 30 s covers slow clients while keeping deploys and scale-in fast.
- idle timeout 60 s, below the app's keep-alive (75 s): the ALB never reuses a connection the
  server has already closed (which would surface as 502s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import Ref, Template, ec2
from troposphere import elasticloadbalancingv2 as elb

from stacks.common.template import name_tags, skip_checks
from stacks.service.access_logs import add_access_log_bucket
from stacks.service.domain import certificate
from stacks.service.listeners import HTTP_PORT, HTTPS_PORT, add_listeners
from stacks.service.settings import Settings

CONTAINER_PORT = 8000
READY_PATH = "/health/ready"


@dataclass(frozen=True)
class LoadBalancing:
    """What the rest of the service stack needs from the load-balancing resources."""

    load_balancer: elb.LoadBalancer
    blue: elb.TargetGroup
    green: elb.TargetGroup
    production_rule: elb.ListenerRule
    test_rule: elb.ListenerRule
    task_security_group: ec2.SecurityGroup


def _security_groups(
    template: Template, settings: Settings, vpc_id: Any, vpc_cidr: Any
) -> tuple[Any, Any]:
    """ALB: web ports from anywhere, test port from ``test_ingress_cidrs``; tasks: only the ALB."""
    public_ports = [HTTPS_PORT, HTTP_PORT] if settings.https else [HTTP_PORT]
    ingress = [
        ec2.SecurityGroupRule(
            Description=f"public web traffic on {port}",
            IpProtocol="tcp",
            FromPort=port,
            ToPort=port,
            CidrIp="0.0.0.0/0",
        )
        for port in public_ports
    ] + [
        ec2.SecurityGroupRule(
            Description="test listener (the new version before it takes traffic)",
            IpProtocol="tcp",
            FromPort=settings.test_listener_port,
            ToPort=settings.test_listener_port,
            CidrIp=str(cidr),
        )
        for cidr in settings.test_ingress_cidrs
    ]
    alb_sg = template.add_resource(
        ec2.SecurityGroup(
            "LoadBalancerSecurityGroup",
            GroupDescription="ALB: web traffic in, container port out to the VPC",
            VpcId=vpc_id,
            SecurityGroupIngress=ingress,
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    Description="to the tasks (and health checks)",
                    IpProtocol="tcp",
                    FromPort=CONTAINER_PORT,
                    ToPort=CONTAINER_PORT,
                    CidrIp=vpc_cidr,
                )
            ],
            Tags=name_tags("alb"),
        )
    )
    skip_checks(
        alb_sg,
        {"CKV_AWS_260": "internet-facing ALB: port 80 is open to all (redirects with HTTPS)"},
    )
    task_sg = template.add_resource(
        ec2.SecurityGroup(
            "TaskSecurityGroup",
            GroupDescription="tasks: container port from the ALB only; HTTPS out",
            VpcId=vpc_id,
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    Description="from the ALB only",
                    IpProtocol="tcp",
                    FromPort=CONTAINER_PORT,
                    ToPort=CONTAINER_PORT,
                    SourceSecurityGroupId=Ref(alb_sg),
                )
            ],
            SecurityGroupEgress=[
                # ECR, CloudWatch Logs and Secrets Manager (via endpoints or NAT) speak HTTPS.
                ec2.SecurityGroupRule(
                    Description="HTTPS to AWS APIs",
                    IpProtocol="tcp",
                    FromPort=443,
                    ToPort=443,
                    CidrIp="0.0.0.0/0",
                )
            ],
            Tags=name_tags("tasks"),
        )
    )
    return alb_sg, task_sg


def _load_balancer(template: Template, settings: Settings, subnets: Any, sg: Any) -> Any:
    attributes: dict[str, Any] = {
        "idle_timeout.timeout_seconds": str(settings.idle_timeout_seconds),
        # Requests with malformed headers are dropped, not passed to the app (smuggling).
        "routing.http.drop_invalid_header_fields.enabled": "true",
        "routing.http.desync_mitigation_mode": "strictest",
        "deletion_protection.enabled": str(settings.deletion_protection).lower(),
        "access_logs.s3.enabled": str(settings.access_logs is not None).lower(),
    }
    depends_on = []
    if settings.access_logs is not None:
        bucket, policy = add_access_log_bucket(
            template, settings.access_logs, settings.environment, keep=settings.retain
        )
        attributes["access_logs.s3.bucket"] = Ref(bucket)
        attributes["access_logs.s3.prefix"] = settings.environment
        # Enabling access logs fails unless ELB can already write to the bucket.
        depends_on.append(policy.title)
    alb = template.add_resource(
        elb.LoadBalancer(
            "LoadBalancer",
            Type="application",
            Scheme="internet-facing",
            Subnets=subnets,
            SecurityGroups=[Ref(sg)],
            LoadBalancerAttributes=[
                elb.LoadBalancerAttributes(Key=k, Value=v) for k, v in attributes.items()
            ],
            Tags=name_tags("alb"),
        )
    )
    if depends_on:
        alb.DependsOn = depends_on
    reasons = {}
    if settings.access_logs is None:
        reasons["CKV_AWS_91"] = "no access_logs in this environment's settings"
    return skip_checks(alb, reasons)


def _target_group(template: Template, settings: Settings, logical_id: str, vpc_id: Any) -> Any:
    return template.add_resource(
        elb.TargetGroup(
            logical_id,
            TargetType="ip",
            Protocol="HTTP",
            Port=CONTAINER_PORT,
            VpcId=vpc_id,
            HealthCheckProtocol="HTTP",
            HealthCheckPath=READY_PATH,
            HealthCheckIntervalSeconds=5,
            HealthCheckTimeoutSeconds=2,
            HealthyThresholdCount=2,
            UnhealthyThresholdCount=2,
            Matcher=elb.Matcher(HttpCode="200"),
            TargetGroupAttributes=[
                elb.TargetGroupAttribute(
                    Key="deregistration_delay.timeout_seconds",
                    Value=str(settings.deregistration_delay_seconds),
                )
            ],
            Tags=name_tags(logical_id.lower()),
        )
    )


def add_load_balancing(
    template: Template, settings: Settings, vpc_id: Any, vpc_cidr: Any, public_subnets: Any
) -> LoadBalancing:
    """The ALB, its security groups, blue/green target groups, listeners and listener rules."""
    alb_sg, task_sg = _security_groups(template, settings, vpc_id, vpc_cidr)
    alb = _load_balancer(template, settings, public_subnets, alb_sg)
    blue = _target_group(template, settings, "BlueTargetGroup", vpc_id)
    green = _target_group(template, settings, "GreenTargetGroup", vpc_id)
    served = certificate(template, settings) if settings.https else None
    rules = add_listeners(template, settings, alb, served, blue=blue, green=green)
    return LoadBalancing(
        load_balancer=alb,
        blue=blue,
        green=green,
        production_rule=rules.production,
        test_rule=rules.test,
        task_security_group=task_sg,
    )
