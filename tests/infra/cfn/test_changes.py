"""infra/cfn/changes.py: change set rows, the table, and which changes put data at risk."""

from __future__ import annotations

from rich.console import Console

from infra.cfn.changes import Change, endangered, from_change_set, stateful_types, table


def raw(logical, rtype, action="Modify", replacement="False", details=()):
    change = {"Action": action, "LogicalResourceId": logical, "ResourceType": rtype}
    if action == "Modify":
        change["Replacement"] = replacement
        change["Details"] = list(details)
    return {"Type": "Resource", "ResourceChange": change}


def detail(name, recreation="Never", attribute="Properties"):
    target = {"Attribute": attribute, "RequiresRecreation": recreation}
    if name:
        target["Name"] = name
    return {"Target": target, "Evaluation": "Static", "ChangeSource": "DirectModification"}


def test_rows_carry_replacement_and_the_properties_that_cause_it_first():
    rows = from_change_set(
        [
            raw(
                "DatabaseInstance",
                "AWS::RDS::DBInstance",
                replacement="True",
                details=[
                    detail("AllocatedStorage"),
                    detail("DBInstanceIdentifier", "Always"),
                    detail("DBInstanceIdentifier", "Always"),  # listed once
                ],
            ),
            raw("Tags", "AWS::SQS::Queue", details=[detail(None, attribute="Tags")]),
            raw("Vpc", "AWS::EC2::VPC", action="Add"),
        ]
    )

    assert rows[0] == Change(
        "Modify",
        "DatabaseInstance",
        "AWS::RDS::DBInstance",
        "True",
        ("DBInstanceIdentifier", "AllocatedStorage"),
    )
    assert rows[1].properties == ("Tags",)
    assert (rows[2].action, rows[2].replacement, rows[2].properties) == ("Add", "", ())


def test_replacing_or_removing_stateful_resources_endangers_data():
    rows = from_change_set(
        [
            raw("Db", "AWS::RDS::DBInstance", replacement="Conditional"),
            raw("Key", "AWS::KMS::Key", action="Remove"),
            raw("Cluster", "AWS::EKS::Cluster", replacement="True"),
            raw("Vpc", "AWS::EC2::VPC", replacement="True"),
            raw("DbInPlace", "AWS::RDS::DBInstance", replacement="False"),
            raw("NewKey", "AWS::KMS::Key", action="Add"),
            raw("Role", "AWS::IAM::Role", replacement="True"),
            raw("Sg", "AWS::EC2::SecurityGroup", action="Remove"),
        ]
    )

    assert [change.logical_id for change in endangered(rows)] == ["Db", "Key", "Cluster", "Vpc"]


def test_stateful_types_come_from_cfn_lint_plus_cluster_and_vpc():
    types = stateful_types()
    assert {"AWS::RDS::DBInstance", "AWS::KMS::Key", "AWS::SecretsManager::Secret"} <= types
    assert {"AWS::EKS::Cluster", "AWS::EC2::VPC"} <= types
    assert "AWS::IAM::Role" not in types


def test_the_table_shows_every_column_and_flags_data_at_risk():
    rows = from_change_set(
        [
            raw(
                "DatabaseInstance",
                "AWS::RDS::DBInstance",
                replacement="True",
                details=[detail("DBInstanceIdentifier", "Always")],
            ),
            raw("Role", "AWS::IAM::Role", replacement="Conditional", details=[detail("Path")]),
            raw("Queue", "AWS::SQS::Queue", action="Add"),
        ]
    )
    console = Console(record=True, width=200, color_system="truecolor", force_terminal=True)

    console.print(table("gif-prod-database", rows))

    text = console.export_text(clear=False)
    assert "gif-prod-database: 3 change(s)" in text
    for heading in ("Action", "Logical ID", "Type", "Replacement", "Caused by"):
        assert heading in text
    assert "DatabaseInstance (holds data)" in text and "DBInstanceIdentifier" in text
    assert "Role" in text and "Conditional" in text and "Path" in text
    styled = console.export_text(styles=True)
    assert "\x1b[1;31mTrue" in styled  # replacement True: bold red
    assert "\x1b[1;33mConditional" in styled  # Conditional: bold yellow


def test_an_endpoint_that_lists_nothing_or_leaves_out_replacement_is_not_read_as_safe():
    """moto lists no changes for a property update and no Replacement for a Modify; AWS
    always lists both, so the table says they are missing instead of '0' and '-'."""
    console = Console(record=True, width=200)
    console.print(table("gif-local-network", []))
    untold = {"Type": "Resource", "ResourceChange": {"Action": "Modify",
              "LogicalResourceId": "Database", "ResourceType": "AWS::RDS::DBInstance"}}  # fmt: skip
    added = {"Type": "Resource", "ResourceChange": {"Action": "Add",
             "LogicalResourceId": "Queue", "ResourceType": "AWS::SQS::Queue"}}  # fmt: skip
    console.print(table("gif-local-database", from_change_set([untold, added])))

    text = console.export_text()
    flat = " ".join(text.split())  # the title wraps to the table's width
    assert "gif-local-network: the endpoint listed no resource changes (AWS would list" in flat
    assert "0 change(s)" not in text
    database = next(line for line in text.splitlines() if "Database" in line)
    queue = next(line for line in text.splitlines() if "Queue" in line)
    assert "not reported" in database and "not reported" not in queue


def test_an_in_place_major_upgrade_is_not_refused_as_endangering_data():
    """What `invoke upgrade` deploys for an in-place PostgreSQL major: the instance modified
    (EngineVersion, AllowMajorVersionUpgrade and DBParameterGroupName update it: none is
    create-only in AWS::RDS::DBInstance's schema), its parameter group replaced (Family is
    create-only; a parameter group holds no data). The stack policy denies only
    Update:Replace and Update:Delete of the instance (tests/infra/orchestration/
    test_wiring.py), so neither it nor the stateful guard stops this."""
    rows = from_change_set(
        [
            raw(
                "Database",
                "AWS::RDS::DBInstance",
                details=[
                    detail("EngineVersion"),
                    detail("AllowMajorVersionUpgrade"),
                    detail("DBParameterGroupName"),
                ],
            ),
            raw(
                "DatabaseParameterGroup",
                "AWS::RDS::DBParameterGroup",
                replacement="True",
                details=[detail("Family", "Always")],
            ),
        ]
    )

    assert endangered(rows) == []
    assert "AWS::RDS::DBParameterGroup" not in stateful_types()
    replaced = from_change_set(
        [raw("Database", "AWS::RDS::DBInstance", "Modify", "True", [detail("EngineVersion")])]
    )
    assert [change.logical_id for change in endangered(replaced)] == ["Database"]
