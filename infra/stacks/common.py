"""What every stack builder shares: a template with tags, console groups and outputs, and the
few resources several stacks use (a rotating KMS key, an encrypted log group)."""

from __future__ import annotations

from typing import Any

from awacs.aws import (
    Action,
    Allow,
    ArnLike,
    Condition,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from awacs.sts import AssumeRole
from troposphere import AccountId, AWSObject, GetAtt, Output, Parameter, Ref, Sub, Tags, Template
from troposphere.ec2 import SecurityGroupEgress, SecurityGroupIngress
from troposphere.iam import Role
from troposphere.kms import Alias, Key
from troposphere.logs import LogGroup

from infra.core import naming
from infra.settings.params import Settings
from infra.stacks.specs import SPECS, stack_name

FORMAT_VERSION = "2010-09-09"

# Key policies list actions one by one (no `kms:*`): what the account may delegate through
# IAM policies is then readable, and cfripper's wildcard-action rule holds.
KEY_ADMIN_ACTIONS = (
    "CancelKeyDeletion",
    "CreateAlias",
    "DeleteAlias",
    "DisableKey",
    "DisableKeyRotation",
    "EnableKey",
    "EnableKeyRotation",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListResourceTags",
    "PutKeyPolicy",
    "ScheduleKeyDeletion",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateKeyDescription",
)
KEY_USE_ACTIONS = (
    "CreateGrant",
    "Decrypt",
    "DescribeKey",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ListGrants",
    "ReEncryptFrom",
    "ReEncryptTo",
    "RetireGrant",
    "RevokeGrant",
)


class StackTemplate:
    """A troposphere Template plus the conventions: tags, parameter groups, described outputs."""

    def __init__(self, settings: Settings, key: str, description: str):
        self.settings = settings
        self.key = key
        self.shared = SPECS[key].shared
        self.env = naming.SHARED_ENVIRONMENT if self.shared else settings.env
        self.name = stack_name(settings.project, settings.env, key)
        self.template = Template(Description=f"gifstack {self.name}: {description}")
        self.template.set_version(FORMAT_VERSION)
        self._groups: dict[str, list[str]] = {}
        self._labels: dict[str, dict[str, str]] = {}

    @property
    def prefix(self) -> str:
        """`gif-prod` for environment stacks, `gif` for shared ones: the start of every name."""
        project = self.settings.project
        return project if self.shared else f"{project}-{self.settings.env}"

    def tag_values(self, name: str | None = None) -> dict[str, str]:
        values = {
            naming.TAG_PROJECT: self.settings.project,
            naming.TAG_ENVIRONMENT: self.env,
            naming.TAG_MANAGED_BY: naming.MANAGED_BY,
        }
        if name:
            values["Name"] = name
        return values

    def tags(self, name: str | None = None, **extra: str) -> Tags:
        return Tags({**self.tag_values(name), **extra})

    def add(self, resource: AWSObject) -> Any:
        return self.template.add_resource(resource)

    def parameter(self, name: str, group: str, label: str, **properties: Any) -> Parameter:
        """A parameter shown in the console under `group` with a readable `label`."""
        parameter = self.template.add_parameter(Parameter(name, **properties))
        self._groups.setdefault(group, []).append(name)
        self._labels[name] = {"default": label}
        return parameter

    def wired(self, output_key: str, group: str, label: str, **properties: Any) -> Parameter:
        """A parameter fed by another stack's output of the same name (see naming.Outputs)."""
        properties.setdefault("Type", "String")
        return self.parameter(output_key, group, label, **properties)

    def output(self, key: str, value: Any, description: str) -> None:
        self.template.add_output(Output(key, Value=value, Description=description))

    def finish(self) -> Template:
        """The template, with the console's parameter groups and labels."""
        if self._groups:
            self.template.set_metadata(
                {
                    "AWS::CloudFormation::Interface": {
                        "ParameterGroups": [
                            {"Label": {"default": group}, "Parameters": names}
                            for group, names in self._groups.items()
                        ],
                        "ParameterLabels": self._labels,
                    }
                }
            )
        return self.template


def arn(service: str, resource: str) -> Sub:
    """`arn:${AWS::Partition}:service:${AWS::Region}:${AWS::AccountId}:resource`."""
    return Sub(f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}")


def global_arn(service: str, resource: str) -> Sub:
    """An ARN of a global service (IAM): no region."""
    return Sub(f"arn:${{AWS::Partition}}:{service}::${{AWS::AccountId}}:{resource}")


def permissions_boundary(project: str) -> Sub:
    """ARN of the permissions boundary (the ci stack's `gif-workload-boundary` policy), built
    from the account ID so env stacks need no parameter for it; the ci stack comes first."""
    return global_arn("iam", f"policy/{naming.boundary_policy_name(project)}")


def add_role(stack: StackTemplate, logical_id: str, **properties: Any) -> Role:
    """An environment's IAM role, always under the permissions boundary: the CI deploy role
    may create roles only with it (see infra/stacks/ci.py and boundary.py)."""
    return stack.add(
        Role(
            logical_id,
            **properties,
            PermissionsBoundary=permissions_boundary(stack.settings.project),
            Tags=stack.tags(),
        )
    )


def managed_policy(name: str) -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:iam::aws:policy/{name}")


def account_root() -> Principal:
    return Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"))


def same_account() -> Condition:
    """Confused-deputy guard for service principals: only on behalf of this account."""
    return Condition(StringEquals("aws:SourceAccount", AccountId))


def service_trust(service: str) -> PolicyDocument:
    """Trust policy for an AWS service principal acting on behalf of this account only."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Service", service),
                Action=[AssumeRole],
                Condition=same_account(),
            )
        ],
    )


def skip_checks(resource: AWSObject, reasons: dict[str, str]) -> None:
    """Skip checkov checks on one resource, each with the reason a reviewer can read."""
    metadata = resource.resource.setdefault("Metadata", {})
    metadata["checkov"] = {
        "skip": [{"id": check, "comment": reason} for check, reason in sorted(reasons.items())]
    }


def add_kms_key(
    stack: StackTemplate,
    logical_id: str,
    purpose: str,
    statements: list[Statement],
) -> Key:
    """A customer-managed key with yearly rotation and an alias.

    The account root keeps key administration (the AWS default, so IAM policies decide and
    the key can never become unmanageable); `statements` grant the services that use it.
    """
    policy = PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="AccountAdministersKey",
                Effect=Allow,
                Principal=account_root(),
                Action=[_kms(a) for a in KEY_ADMIN_ACTIONS + KEY_USE_ACTIONS],
                Resource=["*"],
            ),
            *statements,
        ],
    )
    key = stack.add(
        Key(
            logical_id,
            Description=f"{stack.prefix}: {purpose}",
            EnableKeyRotation=True,
            PendingWindowInDays=30,
            KeyPolicy=policy,
            Tags=stack.tags(f"{stack.prefix}-{logical_id}"),
            # Retained: whatever it encrypted (snapshots, logs) stays readable after the stack
            # is gone; delete a retired key by hand (it has a 30-day waiting period).
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
    stack.add(
        Alias(
            f"{logical_id}Alias",
            AliasName=f"alias/{stack.prefix}-{_kebab(logical_id)}",
            TargetKeyId=Ref(key),
        )
    )
    return key


def logs_may_use_key(log_group_arn_pattern: Sub) -> Statement:
    """Key policy statement: CloudWatch Logs may encrypt these log groups with the key."""
    return Statement(
        Sid="CloudWatchLogsEncryptsLogGroups",
        Effect=Allow,
        Principal=Principal("Service", Sub("logs.${AWS::Region}.amazonaws.com")),
        Action=[_kms(a) for a in KEY_USE_ACTIONS if "Grant" not in a],
        Resource=["*"],
        Condition=Condition(ArnLike("kms:EncryptionContext:aws:logs:arn", log_group_arn_pattern)),
    )


def add_log_group(
    stack: StackTemplate, logical_id: str, name: str, retention_days: int | Ref, key: Key
) -> LogGroup:
    """A KMS-encrypted log group with retention (instead of the never-expiring default one
    a service would create). Prod keeps its logs when the stack goes; other envs don't."""
    keep = "Retain" if stack.settings.is_prod else "Delete"
    return stack.add(
        LogGroup(
            logical_id,
            LogGroupName=name,
            RetentionInDays=retention_days,
            KmsKeyId=GetAtt(key, "Arn"),
            Tags=stack.tags(name),
            DeletionPolicy=keep,
            UpdateReplacePolicy=keep,
        )
    )


def _kms(action: str) -> Action:
    return Action("kms", action)


def _kebab(name: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


def link_from_app(
    stack: StackTemplate,
    app_group: Any,
    target_group: Any,
    port: Any,
    *,
    ids: tuple[str, str],
    descriptions: tuple[str, str],
) -> None:
    """`target_group` admits `app_group` on `port`, and `app_group` may reach it there: a
    pair of rules (ingress, egress) with the given logical IDs and descriptions."""
    ingress_id, egress_id = ids
    ingress, egress = descriptions
    stack.add(
        SecurityGroupIngress(
            ingress_id,
            GroupId=Ref(target_group),
            Description=ingress,
            IpProtocol="tcp",
            FromPort=port,
            ToPort=port,
            SourceSecurityGroupId=Ref(app_group),
        )
    )
    stack.add(
        SecurityGroupEgress(
            egress_id,
            GroupId=Ref(app_group),
            Description=egress,
            IpProtocol="tcp",
            FromPort=port,
            ToPort=port,
            DestinationSecurityGroupId=Ref(target_group),
        )
    )
