"""Every AWS operation and parameter the code uses exists in the locked botocore.

The source of truth is botocore's service models (the JSON AWS publishes, shipped in the
botocore wheel of requirements.lock), not moto and not our own expectations: an operation
that AWS renamed or removed, a misspelt operation or a parameter the operation doesn't take
fails here, before any deploy does.

How: the AST of infra/**/*.py and app/**/*.py is walked for calls on boto3 clients:
`<client>.<operation>(Param=...)`, `<client>.get_paginator("op").paginate(...)`,
`<client>.get_waiter("name").wait(...)`, `<client>.generate_presigned_url("op", Params=...)`,
and client-side helpers such as `generate_db_auth_token`. The client's service is known
when the client is made in the same file (`x = ....client("rds")`, or used inline:
`aws.client("ecr").describe_images(...)`), or from RECEIVERS below (a client passed in).
Operations called through a wrapper (`self._api(action, name, "get_template", ...)`) are
in WRAPPERS. `**kwargs` is followed to the dict literal it was built from in the same file.

Completeness: any other call whose method name is an operation of *any* AWS service (or
get_paginator, get_waiter, generate_presigned_url) on something of unknown service fails
too, unless NOT_AWS says what it is. A misspelt operation on an unknown object can't be
caught; one on a known client is (see the snippet tests at the end).
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore
import botocore.session
import pytest
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("infra", "app")

# Clients handed in from elsewhere: (file, receiver as written) -> (service, where it's from).
RECEIVERS: dict[tuple[str, str], tuple[str, str]] = {
    ("infra/cfn/calls.py", "self.cfn"): (
        "cloudformation",
        "StackCalls(cfn_client): StackEngine's client, aws.client('cloudformation') in frame.py",
    ),
    ("infra/cfn/events.py", "self._client"): (
        "cloudformation",
        "EventStream(client): StackEngine passes its CloudFormation client",
    ),
    ("infra/cfn/validation.py", "self._cfn"): (
        "cloudformation",
        "ValidationReader(cfn_client): ChangeSets passes the engine's CloudFormation client",
    ),
    ("infra/aws/template_bucket.py", "self._s3"): (
        "s3",
        "TemplateBucket(s3_client): Aws.template_bucket() passes self.client('s3')",
    ),
    ("infra/kube/eks.py", "sts"): ("sts", "get_token(sts): eks.sts_client(), an STS client"),
    ("infra/cfn/change_sets.py", "self._calls.cfn"): (
        "cloudformation",
        "StackCalls.cfn: StackEngine's CloudFormation client",
    ),
    ("infra/orchestration/blue_green.py", "rds"): (
        "rds",
        "upgrade_major(rds, ...) / delete_blue(rds, ...): the caller's aws.client('rds')",
    ),
    ("infra/orchestration/blue_green_checks.py", "rds"): (
        "rds",
        "check_ready(rds, ...): the caller's aws.client('rds')",
    ),
    ("infra/orchestration/lock.py", "self._s3"): (
        "s3",
        "DeployLock(bucket, s3_client): Frame.deploy_lock passes self.aws.client('s3')",
    ),
}

API_WHY = "StackCalls.api(action, name, operation, **kwargs) calls getattr(self.cfn, operation)"
# Methods that call an operation named by a string argument: (file, callee as written) ->
# (service, index of the positional argument naming the operation, why).
WRAPPERS: dict[tuple[str, str], tuple[str, int, str]] = {
    ("infra/cfn/calls.py", "self.api"): ("cloudformation", 2, API_WHY),
    ("infra/cfn/engine.py", "self._calls.api"): ("cloudformation", 2, API_WHY),
    ("infra/cfn/change_sets.py", "self._calls.api"): ("cloudformation", 2, API_WHY),
}

# Calls whose method name happens to be an AWS operation's, on things that are no AWS
# client: (file, receiver as written) -> what it is.
NOT_AWS: dict[tuple[str, str], str] = {
    ("app/db.py", "asyncio.get_running_loop()"): "asyncio's event loop (create_task)",
    ("app/db.py", "asyncpg"): "asyncpg.create_pool",
    ("app/web.py", "asyncio.get_running_loop()"): "asyncio's event loop (create_task)",
    ("infra/settings/catalog.py", "re"): "re.search",
    ("infra/local/stack_gaps.py", "self.cloudformation_backend"): "moto's backend (emulator)",
    ("infra/kube/eks.py", "session"): "boto3.Session.get_credentials (no API call)",
    ("infra/local/process.py", "socket"): "socket.create_connection",
    ("infra/orchestration/preflight.py", "socket"): "socket.create_connection (the endpoint)",
    ("infra/local/stack_gaps.py", "backend"): "moto's EC2 backend, inside the emulator",
    ("infra/local/stack_gaps.py", "self"): "moto's CloudFormation backend, inside the emulator",
    ("infra/local/stack_gaps_rds.py", "parsed_resource.backend"): "moto's RDS backend (emulator)",
    ("infra/local/stack_gaps_rds.py", "type(backend)"): "moto's RDS backend class (emulator)",
    (
        "infra/orchestration/progress.py",
        "self._progress",
    ): "rich.progress.Progress (start_task, stop_task)",
}

# The client factory: `<anything>.client("service", ...)`.
FACTORY = "client"
# Client methods that take an operation or waiter name as their first argument.
BY_NAME = {
    "get_paginator": "paginator",
    "get_waiter": "waiter",
    "generate_presigned_url": "presign",
}


@dataclass(frozen=True)
class CallSite:
    where: str  # file:line
    service: str
    kind: str  # operation | paginator | waiter | presign
    name: str  # the client method, paginated operation, waiter or presigned operation
    keywords: frozenset[str]

    def __str__(self) -> str:
        return f"{self.where}: {self.service} {self.kind} {self.name}"


@dataclass
class Scan:
    sites: list[CallSite]
    problems: list[str]  # what the scan itself could not resolve
    used: set[tuple[str, str]]  # table entries that matched something


def scan(relative: str, source: str) -> Scan:
    """The AWS call sites of one file, plus what could not be resolved."""
    result = Scan([], [], set())
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    known = _clients_made_here(tree, relative, result)
    operations = all_operation_names()

    def service_of(node: ast.expr) -> str | None:
        created = _created_service(node)
        if created:
            return created
        text = ast.unparse(node)
        if (relative, text) in RECEIVERS:
            result.used.add((relative, text))
            return RECEIVERS[(relative, text)][0]
        return known.get(text)

    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        if not isinstance(call.func, ast.Attribute):
            continue
        where = f"{relative}:{call.lineno}"
        method, receiver = call.func.attr, call.func.value
        callee = (relative, ast.unparse(call.func))
        if callee in WRAPPERS:
            result.used.add(callee)
            service, index, _ = WRAPPERS[callee]
            name = _literal(call.args[index]) if len(call.args) > index else None
            if name is None:
                result.problems.append(f"{where}: {callee[1]}(...) names no literal operation")
                continue
            keywords = _keywords(call, tree, parents, where, result)
            result.sites.append(CallSite(where, service, "operation", name, keywords))
            continue
        service = service_of(receiver)
        if service is None:
            if method in operations or method in BY_NAME:
                key = (relative, ast.unparse(receiver))
                if key in NOT_AWS:
                    result.used.add(key)
                else:
                    result.problems.append(
                        f"{where}: {key[1]}.{method}(...) looks like an AWS call, but the "
                        "client's service is unknown (add it to RECEIVERS, or to NOT_AWS)"
                    )
            continue
        if method == FACTORY:
            continue
        if method in BY_NAME:
            name = _literal(call.args[0]) if call.args else None
            if name is None:
                result.problems.append(f"{where}: {method}(...) names no literal operation")
                continue
            keywords = frozenset()
            if method == "generate_presigned_url":
                keywords = _presigned_params(call, where, result)
            else:  # the paginate()/wait() call made on it, if any
                outer = parents.get(parents.get(call))
                if isinstance(outer, ast.Call) and outer.func is parents.get(call):
                    keywords = _keywords(outer, tree, parents, where, result)
            result.sites.append(CallSite(where, service, BY_NAME[method], name, keywords))
            continue
        keywords = _keywords(call, tree, parents, where, result)
        result.sites.append(CallSite(where, service, "operation", method, keywords))
    return result


def _created_service(node: ast.expr) -> str | None:
    """ "s3" for `<anything>.client("s3", ...)`."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == FACTORY
    ):
        if node.args:
            return _literal(node.args[0])
        for keyword in node.keywords:
            if keyword.arg == "service_name":
                return _literal(keyword.value)
    return None


def _clients_made_here(tree: ast.AST, relative: str, result: Scan) -> dict[str, str]:
    """Names and attributes assigned a new client in this file: `x = ....client("rds")`."""
    known: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            service = _created_service(node.value)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets if service else []:
                text = ast.unparse(target)
                if known.get(text, service) != service:
                    result.problems.append(
                        f"{relative}:{node.lineno}: {text} holds clients of two services"
                    )
                known[text] = service
    return known


def _keywords(
    call: ast.Call, tree: ast.AST, parents: dict, where: str, result: Scan
) -> frozenset[str]:
    """The call's keyword names; `**x` is followed to the dict literal(s) it was built from."""
    names = {keyword.arg for keyword in call.keywords if keyword.arg}
    for keyword in call.keywords:
        if keyword.arg is None:
            keys = _dict_keys(keyword.value, tree, parents, call)
            if keys is None:
                result.problems.append(
                    f"{where}: can't see which parameters **{ast.unparse(keyword.value)} holds"
                )
            else:
                names |= keys
    return frozenset(names)


def _imported_from(tree: ast.AST, name: str | None) -> ast.AST | None:
    """The parsed infra module a function `name` is imported from (`from infra.x import name`)."""
    for node in ast.walk(tree):
        is_infra = isinstance(node, ast.ImportFrom) and (node.module or "").startswith("infra.")
        if is_infra and any(a.name == name and a.asname is None for a in node.names):
            path = ROOT.joinpath(*node.module.split(".")).with_suffix(".py")
            return ast.parse(path.read_text()) if path.is_file() else None
    return None


def _dict_keys(value: ast.expr, tree: ast.AST, parents: dict, call: ast.Call) -> set[str] | None:
    """Keys of a `**value`: a dict literal; a name or self attribute assigned dict literals
    (plus `x["Key"] = ...`) in the enclosing function, or for self.x anywhere in the file;
    or a call of a function of this file that returns dict literals. None if unknown."""
    if isinstance(value, ast.Dict):
        keys = [_literal(key) if key is not None else None for key in value.keys]
        return None if None in keys else set(keys)
    if isinstance(value, ast.IfExp):
        branches = (value.body, value.orelse)
        return _union([_dict_keys(branch, tree, parents, call) for branch in branches])
    if isinstance(value, ast.Call):
        name = value.func.attr if isinstance(value.func, ast.Attribute) else None
        name = name or (value.func.id if isinstance(value.func, ast.Name) else None)
        home = _imported_from(tree, name) or tree
        defs = [
            node
            for node in ast.walk(home)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name
        ]
        returns = [
            node.value
            for define in defs
            for node in ast.walk(define)
            if isinstance(node, ast.Return) and node.value is not None
        ]
        return _union([_dict_keys(r, tree, parents, call) for r in returns]) if returns else None
    if not isinstance(value, ast.Name | ast.Attribute):
        return None
    text = ast.unparse(value)
    scope: ast.AST = tree
    if isinstance(value, ast.Name):
        scope = call
        while scope in parents and not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
            scope = parents[scope]
    found: list[set[str] | None] = []
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if ast.unparse(target) == text:
                    found.append(_dict_keys(node.value, tree, parents, call))
                elif isinstance(target, ast.Subscript) and ast.unparse(target.value) == text:
                    key = _literal(target.slice)
                    found.append({key} if key else None)
    return _union(found) if found else None


def _union(parts: list[set[str] | None]) -> set[str] | None:
    return None if any(part is None for part in parts) else set().union(*parts)


def _presigned_params(call: ast.Call, where: str, result: Scan) -> frozenset[str]:
    for keyword in call.keywords:
        if keyword.arg == "Params":
            if isinstance(keyword.value, ast.Dict):
                keys = [_literal(key) if key else None for key in keyword.value.keys]
                if None not in keys:
                    return frozenset(keys)
            result.problems.append(f"{where}: can't see the presigned operation's Params")
    return frozenset()


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


# --- botocore's models --------------------------------------------------------------------


@functools.cache
def session() -> boto3.Session:
    """Fake credentials and region: clients are only made to read their models."""
    return boto3.Session(
        aws_access_key_id="model-check",
        aws_secret_access_key="model-check",
        region_name="us-east-1",
    )


@functools.cache
def client(service: str):
    return session().client(service)


@functools.cache
def all_operation_names() -> frozenset[str]:
    """The client method name of every operation of every service botocore knows."""
    models = botocore.session.get_session()
    return frozenset(
        xform_name(operation)
        for service in models.get_available_services()
        for operation in models.get_service_model(service).operation_names
    )


def check(site: CallSite) -> list[str]:
    """What is wrong with one call site, against botocore's model of its service."""
    if site.service not in session().get_available_services():
        return [f"{site}: botocore has no service {site.service!r}"]
    aws = client(site.service)
    mapping = aws.meta.method_to_api_mapping
    extra: set[str] = set()
    if site.kind == "waiter":
        if site.name not in aws.waiter_names:
            return [f"{site}: no such waiter (the client has {', '.join(aws.waiter_names)})"]
        operation, extra = aws.get_waiter(site.name).config.operation, {"WaiterConfig"}
    elif site.name in mapping:
        operation = mapping[site.name]
        if site.kind == "paginator":
            if not aws.can_paginate(site.name):
                return [f"{site}: the operation has no paginator"]
            extra = {"PaginationConfig"}
    elif site.kind == "operation" and callable(getattr(aws, site.name, None)):
        # A client-side helper (e.g. rds.generate_db_auth_token): no model operation; its
        # keywords must be parameters of the method botocore/boto3 add to the client.
        accepted = set(inspect.signature(getattr(aws, site.name)).parameters)
        return [f"{site}: no parameter {k}" for k in sorted(site.keywords - accepted)]
    else:
        return [f"{site}: {site.service} has no operation {site.name!r}"]
    shape = aws.meta.service_model.operation_model(operation).input_shape
    members = set(shape.members) if shape is not None else set()
    unknown = site.keywords - members - extra
    return [f"{site}: {operation} takes no parameter {k}" for k in sorted(unknown)]


def source_files() -> Iterator[Path]:
    for folder in SOURCES:
        yield from sorted((ROOT / folder).rglob("*.py"))


@pytest.fixture(scope="module")
def project() -> Scan:
    total = Scan([], [], set())
    for path in source_files():
        found = scan(path.relative_to(ROOT).as_posix(), path.read_text())
        total.sites += found.sites
        total.problems += found.problems
        total.used |= found.used
    return total


def test_every_aws_call_site_exists_in_the_locked_botocore_models(project):
    problems = project.problems + [p for site in project.sites for p in check(site)]
    assert problems == [], f"botocore {botocore.__version__}:\n" + "\n".join(problems)
    # The scan still finds the project's calls (a broken scanner would check nothing).
    assert len(project.sites) >= 30, [str(site) for site in project.sites]
    services = {site.service for site in project.sites}
    assert services == {
        "cloudformation",
        "s3",
        "ecr",
        "sts",
        "rds",
        "secretsmanager",
        # iam (the deployer's role ARN, preflight's policy simulation); ec2, eks and
        # service-quotas: preflight (infra/orchestration/preflight_checks.py).
        "iam",
        "ec2",
        "eks",
        "service-quotas",
        "kms",  # restore: the snapshot's key (infra/orchestration/snapshots.py)
    }
    print(f"{len(project.sites)} AWS call sites checked against botocore {botocore.__version__}")


def test_every_table_entry_is_still_used(project):
    for table in (RECEIVERS, WRAPPERS, NOT_AWS):
        stale = sorted(set(table) - project.used)
        assert stale == [], f"entries that match nothing any more: {stale}"


# --- the checker can fail ------------------------------------------------------------------

SNIPPET = """
import boto3

cfn = boto3.client("cloudformation")
cfn.create_chnge_set(StackName="x", ChangeSetName="y")
cfn.describe_stacks(StackNme="x")
cfn.get_paginator("list_stack_resource").paginate(StackName="x")
cfn.get_paginator("list_stack_resources").paginate(StackName="x", Colour="red")
cfn.get_waiter("stack_create_done").wait(StackName="x")
kwargs = {"StackName": "x"}
kwargs["Colour"] = "red"
cfn.delete_stack(**kwargs)
boto3.client("s3").put_object(Bucket="b", Key="k", Body=b"", Colour="red")
boto3.client("sts").generate_presigned_url("get_caller_identiy", Params={})
mystery.describe_stacks(StackName="x")
"""


def problems_of(source: str) -> list[str]:
    found = scan("snippet.py", source)
    return found.problems + [p for site in found.sites for p in check(site)]


def test_a_misspelt_operation_is_reported():
    problems = problems_of('import boto3\ncfn = boto3.client("cloudformation")\n'
                           'cfn.create_chnge_set(StackName="x")\n')  # fmt: skip
    assert problems == [
        "snippet.py:3: cloudformation operation create_chnge_set: cloudformation has no "
        "operation 'create_chnge_set'"
    ]


def test_misspelt_operations_parameters_paginators_and_waiters_are_all_reported():
    problems = problems_of(SNIPPET)
    expected = [
        "snippet.py:5: .*no operation 'create_chnge_set'",
        "snippet.py:6: .*DescribeStacks takes no parameter StackNme",
        "snippet.py:7: .*no operation 'list_stack_resource'",
        "snippet.py:8: .*ListStackResources takes no parameter Colour",
        "snippet.py:9: .*stack_create_done: no such waiter",
        "snippet.py:12: .*DeleteStack takes no parameter Colour",
        "snippet.py:13: .*PutObject takes no parameter Colour",
        "snippet.py:14: .*no operation 'get_caller_identiy'",
        "snippet.py:15: mystery.describe_stacks.*service is unknown",
    ]
    for pattern in expected:
        assert any(re.match(pattern, problem) for problem in problems), (pattern, problems)
    assert len(problems) == len(expected), problems


def test_correct_calls_pass():
    source = """
import boto3
session = boto3.session.Session()
rds = session.client("rds", region_name="eu-west-1")
rds.describe_db_instances(DBInstanceIdentifier="gif")
rds.generate_db_auth_token(DBHostname="h", Port=5432, DBUsername="u")
rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="gif", WaiterConfig={})
"""
    assert problems_of(source) == []
