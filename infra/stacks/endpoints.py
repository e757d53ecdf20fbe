"""Interface VPC endpoints of the network stack: Secrets Manager and STS in the private subnets,
so the migration Job reads the master secret without leaving the VPC (its NetworkPolicy then
allows HTTPS to the VPC only; infra/kube/render.py).

Private DNS on each endpoint makes the services' standard regional names resolve to the
endpoint's addresses in the VPC, so the SDK needs no endpoint URL (AWS PrivateLink guide,
"Access an AWS service using an interface VPC endpoint"). Service names are
com.amazonaws.<region>.secretsmanager and com.amazonaws.<region>.sts.

Cost (https://aws.amazon.com/privatelink/pricing/): each interface endpoint is billed for every
hour it is provisioned in each AZ, plus data processed ($0.01/GB for the first PB a month). The
hourly rate is $0.01 per endpoint per AZ in us-east-1 ($0.011 in eu-west-1), about $7.30
($8.03) a month per endpoint per AZ: prod's 2 endpoints in 3 AZs about $48/month in eu-west-1.
So they are a params switch (network.interface_endpoints), on in prod.
"""

from __future__ import annotations

from troposphere import Ref, Sub
from troposphere.ec2 import (
    VPC,
    SecurityGroup,
    Subnet,
    VPCEndpoint,
)

from infra.stacks.common import StackTemplate, link_from_app

HTTPS = 443
# Logical ID suffix -> the service's endpoint name part.
SERVICES = {"SecretsManager": "secretsmanager", "Sts": "sts"}


def add_interface_endpoints(
    stack: StackTemplate, vpc: VPC, private: list[Subnet], app_group: str, no_egress: dict
) -> None:
    """One endpoint per service in every private subnet, behind a group that admits HTTPS from
    the app group (the nodes', so the pods') only and opens nothing outward (`no_egress`)."""
    group = stack.add(
        SecurityGroup(
            "EndpointSecurityGroup",
            GroupDescription="gif interface VPC endpoints: HTTPS from the app group only",
            VpcId=Ref(vpc),
            SecurityGroupEgress=[no_egress],
            Tags=stack.tags(f"{stack.prefix}-endpoints"),
        )
    )
    link_from_app(
        stack,
        app_group,
        group,
        HTTPS,
        ids=("EndpointIngressFromApp", "AppEgressToEndpoints"),
        descriptions=("HTTPS from the app group", "HTTPS to the interface VPC endpoints"),
    )
    for suffix, service in SERVICES.items():
        stack.add(
            VPCEndpoint(
                f"{suffix}Endpoint",
                VpcId=Ref(vpc),
                ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                VpcEndpointType="Interface",
                PrivateDnsEnabled=True,
                SubnetIds=[Ref(subnet) for subnet in private],
                SecurityGroupIds=[Ref(group)],
                Tags=stack.tags(f"{stack.prefix}-{service}"),
            )
        )
