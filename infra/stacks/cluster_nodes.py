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
from infra.settings import catalog
from infra.stacks.common import StackTemplate

# The add-ons and when they go in (before or after the nodes): infra/settings/catalog.py.
NODE_ADDONS = catalog.NODE_ADDONS
LATE_ADDONS = catalog.LATE_ADDONS
# The VPC CNI enforces Kubernetes NetworkPolicy only when asked to (k8s/ ships policies).
ADDON_CONFIGURATION = {"vpc-cni": {"enableNetworkPolicy": "true"}}
AMI_TYPES = {"x86_64": "AL2023_x86_64_STANDARD", "arm64": "AL2023_ARM_64_STANDARD"}
NODE_GROUP = "NodeGroup"
NODE_VERSION_PARAMETER = "NodeKubernetesVersion"


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
            # Rolling: one node at a time, each drained first; a drain that a PodDisruptionBudget
            # blocks fails the update rather than forcing it (ForceUpdateEnabled stays false).
            # Source: the UpdateNodegroupVersion API reference and the CloudFormation schema.
            UpdateConfig=UpdateConfig(MaxUnavailable=1),
            # The nodes' Kubernetes version: the launch template names no AMI, so EKS picks its
            # latest AMI for this version; changing it is UpdateNodegroupVersion (an update, not
            # a replacement: Version is not createOnly in the AWS::EKS::Nodegroup schema).
            Version=Ref(NODE_VERSION_PARAMETER),
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
        pinned = stack.settings.cluster.addon_versions.get(name)
        if pinned:  # otherwise EKS installs its default version for the cluster's version
            extra["AddonVersion"] = pinned
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
