"""The checks of `invoke preflight` (infra/orchestration/preflight.py): read-only AWS calls
that find, before any stack is touched, what would make a deploy fail an hour in.

Each check returns one `Finding`: ok, fail (with the fix) or skip (not checked: the call was
denied or not answered; never fatal). Sources (AWS API references, botocore's models):
- EKS: DescribeClusterVersions, versionStatus STANDARD_SUPPORT | EXTENDED_SUPPORT | UNSUPPORTED
  (API_ClusterVersionInformation); DescribeAddonVersions(addonName, kubernetesVersion).
- RDS: DescribeOrderableDBInstanceOptions(Engine, EngineVersion, DBInstanceClass, Vpc), each
  option's MultiAZCapable.
- Instance types: DescribeInstanceTypeOfferings(LocationType="availability-zone").
- Quotas (Service Quotas GetServiceQuota): vpc L-F678F1CE "VPCs per Region", ec2 L-0263D0A3
  "EC2-VPC Elastic IPs", vpc L-FE5A380F "NAT gateways per Availability Zone".
- Permissions: iam SimulatePrincipalPolicy(PolicySourceArn, ActionNames, ResourceArns,
  ContextEntries); EvalDecision "allowed" | "explicitDeny" | "implicitDeny".
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from infra.aws.errors import AWS_ERRORS
from infra.aws.session import Aws, Identity
from infra.core import naming
from infra.settings.params import Settings
from infra.stacks import specs
from infra.stacks.cluster_nodes import LATE_ADDONS, NODE_ADDONS

OK, FAIL, SKIP = "ok", "fail", "skip"
ADDONS = NODE_ADDONS + LATE_ADDONS
VPC_QUOTA = ("vpc", "L-F678F1CE", "VPCs per Region")
EIP_QUOTA = ("ec2", "L-0263D0A3", "EC2-VPC Elastic IPs")
NAT_QUOTA = ("vpc", "L-FE5A380F", "NAT gateways per Availability Zone")
# What the engine itself calls on the env stacks (infra/cfn/), as the deploy role allows it.
ENGINE_ACTIONS = (
    "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:DeleteChangeSet",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackEvents",
    "cloudformation:GetTemplate",
    "cloudformation:GetStackPolicy",
    "cloudformation:SetStackPolicy",
)
# Set by CodeBuild in every build (docs.aws.amazon.com/codebuild/latest/userguide/
# build-env-ref-env-vars.html), arn:PARTITION:codebuild:REGION:ACCOUNT:build/PROJECT:BUILD-ID:
# a build of this environment's runner project runs in its VPC's private subnets (the runner
# stack, infra/stacks/runner.py); a build of any other project proves nothing.
IN_VPC_VARIABLE = "CODEBUILD_BUILD_ARN"


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    detail: str
    fix: str = ""


@dataclass
class Context:
    """What the checks share: the gateway, the settings, and what earlier checks found."""

    aws: Aws
    settings: Settings
    app_step: bool = True
    identity: Identity | None = None
    zones: list[str] = field(default_factory=list)
    stack_outputs: Callable[[str], dict[str, str] | None] = lambda key: None
    connect: Callable[[str, int], bool] | None = None


def skipped(check: str, exc: Exception, what: str) -> Finding:
    """A check whose call failed: denied, or not answered (the emulator), never fatal."""
    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
    reason = f"{what} was denied ({code})" if "Denied" in code else f"{what} got no answer"
    return Finding(check, SKIP, f"not checked: {reason}", f"allow {what} to check this")


def credentials(ctx: Context) -> Finding:
    ctx.identity = ctx.aws.identity()  # BadInput (expired, wrong account...) stops preflight
    who = ctx.identity
    return Finding(
        "credentials",
        OK,
        f"account {who.account_id}, region {ctx.settings.region}, as {who.principal_arn}",
    )


def availability_zones(ctx: Context) -> Finding:
    wanted, region = ctx.settings.network.az_count, ctx.settings.region
    try:
        zones = ctx.aws.client("ec2").describe_availability_zones(
            Filters=[
                {"Name": "state", "Values": ["available"]},
                {"Name": "zone-type", "Values": ["availability-zone"]},
            ],
        )["AvailabilityZones"]
        defaults = ctx.aws.client("ec2").describe_subnets(
            Filters=[{"Name": "default-for-az", "Values": ["true"]}]
        )["Subnets"]
    except AWS_ERRORS as exc:
        return skipped("availability zones", exc, "ec2:DescribeAvailabilityZones/Subnets")
    names = sorted(zone["ZoneName"] for zone in zones)
    if len(names) < wanted:
        return Finding(
            "availability zones",
            FAIL,
            f"{region} has {len(names)} usable AZs ({', '.join(names)}); "
            f"network.az_count is {wanted}",
            f"set network.az_count to {len(names)} or less, or pick another region",
        )
    # The subnets take Fn::Select i of Fn::GetAZs, which "returns only Availability Zones that
    # have a default subnet unless none [...] has" one (template reference, Fn::GetAZs).
    listed = sorted({subnet["AvailabilityZone"] for subnet in defaults} & set(names)) or names
    if len(listed) < wanted:
        lacking = ", ".join(sorted(set(names) - set(listed)))
        return Finding(
            "availability zones",
            FAIL,
            f"Fn::GetAZs (the subnets' AZs) lists only the {len(listed)} AZs with a default "
            f"subnet ({', '.join(listed)}); network.az_count is {wanted}",
            f"create the missing default subnets (`aws ec2 create-default-subnet "
            f"--availability-zone AZ` for {lacking}), or lower network.az_count",
        )
    ctx.zones = listed[:wanted]
    return Finding("availability zones", OK, f"{wanted} of {len(listed)}: {', '.join(ctx.zones)}")


def eks_version(ctx: Context) -> Finding:
    cluster = ctx.settings.cluster
    version = cluster.kubernetes_version
    try:
        found = ctx.aws.client("eks").describe_cluster_versions(clusterVersions=[version])
    except AWS_ERRORS as exc:
        return skipped("EKS version", exc, "eks:DescribeClusterVersions")
    statuses = {v.get("clusterVersion"): v.get("versionStatus") for v in found["clusterVersions"]}
    status = statuses.get(version)
    if status not in ("STANDARD_SUPPORT", "EXTENDED_SUPPORT"):
        return Finding(
            "EKS version",
            FAIL,
            f"EKS does not offer Kubernetes {version} in {ctx.settings.region} "
            f"({status or 'not listed'})",
            "set cluster.kubernetes_version to a version in standard support "
            "(`aws eks describe-cluster-versions`)",
        )
    if status == "EXTENDED_SUPPORT" and cluster.support_type != "EXTENDED":
        return Finding(
            "EKS version",
            FAIL,
            f"Kubernetes {version} is in extended support (billed per cluster hour)",
            "upgrade cluster.kubernetes_version, or opt in with cluster.support_type: EXTENDED",
        )
    return Finding("EKS version", OK, f"{version}: {status.lower().replace('_', ' ')}")


def addons(ctx: Context) -> Finding:
    version = ctx.settings.cluster.kubernetes_version
    missing = []
    for name in ADDONS:
        try:
            found = ctx.aws.client("eks").describe_addon_versions(
                addonName=name, kubernetesVersion=version
            )
        except AWS_ERRORS as exc:
            return skipped("EKS add-ons", exc, "eks:DescribeAddonVersions")
        if not any(addon.get("addonVersions") for addon in found.get("addons", [])):
            missing.append(name)
    if missing:
        return Finding(
            "EKS add-ons",
            FAIL,
            f"no version of {', '.join(missing)} for Kubernetes {version}",
            "pick a cluster.kubernetes_version these add-ons support "
            "(`aws eks describe-addon-versions --addon-name NAME`)",
        )
    return Finding("EKS add-ons", OK, f"{', '.join(ADDONS)} for {version}")


def database(ctx: Context) -> Finding:
    db = ctx.settings.database
    what = f"{db.instance_class} PostgreSQL {db.engine_version}"
    try:
        options = ctx.aws.client("rds").describe_orderable_db_instance_options(
            Engine="postgres",
            EngineVersion=db.engine_version,
            DBInstanceClass=db.instance_class,
            Vpc=True,
        )["OrderableDBInstanceOptions"]
    except AWS_ERRORS as exc:
        return skipped("database", exc, "rds:DescribeOrderableDBInstanceOptions")
    if not options:
        return Finding(
            "database",
            FAIL,
            f"{what} can't be ordered in {ctx.settings.region}",
            "change database.instance_class or database.engine_version "
            "(`aws rds describe-orderable-db-instance-options --engine postgres`)",
        )
    if db.multi_az and not any(option.get("MultiAZCapable") for option in options):
        return Finding(
            "database",
            FAIL,
            f"{what} is not Multi-AZ capable in {ctx.settings.region}",
            "pick a Multi-AZ capable database.instance_class",
        )
    return Finding("database", OK, what + (", Multi-AZ" if db.multi_az else ""))


def node_types(ctx: Context) -> Finding:
    types = ctx.settings.cluster.node_instance_types
    if not ctx.zones:
        return Finding("node instance types", SKIP, "not checked: the AZs are not known")
    try:
        offered = ctx.aws.client("ec2").describe_instance_type_offerings(
            LocationType="availability-zone",
            Filters=[
                {"Name": "instance-type", "Values": list(types)},
                {"Name": "location", "Values": ctx.zones},
            ],
        )["InstanceTypeOfferings"]
    except AWS_ERRORS as exc:
        return skipped("node instance types", exc, "ec2:DescribeInstanceTypeOfferings")
    have = {(o["InstanceType"], o["Location"]) for o in offered}
    gaps = [f"{t} in {z}" for t in types for z in ctx.zones if (t, z) not in have]
    if gaps:
        return Finding(
            "node instance types",
            FAIL,
            "not offered: " + ", ".join(gaps),
            "change cluster.node_instance_types (or the region)",
        )
    return Finding("node instance types", OK, f"{', '.join(types)} in {', '.join(ctx.zones)}")


def quotas(ctx: Context) -> Finding:
    """Room for what the network stack creates (nothing when it exists already)."""
    if ctx.stack_outputs(naming.NETWORK) is not None:
        return Finding("quotas", OK, "the network stack exists: it creates no VPC, EIP or NAT")
    network = ctx.settings.network
    nats = network.az_count if network.nat_mode == "per_az" else 1
    try:
        vpcs = len(ctx.aws.client("ec2").describe_vpcs()["Vpcs"])
        eips = len(ctx.aws.client("ec2").describe_addresses()["Addresses"])
        gateways = ctx.aws.client("ec2").describe_nat_gateways(
            Filter=[{"Name": "state", "Values": ["pending", "available"]}],
        )["NatGateways"]
        per_az = _nat_gateways_per_az(ctx, gateways)
        needs = [(VPC_QUOTA, vpcs, 1), (EIP_QUOTA, eips, nats), (NAT_QUOTA, per_az, 1)]
        short = []
        for (service, code, what), used, need in needs:
            quota = ctx.aws.client("service-quotas").get_service_quota(
                ServiceCode=service, QuotaCode=code
            )
            limit = quota["Quota"]["Value"]
            if used + need > limit:
                short.append(f"{what}: {used:g} used + {need} needed > {limit:g} ({code})")
    except AWS_ERRORS as exc:
        return skipped("quotas", exc, "servicequotas:GetServiceQuota and ec2:Describe*")
    if short:
        return Finding(
            "quotas",
            FAIL,
            "; ".join(short),
            "free some, or request an increase (Service Quotas console, the codes above)",
        )
    return Finding("quotas", OK, f"room for 1 VPC, {nats} Elastic IP(s), {nats} NAT gateway(s)")


def _nat_gateways_per_az(ctx: Context, gateways: list[dict]) -> int:
    subnets = sorted({gateway["SubnetId"] for gateway in gateways})
    if not subnets:
        return 0
    found = ctx.aws.client("ec2").describe_subnets(SubnetIds=subnets)["Subnets"]
    zone = {subnet["SubnetId"]: subnet["AvailabilityZone"] for subnet in found}
    counts = Counter(zone.get(gateway["SubnetId"]) for gateway in gateways)
    return max(counts[z] for z in ctx.zones) if ctx.zones else max(counts.values())


def permissions(ctx: Context) -> Finding:
    """The caller may do what the engine does, and pass gif-ci's execution role."""
    identity = ctx.identity
    if identity is None:
        return Finding("permissions", SKIP, "not checked: no identity")
    settings = ctx.settings
    partition = identity.principal_arn.split(":")[1]
    stacks = f"arn:{partition}:cloudformation:{settings.region}:{identity.account_id}:stack/"
    resources = [
        f"{stacks}{specs.stack_name(settings.project, settings.env, key)}/*"
        for key in specs.ENV_STACKS
    ]
    execution = (ctx.stack_outputs(naming.CI) or {}).get(naming.Outputs.EXECUTION_ROLE_ARN)
    try:
        denied = _denied(ctx, list(ENGINE_ACTIONS), resources)
        if execution:
            denied += _denied(
                ctx,
                ["iam:PassRole"],
                [execution],
                [
                    {
                        "ContextKeyName": "iam:PassedToService",
                        "ContextKeyValues": ["cloudformation.amazonaws.com"],
                        "ContextKeyType": "string",
                    }
                ],
            )
    except AWS_ERRORS as exc:
        return skipped("permissions", exc, "iam:SimulatePrincipalPolicy")
    if denied:
        return Finding(
            "permissions",
            FAIL,
            f"{identity.principal_arn} may not: {', '.join(sorted(set(denied)))}",
            "deploy as gif-ci's deploy role (CI) or a role with those actions on the env stacks",
        )
    passed = " and PassRole of the execution role" if execution else ""
    return Finding("permissions", OK, f"{len(ENGINE_ACTIONS)} engine actions{passed}")


def _denied(
    ctx: Context, actions: list[str], resources: list[str], context: list[dict] | None = None
) -> list[str]:
    iam = ctx.aws.client("iam")
    denied = []
    for page in iam.get_paginator("simulate_principal_policy").paginate(
        PolicySourceArn=ctx.identity.principal_arn,
        ActionNames=actions,
        ResourceArns=resources,
        ContextEntries=context or [],
    ):
        for result in page["EvaluationResults"]:
            if result["EvalDecision"] != "allowed":
                denied.append(result["EvalActionName"])
    return denied


def endpoint(ctx: Context) -> Finding:
    """Will the Kubernetes step reach the cluster's API endpoint from here?"""
    cidrs = ctx.settings.cluster.public_access_cidrs
    if not ctx.app_step:
        return Finding("cluster endpoint", OK, "no Kubernetes step in this deploy")
    existing = ctx.stack_outputs(naming.CLUSTER) or {}
    url = existing.get(naming.Outputs.CLUSTER_ENDPOINT)
    if url and ctx.connect is not None:
        host = urlparse(url).hostname or url
        if ctx.connect(host, 443):
            return Finding("cluster endpoint", OK, f"{host}:443 answers from here")
        reached = False
    else:
        reached = bool(cidrs) or on_the_runner(ctx.settings)
    if reached:
        runner = naming.runner_project(ctx.settings.project, ctx.settings.env)
        where = (
            f"inside the VPC (CodeBuild runner {runner})" if not cidrs else f"public for {cidrs}"
        )
        return Finding("cluster endpoint", OK, where)
    return Finding(
        "cluster endpoint",
        FAIL,
        "the API endpoint is private-only (cluster.public_access_cidrs is empty) and this "
        "machine is not in the VPC: the Kubernetes step could not reach it",
        "run the Kubernetes step from inside the VPC: on the runner stack's CodeBuild "
        f"project {naming.runner_project(ctx.settings.project, ctx.settings.env)} (the deploy "
        "workflow's `app` job; ci.runner: true), or for a laptop deploy list your office/VPN "
        "range in cluster.public_access_cidrs",
    )


def on_the_runner(settings: Settings) -> bool:
    """Is this a build of the environment's runner project (so inside its VPC)?"""
    parts = os.environ.get(IN_VPC_VARIABLE, "").split(":")
    project = naming.runner_project(settings.project, settings.env)
    return len(parts) == 7 and parts[2] == "codebuild" and parts[5] == f"build/{project}"


CHECKS = (
    credentials,
    availability_zones,
    eks_version,
    addons,
    database,
    node_types,
    quotas,
    permissions,
    endpoint,
)
