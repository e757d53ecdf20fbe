"""infra/stacks/workload.py: the pods' roles may do exactly one thing each."""

from __future__ import annotations

from infra.core import naming
from infra.stacks import workload
from tests.infra.stacks.helpers import body, of_type, props, ref, settings


def built(env: str = "prod") -> dict:
    return body(workload.build(settings(env)))


def only_policy(template: dict, role: str) -> list[dict]:
    (policy,) = props(template, role)["Policies"]
    return policy["PolicyDocument"]["Statement"]


def test_each_role_is_assumed_only_for_its_service_account_on_this_cluster():
    template = built()
    for role, service_account in (
        ("AppRole", naming.APP_SERVICE_ACCOUNT),
        ("MigrateRole", naming.MIGRATE_SERVICE_ACCOUNT),
    ):
        (trust,) = props(template, role)["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
        assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
        assert trust["Condition"] == {
            "StringEquals": {
                "aws:SourceAccount": ref("AWS::AccountId"),
                "aws:RequestTag/eks-cluster-name": ref("ClusterName"),
                "aws:RequestTag/kubernetes-namespace": naming.K8S_NAMESPACE,
                "aws:RequestTag/kubernetes-service-account": service_account,
            }
        }


def test_app_role_may_only_connect_as_the_app_user():
    (statement,) = only_policy(built(), "AppRole")
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == ["rds-db:connect"]
    (resource,) = statement["Resource"]
    user = settings("prod").database.app_username
    assert resource == {
        "Fn::Sub": "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:"
        f"dbuser:${{DatabaseResourceId}}/{user}"
    }


def test_migrate_role_may_only_read_the_master_secret_and_decrypt_through_secrets_manager():
    read, decrypt = only_policy(built(), "MigrateRole")
    assert sorted(read["Action"]) == [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
    ]
    assert read["Resource"] == [ref("DatabaseMasterSecretArn")]
    assert decrypt["Action"] == ["kms:Decrypt"]
    assert decrypt["Resource"] == [ref("DatabaseKmsKeyArn")]
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == {
        "Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"
    }


def test_pod_identity_associations_bind_the_service_accounts():
    template = built()
    bindings = {
        (p["Namespace"], p["ServiceAccount"]): p["RoleArn"]
        for p in (
            a["Properties"] for a in of_type(template, "AWS::EKS::PodIdentityAssociation").values()
        )
    }
    assert bindings == {
        (naming.K8S_NAMESPACE, naming.APP_SERVICE_ACCOUNT): {"Fn::GetAtt": ["AppRole", "Arn"]},
        (naming.K8S_NAMESPACE, naming.MIGRATE_SERVICE_ACCOUNT): {
            "Fn::GetAtt": ["MigrateRole", "Arn"]
        },
    }


def test_inputs_are_the_producing_stacks_output_names():
    assert set(built()["Parameters"]) == {
        naming.Outputs.CLUSTER_NAME,
        naming.Outputs.DATABASE_RESOURCE_ID,
        naming.Outputs.DATABASE_MASTER_SECRET_ARN,
        naming.Outputs.DATABASE_KMS_KEY_ARN,
    }
