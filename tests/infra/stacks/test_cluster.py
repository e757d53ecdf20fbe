"""infra/stacks/cluster.py: structure of the built template per environment."""

from __future__ import annotations

import json

import pytest

from infra.stacks import cluster
from tests.infra.stacks.helpers import ENVS, body, of_type, props, ref, settings


def built(env: str, **changes) -> dict:
    return body(cluster.build(settings(env, **changes)))


@pytest.mark.parametrize("env", ENVS)
def test_control_plane_logs_encryption_and_access_mode(env):
    template = built(env)
    eks = props(template, "Cluster")
    enabled = [t["Type"] for t in eks["Logging"]["ClusterLogging"]["EnabledTypes"]]
    assert sorted(enabled) == ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    (encryption,) = eks["EncryptionConfig"]
    assert encryption == {
        "Provider": {"KeyArn": {"Fn::GetAtt": ["ClusterKey", "Arn"]}},
        "Resources": ["secrets"],
    }
    assert props(template, "ClusterKey")["EnableKeyRotation"] is True
    assert eks["AccessConfig"] == {
        "AuthenticationMode": "API",
        "BootstrapClusterCreatorAdminPermissions": False,
    }
    assert eks["Version"] == ref("KubernetesVersion")
    assert template["Parameters"]["KubernetesVersion"]["Default"] == (
        settings(env).cluster.kubernetes_version
    )


def test_deployer_gets_an_access_entry_from_the_parameter():
    template = built("prod")
    parameter = template["Parameters"]["DeployerPrincipalArn"]
    assert "Default" not in parameter and parameter["AllowedPattern"].startswith("^arn:aws")
    entry = of_type(template, "AWS::EKS::AccessEntry")["DeployerAccessEntry"]
    assert entry["Properties"]["PrincipalArn"] == ref("DeployerPrincipalArn")
    assert entry["Properties"]["ClusterName"] == ref("Cluster")
    # Only when the deployer is someone else than CI, which has its own fixed entry.
    assert entry["Condition"] == "DeployerIsNotCiRole"


def test_ci_deploy_role_keeps_cluster_access_whoever_deploys():
    template = built("prod")
    entry = of_type(template, "AWS::EKS::AccessEntry")["CiDeployerAccessEntry"]
    assert "Condition" not in entry
    ci_role = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/gif-ci-deploy"
    assert entry["Properties"]["PrincipalArn"] == {"Fn::Sub": ci_role}
    condition = template["Conditions"]["DeployerIsNotCiRole"]
    assert condition == {
        "Fn::Not": [{"Fn::Equals": [ref("DeployerPrincipalArn"), {"Fn::Sub": ci_role}]}]
    }


def test_public_endpoint_only_for_the_configured_cidrs():
    office = ["198.18.10.0/24"]  # a laptop deploy's office range
    vpc = props(built("prod", cluster={"public_access_cidrs": office}), "Cluster")
    vpc = vpc["ResourcesVpcConfig"]
    assert vpc["EndpointPrivateAccess"] is True
    assert vpc["EndpointPublicAccess"] is True
    assert vpc["PublicAccessCidrs"] == office


@pytest.mark.parametrize("env", ENVS)
def test_shipped_clusters_have_a_private_only_endpoint(env):
    vpc = props(built(env), "Cluster")["ResourcesVpcConfig"]
    assert vpc["EndpointPublicAccess"] is False and "PublicAccessCidrs" not in vpc


def test_no_cidrs_means_no_public_endpoint():
    vpc = props(built("dev", cluster={"public_access_cidrs": []}), "Cluster")["ResourcesVpcConfig"]
    assert vpc["EndpointPrivateAccess"] is True
    assert vpc["EndpointPublicAccess"] is False
    assert "PublicAccessCidrs" not in vpc


def test_oidc_provider_for_the_cluster_issuer():
    provider = props(built("dev"), "ClusterOidcProvider")
    assert provider["Url"] == {"Fn::GetAtt": ["Cluster", "OpenIdConnectIssuerUrl"]}
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]


@pytest.mark.parametrize("env", ENVS)
def test_nodes_run_in_private_subnets_with_imdsv2_and_encrypted_gp3(env):
    template = built(env)
    data = props(template, "NodeLaunchTemplate")["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    (disk,) = data["BlockDeviceMappings"]
    assert disk["Ebs"]["VolumeType"] == "gp3" and disk["Ebs"]["Encrypted"] is True
    assert {"Fn::GetAtt": ["Cluster", "ClusterSecurityGroupId"]} in data["SecurityGroupIds"]
    assert ref("AppSecurityGroupId") in data["SecurityGroupIds"]
    nodes = props(template, "NodeGroup")
    assert nodes["Subnets"] == ref("PrivateSubnetIds")
    assert nodes["LaunchTemplate"]["Id"] == ref("NodeLaunchTemplate")
    assert "DiskSize" not in nodes  # the launch template sizes the disk
    size = nodes["ScalingConfig"]
    wanted = settings(env).cluster
    assert (size["MinSize"], size["DesiredSize"], size["MaxSize"]) == (
        wanted.node_min_size,
        wanted.node_desired_size,
        wanted.node_max_size,
    )


def test_addons_and_their_order_around_the_nodes():
    template = built("dev")
    addons = of_type(template, "AWS::EKS::Addon")
    names = {a["Properties"]["AddonName"]: logical for logical, a in addons.items()}
    assert set(names) == {
        "vpc-cni",
        "coredns",
        "kube-proxy",
        "eks-pod-identity-agent",
        "metrics-server",
    }
    node_group = template["Resources"]["NodeGroup"]
    assert set(node_group["DependsOn"]) == {
        names["vpc-cni"],
        names["kube-proxy"],
        names["eks-pod-identity-agent"],
    }
    assert addons[names["coredns"]]["DependsOn"] == "NodeGroup"
    # The HPA's metrics: EKS doesn't install metrics-server; it runs on the nodes.
    assert addons[names["metrics-server"]]["DependsOn"] == "NodeGroup"


@pytest.mark.parametrize("env", ENVS)
def test_upgrade_policy_is_standard_support_by_default(env):
    assert props(built(env), "Cluster")["UpgradePolicy"] == {"SupportType": "STANDARD"}


def test_upgrade_policy_extended_only_when_the_params_opt_in():
    template = built("dev", cluster={"support_type": "EXTENDED"})
    assert props(template, "Cluster")["UpgradePolicy"] == {"SupportType": "EXTENDED"}


def test_vpc_cni_enforces_network_policies():
    # k8s/ ships NetworkPolicies; without this setting EKS would store but not enforce them.
    addons = of_type(built("prod"), "AWS::EKS::Addon")
    cni = next(a for a in addons.values() if a["Properties"]["AddonName"] == "vpc-cni")
    assert json.loads(cni["Properties"]["ConfigurationValues"]) == {"enableNetworkPolicy": "true"}


def test_prod_cluster_has_deletion_protection_dev_does_not():
    assert props(built("prod"), "Cluster")["DeletionProtection"] is True
    assert props(built("dev"), "Cluster")["DeletionProtection"] is False


def test_the_nodes_version_is_a_parameter_defaulting_to_the_params():
    template = built(
        "prod", cluster={"kubernetes_version": "1.35", "node_kubernetes_version": "1.34"}
    )
    assert props(template, "NodeGroup")["Version"] == ref("NodeKubernetesVersion")
    assert template["Parameters"]["NodeKubernetesVersion"]["Default"] == "1.34"
    assert built("dev")["Parameters"]["NodeKubernetesVersion"]["Default"] == (
        settings("dev").cluster.kubernetes_version
    )


def test_a_pinned_addon_version_goes_in_and_the_others_take_eks_default():
    template = built("prod", cluster={"addon_versions": {"coredns": "v1.12.1-eksbuild.2"}})
    assert props(template, "AddonCoredns")["AddonVersion"] == "v1.12.1-eksbuild.2"
    others = [name for name in of_type(template, "AWS::EKS::Addon") if name != "AddonCoredns"]
    assert len(others) == 4
    assert not any("AddonVersion" in props(template, name) for name in others)
