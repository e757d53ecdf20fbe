"""The local environment's workarounds for moto's known gaps, all in one place.

Each workaround names the gap it closes (see DESIGN.md at the repository root, "Known gaps of
the stand-ins").
The engine (infra/cfn/engine.py) and orchestration never special-case moto: the emulator is
patched in its own process so that it answers like CloudFormation, and the stacks it
can't emulate are left out of the local plan (they are still synthesized and linted).
"""

from __future__ import annotations

import functools
import os
from typing import Any

from infra.local import stack_gaps_rds, stack_gaps_templates

# Gap: moto 5.2's CloudFormation skips resource types it doesn't emulate (EKS cluster,
# node group, add-ons, access entries, OIDC provider). A "cluster" stack would report
# success with no cluster in it, and the workload stack's pod roles need that cluster's
# outputs. So locally both are synthesized and linted but not created (`not_emulated` in
# infra/stacks/specs.py); the app runs as a local process instead of on Kubernetes
# (infra/local/pod.py).

# Gap: the emulator accepts any credentials, but boto3 refuses to sign a request without
# some, and a fresh machine has none. These fixed values are only ever sent to the
# loopback emulator endpoint; they are not secrets and open nothing.
EMULATOR_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "gifstack-local",
    "AWS_SECRET_ACCESS_KEY": "gifstack-local",
}


def use_emulator_credentials() -> None:
    """Give boto3 credentials for the emulator when the user has none configured."""
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return
    os.environ.update(EMULATOR_CREDENTIALS)


def patch_moto() -> None:
    """Close moto's gaps for gifstack's templates, in this process only.

    Called by the emulator's own process (infra/local/moto.py) before it serves; each
    workaround below names its gap and is applied once.
    """
    for workaround in (
        _record_what_execute_change_set_applied,
        _add_update_termination_protection,
        _accept_kms_key_tags,
        _complete_the_rds_db_instance,
        _split_short_getatt_at_first_dot,
        _report_list_parameters_as_given,
        _delete_what_moto_leaves_in_a_vpc,
        _tag_changes_are_changes,
        _create_change_set_reuses_a_stack_in_review,
        _list_change_sets_of_the_named_stack_only,
        # after _complete_the_rds_db_instance, whose creation they wrap
        stack_gaps_rds.take_a_final_snapshot_on_delete,
        stack_gaps_rds.restore_a_db_instance_from_its_snapshot,
        stack_gaps_rds.store_a_key_policy_as_text,  # after _accept_kms_key_tags
        stack_gaps_templates.read_a_path_style_template_url_from_any_host,
    ):
        workaround()


def _record_what_execute_change_set_applied() -> None:
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set
    if getattr(original, "gifstack_patched", False):
        return

    @functools.wraps(original)
    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None):
        change_set = self.describe_change_set(change_set_name)
        original(self, change_set_name, stack_name)
        stack = self.stacks[change_set.stack_id]
        # Gap: moto builds a stack's output map when the stack object is created (for a
        # CREATE change set: from an empty template) and never again, so DescribeStacks
        # reports no outputs after ExecuteChangeSet. Rebuild it from the applied template.
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.output_map = stack._create_output_map()
        # Gap: an UPDATE change set leaves the stack's recorded parameters and tags as they
        # were, so the next "has anything changed?" comparison sees stale values. (No tags
        # on an update means "keep the stack's tags", as in CloudFormation.)
        stack.parameters = dict(change_set.parameters)
        if change_set.tags:
            stack.tags = dict(change_set.tags)

    execute_change_set.gifstack_patched = True  # type: ignore[attr-defined]
    CloudFormationBackend.execute_change_set = execute_change_set


def _add_update_termination_protection() -> None:
    """Gap: moto 5.2 has no UpdateTerminationProtection action (it answers 500 "not
    implemented"), which the engine calls to protect prod stacks. Store the flag on the
    stack; DescribeStacks already reports it as EnableTerminationProtection."""
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    if hasattr(CloudFormationResponse, "update_termination_protection"):
        return

    def update_termination_protection(self: Any) -> ActionResult:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stack.enable_termination_protection = self._get_param("EnableTerminationProtection")
        return ActionResult({"StackId": stack.stack_id})

    CloudFormationResponse.update_termination_protection = update_termination_protection


def _accept_kms_key_tags() -> None:
    """Gap: moto 5.2 creates an AWS::KMS::Key from CloudFormation with the template's tags
    as given ({"Key", "Value"}), but its KMS tagger reads {"TagKey", "TagValue"}; the
    KeyError makes the key "undefined" and the stack fails. Rename the fields first."""
    from moto.kms.models import Key

    original = Key.create_from_cloudformation_json.__func__
    if getattr(original, "gifstack_patched", False):
        return

    def create_from_cloudformation_json(cls: Any, name: str, json: Any, *args: Any, **kw: Any):
        properties = json.get("Properties", {})
        properties["Tags"] = [
            {"TagKey": tag["Key"], "TagValue": tag["Value"]} if "Key" in tag else tag
            for tag in properties.get("Tags", [])
        ]
        return original(cls, name, json, *args, **kw)

    create_from_cloudformation_json.gifstack_patched = True  # type: ignore[attr-defined]
    Key.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def _complete_the_rds_db_instance() -> None:
    """Four gaps of moto 5.2's AWS::RDS::DBInstance in CloudFormation:
    - `!Ref` of an AWS::RDS::DBParameterGroup resolves to moto's object, not the group's
      name, and the instance then fails on `.startswith`: hand it the name, as
      CloudFormation's Ref does;
    - ManageMasterUserPassword is ignored (the RDS API supports it, the CloudFormation
      resource doesn't pass it on): turn it on, so RDS makes its master secret;
    - Fn::GetAtt supports only Endpoint.Address/Port: add DbiResourceId and
      MasterUserSecret.SecretArn, which the database stack's outputs use.
    """
    from moto.rds.models import DBInstance, MasterUserSecret

    original = DBInstance.create_from_cloudformation_json.__func__
    if getattr(original, "gifstack_patched", False):
        return

    def create_from_cloudformation_json(cls: Any, name: str, json: Any, *args: Any, **kw: Any):
        properties = json.get("Properties", {})
        group = properties.get("DBParameterGroupName")
        if group is not None and not isinstance(group, str):
            properties["DBParameterGroupName"] = group.name
        if "AllocatedStorage" in properties:  # a string in templates; moto compares numbers
            properties["AllocatedStorage"] = int(properties["AllocatedStorage"])
        instance = original(cls, name, json, *args, **kw)
        if _true(properties.get("ManageMasterUserPassword")) and not getattr(
            instance, "master_user_secret", None
        ):
            kms_key_id = (properties.get("MasterUserSecret") or {}).get("KmsKeyId")
            instance.manage_master_user_password = True
            instance.master_user_secret = MasterUserSecret(instance, kms_key_id)
        return instance

    create_from_cloudformation_json.gifstack_patched = True  # type: ignore[attr-defined]
    DBInstance.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)

    original_attribute = DBInstance.get_cfn_attribute

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name == "DbiResourceId":
            return self.dbi_resource_id
        if attribute_name == "MasterUserSecret.SecretArn" and self.master_user_secret:
            return self.master_user_secret.secret.arn
        return original_attribute(self, attribute_name)

    DBInstance.get_cfn_attribute = get_cfn_attribute
    DBInstance.has_cfn_attr = classmethod(lambda cls, attr: True)

    # Gap: moto 5.2 has no CloudFormation update for AWS::RDS::DBInstance; an UPDATE change
    # set that modifies the instance loses it (the stack's outputs then fail). Modify the
    # existing instance in place, as RDS does for these properties.
    def update_from_cloudformation_json(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        properties = cloudformation_json.get("Properties", {})
        for name, (attribute, kind) in _DB_MODIFIABLE.items():
            if name in properties and hasattr(original_resource, attribute):
                value = properties[name]
                value = _true(value) if kind is bool else kind(value)
                setattr(original_resource, attribute, value)
        return original_resource

    DBInstance.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)


_DB_MODIFIABLE: dict[str, tuple[str, type]] = {
    "DBInstanceClass": ("db_instance_class", str),
    "AllocatedStorage": ("allocated_storage", int),
    "MaxAllocatedStorage": ("max_allocated_storage", int),
    "BackupRetentionPeriod": ("backup_retention_period", int),
    "MultiAZ": ("multi_az", bool),
    "DeletionProtection": ("deletion_protection", bool),
}


def _split_short_getatt_at_first_dot() -> None:
    """Gap: moto 5.2 reads the short form `!GetAtt Database.Endpoint.Address` as
    [Database, Endpoint, Address]; CloudFormation splits at the first dot only
    ([Database, Endpoint.Address])."""
    from moto.cloudformation import models, responses, utils

    original = utils.yaml_tag_constructor
    if getattr(original, "gifstack_patched", False):
        return

    def yaml_tag_constructor(loader: Any, tag: Any, node: Any) -> Any:
        if tag == "!GetAtt" and isinstance(node.value, str):
            return {"Fn::GetAtt": node.value.split(".", 1)}
        return original(loader, tag, node)

    yaml_tag_constructor.gifstack_patched = True  # type: ignore[attr-defined]
    for module in (utils, models, responses):
        module.yaml_tag_constructor = yaml_tag_constructor


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _report_list_parameters_as_given() -> None:
    """Gap: moto 5.2's DescribeStacks reports a List<...> or CommaDelimitedList parameter
    as Python's repr of a list ("['subnet-1', 'subnet-2']") instead of the comma-separated
    value given, so a no-op deploy would look like a parameter change. Report it as
    CloudFormation does."""
    from moto.cloudformation.models import Stack

    original = Stack.parameter_list
    if getattr(original.fget, "gifstack_patched", False):
        return

    def parameter_list(self: Any) -> list[dict[str, Any]]:
        listed = original.fget(self)
        resolved = self.resource_map.resolved_parameters
        for item in listed:
            value = resolved.get(item["ParameterKey"])
            if isinstance(value, list) and item["ParameterValue"] != "****":
                item["ParameterValue"] = ",".join(map(str, value))
        return listed

    parameter_list.gifstack_patched = True  # type: ignore[attr-defined]
    Stack.parameter_list = property(parameter_list)


def _delete_what_moto_leaves_in_a_vpc() -> None:
    """Gap: on DeleteStack moto 5.2 leaves a stack's route tables, NAT gateways (and their
    network interfaces) and flow logs behind (no CloudFormation delete for those types),
    so deleting the VPC then fails with DependencyViolation. CloudFormation deletes them
    first; do the same right before the VPC goes."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.vpcs import VPC

    original = VPC.delete_from_cloudformation_json.__func__
    if getattr(original, "gifstack_patched", False):
        return

    def delete_from_cloudformation_json(
        cls: Any, resource_name: str, json: Any, account_id: str, region_name: str
    ) -> None:
        backend = ec2_backends[account_id][region_name]
        vpc_id = resource_name
        for nat in list(backend.nat_gateways.values()):
            if nat.vpc_id == vpc_id:
                backend.nat_gateways.pop(nat.id, None)
        for eni in list(backend.enis.values()):
            if getattr(eni.subnet, "vpc_id", None) == vpc_id:
                backend.enis.pop(eni.id, None)
        for table in backend.describe_route_tables(filters={"vpc-id": vpc_id}):
            if table.main_association_id is None:
                table._associations.clear()
                backend.delete_route_table(table.id)
        flow_logs = [log.id for log in backend.flow_logs.values() if log.resource_id == vpc_id]
        if flow_logs:
            backend.delete_flow_logs(flow_logs)
        original(cls, resource_name, json, account_id, region_name)

    delete_from_cloudformation_json.gifstack_patched = True  # type: ignore[attr-defined]
    VPC.delete_from_cloudformation_json = classmethod(delete_from_cloudformation_json)


def _tag_changes_are_changes() -> None:
    """Gap: moto 5.2 answers "didn't contain changes" for an update change set whose only
    change is the stack's tags (e.g. a new git-commit tag), so the tags are never updated
    and every later deploy makes a change set again. CloudFormation executes such a change
    set (it re-tags the resources); make it executable."""
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.create_change_set
    if getattr(original, "gifstack_patched", False):
        return

    @functools.wraps(original)
    def create_change_set(self: Any, stack_name: str, change_set_name: str, *args: Any, **kw: Any):
        change_set_id, stack_id = original(self, stack_name, change_set_name, *args, **kw)
        change_set = self.change_sets[change_set_id]
        stack = self.stacks[stack_id]
        if change_set.status == "FAILED" and change_set.tags and change_set.tags != stack.tags:
            change_set.status = "CREATE_COMPLETE"
            change_set.execution_status = "AVAILABLE"
            change_set.status_reason = None
        return change_set_id, stack_id

    create_change_set.gifstack_patched = True  # type: ignore[attr-defined]
    CloudFormationBackend.create_change_set = create_change_set


def _create_change_set_reuses_a_stack_in_review() -> None:
    """Gap: a first deploy killed between CreateChangeSet and ExecuteChangeSet leaves its stack
    REVIEW_IN_PROGRESS. CloudFormation's next CREATE change set of that name belongs to that
    stack (same stack ID: "The stack will be in the REVIEW_IN_PROGRESS state until you execute
    the change set", CreateChangeSet's ChangeSetType); moto 5.2 makes a second stack of the
    same name, DescribeStacks then answers for the stale one, and later calls break (issue 15
    item 1). Hand the new change set the stack in review, and drop the duplicate."""
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.create_change_set
    if getattr(original, "gifstack_reuses_review", False):
        return

    @functools.wraps(original)
    def create_change_set(self: Any, stack_name: str, change_set_name: str, *args: Any, **kw: Any):
        in_review = next(
            (
                stack
                for stack in self.stacks.values()
                if stack.name == stack_name and stack.status == "REVIEW_IN_PROGRESS"
            ),
            None,
        )
        change_set_id, stack_id = original(self, stack_name, change_set_name, *args, **kw)
        if in_review is None or stack_id == in_review.stack_id:
            return change_set_id, stack_id
        change_set = self.change_sets[change_set_id]
        self.stacks.pop(stack_id, None)
        change_set.stack = in_review
        change_set.stack_id = in_review.stack_id
        return change_set_id, in_review.stack_id

    create_change_set.gifstack_reuses_review = True  # type: ignore[attr-defined]
    CloudFormationBackend.create_change_set = create_change_set


def _list_change_sets_of_the_named_stack_only() -> None:
    """Gap: moto 5.2's ListChangeSets ignores StackName and lists every stack's change sets;
    CloudFormation "returns the ID and status of each active change set for a stack" (botocore
    model). The engine deletes what it lists for a stack left REVIEW_IN_PROGRESS, so it must not
    see another stack's change set in flight."""
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    original = CloudFormationResponse.list_change_sets
    if getattr(original, "gifstack_patched", False):
        return

    def list_change_sets(self: Any) -> ActionResult:
        wanted = self._get_param("StackName")
        summaries = [
            change_set
            for change_set in self.cloudformation_backend.list_change_sets()
            if wanted in (change_set.stack_name, change_set.stack_id)
        ]
        return ActionResult({"Summaries": summaries})

    list_change_sets.gifstack_patched = True  # type: ignore[attr-defined]
    CloudFormationResponse.list_change_sets = list_change_sets
