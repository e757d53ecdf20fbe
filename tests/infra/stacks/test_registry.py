"""infra/stacks/registry.py: the ECR repository's settings."""

from __future__ import annotations

import json

from infra.stacks import registry
from tests.infra.stacks.helpers import body, props, settings


def test_repository_is_immutable_scanned_encrypted_and_pruned():
    prod = settings("prod")
    template = body(registry.build(prod))
    repo = props(template, "Repository")
    assert repo["RepositoryName"] == prod.app.image_repository
    assert repo["ImageTagMutability"] == "IMMUTABLE"
    assert repo["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repo["EncryptionConfiguration"] == {
        "EncryptionType": "KMS",
        "KmsKey": {"Fn::GetAtt": ["RepositoryKey", "Arn"]},
    }
    # The lifecycle policy is valid JSON once CloudFormation substitutes the count.
    text = repo["LifecyclePolicy"]["LifecyclePolicyText"]["Fn::Sub"]
    keep = template["Parameters"]["KeepImages"]["Default"]
    assert keep == prod.registry_keep_images
    (rule,) = json.loads(text.replace("${KeepImages}", str(keep)))["rules"]
    assert rule["selection"] == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": keep,
    }
    assert rule["action"] == {"type": "expire"}
    assert template["Resources"]["Repository"]["DeletionPolicy"] == "Retain"
