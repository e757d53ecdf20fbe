"""infra/orchestration/restore.py (and snapshots.py, pitr.py, restore_guard.py): against the
AWS emulator process over real HTTP (moto's server, with infra/local/stack_gaps.py's
workarounds: the final snapshot of DeletionPolicy Snapshot, DBSnapshotIdentifier honoured),
the real templates; botocore Stubber where moto can't make the state (a KMS key pending
deletion)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from infra.core.errors import BadInput, OperationFailed
from infra.orchestration import deploy, destroy, restore
from infra.settings import params
from infra.stacks import synth
from tests.support import emulator as support


@pytest.fixture
def console():
    return Console(file=io.StringIO(), width=200)


@pytest.fixture
def workspace(params_copy):
    """params/ and templates/ copies: restore writes both."""
    return params_copy


def _out(console: Console) -> str:
    return " ".join(console.file.getvalue().split())


def _rds(aws):
    return support.client(aws, "rds")


def test_restore_from_the_final_snapshot_destroy_left_recreates_the_database_stack(
    aws, console, workspace
):
    deploy.run("dev", only="network,database", yes=True, console=console)
    destroy.run("dev", yes=True, console=console)
    final = _rds(aws).describe_db_snapshots(DBInstanceIdentifier="gif-dev")["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"].startswith("gif-dev-database-database-") for s in final] == [
        True
    ]

    report = restore.run("dev", yes=True, only="network,database", console=console)

    snapshot = final[0]["DBSnapshotIdentifier"]
    assert report.source == snapshot
    assert f"restore_snapshot: '{snapshot}'" in (workspace / "dev.yaml").read_text()
    body = (synth.TEMPLATES_DIR / "dev" / "database.yaml").read_text()
    assert f"DBSnapshotIdentifier: {snapshot}" in body
    instance = _rds(aws).describe_db_instances(DBInstanceIdentifier="gif-dev")["DBInstances"][0]
    assert instance["KmsKeyId"] == final[0]["KmsKeyId"]  # the snapshot's (retained) key
    cfn = support.client(aws, "cloudformation")
    stack = cfn.describe_stacks(StackName="gif-dev-database")
    assert stack["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    deployed = cfn.get_template(StackName="gif-dev-database")["TemplateBody"]
    assert f"DBSnapshotIdentifier: {snapshot}" in deployed
    assert "final (left by destroy)" in _out(console)
    assert "note:" not in _out(console)  # the env's own (retained) database key


def _deploy_then_destroy(console):
    deploy.run("dev", only="network,database", yes=True, console=console)
    destroy.run("dev", yes=True, console=console)


def test_a_dry_run_lists_the_snapshots_shows_the_plan_and_changes_nothing(aws, console, workspace):
    _deploy_then_destroy(console)
    before = (workspace / "dev.yaml").read_text()

    assert restore.run("dev", dry_run=True, console=console) is None

    assert (workspace / "dev.yaml").read_text() == before
    assert not synth.TEMPLATES_DIR.exists()
    stacks = support.client(aws, "cloudformation").list_stacks()["StackSummaries"]
    assert {s["StackStatus"] for s in stacks if s["StackName"] != "gif-ci"} == {"DELETE_COMPLETE"}
    text = _out(console)
    assert "snapshots of gif-dev, newest first" in text
    assert "Plan (dry run) for restore --env dev" in text
    assert "safety: restores data as of" in text and "writes after that are not in it" in text


def test_without_yes_and_without_a_terminal_nothing_is_restored(aws, console, workspace):
    _deploy_then_destroy(console)

    with pytest.raises(BadInput, match="no terminal to confirm on"):
        restore.run("dev", only="network,database", console=console)

    assert "restore_snapshot" not in (workspace / "dev.yaml").read_text()


def test_no_snapshot_at_all_fails_with_one_clear_message(aws, console, workspace):
    with pytest.raises(OperationFailed, match="no snapshot of the database gif-dev"):
        restore.run("dev", yes=True, console=console)


def test_a_snapshot_that_does_not_exist_is_bad_input_naming_the_newest(aws, console, workspace):
    _deploy_then_destroy(console)
    (final,) = _rds(aws).describe_db_snapshots(DBInstanceIdentifier="gif-dev")["DBSnapshots"]

    with pytest.raises(BadInput) as caught:
        restore.run("dev", snapshot="gif-dev-typo", yes=True, console=console)

    assert caught.value.message == (
        "--snapshot gif-dev-typo: no such snapshot of gif-dev; pick one of the table above "
        f"(newest: {final['DBSnapshotIdentifier']})."
    )


def test_a_snapshot_key_scheduled_for_deletion_is_refused_with_the_fix(aws, console, workspace):
    _deploy_then_destroy(console)
    (final,) = _rds(aws).describe_db_snapshots(DBInstanceIdentifier="gif-dev")["DBSnapshots"]
    kms = support.client(aws, "kms")
    kms.schedule_key_deletion(KeyId=final["KmsKeyId"], PendingWindowInDays=30)
    key = kms.describe_key(KeyId=final["KmsKeyId"])["KeyMetadata"]["KeyId"]

    with pytest.raises(BadInput) as caught:
        restore.run("dev", yes=True, only="network,database", console=console)

    assert "scheduled for deletion" in caught.value.message
    assert f"`aws kms cancel-key-deletion --key-id {key}`" in caught.value.message
    assert f"`aws kms enable-key --key-id {key}`" in caught.value.message
    assert "restore_snapshot" not in (workspace / "dev.yaml").read_text()


def test_a_restored_database_keeps_its_snapshot_removing_it_is_refused(aws, console, workspace):
    _deploy_then_destroy(console)
    report = restore.run("dev", yes=True, only="network,database", console=console)
    cfn = support.client(aws, "cloudformation")
    template = cfn.get_template(StackName="gif-dev-database")["TemplateBody"]
    restored = (workspace / "dev.yaml").read_text()
    (workspace / "dev.yaml").write_text(
        restored.replace(f"\ndatabase:\n  restore_snapshot: '{report.source}'\n", "")
    )
    params.forget()

    with pytest.raises(BadInput) as caught:
        deploy.run("dev", only="network,database", yes=True, console=console)

    assert caught.value.message == (
        f"the database of gif-dev-database was restored from snapshot {report.source}, and "
        "params/dev.yaml now names none: CloudFormation would create a new instance (an EMPTY "
        "database) and delete the restored one. Put back `database.restore_snapshot: "
        f"{report.source}` in params/dev.yaml; it stays for the life of this instance."
    )
    assert cfn.get_template(StackName="gif-dev-database")["TemplateBody"] == template
    # kept as restore wrote it, a deploy changes nothing
    (workspace / "dev.yaml").write_text(restored)
    params.forget()
    again = deploy.run("dev", only="network,database", yes=True, console=console)
    assert {r.status for r in again.results} == {"unchanged"}


def test_a_live_database_never_gains_a_snapshot_in_its_template(aws, console, workspace):
    deploy.run("dev", only="network,database", yes=True, console=console)
    text = (workspace / "dev.yaml").read_text()
    (workspace / "dev.yaml").write_text(text + "database:\n  restore_snapshot: gif-dev-old\n")
    params.forget()

    with pytest.raises(BadInput, match="database is live and was not restored"):
        deploy.run("dev", only="network,database", yes=True, console=console)


def test_a_live_database_is_never_overwritten_by_a_snapshot(aws, console, workspace):
    deploy.run("dev", only="network,database", yes=True, console=console)
    before = [i["DbiResourceId"] for i in _rds(aws).describe_db_instances()["DBInstances"]]

    with pytest.raises(BadInput, match="replacing the live instance is not offered"):
        restore.run("dev", snapshot="gif-dev-database-database-any", yes=True, console=console)

    after = _rds(aws).describe_db_instances()["DBInstances"]
    assert [i["DbiResourceId"] for i in after] == before
    assert "restore_snapshot" not in (workspace / "dev.yaml").read_text()


def test_a_live_database_is_restored_to_a_point_in_time_into_a_new_instance(
    aws, console, workspace
):
    deploy.run("dev", only="network,database", yes=True, console=console)
    cfn = support.client(aws, "cloudformation")
    template = cfn.get_template(StackName="gif-dev-database")["TemplateBody"]
    (live,) = _rds(aws).describe_db_instances()["DBInstances"]

    report = restore.run("dev", yes=True, console=console)

    assert report.kind == "point-in-time" and report.source == "gif-dev"
    assert report.target == f"gif-dev-pitr-{report.as_of:%Y%m%d%H%M}"
    new = _rds(aws).describe_db_instances(DBInstanceIdentifier=report.target)["DBInstances"][0]
    assert new["DBSubnetGroup"]["DBSubnetGroupName"] == live["DBSubnetGroup"]["DBSubnetGroupName"]
    assert new["KmsKeyId"] == live["KmsKeyId"]
    tags = {tag["Key"]: tag["Value"] for tag in new["TagList"]}
    assert tags["environment"] == "dev" and tags["Name"] == report.target
    assert tags["restored-from"].startswith("gif-dev@")
    # the live one untouched, the stacks too
    again = _rds(aws).describe_db_instances(DBInstanceIdentifier="gif-dev")["DBInstances"][0]
    assert again["DbiResourceId"] == live["DbiResourceId"]
    assert again["DBInstanceStatus"] == "available"
    assert cfn.get_template(StackName="gif-dev-database")["TemplateBody"] == template
    assert "creates a new instance; the old one (gif-dev) untouched" in _out(console)
    assert f"aws rds delete-db-instance --db-instance-identifier {report.target}" in _out(console)


def test_a_point_in_time_outside_the_restorable_window_is_bad_input(aws, console, workspace):
    deploy.run("dev", only="network,database", yes=True, console=console)

    with pytest.raises(BadInput, match="outside gif-dev's restorable window"):
        restore.run("dev", point_in_time="2020-01-01T00:00:00Z", yes=True, console=console)

    assert [
        i["DBInstanceIdentifier"] for i in _rds(aws).describe_db_instances()["DBInstances"]
    ] == ["gif-dev"]


def test_a_point_in_time_for_a_destroyed_env_says_to_restore_a_snapshot(aws, console, workspace):
    with pytest.raises(BadInput, match="--point-in-time needs a live database"):
        restore.run("dev", point_in_time="2026-12-05T01:00:00Z", yes=True, console=console)


def test_prod_asks_for_its_full_name_typed(aws, console, workspace, monkeypatch):
    deploy.run("prod", only="network,database", yes=True, console=console)
    monkeypatch.setattr(restore.sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(Console, "input", lambda self, prompt: "yes")

    with pytest.raises(BadInput, match="not confirmed"):
        restore.run("prod", console=console)
    assert len(_rds(aws).describe_db_instances()["DBInstances"]) == 1

    monkeypatch.setattr(Console, "input", lambda self, prompt: "gif-prod")
    report = restore.run("prod", console=console)
    assert report.target.startswith("gif-prod-pitr-")


def test_a_bad_point_in_time_on_the_command_line_exits_2_with_one_line():
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "restore", "--env", "dev", "--point-in-time", "noon"],
        cwd=Path(__file__).resolve().parents[3],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 2
    assert done.stderr == (
        "error: --point-in-time 'noon' is not an ISO 8601 time; write it like "
        "2026-12-05T01:30:00Z (UTC) or 2026-12-05T02:30:00+01:00.\n"
    )
    assert "Traceback" not in done.stdout + done.stderr


def test_a_dry_run_on_a_live_database_plans_a_new_instance_and_creates_nothing(aws, console):
    deploy.run("dev", only="network,database", yes=True, console=console)

    assert restore.run("dev", dry_run=True, console=console) is None

    assert len(_rds(aws).describe_db_instances()["DBInstances"]) == 1
    text = _out(console)
    assert "Plan (dry run) for restore --env dev: step 1: create gif-dev-pitr-" in text
    assert "dry run: nothing was created." in text
