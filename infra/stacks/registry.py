"""gif-registry (account-wide): the ECR repository of the GIF service image. Tags are
immutable (a tag names one image forever), images are scanned on push and encrypted with a
customer key, and a lifecycle policy keeps the last N images."""

from __future__ import annotations

import json

from troposphere import GetAtt, Ref, Sub, Template
from troposphere.ecr import (
    EncryptionConfiguration,
    ImageScanningConfiguration,
    LifecyclePolicy,
    Repository,
)

from infra.core import naming
from infra.core.naming import Outputs
from infra.settings.params import Settings
from infra.stacks.common import StackTemplate, add_kms_key

RETENTION_GROUP = "Image retention"


def build(settings: Settings) -> Template:
    stack = StackTemplate(settings, naming.REGISTRY, "ECR repository of the GIF service image.")
    _add_parameters(stack)
    _add_repository(stack)
    _add_outputs(stack)
    return stack.finish()


def _add_parameters(stack: StackTemplate) -> None:
    stack.parameter(
        "KeepImages",
        RETENTION_GROUP,
        "Images to keep",
        Type="Number",
        Default=stack.settings.registry_keep_images,
        MinValue=1,
        MaxValue=1000,
        Description="The lifecycle policy expires all but the newest N images.",
    )


def _lifecycle_policy() -> Sub:
    text = json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Keep the newest ${KeepImages} images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": "<KEEP>",
                    },
                    "action": {"type": "expire"},
                }
            ]
        },
        separators=(",", ":"),
    ).replace('"<KEEP>"', "${KeepImages}")
    return Sub(text)


def _add_repository(stack: StackTemplate) -> None:
    key = add_kms_key(stack, "RepositoryKey", "encrypts the service images in ECR", [])
    name = stack.settings.app.image_repository
    stack.add(
        Repository(
            "Repository",
            RepositoryName=name,
            ImageTagMutability="IMMUTABLE",
            ImageScanningConfiguration=ImageScanningConfiguration(ScanOnPush=True),
            EncryptionConfiguration=EncryptionConfiguration(
                EncryptionType="KMS", KmsKey=GetAtt(key, "Arn")
            ),
            LifecyclePolicy=LifecyclePolicy(LifecyclePolicyText=_lifecycle_policy()),
            Tags=stack.tags(name),
            # Images that ran in production stay when the stack goes.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )


def _add_outputs(stack: StackTemplate) -> None:
    stack.output(
        Outputs.REPOSITORY_URI,
        GetAtt("Repository", "RepositoryUri"),
        "Image repository URI (ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME).",
    )
    stack.output(Outputs.REPOSITORY_NAME, Ref("Repository"), "Image repository name.")
    stack.output(Outputs.REPOSITORY_ARN, GetAtt("Repository", "Arn"), "Image repository ARN.")
