"""What the gif-ci stack's policies are made of: the managed policies the env stacks may
attach, the EC2 and RDS calls the resource handlers make, and small builders of statements
(sources as in infra/stacks/ci.py's docstring)."""

from __future__ import annotations

from awacs.aws import (
    Action,
    Condition,
    PolicyDocument,
    StringEquals,
)
from troposphere import Ref, Sub
from troposphere.iam import ManagedPolicy, Role

from infra.core import naming
from infra.settings.params import environments
from infra.stacks.common import (
    StackTemplate,
    arn,
    global_arn,
)

CLOUDFORMATION = "cloudformation.amazonaws.com"

# The AWS managed policies the env stacks attach; the only ones the execution role may attach.
ATTACHABLE_POLICIES = (
    "AmazonEKSClusterPolicy",
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
    "service-role/AmazonRDSEnhancedMonitoringRole",
)

# EC2 resources the network and cluster stacks create, each by one call that tags it on
# creation (the registry handlers pass TagSpecifications, so IAM sees aws:RequestTag; IAM's
# catalogue lists aws:RequestTag for each of these resource types on its create action).
EC2_CREATES = {
    "CreateVpc": "vpc",
    "CreateSubnet": "subnet",
    "CreateInternetGateway": "internet-gateway",
    "AllocateAddress": "elastic-ip",
    "CreateNatGateway": "natgateway",
    "CreateRouteTable": "route-table",
    "CreateSecurityGroup": "security-group",
    "CreateFlowLogs": "vpc-flow-log",
    "CreateLaunchTemplate": "launch-template",
    "CreateVpcEndpoint": "vpc-endpoint",
}
# What the handlers do to those resources once they exist (and the create calls that name an
# existing one: a subnet's VPC, a NAT gateway's subnet and address): only while they carry the
# project tag (aws:ResourceTag, which IAM's catalogue lists for every EC2 type above).
EC2_CHANGES = (
    "CreateSubnet CreateRouteTable CreateSecurityGroup CreateNatGateway CreateFlowLogs "
    "CreateVpcEndpoint ModifyVpcEndpoint DeleteVpcEndpoints "
    "ModifyVpcAttribute ModifySubnetAttribute AttachInternetGateway DetachInternetGateway "
    "AssociateAddress DisassociateAddress CreateRoute ReplaceRoute DeleteRoute "
    "AssociateRouteTable DisassociateRouteTable ReplaceRouteTableAssociation "
    "AuthorizeSecurityGroupIngress AuthorizeSecurityGroupEgress RevokeSecurityGroupIngress "
    "RevokeSecurityGroupEgress UpdateSecurityGroupRuleDescriptionsIngress "
    "UpdateSecurityGroupRuleDescriptionsEgress CreateLaunchTemplateVersion CreateTags "
    "DeleteTags DeleteVpc DeleteSubnet DeleteInternetGateway ReleaseAddress DeleteNatGateway "
    "DeleteRouteTable DeleteSecurityGroup DeleteFlowLogs DeleteLaunchTemplate"
)
# Read-only calls of the handlers that IAM's catalogue lists with no resource type: "*" only.
EC2_DESCRIBES = (
    "DescribeAccountAttributes DescribeAddresses DescribeAvailabilityZones DescribeFlowLogs "
    "DescribeInstances DescribeInternetGateways DescribeKeyPairs DescribeLaunchTemplateVersions "
    "DescribeLaunchTemplates DescribeNatGateways DescribeNetworkAcls DescribeNetworkInterfaces "
    "DescribeRouteTables DescribeSecurityGroupRules DescribeSecurityGroups DescribeSubnets "
    "DescribeTags DescribeVpcEndpoints DescribeVpcs DescribeVpnGateways "
    "DescribeVpcEncryptionControls"
)
# RDS resources the database stack creates with tags (CreateDBInstance, CreateDBSubnetGroup,
# CreateDBParameterGroup support aws:RequestTag per IAM's catalogue; RDS authorizes the tags of
# a create call as rds:AddTagsToResource on the new resource).
RDS_CREATES = ("CreateDBInstance", "CreateDBSubnetGroup", "CreateDBParameterGroup")
RDS_CHANGES = (
    "CreateDBInstance ModifyDBInstance RebootDBInstance DeleteDBInstance CreateDBSnapshot "
    "ModifyDBSubnetGroup DeleteDBSubnetGroup ModifyDBParameterGroup ResetDBParameterGroup "
    "DeleteDBParameterGroup AddTagsToResource RemoveTagsFromResource"
)


def role_arn(project: str, role: str) -> Sub:
    return global_arn("iam", f"role/{naming.ci_role_name(project, role)}")


def actions(prefix: str, names: str) -> list[Action]:
    return [Action(prefix, name) for name in names.split()]


def project_tag(kind: str, project: str) -> Condition:
    """aws:RequestTag/project (kind "Request": tagged on creation) or aws:ResourceTag/project."""
    return Condition(StringEquals(f"aws:{kind}Tag/{naming.TAG_PROJECT}", project))


def ci_environments() -> list[str]:
    """The environments the CI roles deploy (every params file but the local emulator's)."""
    return [env for env in environments() if env != "local"]


def env_stacks(stack: StackTemplate) -> list[Sub]:
    """The env stacks (gif-dev-*, gif-prod-*...), never the shared gif-ci/gif-registry."""
    project = stack.settings.project
    return [
        arn("cloudformation", f"stack/{project}-{env}-*/*")
        for env in environments()
        if env != "local"
    ]


def env_roles(stack: StackTemplate) -> list[Sub]:
    project = stack.settings.project
    return [
        global_arn("iam", f"role/{naming.role_name(project, env, '*')}")
        for env in environments()
        if env != "local"
    ]


def policy(stack: StackTemplate, logical_id: str, name: str, role: Role, statements) -> None:
    stack.add(
        ManagedPolicy(
            logical_id,
            ManagedPolicyName=f"{stack.settings.project}-ci-{name}",
            Description=f"gifstack CI: {name}",
            Roles=[Ref(role)],
            PolicyDocument=PolicyDocument(Version="2012-10-17", Statement=statements),
        )
    )


def ec2(resource: str) -> Sub:
    return arn("ec2", resource)
