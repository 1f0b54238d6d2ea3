"""The ALB's listeners and their rules: which port serves what, and what never reaches the app.

Ports. Port 80 is always the ``ProductionListener``: over HTTP it hosts the production rules,
with a certificate it only redirects to HTTPS, and the ``HttpsListener`` on 443 (present only
with a certificate) hosts them instead. So switching HTTPS on or off never creates a listener on
a port another listener holds until later in the same update (CloudFormation creates new
resources before it deletes old ones, with no order between unrelated ones): 80 stays with one
listener that changes its default action, and 443 comes or goes alone. The logical id
``ProductionListener`` is kept from when port 80 was the only production listener: renaming it
would make CloudFormation create a second port-80 listener before deleting the first.

Rules. On the listener that serves production and on the test listener, a fixed 404 for the
app's Prometheus metrics (``PRIVATE_PATHS``) comes before the catch-all forward rule; the
priorities leave room for rules before, between and after them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import Ref, Template
from troposphere import elasticloadbalancingv2 as elb

from stacks.common.template import skip_checks
from stacks.service import production
from stacks.service.settings import Settings

HTTP_PORT = 80
HTTPS_PORT = 443
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# The app's Prometheus metrics (request counts, latencies, paths): for operators, not the internet.
PRIVATE_PATHS = ("/metrics", "/metrics/*")
PRIVATE_PATHS_PRIORITY = 10
FORWARD_PRIORITY = 100
HTTP_ONLY_REASON = (
    "no certificate_arn or domain in this environment's settings: HTTP until one is set, then "
    "HTTPS with TLS 1.3 and an HTTP->HTTPS redirect"
)


@dataclass(frozen=True)
class Rules:
    """The forward rules ECS shifts between blue and green."""

    production: elb.ListenerRule
    test: elb.ListenerRule


def _fixed_404() -> dict[str, Any]:
    return {
        "Type": "fixed-response",
        "FixedResponseConfig": elb.FixedResponseConfig(
            StatusCode="404", ContentType="text/plain", MessageBody="not found"
        ),
    }


def _listener(
    template: Template,
    logical_id: str,
    alb: Any,
    port: int,
    certificate: Any,
    *,
    redirect: bool = False,
) -> elb.Listener:
    """HTTPS with the TLS 1.3 policy when ``certificate`` is set, else plain HTTP.

    Requests no rule matches get a plain 404, or with ``redirect`` a 301 to HTTPS.
    """
    default = _redirect_to_https() if redirect else elb.Action(**_fixed_404())
    props: dict[str, Any] = {"LoadBalancerArn": Ref(alb), "Port": port, "DefaultActions": [default]}
    if certificate is not None:
        props.update(
            Protocol="HTTPS",
            SslPolicy=TLS_POLICY,
            Certificates=[elb.Certificate(CertificateArn=certificate)],
        )
    else:
        props["Protocol"] = "HTTP"
    listener = template.add_resource(elb.Listener(logical_id, **props))
    if certificate is None and not redirect:
        skip_checks(listener, {"CKV_AWS_2": HTTP_ONLY_REASON, "CKV_AWS_103": HTTP_ONLY_REASON})
    return listener


def _redirect_to_https() -> elb.Action:
    return elb.Action(
        Type="redirect",
        RedirectConfig=elb.RedirectConfig(
            Protocol="HTTPS", Port=str(HTTPS_PORT), StatusCode="HTTP_301"
        ),
    )


def _private_paths_rule(template: Template, logical_id: str, listener: Any) -> None:
    template.add_resource(
        elb.ListenerRule(
            logical_id,
            ListenerArn=Ref(listener),
            Priority=PRIVATE_PATHS_PRIORITY,
            Conditions=[
                elb.Condition(
                    Field="path-pattern",
                    PathPatternConfig=elb.PathPatternConfig(Values=list(PRIVATE_PATHS)),
                )
            ],
            Actions=[elb.ListenerRuleAction(**_fixed_404())],
        )
    )


def _forward_rule(template: Template, logical_id: str, listener: Any, blue: Any, green: Any) -> Any:
    """The catch-all rule forwarding to whichever of blue and green serves production.

    ECS owns the weights once it has deployed: it shifts them between the groups. Any template
    change to this rule (priority, listener, conditions) makes CloudFormation send the template's
    weights again, which would move all traffic back to blue while green serves. So the template's
    weights follow ``ProductionTargetGroup`` (the live group, as the deploy reads it from this very
    rule): sent again, they change nothing.
    """
    return template.add_resource(
        elb.ListenerRule(
            logical_id,
            ListenerArn=Ref(listener),
            Priority=FORWARD_PRIORITY,
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
                            elb.TargetGroupTuple(
                                TargetGroupArn=Ref(blue), Weight=production.for_live(100, 0)
                            ),
                            elb.TargetGroupTuple(
                                TargetGroupArn=Ref(green), Weight=production.for_live(0, 100)
                            ),
                        ]
                    ),
                )
            ],
        )
    )


def _serve(template: Template, name: str, listener: Any, blue: Any, green: Any) -> Any:
    """On ``listener``: the private paths' 404 first, then the forward rule (returned)."""
    _private_paths_rule(template, f"{name}PrivatePathsRule", listener)
    return _forward_rule(template, f"{name}ListenerRule", listener, blue, green)


def add_listeners(
    template: Template, settings: Settings, alb: Any, certificate: Any, *, blue: Any, green: Any
) -> Rules:
    """Port 80 always, 443 with a certificate, the test port; the rules on each.

    ``certificate`` is None for HTTP only.
    """
    https = certificate is not None
    serving = _listener(template, "ProductionListener", alb, HTTP_PORT, None, redirect=https)
    if https:
        serving = _listener(template, "HttpsListener", alb, HTTPS_PORT, certificate)
    test = _listener(template, "TestListener", alb, settings.test_listener_port, certificate)
    return Rules(
        production=_serve(template, "Production", serving, blue, green),
        test=_serve(template, "Test", test, blue, green),
    )
