"""infra/stacks/ci_blue_green.py: what the deploy role may do for a blue/green major upgrade,
evaluated with the repository's IAM evaluator (tests/infra/stacks/policy_eval.py) on the built
gif-ci template: the calls of infra/orchestration/blue_green.py are allowed on the project's
own resources, and nothing beyond (the serving instance is never deletable)."""

from __future__ import annotations

import pytest

from infra.stacks import ci
from tests.infra.stacks.helpers import body, settings
from tests.infra.stacks.policy_eval import ACCOUNT, REGION, decide_all
from tests.infra.stacks.test_ci import built, documents

RDS = f"arn:aws:rds:{REGION}:{ACCOUNT}"
OURS = {"aws:ResourceTag/project": "gif"}
TAGGED = {"aws:RequestTag/project": "gif"}
DEPLOYMENT = f"{RDS}:deployment:bgd-0123456789abcdef"


@pytest.fixture(scope="module")
def deploy() -> list[dict]:
    prod = settings("prod")
    ready = prod.model_copy(
        update={"database": prod.database.model_copy(update={"blue_green_ready": True})}
    )
    return documents(body(ci.build(ready)), "DeployRole")


def test_the_policy_is_only_there_where_blue_green_upgrades_can_run():
    # prod's params don't turn blue/green on (the managed master password rules it out)
    assert not settings("prod").database.blue_green_ready
    assert "DeployBlueGreenPolicy" not in str(built()["Resources"].keys())
    assert (
        decide_all(
            documents(built(), "DeployRole"),
            "rds:CreateBlueGreenDeployment",
            f"{RDS}:deployment:bgd-new",
            TAGGED,
        )
        != "Allow"
    )


@pytest.mark.parametrize(
    ("action", "resource", "context"),
    [
        ("rds:DescribeDBInstances", f"{RDS}:db:gif-prod", None),
        ("rds:DescribeDBParameters", f"{RDS}:pg:gif-prod-database-databaseparametergroup-x", None),
        ("rds:DescribeBlueGreenDeployments", DEPLOYMENT, None),
        ("rds:DescribeDBParameterGroups", f"{RDS}:pg:gif-prod-postgres18", None),
        ("rds:DescribeDBEngineVersions", "*", None),
        ("rds:CreateBlueGreenDeployment", f"{RDS}:deployment:bgd-new", TAGGED),
        ("rds:CreateBlueGreenDeployment", f"{RDS}:db:gif-prod", TAGGED),
        ("rds:CreateBlueGreenDeployment", f"{RDS}:pg:gif-prod-postgres18", TAGGED),
        ("rds:CreateDBInstanceReadReplica", f"{RDS}:db:gif-prod-green-abcdef", TAGGED),
        ("rds:CreateDBInstanceReadReplica", f"{RDS}:og:default:postgres-18", None),
        ("rds:AddTagsToResource", f"{RDS}:db:gif-prod-green-abcdef", TAGGED),
        ("rds:SwitchoverBlueGreenDeployment", DEPLOYMENT, OURS),
        ("rds:DeleteBlueGreenDeployment", DEPLOYMENT, OURS),
        ("rds:ModifyDBInstance", f"{RDS}:db:gif-prod-green-abcdef", OURS),
        ("rds:PromoteReadReplica", f"{RDS}:db:gif-prod-green-abcdef", OURS),
        ("rds:DeleteDBInstance", f"{RDS}:db:gif-prod-old1", OURS),
        ("rds:CreateDBSnapshot", f"{RDS}:db:gif-prod-old1", OURS),
        ("rds:CreateDBSnapshot", f"{RDS}:snapshot:gif-prod-old1-final-bgd-0123", None),
    ],
)
def test_the_deploy_role_may_run_a_blue_green_upgrade(deploy, action, resource, context):
    assert decide_all(deploy, action, resource, context) == "Allow"


def test_the_green_may_use_only_the_projects_keys_and_only_through_rds(deploy):
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0123abcd-4567-89ef-0123-456789abcdef"
    through_rds = {"kms:ViaService": f"rds.{REGION}.amazonaws.com"}
    assert decide_all(deploy, "kms:CreateGrant", key, OURS | through_rds) == "Allow"
    assert decide_all(deploy, "kms:CreateGrant", key, OURS) != "Allow"
    assert decide_all(deploy, "kms:CreateGrant", key, through_rds) != "Allow"


@pytest.mark.parametrize(
    ("action", "resource", "context"),
    [
        # the serving instance is never deletable, tagged or not, nor another project's
        ("rds:DeleteDBInstance", f"{RDS}:db:gif-prod", OURS),
        ("rds:DeleteDBInstance", f"{RDS}:db:gif-prod-green-abcdef", OURS),
        ("rds:DeleteDBInstance", f"{RDS}:db:other-prod-old1", OURS),
        ("rds:DeleteDBInstance", f"{RDS}:db:gif-prod-old1", None),
        # only the project's tagged deployments and instances
        ("rds:SwitchoverBlueGreenDeployment", DEPLOYMENT, None),
        ("rds:DeleteBlueGreenDeployment", DEPLOYMENT, {"aws:ResourceTag/project": "other"}),
        ("rds:CreateBlueGreenDeployment", f"{RDS}:deployment:bgd-new", None),
        ("rds:CreateBlueGreenDeployment", f"{RDS}:pg:other-postgres18", TAGGED),
        ("rds:ModifyDBInstance", f"{RDS}:db:other-prod", None),
        ("rds:CreateDBInstanceReadReplica", f"{RDS}:subgrp:other", TAGGED),
        ("rds:CreateDBSnapshot", f"{RDS}:snapshot:gif-prod-manual", None),
        # nothing else a blue/green doesn't call
        ("rds:RestoreDBInstanceFromDBSnapshot", f"{RDS}:db:gif-prod", OURS),
        ("rds:ModifyDBParameterGroup", f"{RDS}:pg:gif-prod-postgres18", OURS),
    ],
)
def test_nothing_beyond_the_projects_blue_green(deploy, action, resource, context):
    assert decide_all(deploy, action, resource, context) != "Allow"
