"""Template-level helpers: a new template, outputs with exports, retention, tags, ARN parts."""

from __future__ import annotations

from typing import Any

from troposphere import (
    AWSObject,
    Export,
    GetAZs,
    Join,
    Output,
    Select,
    Split,
    Sub,
    Tags,
    Template,
)


def new_template(project: str, description: str) -> Template:
    """A template with the format version and a description naming ``project``."""
    template = Template(Description=f"{project}: {description}")
    template.set_version("2010-09-09")
    return template


def add_output(template: Template, name: str, value: Any, description: str) -> Output:
    """An output, exported as ``<stack name>-<name>`` so other stacks may import it too."""
    return template.add_output(
        Output(
            name,
            Description=description,
            Value=value,
            Export=Export(Sub(f"${{AWS::StackName}}-{name}")),
        )
    )


def retain(resource: AWSObject, keep: bool) -> AWSObject:
    """Retain (keep) or delete ``resource`` when it leaves the stack or is replaced.

    Both policies are always set, so a replacement never silently destroys retained data.
    """
    policy = "Retain" if keep else "Delete"
    resource.DeletionPolicy = policy
    resource.UpdateReplacePolicy = policy
    return resource


def name_tags(suffix: str, **extra: str) -> Tags:
    """A ``Name`` tag built from the stack name (the console's label), plus ``extra`` tags.

    Project/Environment/CostCenter come from Sceptre's stack tags, which CloudFormation
    propagates to every taggable resource.
    """
    return Tags(Name=Sub(f"${{AWS::StackName}}-{suffix}"), **extra)


def availability_zone(index: int) -> Any:
    """The index-th AZ of the stack's region.

    ``GetAZs ""`` means the stack's region on AWS. moto cannot resolve ``GetAZs`` of
    ``Ref AWS::Region`` and answers ``""`` with us-east-1 names, which it accepts: the emulator
    only proves wiring. Hard-coded AZ names would not be portable (cfn-lint W3010).
    """
    return Select(index, GetAZs(""))


def load_balancer_full_name(arn: Any) -> Any:
    """``app/<name>/<id>`` from an ALB ARN: the ``LoadBalancer`` dimension of CloudWatch."""
    return Select(1, Split(":loadbalancer/", arn))


def target_group_full_name(arn: Any) -> Any:
    """``targetgroup/<name>/<id>`` from a target group ARN: the ``TargetGroup`` dimension.

    ``GetAtt TargetGroupFullName`` gives the same on AWS, but moto answers 500 for ``GetAtt`` on
    target groups in outputs; splitting the ARN works on both.
    """
    return Join("", ["targetgroup/", Select(1, Split(":targetgroup/", arn))])


def skip_checks(resource: AWSObject, reasons: dict[str, str]) -> AWSObject:
    """Record checkov skips, each with its reason, in the resource's Metadata.

    JSON templates cannot carry ``#checkov:skip`` comments; checkov reads this Metadata form.
    """
    if not reasons:
        return resource
    metadata: dict[str, Any] = dict(getattr(resource, "Metadata", None) or {})
    skips = [*metadata.get("checkov", {}).get("skip", [])]
    skips += [{"id": check, "comment": reason} for check, reason in sorted(reasons.items())]
    metadata["checkov"] = {"skip": skips}
    resource.Metadata = metadata
    return resource
