"""The one rule for an image reference, wherever one is taken (`--image-tag`, `app.image_tag`,
`image.build/push --tag`): a Docker/ECR tag, or an image digest where one can be used."""

from __future__ import annotations

import re

from infra.core.errors import BadInput
from infra.settings.params import Settings

# Docker's rule for a tag (and ECR's): word characters, dots and dashes, at most 128, not
# starting with a dot or a dash.
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
# What the deploy workflow outputs and `--image-tag` also takes.
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def is_digest(reference: str) -> bool:
    return DIGEST.fullmatch(reference) is not None


def check(reference: str, *, digest: bool = True) -> str:
    """The reference itself when it is an immutable tag (or, with `digest`, a sha256 digest);
    BadInput saying what is allowed otherwise."""
    if digest and is_digest(reference):
        return reference
    if reference == "latest":
        raise BadInput(
            "image tag 'latest' is mutable, so a rollout could not be repeated or rolled "
            "back; use an immutable tag (e.g. the full commit SHA from `git rev-parse HEAD`)"
            + (" or a sha256 digest." if digest else ".")
        )
    if not TAG.fullmatch(reference or ""):
        raise BadInput(
            f"invalid image tag {reference!r}: use 1-128 letters, digits, '_', '.' or '-', not "
            "starting with '.' or '-' (e.g. the full commit SHA from `git rev-parse HEAD`)"
            + (", or a digest 'sha256:<64 hex>'." if digest else ".")
        )
    return reference


def resolve(settings: Settings, image_tag: str | None) -> str:
    """The image to deploy: --image-tag, else params' app.image_tag; checked."""
    tag = image_tag or settings.app.image_tag
    if not tag:
        raise BadInput(
            f"no image tag for --env {settings.env}: pass --image-tag TAG (a tag pushed to "
            "ECR, e.g. the commit a push to master built) or set app.image_tag in "
            f"params/{settings.env}.yaml."
        )
    return check(tag)


def unused(settings: Settings, image_tag: str | None, why: str) -> None:
    """BadInput when --image-tag is given where no image runs (`why`: what runs instead);
    any value, valid or not, even empty: a flag that would change nothing is a mistake."""
    if image_tag is not None:
        raise BadInput(
            f"--image-tag does not apply to --env {settings.env}: {why}. Drop --image-tag "
            f"(got {image_tag!r})."
        )
