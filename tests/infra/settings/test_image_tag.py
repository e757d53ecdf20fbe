"""infra/settings/image_tag.py: one rule for every image reference gifstack takes."""

from __future__ import annotations

import pytest

from infra.core.errors import BadInput
from infra.settings import image_tag, params

SHA = "0123456789abcdef0123456789abcdef01234567"
DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    "tag", ["", "-leading-dash", ".dot", "has space", "a:b", "x" * 129, "v1\n", "bad tag!"]
)
def test_invalid_tags_are_bad_input(tag):
    for digest in (True, False):
        with pytest.raises(BadInput, match="invalid image tag"):
            image_tag.check(tag, digest=digest)


@pytest.mark.parametrize("tag", [SHA, "v1.2.3", "local", "x" * 128, "_x"])
def test_valid_tags_pass(tag):
    assert image_tag.check(tag) == image_tag.check(tag, digest=False) == tag


def test_latest_is_refused_as_mutable():
    with pytest.raises(BadInput, match="'latest' is mutable"):
        image_tag.check("latest")


def test_a_digest_only_where_one_can_be_used():
    assert image_tag.check(DIGEST) == DIGEST
    with pytest.raises(BadInput, match="invalid image tag"):
        image_tag.check(DIGEST, digest=False)
    with pytest.raises(BadInput, match="invalid image tag"):
        image_tag.check(DIGEST.upper())


def test_resolve_takes_the_flag_then_the_params_and_says_how_to_pass_one():
    settings = params.load("dev")
    assert image_tag.resolve(settings, SHA) == SHA
    with_tag = settings.model_copy(
        update={"app": settings.app.model_copy(update={"image_tag": "v7"})}
    )
    assert image_tag.resolve(with_tag, None) == "v7"
    with pytest.raises(BadInput, match=r"--image-tag TAG .* params/dev\.yaml"):
        image_tag.resolve(settings, None)


def test_the_message_offers_a_digest_only_where_one_can_be_used():
    with pytest.raises(BadInput) as tag_or_digest:
        image_tag.check("has space")
    with pytest.raises(BadInput) as tag_only:
        image_tag.check("has space", digest=False)
    assert "sha256:<64 hex>" in tag_or_digest.value.message
    assert "sha256" not in tag_only.value.message
    with pytest.raises(BadInput) as latest:
        image_tag.check("latest", digest=False)
    assert "digest" not in latest.value.message
