"""The network stack: a VPC over 2-3 AZs, public and private subnets, NAT, flow logs, endpoints.

Subnet CIDRs are computed here from the VPC CIDR (not with ``Fn::Cidr``, which moto rejects),
so the rendered template shows the exact ranges.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from troposphere import GetAtt, Join, Ref, Sub, Template, ec2

from stacks.common import iam
from stacks.common.logs import log_group
from stacks.common.settings import EVERY_FEATURE_PROJECT, RetentionDays, StackSettings
from stacks.common.template import add_output, availability_zone, name_tags, new_template

STACK = "network"

# Interface endpoints that let tasks in private subnets pull images, ship logs and read their
# secret without a NAT gateway (S3 is a gateway endpoint: ECR stores layers there).
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "logs", "secretsmanager")


class Settings(StackSettings):
    """What the network stack accepts in ``sceptre_user_data``."""

    vpc_cidr: IPv4Network = Field(
        IPv4Network("10.0.0.0/16"),
        description="The VPC's IPv4 range: private (RFC 1918), /16 to /24. It is split in 16: "
        "public subnets take the first blocks, private ones the blocks from the ninth, so even a "
        "/24 leaves /28 subnets, AWS's smallest. Give each environment its own range, so they "
        "can be peered.",
    )
    az_count: Annotated[int, Field(ge=2, le=3)] = Field(
        2,
        description="Availability Zones used, each with a public and a private subnet. At least "
        "2, as an ALB needs subnets in two AZs; at most 3, which the deploy region (eu-north-1) "
        "has and which keeps two thirds of the capacity through an AZ outage.",
    )
    nat_gateways: Literal["per_az", "single"] = Field(
        "single",
        description="`per_az`: one NAT gateway per AZ, so an AZ outage leaves the other AZs' "
        "egress (for production); `single` (default): one shared NAT gateway, a third of the "
        "cost with three AZs, egress depending on one AZ.",
    )
    flow_log_retention_days: RetentionDays = Field(
        30,
        description="Days the VPC's flow logs are kept in CloudWatch Logs; one of the values "
        "CloudWatch Logs accepts; 30 by default.",
    )
    flow_log_traffic: Literal["ALL", "ACCEPT", "REJECT"] = Field(
        "ALL",
        description="Which connections the flow logs record: `ALL` (default: what was refused "
        "and what got through both matter in an investigation), or only `ACCEPT` or `REJECT`.",
    )
    vpc_endpoints: bool = Field(
        False,
        description="Interface endpoints for `ecr.api`, `ecr.dkr`, `logs` and `secretsmanager` "
        "in the private subnets, and the S3 gateway endpoint (ECR's layers), so image pulls, "
        "logs and the secret stay off the NAT. Off by default: interface endpoints are "
        "billed per AZ and hour (~88 USD a month for 4 in 3 AZs, docs/DEPLOYMENT.md).",
    )

    @field_validator("vpc_cidr")
    @classmethod
    def _private_16_to_24(cls, value: IPv4Network) -> IPv4Network:
        if not 16 <= value.prefixlen <= 24:
            raise ValueError("prefix must be /16../24 (AWS allows /16../28; subnets are 1/16)")
        if not value.is_private:
            raise ValueError("must be a private (RFC 1918) range, e.g. 10.0.0.0/16")
        return value

    def subnet_cidrs(self) -> tuple[list[str], list[str]]:
        """(public, private) CIDRs: the VPC split in 16; public from the start, private from 8."""
        blocks = [str(net) for net in self.vpc_cidr.subnets(prefixlen_diff=4)]
        return blocks[: self.az_count], blocks[8 : 8 + self.az_count]


# Every optional feature on: what CloudFormation may be asked to create for this stack in any
# environment (stacks/cloudformation_roles.py derives the environment's permissions from it).
EVERY_FEATURE = Settings(
    project=EVERY_FEATURE_PROJECT,
    environment="every-feature",
    az_count=3,
    nat_gateways="per_az",
    vpc_endpoints=True,
)


def _vpc(template: Template, settings: Settings) -> ec2.VPC:
    vpc = template.add_resource(
        ec2.VPC(
            "Vpc",
            CidrBlock=str(settings.vpc_cidr),
            # Interface endpoints' private DNS needs both.
            EnableDnsHostnames=True,
            EnableDnsSupport=True,
            Tags=name_tags("vpc"),
        )
    )
    igw = template.add_resource(ec2.InternetGateway("InternetGateway", Tags=name_tags("igw")))
    template.add_resource(
        ec2.VPCGatewayAttachment(
            "InternetGatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(igw)
        )
    )
    return vpc


def _subnet(template: Template, logical_id: str, vpc: Any, *, cidr: str, az: int, tier: str) -> Any:
    return template.add_resource(
        ec2.Subnet(
            logical_id,
            VpcId=Ref(vpc),
            CidrBlock=cidr,
            AvailabilityZone=availability_zone(az),
            # Nothing gets a public IP by accident: the ALB has its own, tasks have none.
            MapPublicIpOnLaunch=False,
            Tags=name_tags(f"{tier}-{az}"),
        )
    )


def _route_table(template: Template, logical_id: str, vpc: Any, suffix: str) -> Any:
    return template.add_resource(ec2.RouteTable(logical_id, VpcId=Ref(vpc), Tags=name_tags(suffix)))


def _associate(template: Template, subnet: Any, table: Any) -> None:
    template.add_resource(
        ec2.SubnetRouteTableAssociation(
            f"{subnet.title}RouteTableAssociation", SubnetId=Ref(subnet), RouteTableId=Ref(table)
        )
    )


def _subnets(template: Template, settings: Settings, vpc: Any) -> tuple[list[Any], list[Any]]:
    """Public subnets behind one IGW route table; private ones each with its own table to NAT."""
    public_cidrs, private_cidrs = settings.subnet_cidrs()
    public_table = _route_table(template, "PublicRouteTable", vpc, "public")
    template.add_resource(
        ec2.Route(
            "PublicDefaultRoute",
            DependsOn="InternetGatewayAttachment",
            RouteTableId=Ref(public_table),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref("InternetGateway"),
        )
    )
    public, private, nats = [], [], []
    nat_count = settings.az_count if settings.nat_gateways == "per_az" else 1
    for az, cidr in enumerate(public_cidrs):
        subnet = _subnet(
            template,
            f"PublicSubnet{az}",
            vpc,
            cidr=cidr,
            az=az,
            tier="public",
        )
        _associate(template, subnet, public_table)
        public.append(subnet)
        if az < nat_count:
            eip = template.add_resource(
                ec2.EIP(f"NatIp{az}", Domain="vpc", DependsOn="InternetGatewayAttachment")
            )
            nats.append(
                template.add_resource(
                    ec2.NatGateway(
                        f"NatGateway{az}",
                        AllocationId=GetAtt(eip, "AllocationId"),
                        SubnetId=Ref(subnet),
                        Tags=name_tags(f"nat-{az}"),
                    )
                )
            )
    for az, cidr in enumerate(private_cidrs):
        subnet = _subnet(
            template,
            f"PrivateSubnet{az}",
            vpc,
            cidr=cidr,
            az=az,
            tier="private",
        )
        table = _route_table(template, f"PrivateRouteTable{az}", vpc, f"private-{az}")
        template.add_resource(
            ec2.Route(
                f"PrivateDefaultRoute{az}",
                RouteTableId=Ref(table),
                DestinationCidrBlock="0.0.0.0/0",
                NatGatewayId=Ref(nats[az % len(nats)]),
            )
        )
        _associate(template, subnet, table)
        private.append(subnet)
    return public, private


def _flow_logs(template: Template, settings: Settings, vpc: Any) -> None:
    group = log_group(
        template, "FlowLogGroup", settings.flow_log_retention_days, keep=settings.retain
    )
    role = template.add_resource(
        iam.role(
            "FlowLogRole",
            "vpc-flow-logs.amazonaws.com",
            [
                iam.allow(
                    ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    [GetAtt(group, "Arn")],
                )
            ],
        )
    )
    template.add_resource(
        ec2.FlowLog(
            "FlowLog",
            ResourceId=Ref(vpc),
            ResourceType="VPC",
            TrafficType=settings.flow_log_traffic,
            LogDestinationType="cloud-watch-logs",
            LogGroupName=Ref(group),
            DeliverLogsPermissionArn=GetAtt(role, "Arn"),
        )
    )


def _endpoints(template: Template, settings: Settings, vpc: Any, private: list[Any]) -> None:
    """ECR, Logs and Secrets Manager interface endpoints and the S3 gateway endpoint."""
    sg = template.add_resource(
        ec2.SecurityGroup(
            "EndpointSecurityGroup",
            GroupDescription="HTTPS from inside the VPC to the interface endpoints",
            VpcId=Ref(vpc),
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    Description="HTTPS from the VPC",
                    IpProtocol="tcp",
                    FromPort=443,
                    ToPort=443,
                    CidrIp=str(settings.vpc_cidr),
                )
            ],
            SecurityGroupEgress=[
                # Endpoints answer; they open no connections. Loopback-only egress removes the
                # default allow-all rule.
                ec2.SecurityGroupRule(
                    Description="no egress", IpProtocol="-1", CidrIp="127.0.0.1/32"
                )
            ],
            Tags=name_tags("endpoints"),
        )
    )
    for service in INTERFACE_ENDPOINTS:
        template.add_resource(
            ec2.VPCEndpoint(
                "Endpoint" + "".join(part.capitalize() for part in service.split(".")),
                VpcId=Ref(vpc),
                ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                VpcEndpointType="Interface",
                PrivateDnsEnabled=True,
                SubnetIds=[Ref(subnet) for subnet in private],
                SecurityGroupIds=[Ref(sg)],
            )
        )
    template.add_resource(
        ec2.VPCEndpoint(
            "EndpointS3",
            VpcId=Ref(vpc),
            ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
            VpcEndpointType="Gateway",
            RouteTableIds=[Ref(f"PrivateRouteTable{az}") for az in range(settings.az_count)],
        )
    )


def build(settings: Settings) -> Template:
    """The network template for ``settings``."""
    template = new_template(
        settings.project, f"{settings.environment} network: VPC, subnets, NAT, flow logs"
    )
    vpc = _vpc(template, settings)
    public, private = _subnets(template, settings, vpc)
    _flow_logs(template, settings, vpc)
    if settings.vpc_endpoints:
        _endpoints(template, settings, vpc, private)
    add_output(template, "VpcId", Ref(vpc), "VPC id")
    add_output(template, "VpcCidr", GetAtt(vpc, "CidrBlock"), "VPC CIDR block")
    add_output(
        template, "PublicSubnetIds", Join(",", [Ref(s) for s in public]), "public subnets (ALB)"
    )
    add_output(
        template, "PrivateSubnetIds", Join(",", [Ref(s) for s in private]), "private subnets"
    )
    return template
