"""The service's name: an ACM certificate validated through Route 53, and the alias to the ALB.

With ``domain`` set and no ``certificate_arn``, CloudFormation requests the certificate and, since
``DomainValidationOptions`` names the hosted zone, writes the DNS validation record itself and
waits until the certificate is issued
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-certificatemanager-certificate.html).
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Join, Ref, Template, certificatemanager, route53

from stacks.service.settings import Settings


def certificate(template: Template, settings: Settings) -> Any:
    """The certificate the HTTPS listeners serve: the one brought, else one for the domain."""
    if settings.certificate_arn is not None:
        return settings.certificate_arn
    if settings.domain is None:
        raise ValueError("no certificate without certificate_arn or domain")
    domain = settings.domain
    created = template.add_resource(
        certificatemanager.Certificate(
            "Certificate",
            DomainName=domain.name,
            ValidationMethod="DNS",
            DomainValidationOptions=[
                certificatemanager.DomainValidationOption(
                    DomainName=domain.name, HostedZoneId=domain.hosted_zone_id
                )
            ],
        )
    )
    return Ref(created)


def add_alias(template: Template, settings: Settings, alb: Any) -> None:
    """``domain.name`` as an alias A record of the ALB (when a domain is configured)."""
    if settings.domain is None:
        return
    template.add_resource(
        route53.RecordSetType(
            "DomainRecord",
            HostedZoneId=settings.domain.hosted_zone_id,
            Name=settings.domain.name,
            Type="A",
            AliasTarget=route53.AliasTarget(
                DNSName=GetAtt(alb, "DNSName"),
                HostedZoneId=GetAtt(alb, "CanonicalHostedZoneID"),
                # One record, nothing to fail over to; and the idle blue/green group (no targets)
                # would count as unhealthy.
                EvaluateTargetHealth=False,
            ),
        )
    )


def url(settings: Settings, alb: Any) -> Any:
    """The service's base URL: scheme from the TLS setting, host the domain or the ALB's name."""
    scheme = "https://" if settings.https else "http://"
    if settings.domain is not None:
        return f"{scheme}{settings.domain.name}"
    return Join("", [scheme, GetAtt(alb, "DNSName")])
