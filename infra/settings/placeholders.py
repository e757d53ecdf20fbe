"""Values that only stand in for the user's own: params refuse them, naming file and key.

RFC 5737's documentation ranges are never a real network, so an API endpoint that admits only
them admits nobody (https://www.rfc-editor.org/rfc/rfc5737); an example GitHub repository
would make the deploy role trust whoever owns that name.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from infra.core.errors import BadInput

DOCUMENTATION_NETWORKS = tuple(
    ipaddress.IPv4Network(cidr) for cidr in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
# Owners that only ever stand for "your organisation here".
PLACEHOLDER_OWNERS = ("example-org", "example", "your-org", "owner", "org")


def check_cidr(value: str) -> None:
    """ValueError for a documentation range or any subnet of one."""
    network = ipaddress.IPv4Network(value)
    if any(network.subnet_of(doc) for doc in DOCUMENTATION_NETWORKS):
        raise ValueError(
            f"{value!r} is a documentation range (RFC 5737): nobody can reach the API endpoint "
            "from it. List your real office/VPN ranges, or none for a private-only endpoint"
        )


def check_repository(value: str) -> None:
    """ValueError for an example repository (owner/name)."""
    if value.split("/")[0].lower() in PLACEHOLDER_OWNERS:
        raise ValueError(
            f"{value!r} is a placeholder: a deploy role trusting it would trust whoever owns "
            "that name. Set your repository (owner/name, as in its GitHub URL)"
        )


def require_github_repository(settings: Any) -> str:
    """The repository the CI roles trust (`settings`: params.Settings, which imports this
    module); unset is BadInput naming the file and the key.
    Asked by `invoke bootstrap` only: an environment deploy doesn't need it."""
    repository = settings.ci.github_repository
    if not repository:
        raise BadInput(
            f"params/{settings.env}.yaml: ci.github_repository is not set; gif-ci's deploy "
            "and image roles would trust no repository (or, left at an example, someone "
            "else's). Set it to your repository (owner/name, as in its GitHub URL), then run "
            "this command again."
        )
    return repository
