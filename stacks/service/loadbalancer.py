"""The ALB in front of the service: security groups, blue/green target groups, listeners, rules.

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

from troposphere import GetAtt, Join, Ref, Template, ec2
from troposphere import elasticloadbalancingv2 as elb

from stacks.common.template import name_tags, skip_checks
from stacks.service.settings import Settings

CONTAINER_PORT = 8000
READY_PATH = "/health/ready"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
HTTP_ONLY_REASON = (
    "no certificate_arn in this environment's settings: HTTP until one is set, then HTTPS with "
    "TLS 1.3 and an HTTP->HTTPS redirect"
)


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
    public_ports = [443, 80] if settings.https else [80]
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
    attributes = {
        "idle_timeout.timeout_seconds": str(settings.idle_timeout_seconds),
        # Requests with malformed headers are dropped, not passed to the app (smuggling).
        "routing.http.drop_invalid_header_fields.enabled": "true",
        "routing.http.desync_mitigation_mode": "strictest",
        "deletion_protection.enabled": str(settings.deletion_protection).lower(),
        "access_logs.s3.enabled": str(settings.access_logs_bucket is not None).lower(),
    }
    if settings.access_logs_bucket:
        attributes["access_logs.s3.bucket"] = settings.access_logs_bucket
        attributes["access_logs.s3.prefix"] = settings.environment
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
    reasons = {}
    if not settings.access_logs_bucket:
        reasons["CKV_AWS_91"] = "no access_logs_bucket in this environment's settings"
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


def _not_found() -> elb.Action:
    """Listener default: requests no rule matches get a plain 404."""
    return elb.Action(
        Type="fixed-response",
        FixedResponseConfig=elb.FixedResponseConfig(
            StatusCode="404", ContentType="text/plain", MessageBody="not found"
        ),
    )


def _listener(template: Template, settings: Settings, logical_id: str, alb: Any, port: int) -> Any:
    props: dict[str, Any] = {
        "LoadBalancerArn": Ref(alb),
        "Port": port,
        "DefaultActions": [_not_found()],
    }
    if settings.https:
        props.update(
            Protocol="HTTPS",
            SslPolicy=TLS_POLICY,
            Certificates=[elb.Certificate(CertificateArn=settings.certificate_arn)],
        )
    else:
        props["Protocol"] = "HTTP"
    listener = template.add_resource(elb.Listener(logical_id, **props))
    if not settings.https:
        skip_checks(listener, {"CKV_AWS_2": HTTP_ONLY_REASON, "CKV_AWS_103": HTTP_ONLY_REASON})
    return listener


def _redirect(template: Template, alb: Any) -> None:
    template.add_resource(
        elb.Listener(
            "HttpRedirectListener",
            LoadBalancerArn=Ref(alb),
            Port=80,
            Protocol="HTTP",
            DefaultActions=[
                elb.Action(
                    Type="redirect",
                    RedirectConfig=elb.RedirectConfig(
                        Protocol="HTTPS", Port="443", StatusCode="HTTP_301"
                    ),
                )
            ],
        )
    )


def _forward_rule(template: Template, logical_id: str, listener: Any, blue: Any, green: Any) -> Any:
    """A catch-all rule forwarding to blue (weight 100) and green (0).

    ECS owns the weights afterwards: during a deployment it shifts them between the two groups.
    """
    return template.add_resource(
        elb.ListenerRule(
            logical_id,
            ListenerArn=Ref(listener),
            Priority=1,
            Conditions=[
                elb.Condition(
                    Field="path-pattern", PathPatternConfig=elb.PathPatternConfig(Values=["/*"])
                )
            ],
            Actions=[
                elb.ListenerRuleAction(
                    Type="forward",
                    ForwardConfig=elb.ForwardConfig(
                        TargetGroups=[
                            elb.TargetGroupTuple(TargetGroupArn=Ref(blue), Weight=100),
                            elb.TargetGroupTuple(TargetGroupArn=Ref(green), Weight=0),
                        ]
                    ),
                )
            ],
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
    production = _listener(
        template, settings, "ProductionListener", alb, 443 if settings.https else 80
    )
    if settings.https:
        _redirect(template, alb)
    test = _listener(template, settings, "TestListener", alb, settings.test_listener_port)
    return LoadBalancing(
        load_balancer=alb,
        blue=blue,
        green=green,
        production_rule=_forward_rule(template, "ProductionListenerRule", production, blue, green),
        test_rule=_forward_rule(template, "TestListenerRule", test, blue, green),
        task_security_group=task_sg,
    )


def url(settings: Settings, alb: Any) -> Any:
    """The service's base URL (scheme from the TLS setting, host from the ALB's DNS name)."""
    return Join("", ["https://" if settings.https else "http://", GetAtt(alb, "DNSName")])
