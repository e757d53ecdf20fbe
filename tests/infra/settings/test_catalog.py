"""infra/settings/catalog.py: what params accept matches what cfn-lint (AWS's data) accepts."""

from __future__ import annotations

import re

import pytest
from cfnlint.api import ManualArgs, lint

from infra.settings import catalog

DB_TEMPLATE = """
Resources:
  Database:
    Type: AWS::RDS::DBInstance
    DeletionPolicy: Snapshot
    UpdateReplacePolicy: Snapshot
    Properties:
      Engine: postgres
      EngineVersion: '{version}'
      DBInstanceClass: {instance_class}
      AllocatedStorage: '20'
      ManageMasterUserPassword: true
      MasterUsername: gifadmin
      StorageEncrypted: true
      BackupRetentionPeriod: 7
"""


def rds_findings(version: str, instance_class: str = "db.t4g.micro") -> list[str]:
    template = DB_TEMPLATE.format(version=version, instance_class=instance_class)
    config = ManualArgs(regions=["eu-west-1"], include_checks=["I"])
    return [f"{m.rule.id} {m.message}" for m in lint(template, config=config)]


def test_offered_versions_are_16_and_17_minors_oldest_to_newest():
    versions = catalog.postgres_versions()
    assert versions and all(re.fullmatch(r"1[67]\.\d+", v) for v in versions)
    keys = [tuple(map(int, v.split("."))) for v in versions]
    assert keys == sorted(keys)


def test_cfn_lint_accepts_the_oldest_and_newest_offered_version_and_flags_a_refused_one():
    versions = catalog.postgres_versions()
    assert rds_findings(versions[0]) == []
    assert rds_findings(versions[-1]) == []
    assert "16.6" not in versions  # deprecated in cfn-lint's data
    assert rds_findings("16.6"), "cfn-lint should flag a deprecated version"


def test_instance_classes_follow_cfn_lints_data():
    classes = catalog.postgres_instance_classes("eu-west-1", "17.6")
    assert {"db.t4g.micro", "db.m7g.large"} <= set(classes)
    assert "db.t4g.micr" not in classes
    assert rds_findings("17.6", "db.x9.mega"), "cfn-lint should flag an unknown class"
    # A region cfn-lint has no data for still checks against the version's classes.
    assert "db.t4g.micro" in catalog.postgres_instance_classes("xx-nowhere-1", "17.6")


@pytest.mark.parametrize("version", catalog.EKS_KUBERNETES_VERSIONS)
def test_eks_versions_fit_the_eks_schema_pattern(version):
    assert re.fullmatch(r"1\.\d\d", version)


def test_eks_support_follows_the_release_calendar():
    import datetime

    day = datetime.date(2026, 12, 4)
    assert catalog.eks_support("1.32", day) == "extended"  # standard ended 2026-03-23
    assert catalog.eks_support("1.34", day) == "extended"  # standard ended 2026-12-02
    assert catalog.eks_support("1.35", day) == "standard"
    assert catalog.eks_support("1.32", datetime.date(2027, 3, 23)) == "ended"
    assert "1.32" not in catalog.eks_standard_versions(day)
    assert catalog.eks_standard_versions(day) == ("1.35", "1.36")
    assert "1.32" in catalog.eks_versions(day)
