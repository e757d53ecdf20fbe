"""gif-<env>-cluster: the EKS control plane (all logs, secrets envelope encryption, API access
entries, private endpoint plus a public one only for the configured CIDRs), its OIDC provider,
a managed node group in the private subnets (IMDSv2, encrypted gp3) and the core add-ons
(those three: infra/stacks/cluster_nodes.py)."""

from __future__ import annotations

from awacs.aws import Action, Allow, PolicyDocument, Principal, Statement
from awacs.sts import AssumeRole, TagSession
from troposphere import Equals, GetAtt, Not, Ref, Sub, Template
from troposphere.eks import (
    AccessConfig,
    AccessEntry,
    AccessPolicy,
    AccessScope,
    Cluster,
    ClusterLogging,
    EncryptionConfig,
    Logging,
    LoggingTypeConfig,
    Provider,
    ResourcesVpcConfig,
    UpgradePolicy,
)
from troposphere.iam import OIDCProvider, Policy
from troposphere.kms import Key

from infra.core import naming
from infra.core.naming import Outputs
from infra.settings import catalog
from infra.settings.params import Settings
from infra.stacks import cluster_nodes as nodes
from infra.stacks.common import (
    StackTemplate,
    add_kms_key,
    add_log_group,
    add_role,
    arn,
    logs_may_use_key,
    managed_policy,
)

NETWORK_GROUP = "Network (from the network stack)"
ACCESS_GROUP = "Cluster access"
CLUSTER_GROUP = "Cluster"
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
DEPLOYER_IS_NOT_CI = "DeployerIsNotCiRole"


def build(settings: Settings) -> Template:
    stack = StackTemplate(settings, naming.CLUSTER, "EKS control plane, node group, add-ons.")
    _add_parameters(stack)
    key = _add_secrets_key(stack)
    _add_log_group(stack, key)
    _add_cluster_role(stack, key)
    _add_cluster(stack, key)
    _add_deployer_access(stack)
    _add_oidc_provider(stack)
    _add_node_role(stack)
    nodes.add_launch_template(stack)
    nodes.add_addons(stack, nodes.NODE_ADDONS)
    nodes.add_node_group(stack)
    nodes.add_addons(stack, nodes.LATE_ADDONS, after=nodes.NODE_GROUP)
    _add_outputs(stack)
    return stack.finish()


def _cluster_name(stack: StackTemplate) -> str:
    return naming.cluster_name(stack.settings.project, stack.settings.env)


def _role_name(stack: StackTemplate, purpose: str) -> str:
    return naming.role_name(stack.settings.project, stack.settings.env, purpose)


def _add_parameters(stack: StackTemplate) -> None:
    stack.wired(
        Outputs.PRIVATE_SUBNET_IDS,
        NETWORK_GROUP,
        "Private subnets",
        Type="List<AWS::EC2::Subnet::Id>",
        Description="Private subnets for the control plane's network interfaces and the nodes.",
    )
    stack.wired(
        Outputs.APP_SECURITY_GROUP_ID,
        NETWORK_GROUP,
        "App security group",
        Type="AWS::EC2::SecurityGroup::Id",
        Description="Security group the database admits; attached to every node.",
    )
    stack.parameter(
        naming.DEPLOYER_PRINCIPAL_ARN,
        ACCESS_GROUP,
        "Deployer role ARN",
        Type="String",
        AllowedPattern=r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$",
        ConstraintDescription="an IAM role or user ARN (not an assumed-role session ARN)",
        Description="IAM principal that gets cluster admin through an EKS access entry "
        "(filled from the deploying identity).",
    )
    stack.parameter(
        "KubernetesVersion",
        CLUSTER_GROUP,
        "Kubernetes version",
        Type="String",
        Default=stack.settings.cluster.kubernetes_version,
        AllowedValues=list(catalog.EKS_KUBERNETES_VERSIONS),
        Description="EKS Kubernetes minor version (upgrade one minor at a time).",
    )
    stack.parameter(
        nodes.NODE_VERSION_PARAMETER,
        CLUSTER_GROUP,
        "Node group Kubernetes version",
        Type="String",
        Default=stack.settings.cluster.node_version,
        AllowedValues=list(catalog.EKS_KUBERNETES_VERSIONS),
        Description="The nodes' Kubernetes minor version: the control plane's, or up to "
        f"{catalog.MAX_NODE_SKEW} minors behind it during an upgrade (`invoke upgrade`).",
    )


def _add_secrets_key(stack: StackTemplate) -> Key:
    return add_kms_key(
        stack,
        "ClusterKey",
        "envelope-encrypts Kubernetes secrets and the control plane logs",
        [logs_may_use_key(arn("logs", f"log-group:/aws/eks/{_cluster_name(stack)}/cluster"))],
    )


def _add_log_group(stack: StackTemplate, key: Key) -> None:
    """EKS writes control plane logs here; created first for retention and encryption."""
    add_log_group(
        stack,
        "ClusterLogGroup",
        f"/aws/eks/{_cluster_name(stack)}/cluster",
        stack.settings.cluster.log_retention_days,
        key,
    )


def _add_cluster_role(stack: StackTemplate, key: Key) -> None:
    add_role(
        stack,
        "ClusterRole",
        RoleName=_role_name(stack, "cluster"),
        Description="The EKS control plane manages the cluster's AWS resources.",
        AssumeRolePolicyDocument=_trust("eks.amazonaws.com"),
        ManagedPolicyArns=[managed_policy("AmazonEKSClusterPolicy")],
        Policies=[
            Policy(
                PolicyName="EncryptSecrets",
                PolicyDocument=PolicyDocument(
                    Version="2012-10-17",
                    Statement=[
                        Statement(
                            Effect=Allow,
                            Action=[
                                Action("kms", a)
                                for a in ("Encrypt", "Decrypt", "DescribeKey", "CreateGrant")
                            ],
                            Resource=[GetAtt(key, "Arn")],
                        )
                    ],
                ),
            )
        ],
    )


def _add_cluster(stack: StackTemplate, key: Key) -> None:
    settings = stack.settings
    cidrs = settings.cluster.public_access_cidrs
    cluster = Cluster(
        "Cluster",
        Name=_cluster_name(stack),
        Version=Ref("KubernetesVersion"),
        RoleArn=GetAtt("ClusterRole", "Arn"),
        ResourcesVpcConfig=ResourcesVpcConfig(
            SubnetIds=Ref(Outputs.PRIVATE_SUBNET_IDS),
            EndpointPrivateAccess=True,
            # Public endpoint only for the configured CIDRs; none configured = private only.
            EndpointPublicAccess=bool(cidrs),
            **({"PublicAccessCidrs": list(cidrs)} if cidrs else {}),
        ),
        EncryptionConfig=[
            EncryptionConfig(Provider=Provider(KeyArn=GetAtt(key, "Arn")), Resources=["secrets"])
        ],
        Logging=Logging(
            ClusterLogging=ClusterLogging(
                EnabledTypes=[LoggingTypeConfig(Type=t) for t in LOG_TYPES]
            )
        ),
        # Access entries only (no aws-auth ConfigMap); nobody is admin by accident of having
        # created the cluster, the deployer gets an explicit entry below.
        AccessConfig=AccessConfig(
            AuthenticationMode="API", BootstrapClusterCreatorAdminPermissions=False
        ),
        # The managed add-ons below replace the self-managed defaults.
        BootstrapSelfManagedAddons=False,
        # EKS's default is EXTENDED (billed once the version leaves standard support; see
        # AWS::EKS::Cluster UpgradePolicy). STANDARD upgrades instead; params may opt in.
        UpgradePolicy=UpgradePolicy(SupportType=settings.cluster.support_type),
        DeletionProtection=settings.is_prod,
        DependsOn="ClusterLogGroup",
        Tags=stack.tags(_cluster_name(stack)),
    )
    stack.add(cluster)


def _add_deployer_access(stack: StackTemplate) -> None:
    """Cluster admin for the CI deploy role and for the principal running this deploy:
    `invoke deploy` creates the namespace and applies cluster-wide objects, so namespace
    scope would not do. The CI role's entry is fixed, so a deploy from a workstation never
    locks CI out (and CI's next deploy only drops the workstation's entry)."""
    ci_role = naming.ci_role_name(stack.settings.project, naming.DEPLOY_ROLE)
    ci_role_arn = Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{ci_role}")
    stack.template.add_condition(
        DEPLOYER_IS_NOT_CI, Not(Equals(Ref(naming.DEPLOYER_PRINCIPAL_ARN), ci_role_arn))
    )
    stack.add(_cluster_admin_entry(stack, "CiDeployerAccessEntry", ci_role_arn))
    entry = _cluster_admin_entry(stack, "DeployerAccessEntry", Ref(naming.DEPLOYER_PRINCIPAL_ARN))
    entry.Condition = DEPLOYER_IS_NOT_CI
    stack.add(entry)


def _cluster_admin_entry(stack: StackTemplate, logical_id: str, principal) -> AccessEntry:
    return AccessEntry(
        logical_id,
        ClusterName=Ref("Cluster"),
        PrincipalArn=principal,
        Type="STANDARD",
        AccessPolicies=[
            AccessPolicy(
                PolicyArn=Sub(
                    "arn:${AWS::Partition}:eks::aws:cluster-access-policy/"
                    "AmazonEKSClusterAdminPolicy"
                ),
                AccessScope=AccessScope(Type="cluster"),
            )
        ],
        Tags=stack.tags(),
    )


def _add_oidc_provider(stack: StackTemplate) -> None:
    """For IAM roles for service accounts (add-ons that need it; the app uses Pod Identity)."""
    stack.add(
        OIDCProvider(
            "ClusterOidcProvider",
            Url=GetAtt("Cluster", "OpenIdConnectIssuerUrl"),
            ClientIdList=["sts.amazonaws.com"],
            Tags=stack.tags(),
        )
    )


def _add_node_role(stack: StackTemplate) -> None:
    add_role(
        stack,
        "NodeRole",
        RoleName=_role_name(stack, "node"),
        Description="EKS worker nodes: join the cluster, run the VPC CNI, pull images.",
        AssumeRolePolicyDocument=_trust("ec2.amazonaws.com", tag_session=False),
        ManagedPolicyArns=[
            managed_policy("AmazonEKSWorkerNodePolicy"),
            managed_policy("AmazonEKS_CNI_Policy"),
            managed_policy("AmazonEC2ContainerRegistryPullOnly"),
        ],
    )


def _trust(service: str, *, tag_session: bool = True) -> PolicyDocument:
    actions = [AssumeRole, TagSession] if tag_session else [AssumeRole]
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(Effect=Allow, Principal=Principal("Service", service), Action=actions)
        ],
    )


def _add_outputs(stack: StackTemplate) -> None:
    stack.output(Outputs.CLUSTER_NAME, Ref("Cluster"), "EKS cluster name.")
    stack.output(
        Outputs.CLUSTER_ENDPOINT, GetAtt("Cluster", "Endpoint"), "Kubernetes API server URL."
    )
    stack.output(
        Outputs.CLUSTER_CERTIFICATE_AUTHORITY,
        GetAtt("Cluster", "CertificateAuthorityData"),
        "The API server's CA certificate, base64 (public, for kubeconfig).",
    )
    stack.output(
        Outputs.CLUSTER_OIDC_PROVIDER_ARN,
        Ref("ClusterOidcProvider"),
        "IAM OIDC provider of the cluster (IAM roles for service accounts).",
    )
    stack.output(Outputs.NODE_ROLE_ARN, GetAtt("NodeRole", "Arn"), "IAM role of the nodes.")
    group = GetAtt("Cluster", "ClusterSecurityGroupId")  # on the API endpoint's ENIs too
    stack.output(Outputs.CLUSTER_SECURITY_GROUP_ID, group, "EKS's cluster security group.")
