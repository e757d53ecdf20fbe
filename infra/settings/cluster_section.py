"""The `cluster` section of an environment's params: the EKS version, its add-ons and nodes
(beside infra/settings/sections.py's other sections, split off only for the 400-line rule)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from infra.settings import catalog, placeholders
from infra.settings.sections import _retention, _Section

ADDON_VERSION = r"^v\d+\.\d+\.\d+(-eksbuild\.\d+)?$"


class ClusterSettings(_Section):
    kubernetes_version: str = Field("1.35", description="EKS Kubernetes version.")
    node_kubernetes_version: str | None = Field(
        None,
        description="The node group's Kubernetes version; unset = kubernetes_version. At most "
        f"{catalog.MAX_NODE_SKEW} minors behind the control plane, never ahead of it.",
    )
    addon_versions: dict[str, Annotated[str, Field(pattern=ADDON_VERSION)]] = Field(
        default_factory=dict,
        description="Pinned managed add-on versions (`invoke upgrade` writes them); an add-on "
        "not listed gets EKS's default version for the cluster's Kubernetes version.",
    )
    support_type: Literal["STANDARD", "EXTENDED"] = Field(
        "STANDARD",
        description="The cluster's UpgradePolicy: STANDARD upgrades it when its version leaves "
        "standard support; EXTENDED keeps it there, billed as extended support.",
    )
    public_access_cidrs: list[str] = Field(
        default_factory=list,
        description="CIDRs allowed to reach the public API endpoint; empty = private only.",
    )
    node_instance_types: list[str] = Field(default_factory=lambda: ["t3.medium"], min_length=1)
    node_architecture: Literal["x86_64", "arm64"] = "x86_64"
    node_min_size: int = Field(2, ge=1, le=100)
    node_desired_size: int = Field(2, ge=1, le=100)
    node_max_size: int = Field(4, ge=1, le=100)
    node_disk_gib: int = Field(20, ge=20, le=1000)
    log_retention_days: int = 30

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.IPv4Network(value, strict=True)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not an IPv4 network in CIDR form ({exc})") from None
            placeholders.check_cidr(value)
            if ipaddress.IPv4Network(value).prefixlen == 0:
                raise ValueError(
                    f"{value!r} opens the API endpoint to the whole internet; list your "
                    "office/VPN ranges instead (or none for a private-only endpoint)"
                )
        return values

    @field_validator("kubernetes_version")
    @classmethod
    def _kubernetes_version(cls, value: str) -> str:
        if value not in catalog.eks_versions():
            offered = ", ".join(catalog.eks_versions())
            raise ValueError(
                f"{value!r} is not a Kubernetes version EKS offers; use one of {offered}"
            )
        return value

    _log_retention = field_validator("log_retention_days")(_retention)

    @field_validator("addon_versions")
    @classmethod
    def _addon_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name not in catalog.EKS_ADDONS:
                raise ValueError(
                    f"{name!r} is not one of the cluster's managed add-ons "
                    f"({', '.join(catalog.EKS_ADDONS)})"
                )
        return value

    @property
    def node_version(self) -> str:
        """The node group's Kubernetes version (the control plane's unless pinned)."""
        return self.node_kubernetes_version or self.kubernetes_version

    @model_validator(mode="after")
    def _node_skew(self) -> ClusterSettings:
        node = self.node_version
        if node not in catalog.EKS_KUBERNETES_VERSIONS:
            offered = ", ".join(catalog.EKS_KUBERNETES_VERSIONS)
            raise ValueError(
                f"cluster.node_kubernetes_version {node!r} is not a Kubernetes version EKS "
                f"offers; use one of {offered}"
            )
        behind = (
            catalog.kubernetes_minor(self.kubernetes_version)[1]
            - (catalog.kubernetes_minor(node)[1])
        )
        if not 0 <= behind <= catalog.MAX_NODE_SKEW:
            raise ValueError(
                f"cluster.node_kubernetes_version {node!r} must not be newer than "
                f"kubernetes_version {self.kubernetes_version!r} nor more than "
                f"{catalog.MAX_NODE_SKEW} minor versions older (the kubelet version skew policy)"
            )
        return self

    @model_validator(mode="after")
    def _standard_support(self) -> ClusterSettings:
        # EKS bills extended support once a version leaves standard support, unless the
        # cluster's UpgradePolicy is STANDARD (docs.aws.amazon.com/eks/latest/userguide/
        # view-upgrade-policy.html): only standard versions, unless the params opt in.
        if (
            self.support_type == "STANDARD"
            and catalog.eks_support(self.kubernetes_version) != "standard"
        ):
            standard = ", ".join(catalog.eks_standard_versions())
            raise ValueError(
                f"cluster.kubernetes_version {self.kubernetes_version!r} is past EKS standard "
                f"support (extended support is billed per cluster hour); use one of {standard}, "
                "or opt in with cluster.support_type: EXTENDED"
            )
        return self

    @model_validator(mode="after")
    def _node_sizes(self) -> ClusterSettings:
        if not self.node_min_size <= self.node_desired_size <= self.node_max_size:
            raise ValueError(
                "node sizes must satisfy node_min_size <= node_desired_size <= node_max_size "
                f"(got {self.node_min_size} <= {self.node_desired_size} <= {self.node_max_size})"
            )
        return self
