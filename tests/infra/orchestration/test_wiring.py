"""infra/orchestration/wiring.py: the StackRequest for each stack, from the real synthesized
templates."""

from __future__ import annotations

import pytest

from infra.core import naming
from infra.core.naming import Outputs
from infra.orchestration import wiring
from infra.settings import params
from infra.stacks import specs, synth

NETWORK_OUTPUTS = {
    Outputs.VPC_ID: "vpc-1",
    Outputs.PUBLIC_SUBNET_IDS: "subnet-a,subnet-b",
    Outputs.PRIVATE_SUBNET_IDS: "subnet-c,subnet-d",
    Outputs.APP_SECURITY_GROUP_ID: "sg-app",
    Outputs.DATABASE_SECURITY_GROUP_ID: "sg-db",
}
PRINCIPAL = "arn:aws:iam::123456789012:role/Deployer"


@pytest.fixture(scope="module")
def prod():
    settings = params.load("prod")
    return settings, synth.render(settings)


def test_the_database_takes_exactly_its_network_outputs_by_name(prod):
    settings, templates = prod

    request = wiring.build_request(
        settings,
        naming.DATABASE,
        templates[naming.DATABASE],
        {naming.NETWORK: NETWORK_OUTPUTS},
        deployer_principal_arn=PRINCIPAL,
    )

    assert request.name == "gif-prod-database"
    assert request.parameters == {
        Outputs.PRIVATE_SUBNET_IDS: "subnet-c,subnet-d",
        Outputs.DATABASE_SECURITY_GROUP_ID: "sg-db",
    }
    assert request.timeout_minutes == specs.SPECS["database"].timeout_minutes == 60
    assert request.env == "prod"


def test_the_cluster_gets_the_deployer_principal_from_sts(prod):
    settings, templates = prod

    request = wiring.build_request(
        settings,
        naming.CLUSTER,
        templates[naming.CLUSTER],
        {naming.NETWORK: NETWORK_OUTPUTS},
        deployer_principal_arn=PRINCIPAL,
    )

    assert request.parameters[naming.DEPLOYER_PRINCIPAL_ARN] == PRINCIPAL
    assert Outputs.PRIVATE_SUBNET_IDS in request.parameters


def test_prod_stacks_are_protected_and_tagged(prod):
    settings, templates = prod

    request = wiring.build_request(
        settings, naming.NETWORK, templates[naming.NETWORK], {}, deployer_principal_arn=PRINCIPAL
    )

    assert request.termination_protection is True
    assert request.stack_policy is None  # only the database stack has one
    assert request.tags == {
        "project": "gif",
        "environment": "prod",
        "managed-by": "gifstack",
    }


def test_shared_stacks_are_tagged_as_shared():
    settings = params.load("prod")

    assert wiring.stack_tags(settings, naming.REGISTRY)["environment"] == "shared"


def test_dev_is_not_termination_protected():
    settings = params.load("dev")
    templates = synth.render(settings)

    request = wiring.build_request(
        settings, naming.NETWORK, templates[naming.NETWORK], {}, deployer_principal_arn=PRINCIPAL
    )

    assert request.termination_protection is False


def test_the_database_policy_denies_replacing_or_deleting_the_instance_only(prod):
    _, templates = prod
    template = wiring.template_dict(templates[naming.DATABASE])

    policy = wiring.stack_policy(template, specs.SPECS[naming.DATABASE].protected_types)

    deny, allow = policy["Statement"]
    assert deny == {
        "Effect": "Deny",
        "Action": ["Update:Replace", "Update:Delete"],
        "Principal": "*",
        "Resource": ["LogicalResourceId/Database"],
    }
    assert allow == {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}
    assert wiring.deletion_policy(template, specs.DB_INSTANCE_TYPE) == "Snapshot"


def test_a_missing_upstream_stack_names_it_and_the_fix(prod):
    settings, templates = prod

    with pytest.raises(wiring.MissingInput) as missing:
        wiring.build_request(
            settings, naming.DATABASE, templates[naming.DATABASE], {}, deployer_principal_arn=""
        )

    assert missing.value.message.startswith(
        "stack gif-prod-database needs output PrivateSubnetIds of gif-prod-network, which does "
        "not exist yet."
    )
    assert missing.value.exit_code == 1


def test_a_missing_output_asks_to_redeploy_the_producer(prod):
    settings, templates = prod
    partial = {naming.NETWORK: {Outputs.VPC_ID: "vpc-1"}}

    with pytest.raises(wiring.MissingInput, match=r"has no such output\. Redeploy network"):
        wiring.build_request(
            settings,
            naming.DATABASE,
            templates[naming.DATABASE],
            partial,
            deployer_principal_arn="",
        )


def test_short_form_tags_are_read_as_plain_values():
    template = wiring.template_dict("Resources:\n  A: {Type: X, Properties: {V: !Ref B}}\n")

    assert template["Resources"]["A"]["Properties"]["V"] == "B"
