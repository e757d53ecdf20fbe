"""moto's gaps around a DB instance's snapshots in CloudFormation, closed for `invoke restore`
(infra/orchestration/restore.py): part of infra/local/stack_gaps.py (its `patch_moto` applies
them; split off only to keep each module under 400 lines). Each workaround names its gap.
"""

from __future__ import annotations

import functools
import secrets
import string
from typing import Any


def take_a_final_snapshot_on_delete() -> None:
    """Gap: moto 5.2 deletes a stack's AWS::RDS::DBInstance with DeletionPolicy: Snapshot
    without the final snapshot CloudFormation takes. CloudFormation names it
    `<stack>-<logical id>-<random>` in lower case and, with CopyTagsToSnapshot, RDS copies
    the instance's tags onto it; do the same right before the instance goes."""
    from moto.cloudformation.parsing import ResourceMap
    from moto.rds.models import DBInstance

    original = ResourceMap._delete_resource
    if getattr(original, "gifstack_patched", False):
        return

    @functools.wraps(original)
    def _delete_resource(self: Any, parsed_resource: Any, resource_json: dict[str, Any]) -> None:
        if resource_json.get("DeletionPolicy") == "Snapshot" and isinstance(
            parsed_resource, DBInstance
        ):
            alphabet = string.ascii_lowercase + string.digits
            suffix = "".join(secrets.choice(alphabet) for _ in range(13))
            logical_id = parsed_resource.logical_resource_id
            name = f"{self['AWS::StackName']}-{logical_id}-{suffix}".lower()
            parsed_resource.backend.create_db_snapshot(
                parsed_resource.db_instance_identifier, name, snapshot_type="manual"
            )
        original(self, parsed_resource, resource_json)

    _delete_resource.gifstack_patched = True  # type: ignore[attr-defined]
    ResourceMap._delete_resource = _delete_resource


def restore_a_db_instance_from_its_snapshot() -> None:
    """Gap: moto 5.2's AWS::RDS::DBInstance ignores DBSnapshotIdentifier and creates an empty
    instance. CloudFormation restores it from the snapshot (RestoreDBInstanceFromDBSnapshot:
    the snapshot's storage, encryption key and master user name; the template's other
    properties on top), and fails when the snapshot doesn't exist. moto's own restore does
    that; route this one creation through it."""
    from moto.rds.models import DBInstance, rds_backends

    patched = DBInstance.create_from_cloudformation_json.__func__
    if getattr(patched, "gifstack_restores", False):
        return

    def create_from_cloudformation_json(
        cls: Any, name: str, json: Any, account_id: str, region_name: str, **kw: Any
    ):
        snapshot = (json.get("Properties") or {}).get("DBSnapshotIdentifier")
        if not snapshot:
            return patched(cls, name, json, account_id, region_name, **kw)
        backend = rds_backends[account_id][region_name]

        def restore(db_kwargs: dict[str, Any]) -> Any:
            # moto's restore keeps the snapshot's value wherever an override is empty
            del backend.create_db_instance  # moto's restore then creates it the usual way
            given = {key: value for key, value in db_kwargs.items() if value is not None}
            return type(backend).restore_db_instance_from_db_snapshot(backend, snapshot, given)

        backend.create_db_instance = restore  # this one call; the class's method stays
        try:
            return patched(cls, name, json, account_id, region_name, **kw)
        finally:
            vars(backend).pop("create_db_instance", None)

    create_from_cloudformation_json.gifstack_restores = True  # type: ignore[attr-defined]
    DBInstance.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)


def store_a_key_policy_as_text() -> None:
    """Gap: moto 5.2 keeps an AWS::KMS::Key's KeyPolicy from CloudFormation as the template's
    mapping, and its DescribeKey then fails (HTTP 500) parsing the policy as JSON text, as
    KMS keeps it. `invoke restore` reads the snapshot's key (DescribeKey): store it as text."""
    import json

    from moto.kms.models import Key

    patched = Key.create_from_cloudformation_json.__func__
    if getattr(patched, "gifstack_policy_text", False):
        return

    def create_from_cloudformation_json(cls: Any, name: str, json_: Any, *args: Any, **kw: Any):
        properties = json_.get("Properties", {})
        if isinstance(properties.get("KeyPolicy"), dict):
            properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
        return patched(cls, name, json_, *args, **kw)

    create_from_cloudformation_json.gifstack_policy_text = True  # type: ignore[attr-defined]
    Key.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)
