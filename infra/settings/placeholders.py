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
# The account IDs AWS's documentation uses in example ARNs, and an all-zero connection ID.
EXAMPLE_ACCOUNTS = ("111122223333", "123456789012", "000000000000", "444455556666")
EXAMPLE_CONNECTION_IDS = ("00000000-0000-0000-0000-000000000000",)


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


def check_connection(value: str) -> None:
    """ValueError for an example CodeConnections ARN (an account of AWS's examples); the
    value already has the ARN's shape (the field's pattern is checked first)."""
    if not value:
        return
    parts = value.split(":")
    if parts[4] in EXAMPLE_ACCOUNTS or parts[5].split("/")[-1] in EXAMPLE_CONNECTION_IDS:
        raise ValueError(
            f"{value!r} is an example connection ARN: the runner could not reach GitHub "
            "through it. Create the GitHub connection in your account (README: Deploying "
            "from GitHub, the runner) and put its ARN here"
        )


def require_runner_source(settings: Any) -> None:
    """A deploy that creates or updates the runner stack needs the repository and the
    CodeConnections connection it reaches GitHub through; unset is BadInput naming the file
    and the keys. (Example values are refused when the params load.)"""
    ci, where = settings.ci, f"params/{settings.env}.yaml"
    missing = [
        key
        for key, value in (
            ("ci.github_repository", ci.github_repository),
            ("ci.github_connection_arn", ci.github_connection_arn),
        )
        if not value
    ]
    if missing:
        raise BadInput(
            f"{where}: {' and '.join(missing)} not set, and ci.runner is on: the runner's "
            "CodeBuild project needs the repository whose workflow jobs it runs and the "
            "CodeConnections GitHub connection it reaches GitHub through. Create the connection "
            "once (README: Deploying from GitHub, the runner) and set both, or set ci.runner: "
            "false to deploy without the runner (then the Kubernetes step needs "
            "cluster.public_access_cidrs)."
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
