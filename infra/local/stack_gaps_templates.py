"""moto's gap in reading a template from S3, closed for the templates over CloudFormation's
51,200-byte TemplateBody limit (the `gif-ci` stack's is one): part of
infra/local/stack_gaps.py (its `patch_moto` applies it; split off only to keep each module
under 400 lines).
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def read_a_path_style_template_url_from_any_host() -> None:
    """Gap: moto 5.2 reads a TemplateURL path-style (bucket/key in the path) only when its
    host is "localhost" or s3*.amazonaws.com, and takes any other host for a virtual-hosted
    bucket: the emulator's own address (http://127.0.0.1:PORT/bucket/key, the URL
    infra/aws/template_bucket.py hands over) names a bucket "127". No bucket is ever a
    virtual host on an IP address, so such a URL is read path-style."""
    from moto.cloudformation import models, responses

    original = responses.get_stack_from_s3_url
    if getattr(original, "gifstack_patched", False):
        return

    @functools.wraps(original)
    def get_stack_from_s3_url(template_url: str, *args: Any, **kwargs: Any) -> str:
        parts = urlsplit(template_url)
        try:
            ipaddress.ip_address(parts.hostname or "")
        except ValueError:
            return original(template_url, *args, **kwargs)
        local = parts._replace(netloc=f"localhost:{parts.port}" if parts.port else "localhost")
        return original(urlunsplit(local), *args, **kwargs)

    get_stack_from_s3_url.gifstack_patched = True  # type: ignore[attr-defined]
    responses.get_stack_from_s3_url = get_stack_from_s3_url
    models.get_stack_from_s3_url = get_stack_from_s3_url
