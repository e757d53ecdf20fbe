"""infra/orchestration/restore.py (and snapshots.py, pitr.py, restore_guard.py): against the
AWS emulator process over real HTTP (moto's server, with infra/local/stack_gaps.py's
workarounds: the final snapshot of DeletionPolicy Snapshot, DBSnapshotIdentifier honoured),
the real templates; botocore Stubber where moto can't make the state (a KMS key pending
deletion)."""

from __future__ import annotations

import io
import shutil

import pytest
from rich.console import Console

from infra.orchestration import deploy, destroy, restore
from infra.settings import params
from infra.stacks import synth
from tests.support import emulator as support


@pytest.fixture
def console():
    return Console(file=io.StringIO(), width=200)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """params/ and templates/ copies: restore writes both."""
    copy = tmp_path / "params"
    shutil.copytree(params.PARAMS_DIR, copy)
    monkeypatch.setattr(params, "PARAMS_DIR", copy)
    monkeypatch.setattr(synth, "TEMPLATES_DIR", tmp_path / "templates")
    params.load.cache_clear()
    yield copy
    params.load.cache_clear()


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
    assert "restore_snapshot: " + f'"{snapshot}"' in (workspace / "dev.yaml").read_text()
    body = (synth.TEMPLATES_DIR / "dev" / "database.yaml").read_text()
    assert f"DBSnapshotIdentifier: {snapshot}" in body
    instance = _rds(aws).describe_db_instances(DBInstanceIdentifier="gif-dev")["DBInstances"][0]
    assert instance["KmsKeyId"] == final[0]["KmsKeyId"]  # the snapshot's (retained) key
    stack = support.client(aws, "cloudformation").describe_stacks(StackName="gif-dev-database")
    assert stack["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert "final (left by destroy)" in _out(console)
