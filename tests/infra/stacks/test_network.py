"""infra/stacks/network.py: structure of the built template per environment."""

from __future__ import annotations

import ipaddress

import pytest

from infra.stacks import network
from tests.infra.stacks.helpers import ENVS, body, of_type, props, ref, settings


def built(env: str, **changes) -> dict:
    return body(network.build(settings(env, **changes)))


def private_routes_to_nat(template: dict) -> dict[str, dict]:
    return {
        p["RouteTableId"]["Ref"]: p["NatGatewayId"]
        for p in (r["Properties"] for r in of_type(template, "AWS::EC2::Route").values())
        if "NatGatewayId" in p
    }


def test_prod_has_three_azs_and_one_nat_per_az():
    template = built("prod")
    nats = of_type(template, "AWS::EC2::NatGateway")
    assert len(nats) == 3
    assert sorted(n["Properties"]["SubnetId"]["Ref"] for n in nats.values()) == [
        "PublicSubnet1",
        "PublicSubnet2",
        "PublicSubnet3",
    ]
    routes = private_routes_to_nat(template)
    assert routes == {f"PrivateRouteTable{i}": ref(f"NatGateway{i}") for i in (1, 2, 3)}


def test_dev_has_two_azs_and_a_single_nat():
    template = built("dev")
    assert len(of_type(template, "AWS::EC2::NatGateway")) == 1
    assert len(of_type(template, "AWS::EC2::Subnet")) == 4
    routes = private_routes_to_nat(template)
    assert routes == {
        "PrivateRouteTable1": ref("NatGateway1"),
        "PrivateRouteTable2": ref("NatGateway1"),
    }


@pytest.mark.parametrize("env", ENVS)
def test_azs_come_from_get_azs_never_literals(env):
    subnets = of_type(built(env), "AWS::EC2::Subnet")
    for subnet in subnets.values():
        az = subnet["Properties"]["AvailabilityZone"]
        assert az["Fn::Select"][1] == {"Fn::GetAZs": ""}


@pytest.mark.parametrize("env", ENVS)
def test_subnets_fit_the_vpc_without_overlapping(env):
    cidr = ipaddress.IPv4Network(settings(env).network.cidr)
    blocks = [
        ipaddress.IPv4Network(s["Properties"]["CidrBlock"])
        for s in of_type(built(env), "AWS::EC2::Subnet").values()
    ]
    assert all(block.subnet_of(cidr) for block in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])


def test_a_small_vpc_still_gets_valid_subnets():
    public, private = network.subnet_cidrs("10.1.0.0/24", 3)
    assert [ipaddress.IPv4Network(c).prefixlen for c in public] == [28, 28, 28]
    assert [ipaddress.IPv4Network(c).prefixlen for c in private] == [26, 26, 26]


def test_subnets_are_tagged_for_load_balancers_and_public_ones_assign_no_ip():
    template = built("dev")
    for name, subnet in of_type(template, "AWS::EC2::Subnet").items():
        tags = {t["Key"]: t["Value"] for t in subnet["Properties"]["Tags"]}
        role = "elb" if name.startswith("Public") else "internal-elb"
        assert tags[f"kubernetes.io/role/{role}"] == "1"
        assert tags["kubernetes.io/cluster/gif-dev"] == "shared"
        assert subnet["Properties"].get("MapPublicIpOnLaunch", False) is False


def test_flow_logs_capture_all_traffic_into_an_encrypted_group_with_retention():
    template = built("prod")
    (flow_log,) = of_type(template, "AWS::EC2::FlowLog").values()
    assert flow_log["Properties"]["TrafficType"] == "ALL"
    assert flow_log["Properties"]["ResourceId"] == ref("Vpc")
    group = props(template, "FlowLogGroup")
    assert group["RetentionInDays"] == ref("FlowLogRetentionDays")
    assert template["Parameters"]["FlowLogRetentionDays"]["Default"] == 365
    assert group["KmsKeyId"] == {"Fn::GetAtt": ["FlowLogsKey", "Arn"]}


@pytest.mark.parametrize("env", ENVS)
def test_database_group_admits_only_the_app_group_on_the_database_port(env):
    template = built(env)
    database = props(template, "DatabaseSecurityGroup")
    assert "SecurityGroupIngress" not in database  # no inline rules besides the one below
    ingress = [
        r["Properties"]
        for r in of_type(template, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == ref("DatabaseSecurityGroup")
    ]
    assert ingress == [
        {
            "GroupId": ref("DatabaseSecurityGroup"),
            "Description": "PostgreSQL from the app group",
            "IpProtocol": "tcp",
            "FromPort": 5432,
            "ToPort": 5432,
            "SourceSecurityGroupId": ref("AppSecurityGroup"),
        }
    ]
    # Nothing outward from the database, and the app group only opens the database port.
    assert [rule["CidrIp"] for rule in database["SecurityGroupEgress"]] == ["255.255.255.255/32"]
    egress = [
        r["Properties"]
        for r in of_type(template, "AWS::EC2::SecurityGroupEgress").values()
        # (prod's app group also opens 443 to the interface endpoints: tested below)
        if r["Properties"]["DestinationSecurityGroupId"] != ref("EndpointSecurityGroup")
    ]
    assert egress == [
        {
            "GroupId": ref("AppSecurityGroup"),
            "Description": "PostgreSQL to the database group",
            "IpProtocol": "tcp",
            "FromPort": 5432,
            "ToPort": 5432,
            "DestinationSecurityGroupId": ref("DatabaseSecurityGroup"),
        }
    ]


def test_outputs_are_the_ones_the_other_stacks_wire():
    outputs = built("dev")["Outputs"]
    assert set(outputs) == {
        "VpcId",
        "PublicSubnetIds",
        "PrivateSubnetIds",
        "DatabaseSubnetCidrs",
        "AppSecurityGroupId",
        "DatabaseSecurityGroupId",
    }
    assert outputs["PrivateSubnetIds"]["Value"] == {
        "Fn::Join": [",", [ref("PrivateSubnet1"), ref("PrivateSubnet2")]]
    }


def test_the_database_subnets_cidrs_are_an_output_for_the_pods_network_policy():
    template = built("prod")
    value = template["Outputs"]["DatabaseSubnetCidrs"]["Value"]
    assert value == "10.20.64.0/18,10.20.128.0/18,10.20.192.0/18"
    private = [props(template, f"PrivateSubnet{i}")["CidrBlock"] for i in (1, 2, 3)]
    assert value.split(",") == private


def test_interface_endpoints_for_secrets_manager_and_sts_where_params_ask():
    assert of_type(built("dev"), "AWS::EC2::VPCEndpoint") == {}
    assert "EndpointSecurityGroup" not in built("dev")["Resources"]
    template = built("prod")
    endpoints = of_type(template, "AWS::EC2::VPCEndpoint")
    assert sorted(endpoints) == ["SecretsManagerEndpoint", "StsEndpoint"]
    for name, service in (("SecretsManagerEndpoint", "secretsmanager"), ("StsEndpoint", "sts")):
        p = props(template, name)
        assert p["ServiceName"] == {"Fn::Sub": f"com.amazonaws.${{AWS::Region}}.{service}"}
        assert p["VpcEndpointType"] == "Interface" and p["PrivateDnsEnabled"] is True
        assert p["SubnetIds"] == [ref(f"PrivateSubnet{i}") for i in (1, 2, 3)]
        assert p["SecurityGroupIds"] == [ref("EndpointSecurityGroup")]
    group = props(template, "EndpointSecurityGroup")
    assert [rule["CidrIp"] for rule in group["SecurityGroupEgress"]] == ["255.255.255.255/32"]
    ingress = [
        r["Properties"]
        for r in of_type(template, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == ref("EndpointSecurityGroup")
    ]
    assert ingress == [
        {
            "GroupId": ref("EndpointSecurityGroup"),
            "Description": "HTTPS from the app group",
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "SourceSecurityGroupId": ref("AppSecurityGroup"),
        }
    ]
    egress = props(template, "AppEgressToEndpoints")
    assert (egress["GroupId"], egress["DestinationSecurityGroupId"]) == (
        ref("AppSecurityGroup"),
        ref("EndpointSecurityGroup"),
    )
    assert (egress["FromPort"], egress["ToPort"]) == (443, 443)
