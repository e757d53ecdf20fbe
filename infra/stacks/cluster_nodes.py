"""The cluster stack's nodes (infra/stacks/cluster.py builds the rest): the launch template
(IMDSv2, encrypted gp3), the managed node group in the private subnets, and the managed
add-ons, some installed before the nodes and some after them."""

from __future__ import annotations

import json

from troposphere import GetAtt, Ref
from troposphere.ec2 import (
    EBSBlockDevice,
    LaunchTemplate,
    LaunchTemplateBlockDeviceMapping,
    LaunchTemplateData,
    MetadataOptions,
    TagSpecifications,
)
from troposphere.eks import (
    Addon,
    LaunchTemplateSpecification,
    Nodegroup,
    ScalingConfig,
    UpdateConfig,
)

from infra.core.naming import Outputs
from infra.stacks.common import StackTemplate

# Installed before the nodes (they need networking to become Ready); CoreDNS after them.
NODE_ADDONS = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
# Pods, so after the nodes. metrics-server: an EKS community add-on (docs.aws.amazon.com/eks/
# latest/userguide/community-addons.html), not installed by default; the HPA needs it.
LATE_ADDONS = ("coredns", "metrics-server")
# The VPC CNI enforces Kubernetes NetworkPolicy only when asked to (k8s/ ships policies).
ADDON_CONFIGURATION = {"vpc-cni": {"enableNetworkPolicy": "true"}}
AMI_TYPES = {"x86_64": "AL2023_x86_64_STANDARD", "arm64": "AL2023_ARM_64_STANDARD"}
NODE_GROUP = "NodeGroup"


def add_launch_template(stack: StackTemplate) -> None:
    cluster = stack.settings.cluster
    name = f"{stack.prefix}-node"
    stack.add(
        LaunchTemplate(
            "NodeLaunchTemplate",
            LaunchTemplateName=name,
            LaunchTemplateData=LaunchTemplateData(
                # IMDSv2 only, one hop: pods can't reach the node's instance credentials.
                MetadataOptions=MetadataOptions(
                    HttpEndpoint="enabled", HttpTokens="required", HttpPutResponseHopLimit=1
                ),
                BlockDeviceMappings=[
                    LaunchTemplateBlockDeviceMapping(
                        DeviceName="/dev/xvda",
                        Ebs=EBSBlockDevice(
                            VolumeType="gp3",
                            VolumeSize=cluster.node_disk_gib,
                            Encrypted=True,
                            DeleteOnTermination=True,
                        ),
                    )
                ],
                # Naming security groups replaces EKS's default, so the cluster group is listed.
                SecurityGroupIds=[
                    GetAtt("Cluster", "ClusterSecurityGroupId"),
                    Ref(Outputs.APP_SECURITY_GROUP_ID),
                ],
                TagSpecifications=[
                    TagSpecifications(ResourceType=kind, Tags=stack.tags(name))
                    for kind in ("instance", "volume")
                ],
            ),
            TagSpecifications=[
                TagSpecifications(ResourceType="launch-template", Tags=stack.tags(name))
            ],
        )
    )


def add_node_group(stack: StackTemplate) -> None:
    cluster = stack.settings.cluster
    stack.add(
        Nodegroup(
            NODE_GROUP,
            ClusterName=Ref("Cluster"),
            NodeRole=GetAtt("NodeRole", "Arn"),
            Subnets=Ref(Outputs.PRIVATE_SUBNET_IDS),
            AmiType=AMI_TYPES[cluster.node_architecture],
            CapacityType="ON_DEMAND",
            InstanceTypes=list(cluster.node_instance_types),
            ScalingConfig=ScalingConfig(
                MinSize=cluster.node_min_size,
                DesiredSize=cluster.node_desired_size,
                MaxSize=cluster.node_max_size,
            ),
            UpdateConfig=UpdateConfig(MaxUnavailable=1),
            LaunchTemplate=LaunchTemplateSpecification(
                Id=Ref("NodeLaunchTemplate"),
                Version=GetAtt("NodeLaunchTemplate", "LatestVersionNumber"),
            ),
            DependsOn=[addon_id(name) for name in NODE_ADDONS],
            Tags=stack.tag_values(f"{stack.prefix}-node"),
        )
    )


def add_addons(stack: StackTemplate, names: tuple[str, ...], after: str | None = None) -> None:
    for name in names:
        extra = {"DependsOn": after} if after else {}
        if name in ADDON_CONFIGURATION:
            extra["ConfigurationValues"] = json.dumps(ADDON_CONFIGURATION[name], sort_keys=True)
        stack.add(
            Addon(
                addon_id(name),
                AddonName=name,
                ClusterName=Ref("Cluster"),
                ResolveConflicts="OVERWRITE",
                Tags=stack.tags(),
                **extra,
            )
        )


def addon_id(name: str) -> str:
    return "Addon" + "".join(part.capitalize() for part in name.split("-"))
