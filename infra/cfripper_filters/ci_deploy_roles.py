"""cfripper exception, one resource wide (cfripper reads every .py in this folder).

gif-ci's PlatformPolicy lets the GitHub deploy role create the env stacks' IAM roles
(gif-<env>-*), because CloudFormation creates them with the caller's credentials. That is
iam:PutRolePolicy / AttachRolePolicy / UpdateAssumeRolePolicy, which cfripper's
PrivilegeEscalationRule lists. The statements are limited to gif-<env>-* role names, and
AttachRolePolicy to the AWS managed policies the templates use (see infra/stacks/ci.py).
"""

from cfripper.config.filter import Filter
from cfripper.model.enums import RuleMode

FILTERS = [
    Filter(
        reason="gif-ci PlatformPolicy: the deploy role creates the env stacks' gif-<env>-* "
        "roles through CloudFormation",
        rule_mode=RuleMode.ALLOWED,
        eval={
            "and": [
                {"eq": [{"ref": "logical_id"}, "PlatformPolicy"]},
                {"eq": [{"ref": "policy_name"}, "gif-ci-deploy-platform"]},
            ]
        },
        rules={"PrivilegeEscalationRule"},
    )
]
