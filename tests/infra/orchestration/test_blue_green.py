"""infra/orchestration/blue_green.py with botocore's Stubber (every request and answer is
checked against botocore's rds model), on a fake clock: the states of a deployment
(PROVISIONING -> AVAILABLE -> SWITCHOVER_IN_PROGRESS -> SWITCHOVER_COMPLETED), its failures,
resuming, deleting the old instance. moto 5.2 emulates blue/green too: one test runs the whole
path against it over HTTP (test_against_moto)."""

from __future__ import annotations

import dataclasses

import boto3
import pytest
from botocore.stub import ANY, Stubber

from infra.core.errors import BadInput, OperationFailed
from infra.orchestration import blue_green
from infra.orchestration.blue_green import BlueGreenOutcome, deployment_name
from tests.infra.cfn.test_engine import FakeClock
from tests.support.moto_server import MotoServer

REGION, ACCOUNT = "eu-west-1", "123456789012"
INSTANCE = "gif-prod"
ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{INSTANCE}"
OLD_ARN = f"{ARN}-old1"
GREEN_ARN = f"{ARN}-green-abcdef"
IDENT = "bgd-0123456789abcdef"
TARGET = "18.1"
NAME = deployment_name(INSTANCE, TARGET)
GROUP = "gif-prod-database-databaseparametergroup-abc"


@pytest.fixture
def rds():
    client = boto3.client(
        "rds", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


def deployment(status: str, *, tasks: dict | None = None, details: str = "", **changes) -> dict:
    switched = status == "SWITCHOVER_COMPLETED"
    answer = {
        "BlueGreenDeploymentIdentifier": IDENT,
        "BlueGreenDeploymentName": NAME,
        "Source": OLD_ARN if switched else ARN,
        "Target": ARN if switched else GREEN_ARN,
        "Status": status,
        "Tasks": [{"Name": name, "Status": value} for name, value in (tasks or {}).items()],
    }
    if details:
        answer["StatusDetails"] = details
    return answer | changes


def listed(*deployments: dict) -> dict:
    return {"BlueGreenDeployments": list(deployments)}


def instance(**changes) -> dict:
    base = {
        "DBInstanceIdentifier": INSTANCE,
        "DBInstanceArn": ARN,
        "Engine": "postgres",
        "EngineVersion": "17.6",
        "DBInstanceStatus": "available",
        "DBParameterGroups": [{"DBParameterGroupName": GROUP, "ParameterApplyStatus": "in-sync"}],
        "DeletionProtection": True,
    }
    return {"DBInstances": [base | changes]}


def by_name(rds, *found: dict) -> None:
    rds.stubber.add_response(
        "describe_blue_green_deployments",
        listed(*found),
        {"Filters": [{"Name": "blue-green-deployment-name", "Values": [NAME]}]},
    )


def by_id(rds, answer: dict) -> None:
    rds.stubber.add_response(
        "describe_blue_green_deployments", listed(answer), {"BlueGreenDeploymentIdentifier": IDENT}
    )


def ready(rds, *, upgrade_targets=("18.1",), logical="1", **instance_changes) -> None:
    """The answers of a source that passes check_ready (a test changes one of them)."""
    rds.stubber.add_response(
        "describe_db_instances", instance(**instance_changes), {"DBInstanceIdentifier": INSTANCE}
    )
    targets = [
        {"Engine": "postgres", "EngineVersion": v, "IsMajorVersionUpgrade": True}
        for v in upgrade_targets
    ] + [{"Engine": "postgres", "EngineVersion": "17.7", "IsMajorVersionUpgrade": False}]
    if "EngineVersion" in instance_changes and instance_changes["EngineVersion"] != "17.6":
        return
    rds.stubber.add_response(
        "describe_db_engine_versions",
        {"DBEngineVersions": [{"Engine": "postgres", "ValidUpgradeTarget": targets}]},
        {"Engine": "postgres", "EngineVersion": "17.6"},
    )
    parameters = [{"ParameterName": "rds.force_ssl", "ParameterValue": "1"}]
    if logical is not None:
        parameters.append({"ParameterName": "rds.logical_replication", "ParameterValue": logical})
    rds.stubber.add_response(
        "describe_db_parameters",
        {"Parameters": parameters},
        {"DBParameterGroupName": GROUP, "Source": "user"},
    )


def expect_create(rds, parameter_group: str | None = "gif-prod-pg18") -> None:
    by_name(rds)
    rds.stubber.add_response(
        "describe_db_instances", instance(), {"DBInstanceIdentifier": INSTANCE}
    )
    rds.stubber.add_response(
        "describe_blue_green_deployments",
        listed(),
        {"Filters": [{"Name": "source", "Values": [ARN]}]},
    )
    # check_ready's reads, the instance already known
    rds.stubber.add_response(
        "describe_db_engine_versions",
        {
            "DBEngineVersions": [
                {
                    "Engine": "postgres",
                    "ValidUpgradeTarget": [
                        {
                            "Engine": "postgres",
                            "EngineVersion": TARGET,
                            "IsMajorVersionUpgrade": True,
                        }
                    ],
                }
            ]
        },
        {"Engine": "postgres", "EngineVersion": "17.6"},
    )
    rds.stubber.add_response(
        "describe_db_parameters",
        {"Parameters": [{"ParameterName": "rds.logical_replication", "ParameterValue": "1"}]},
        {"DBParameterGroupName": GROUP, "Source": "user"},
    )
    if parameter_group:
        expect_target_group(rds, parameter_group)
    request = {
        "BlueGreenDeploymentName": NAME,
        "Source": ARN,
        "TargetEngineVersion": TARGET,
        "Tags": [{"Key": "project", "Value": "gif"}],
    }
    if parameter_group:
        request["TargetDBParameterGroupName"] = parameter_group
    rds.stubber.add_response(
        "create_blue_green_deployment",
        {"BlueGreenDeployment": deployment("PROVISIONING")},
        request,
    )


def expect_target_group(rds, name: str = "gif-prod-pg18", family: str = "postgres18") -> None:
    rds.stubber.add_response(
        "describe_db_parameter_groups",
        {"DBParameterGroups": [{"DBParameterGroupName": name, "DBParameterGroupFamily": family}]},
        {"DBParameterGroupName": name},
    )


def expect_switchover(rds) -> None:
    rds.stubber.add_response(
        "switchover_blue_green_deployment",
        {"BlueGreenDeployment": deployment("SWITCHOVER_IN_PROGRESS")},
        {"BlueGreenDeploymentIdentifier": IDENT, "SwitchoverTimeout": 300},
    )


def run(rds, clock: FakeClock | None = None, said: list[str] | None = None, **kwargs):
    lines = said if said is not None else []
    return blue_green.upgrade_major(
        rds,
        instance_id=INSTANCE,
        target_version=TARGET,
        target_parameter_group=kwargs.pop("target_parameter_group", "gif-prod-pg18"),
        say=lines.append,
        clock=(clock or FakeClock()).clock(),
        tags={"project": "gif"},
        **kwargs,
    )


# --- the whole path --------------------------------------------------------------------------


def test_upgrade_goes_through_every_state_and_keeps_the_blue(rds):
    expect_create(rds)
    by_id(rds, deployment("PROVISIONING", tasks={"CREATING_READ_REPLICA_OF_SOURCE": "IN_PROGRESS"}))
    tasks = {
        "CREATING_READ_REPLICA_OF_SOURCE": "COMPLETED",
        "DB_ENGINE_VERSION_UPGRADE": "IN_PROGRESS",
    }
    by_id(rds, deployment("PROVISIONING", tasks=tasks))
    by_id(rds, deployment("AVAILABLE"))
    expect_switchover(rds)
    by_id(rds, deployment("SWITCHOVER_IN_PROGRESS"))
    by_id(rds, deployment("SWITCHOVER_COMPLETED", details="Switchover completed"))
    clock, said = FakeClock(), []

    outcome = run(rds, clock, said)

    assert outcome == BlueGreenOutcome(IDENT, "SWITCHOVER_COMPLETED", f"{INSTANCE}-old1")
    assert f"{IDENT}: PROVISIONING" in said
    assert f"{IDENT} task CREATING_READ_REPLICA_OF_SOURCE: IN_PROGRESS" in said
    assert f"{IDENT} task CREATING_READ_REPLICA_OF_SOURCE: COMPLETED" in said
    assert f"{IDENT} task DB_ENGINE_VERSION_UPGRADE: IN_PROGRESS" in said
    assert said.count(f"{IDENT}: AVAILABLE") == 1  # each change said once
    assert f"{IDENT}: SWITCHOVER_COMPLETED" in said
    assert said[-1].endswith(f"the old instance {INSTANCE}-old1 is kept")
    assert clock.slept == [30.0, 30.0, 30.0]  # polled, never slept after an end state
    assert not any("password" in line.lower() for line in said)


def test_without_a_target_group_rds_default_is_said(rds):
    expect_create(rds, parameter_group=None)
    by_id(rds, deployment("AVAILABLE"))
    expect_switchover(rds)
    by_id(rds, deployment("SWITCHOVER_COMPLETED"))
    said: list[str] = []

    run(rds, said=said, target_parameter_group=None)

    assert any("default group" in line for line in said)


@pytest.mark.parametrize(
    ("status", "details"),
    [
        ("INVALID_CONFIGURATION", "incompatible parameter(s): max_logical_replication_workers"),
        # Not in the model's list: a status RDS may add is a stop, not an endless wait.
        ("PROVISIONING_FAILED", "Creation of blue/green deployment failed"),
    ],
)
def test_a_failed_provisioning_stops_with_the_deployment_status_and_details(rds, status, details):
    expect_create(rds)
    by_id(rds, deployment("PROVISIONING"))
    by_id(rds, deployment(status, details=details))

    with pytest.raises(OperationFailed) as caught:
        run(rds)

    message = caught.value.message
    assert f"{NAME} ({IDENT}) is {status}: {details}" in message
    assert f"blue instance {INSTANCE} is untouched and still serving" in message
    assert "--delete-target" in message and f"--source-identifier {IDENT}" in message


def test_a_failed_switchover_stops_and_says_the_blue_still_serves(rds):
    expect_create(rds)
    by_id(rds, deployment("AVAILABLE"))
    expect_switchover(rds)
    by_id(rds, deployment("SWITCHOVER_IN_PROGRESS"))
    by_id(rds, deployment("SWITCHOVER_FAILED", details="Switchover timed out; rolled back"))

    with pytest.raises(OperationFailed) as caught:
        run(rds)

    assert "is SWITCHOVER_FAILED: Switchover timed out; rolled back" in caught.value.message
    assert f"blue instance {INSTANCE} is untouched" in caught.value.message


def test_a_failure_without_details_says_so(rds):
    expect_create(rds)
    by_id(rds, deployment("INVALID_CONFIGURATION"))

    with pytest.raises(OperationFailed, match="is INVALID_CONFIGURATION: RDS gave no details"):
        run(rds)


def test_a_provisioning_that_never_ends_times_out_with_a_message(rds):
    expect_create(rds)
    for _ in range(4):
        by_id(rds, deployment("PROVISIONING"))
    clock = FakeClock()

    with pytest.raises(OperationFailed) as caught:
        run(rds, clock, provision_timeout_s=90)

    assert "timed out after 1.5 min" in caught.value.message
    assert f"{IDENT} to reach AVAILABLE (still PROVISIONING)" in caught.value.message
    assert "run the upgrade again" in caught.value.message
    assert clock.slept == [30.0, 30.0, 30.0]


def test_a_switchover_that_never_ends_times_out(rds):
    expect_create(rds)
    by_id(rds, deployment("AVAILABLE"))
    expect_switchover(rds)
    for _ in range(31):  # t = 0, 30, ..., 900 s
        by_id(rds, deployment("SWITCHOVER_IN_PROGRESS"))

    with pytest.raises(OperationFailed, match=r"timed out after 15 min .* SWITCHOVER_COMPLETED"):
        run(rds)


def expect_green(rds, resource_id: str = "db-GREEN0123456789ABCDEFGHIJ") -> None:
    green = instance(DBInstanceIdentifier=f"{INSTANCE}-green-abcdef", DbiResourceId=resource_id)
    rds.stubber.add_response(
        "describe_db_instances", green, {"DBInstanceIdentifier": f"{INSTANCE}-green-abcdef"}
    )


def test_before_switchover_gets_the_green_and_its_resource_id(rds):
    expect_create(rds)
    by_id(rds, deployment("AVAILABLE"))
    expect_green(rds)
    expect_switchover(rds)
    by_id(rds, deployment("SWITCHOVER_COMPLETED"))
    seen: list[blue_green.GreenInstance] = []

    run(rds, before_switchover=seen.append)

    assert seen == [
        blue_green.GreenInstance(f"{INSTANCE}-green-abcdef", "db-GREEN0123456789ABCDEFGHIJ")
    ]


def test_a_failing_before_switchover_switches_nothing(rds):
    expect_create(rds)
    by_id(rds, deployment("AVAILABLE"))
    expect_green(rds)

    def refuse(green):
        raise OperationFailed("the workload deploy failed")

    with pytest.raises(OperationFailed, match="the workload deploy failed"):
        run(rds, before_switchover=refuse)  # the Stubber refuses any switchover call


def test_a_missing_green_switches_nothing(rds):
    expect_create(rds)
    by_id(rds, deployment("AVAILABLE"))
    rds.stubber.add_client_error(
        "describe_db_instances", service_error_code="DBInstanceNotFound", http_status_code=404
    )

    with pytest.raises(OperationFailed, match=f"green instance {INSTANCE}-green-abcdef of"):
        run(rds, before_switchover=lambda green: None)


def test_a_resumed_switchover_does_not_call_before_switchover_again(rds):
    by_name(rds, deployment("SWITCHOVER_IN_PROGRESS"))
    by_id(rds, deployment("SWITCHOVER_COMPLETED"))
    seen: list = []

    run(rds, before_switchover=seen.append)

    assert seen == []


# --- resuming --------------------------------------------------------------------------------


def test_an_existing_deployment_is_resumed_not_created_again(rds):
    by_name(rds, deployment("PROVISIONING"))
    by_id(rds, deployment("AVAILABLE"))
    expect_switchover(rds)
    by_id(rds, deployment("SWITCHOVER_COMPLETED"))
    said: list[str] = []

    outcome = run(rds, said=said)  # the Stubber refuses any create_blue_green_deployment

    assert outcome.status == "SWITCHOVER_COMPLETED"
    assert said[0] == f"resuming blue/green deployment {NAME} (PROVISIONING)"


def test_a_switchover_in_progress_is_waited_for_not_started_again(rds):
    by_name(rds, deployment("SWITCHOVER_IN_PROGRESS"))
    by_id(rds, deployment("SWITCHOVER_COMPLETED"))

    assert run(rds).blue_instance_id == f"{INSTANCE}-old1"


def test_a_completed_switchover_is_returned_as_it_is(rds):
    by_name(rds, deployment("SWITCHOVER_COMPLETED"))
    by_id(rds, deployment("SWITCHOVER_COMPLETED"))

    assert run(rds) == BlueGreenOutcome(IDENT, "SWITCHOVER_COMPLETED", f"{INSTANCE}-old1")


def test_another_deployment_of_the_instance_refuses(rds):
    by_name(rds)
    rds.stubber.add_response(
        "describe_db_instances", instance(), {"DBInstanceIdentifier": INSTANCE}
    )
    rds.stubber.add_response(
        "describe_blue_green_deployments",
        listed(deployment("AVAILABLE", BlueGreenDeploymentName="someone-else")),
        {"Filters": [{"Name": "source", "Values": [ARN]}]},
    )

    with pytest.raises(BadInput, match=f"already has blue/green deployment someone-else .{IDENT}"):
        run(rds)


def test_a_source_that_is_not_ready_is_refused_before_anything_is_created(rds):
    by_name(rds)
    rds.stubber.add_response(
        "describe_db_instances",
        instance(MasterUserSecret={"SecretArn": "arn:aws:secretsmanager:x"}),
        {"DBInstanceIdentifier": INSTANCE},
    )
    rds.stubber.add_response(
        "describe_blue_green_deployments",
        listed(),
        {"Filters": [{"Name": "source", "Values": [ARN]}]},
    )
    rds.stubber.add_response(
        "describe_db_engine_versions",
        {"DBEngineVersions": [{"ValidUpgradeTarget": [{"EngineVersion": TARGET,
                                                       "IsMajorVersionUpgrade": True}]}]},
        {"Engine": "postgres", "EngineVersion": "17.6"},
    )  # fmt: skip
    rds.stubber.add_response(
        "describe_db_parameters",
        {"Parameters": [{"ParameterName": "rds.logical_replication", "ParameterValue": "1"}]},
        {"DBParameterGroupName": GROUP, "Source": "user"},
    )

    expect_target_group(rds)

    with pytest.raises(BadInput) as caught:
        run(rds)

    assert caught.value.message.startswith(f"{INSTANCE} is not ready for a blue/green upgrade")
    assert "Secrets Manager" in caught.value.message
    assert "arn:aws:secretsmanager" not in caught.value.message


def test_a_missing_instance_is_refused(rds):
    by_name(rds)
    rds.stubber.add_client_error(
        "describe_db_instances", service_error_code="DBInstanceNotFound", http_status_code=404
    )

    with pytest.raises(BadInput, match=f"DB instance {INSTANCE} does not exist"):
        run(rds)


# --- delete_blue -----------------------------------------------------------------------------


def expect_delete_of_old(rds, *, protected: bool = True, status: str = "available") -> None:
    old = f"{INSTANCE}-old1"
    rds.stubber.add_response(
        "describe_db_instances",
        instance(DBInstanceIdentifier=old, DBInstanceArn=OLD_ARN, DeletionProtection=protected,
                 DBInstanceStatus=status),
        {"DBInstanceIdentifier": old},
    )  # fmt: skip


def test_delete_blue_deletes_only_the_old_instance_with_a_final_snapshot(rds):
    old = f"{INSTANCE}-old1"
    by_id(rds, deployment("SWITCHOVER_COMPLETED"))
    expect_delete_of_old(rds)
    rds.stubber.add_response(
        "modify_db_instance",
        {},
        {"DBInstanceIdentifier": old, "DeletionProtection": False, "ApplyImmediately": True},
    )
    rds.stubber.add_response(
        "delete_db_instance",
        {},
        {
            "DBInstanceIdentifier": old,
            "SkipFinalSnapshot": False,
            "FinalDBSnapshotIdentifier": f"{old}-final-{IDENT}",
            "DeleteAutomatedBackups": False,
        },
    )
    rds.stubber.add_response(
        "delete_blue_green_deployment",
        {"BlueGreenDeployment": deployment("SWITCHOVER_COMPLETED")},
        {"BlueGreenDeploymentIdentifier": IDENT},
    )
    said: list[str] = []

    snapshot = blue_green.delete_blue(rds, identifier=IDENT, say=said.append)

    assert snapshot == f"{old}-final-{IDENT}"
    assert f"deleting the old instance {old} (final snapshot {snapshot}); {INSTANCE} stays" in said


def test_delete_blue_skips_what_is_already_done(rds):
    by_id(rds, deployment("SWITCHOVER_COMPLETED"))
    expect_delete_of_old(rds, status="deleting")
    rds.stubber.add_response(
        "delete_blue_green_deployment",
        {"BlueGreenDeployment": deployment("SWITCHOVER_COMPLETED")},
        {"BlueGreenDeploymentIdentifier": IDENT},
    )

    blue_green.delete_blue(rds, identifier=IDENT, say=lambda line: None)


def test_delete_blue_of_an_unprotected_instance_that_is_gone(rds):
    by_id(rds, deployment("SWITCHOVER_COMPLETED"))
    rds.stubber.add_client_error(
        "describe_db_instances", service_error_code="DBInstanceNotFound", http_status_code=404
    )
    rds.stubber.add_response(
        "delete_blue_green_deployment",
        {"BlueGreenDeployment": deployment("SWITCHOVER_COMPLETED")},
        {"BlueGreenDeploymentIdentifier": IDENT},
    )
    said: list[str] = []

    blue_green.delete_blue(rds, identifier=IDENT, say=said.append)

    assert f"{INSTANCE}-old1 is already gone" in said


def test_delete_blue_without_deletion_protection_deletes_directly(rds):
    old = f"{INSTANCE}-old1"
    by_id(rds, deployment("SWITCHOVER_COMPLETED"))
    expect_delete_of_old(rds, protected=False)
    rds.stubber.add_response("delete_db_instance", {}, {"DBInstanceIdentifier": old,
                             "SkipFinalSnapshot": False, "FinalDBSnapshotIdentifier": ANY,
                             "DeleteAutomatedBackups": False})  # fmt: skip
    rds.stubber.add_response(
        "delete_blue_green_deployment",
        {"BlueGreenDeployment": deployment("SWITCHOVER_COMPLETED")},
        {"BlueGreenDeploymentIdentifier": IDENT},
    )

    blue_green.delete_blue(rds, identifier=IDENT, say=lambda line: None)


@pytest.mark.parametrize("status", ["AVAILABLE", "SWITCHOVER_IN_PROGRESS", "SWITCHOVER_FAILED"])
def test_delete_blue_refuses_before_the_switchover_completed(rds, status):
    by_id(rds, deployment(status))

    with pytest.raises(BadInput) as caught:
        blue_green.delete_blue(rds, identifier=IDENT, say=lambda line: None)

    assert f"{IDENT} is {status}, not SWITCHOVER_COMPLETED" in caught.value.message
    assert "still the one serving and is not deleted" in caught.value.message


def test_delete_blue_refuses_when_old_and_current_are_the_same(rds):
    by_id(rds, deployment("SWITCHOVER_COMPLETED", Source=ARN, Target=ARN))

    with pytest.raises(OperationFailed, match=f"names {INSTANCE} as both old and current"):
        blue_green.delete_blue(rds, identifier=IDENT, say=lambda line: None)


# --- check_ready -----------------------------------------------------------------------------


def test_a_ready_source_has_no_problems(rds):
    ready(rds)

    assert blue_green.check_ready(rds, INSTANCE, TARGET) == []


def test_a_missing_instance_is_one_problem(rds):
    rds.stubber.add_client_error(
        "describe_db_instances", service_error_code="DBInstanceNotFound", http_status_code=404
    )

    assert blue_green.check_ready(rds, INSTANCE, TARGET) == [
        f"DB instance {INSTANCE} does not exist: deploy the database stack first."
    ]


def test_other_errors_reading_the_instance_are_failures(rds):
    rds.stubber.add_client_error(
        "describe_db_instances", service_error_code="AccessDenied", http_status_code=403
    )

    with pytest.raises(OperationFailed, match=f"reading DB instance {INSTANCE}"):
        blue_green.check_ready(rds, INSTANCE, TARGET)


def test_a_managed_master_password_is_a_problem(rds):
    ready(rds, MasterUserSecret={"SecretArn": "arn:aws:secretsmanager:eu-west-1:1:secret:rds!x"})

    [problem] = blue_green.check_ready(rds, INSTANCE, TARGET)

    assert "managed by RDS in Secrets Manager, which blue/green deployments don't" in problem
    assert "upgrade in place instead" in problem
    assert "rds!x" not in problem


def test_an_instance_that_is_busy_is_a_problem(rds):
    ready(rds, DBInstanceStatus="modifying")

    [problem] = blue_green.check_ready(rds, INSTANCE, TARGET)

    assert problem.startswith(f"{INSTANCE} is modifying, not available: wait for it")


@pytest.mark.parametrize("target", ["17.7", "17.6", "16.4"])
def test_a_target_that_is_not_a_newer_major_is_a_problem(rds, target):
    rds.stubber.add_response(
        "describe_db_instances", instance(), {"DBInstanceIdentifier": INSTANCE}
    )
    rds.stubber.add_response(
        "describe_db_parameters",
        {"Parameters": [{"ParameterName": "rds.logical_replication", "ParameterValue": "1"}]},
        {"DBParameterGroupName": GROUP, "Source": "user"},
    )

    [problem] = blue_green.check_ready(rds, INSTANCE, target)

    assert problem.startswith(f"{target} is not a newer major than {INSTANCE}'s 17.6")


# User Guide, "PostgreSQL replication methods for blue/green deployments": the lowest source of
# each major from which a major upgrade through blue/green is supported (16.1 and later majors).
LOWEST_SOURCES = ["11.21", "12.16", "13.12", "14.9", "15.4", "16.1", "17.0"]


def expect_parameters(rds) -> None:
    rds.stubber.add_response(
        "describe_db_parameters",
        {"Parameters": [{"ParameterName": "rds.logical_replication", "ParameterValue": "1"}]},
        {"DBParameterGroupName": GROUP, "Source": "user"},
    )


@pytest.mark.parametrize("lowest", LOWEST_SOURCES[:-1])
def test_a_source_minor_below_the_documented_one_is_a_problem(rds, lowest):
    major, minor = lowest.split(".")
    source = f"{major}.{int(minor) - 1}"
    rds.stubber.add_response(
        "describe_db_instances", instance(EngineVersion=source), {"DBInstanceIdentifier": INSTANCE}
    )
    expect_parameters(rds)

    [problem] = blue_green.check_ready(rds, INSTANCE, TARGET)

    assert f"through blue/green only from {lowest}" in problem
    assert f"in place to the newest {major}.x first" in problem


@pytest.mark.parametrize("lowest", LOWEST_SOURCES)
def test_the_lowest_documented_source_minor_passes(rds, lowest):
    rds.stubber.add_response(
        "describe_db_instances", instance(EngineVersion=lowest), {"DBInstanceIdentifier": INSTANCE}
    )
    rds.stubber.add_response(
        "describe_db_engine_versions",
        {"DBEngineVersions": [{"ValidUpgradeTarget": [{"EngineVersion": TARGET,
                                                       "IsMajorVersionUpgrade": True}]}]},
        {"Engine": "postgres", "EngineVersion": lowest},
    )  # fmt: skip
    expect_parameters(rds)

    assert blue_green.check_ready(rds, INSTANCE, TARGET) == []


def test_a_target_rds_does_not_offer_is_a_problem(rds):
    ready(rds, upgrade_targets=("18.0", "18.2"))

    [problem] = blue_green.check_ready(rds, INSTANCE, TARGET)

    assert f"no major upgrade from 17.6 to {TARGET}" in problem
    assert "pick one of 18.0, 18.2" in problem  # 17.7 is a minor target: not offered


@pytest.mark.parametrize("logical", ["0", None])
def test_logical_replication_off_is_a_problem_with_its_fix(rds, logical):
    ready(rds, logical=logical)

    [problem] = blue_green.check_ready(rds, INSTANCE, TARGET)

    assert f"rds.logical_replication is not 1 in {GROUP}" in problem
    assert "database.blue_green_ready: true" in problem and f"reboot {INSTANCE}" in problem


def test_a_pending_reboot_is_a_problem(rds):
    ready(rds, DBParameterGroups=[{"DBParameterGroupName": GROUP,
                                   "ParameterApplyStatus": "pending-reboot"}])  # fmt: skip

    [problem] = blue_green.check_ready(rds, INSTANCE, TARGET)

    assert "are pending-reboot" in problem and "reboot-db-instance" in problem


def test_a_default_parameter_group_is_a_problem(rds):
    group = [{"DBParameterGroupName": "default.postgres17", "ParameterApplyStatus": "in-sync"}]
    rds.stubber.add_response(
        "describe_db_instances",
        instance(DBParameterGroups=group),
        {"DBInstanceIdentifier": INSTANCE},
    )
    rds.stubber.add_response(
        "describe_db_engine_versions",
        {"DBEngineVersions": [{"ValidUpgradeTarget": [{"EngineVersion": TARGET,
                                                       "IsMajorVersionUpgrade": True}]}]},
        {"Engine": "postgres", "EngineVersion": "17.6"},
    )  # fmt: skip

    [problem] = blue_green.check_ready(rds, INSTANCE, TARGET)

    assert "uses the default parameter group default.postgres17" in problem


# --- names -----------------------------------------------------------------------------------


def test_the_deployment_name_fits_the_model_pattern():
    import re

    name = deployment_name("gif-prod", "18.1")
    assert name == "gif-prod-to-pg18-1"
    assert re.fullmatch(r"[a-zA-Z](?:-?[a-zA-Z0-9]+)*", name)  # botocore: BlueGreenDeploymentName
    long = deployment_name("a" * 55, "18.1")
    assert len(long) <= 60 and not long.endswith("-")


# --- moto ------------------------------------------------------------------------------------


def test_against_moto(moto: MotoServer):
    """moto 5.2 emulates the deployment (AVAILABLE at once; it has no DescribeDBEngineVersions,
    so the deployment is made here, as an interrupted run would have left it), the switchover's
    renames, and the deletes: resume, switch over, delete the old instance."""
    rds = moto.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier=INSTANCE,
        Engine="postgres",
        EngineVersion="17.6",
        DBInstanceClass="db.t4g.micro",
        MasterUsername="gifadmin",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=20,
    )
    arn = rds.describe_db_instances(DBInstanceIdentifier=INSTANCE)["DBInstances"][0]
    rds.create_blue_green_deployment(
        BlueGreenDeploymentName=NAME, Source=arn["DBInstanceArn"], TargetEngineVersion=TARGET
    )
    said: list[str] = []

    outcome = run(rds, said=said, target_parameter_group=None)
    snapshot = blue_green.delete_blue(rds, identifier=outcome.identifier, say=said.append)

    assert outcome.status == "SWITCHOVER_COMPLETED"
    assert outcome.blue_instance_id == f"{INSTANCE}-old1"
    [current] = rds.describe_db_instances()["DBInstances"]
    assert (current["DBInstanceIdentifier"], current["EngineVersion"]) == (INSTANCE, TARGET)
    [kept] = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot)["DBSnapshots"]
    assert kept["DBInstanceIdentifier"] == f"{INSTANCE}-old1"
    assert rds.describe_blue_green_deployments()["BlueGreenDeployments"] == []


def test_an_outcome_cannot_be_changed_after_the_fact():
    outcome = BlueGreenOutcome(IDENT, "SWITCHOVER_COMPLETED", f"{INSTANCE}-old1")

    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.blue_instance_id = INSTANCE  # type: ignore[misc]
    green = blue_green.GreenInstance(f"{INSTANCE}-green-abcdef", "db-X")
    with pytest.raises(dataclasses.FrozenInstanceError):
        green.resource_id = "db-Y"  # type: ignore[misc]


def test_a_deployment_being_deleted_is_waited_out_not_resumed(rds):
    by_name(rds, deployment("DELETING"))
    by_id(rds, deployment("DELETING"))

    with pytest.raises(OperationFailed) as caught:
        run(rds)

    assert f"({IDENT}) is being deleted" in caught.value.message
    assert "Wait until it is gone, then run the upgrade again" in caught.value.message
    assert "--delete-target" not in caught.value.message


def test_the_greens_parameter_group_of_the_target_family_passes(rds):
    ready(rds)
    expect_target_group(rds)

    assert blue_green.check_ready(rds, INSTANCE, TARGET, "gif-prod-pg18") == []


def test_the_greens_parameter_group_of_another_family_is_a_problem(rds):
    ready(rds)
    expect_target_group(rds, family="postgres17")

    [problem] = blue_green.check_ready(rds, INSTANCE, TARGET, "gif-prod-pg18")

    assert problem == (
        "the green's parameter group gif-prod-pg18 is of family postgres17, not postgres18: "
        f"set database.upgrade_target_version: {TARGET} in params/<env>.yaml and deploy."
    )


def test_a_missing_green_parameter_group_is_a_problem(rds):
    ready(rds)
    rds.stubber.add_client_error(
        "describe_db_parameter_groups",
        service_error_code="DBParameterGroupNotFound",
        http_status_code=404,
    )

    [problem] = blue_green.check_ready(rds, INSTANCE, TARGET, "gif-prod-pg18")

    assert problem.startswith("the green's parameter group gif-prod-pg18 does not exist")


def test_other_errors_reading_the_green_parameter_group_are_failures(rds):
    ready(rds)
    rds.stubber.add_client_error(
        "describe_db_parameter_groups", service_error_code="AccessDenied", http_status_code=403
    )

    with pytest.raises(OperationFailed, match="reading parameter group gif-prod-pg18"):
        blue_green.check_ready(rds, INSTANCE, TARGET, "gif-prod-pg18")


def test_without_tags_the_deployment_carries_the_instances_own_but_not_awss(rds):
    by_name(rds)
    own = [
        {"Key": "project", "Value": "gif"},
        {"Key": "env", "Value": "prod"},
        {"Key": "aws:cloudformation:stack-name", "Value": "gif-prod-database"},
    ]
    rds.stubber.add_response(
        "describe_db_instances", instance(TagList=own), {"DBInstanceIdentifier": INSTANCE}
    )
    rds.stubber.add_response(
        "describe_blue_green_deployments",
        listed(),
        {"Filters": [{"Name": "source", "Values": [ARN]}]},
    )
    rds.stubber.add_response(
        "describe_db_engine_versions",
        {"DBEngineVersions": [{"ValidUpgradeTarget": [{"EngineVersion": TARGET,
                                                       "IsMajorVersionUpgrade": True}]}]},
        {"Engine": "postgres", "EngineVersion": "17.6"},
    )  # fmt: skip
    expect_parameters(rds)
    rds.stubber.add_response(
        "create_blue_green_deployment",
        {"BlueGreenDeployment": deployment("PROVISIONING")},
        {
            "BlueGreenDeploymentName": NAME,
            "Source": ARN,
            "TargetEngineVersion": TARGET,
            "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "project", "Value": "gif"}],
        },
    )
    by_id(rds, deployment("AVAILABLE"))
    expect_switchover(rds)
    by_id(rds, deployment("SWITCHOVER_COMPLETED"))

    blue_green.upgrade_major(
        rds,
        instance_id=INSTANCE,
        target_version=TARGET,
        target_parameter_group=None,
        say=lambda line: None,
        clock=FakeClock().clock(),
    )


@pytest.mark.parametrize("meanwhile", ["SWITCHOVER_IN_PROGRESS", "SWITCHOVER_COMPLETED"])
def test_a_switchover_started_elsewhere_meanwhile_is_waited_for_not_started_again(rds, meanwhile):
    by_name(rds, deployment("PROVISIONING"))
    by_id(rds, deployment(meanwhile))
    by_id(rds, deployment("SWITCHOVER_COMPLETED"))
    seen: list = []

    outcome = run(rds, before_switchover=seen.append)  # the Stubber refuses a switchover call

    assert outcome.status == "SWITCHOVER_COMPLETED" and seen == []
