"""A small IAM policy evaluator for built templates: does this policy document allow one request
(action, resource ARN, request context)? Explicit Deny wins, then any Allow, else no.

Covers what gifstack's documents use: Action/Resource lists with `*`/`?` wildcards, `Fn::Sub`
strings with the pseudo parameters, and the condition operators StringEquals, StringNotEquals,
StringLike, ArnLike and Null (IAM semantics: a missing key fails the positive operators and passes
StringNotEquals). Anything else fails the test instead of being guessed at.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

import pytest

ACCOUNT = "111122223333"
REGION = "eu-west-1"
PSEUDO = {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT, "AWS::Region": REGION}


def resolve(value, names: dict[str, str] | None = None) -> str:
    """A template string value with pseudo parameters (and `names`) filled in."""
    names = {**PSEUDO, **(names or {})}
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        body = value["Fn::Sub"]
        if isinstance(body, list):
            body, variables = body
            names = {**names, **{k: resolve(v, names) for k, v in variables.items()}}
        missing = [m for m in re.findall(r"\$\{([\w:.]+)\}", body) if m not in names]
        if missing:
            pytest.fail(f"can't resolve {missing} in {body!r}")
        return re.sub(r"\$\{([\w:.]+)\}", lambda m: names[m.group(1)], body)
    pytest.fail(f"value the evaluator can't resolve: {value!r}")


def _list(value) -> list:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str) -> bool:
    return fnmatchcase(value, pattern.replace("[", "[[]"))


def _condition_holds(condition: dict, context: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            wanted = [resolve(v) for v in _list(expected)]
            present = key in context
            value = context.get(key, "")
            if operator == "StringEquals":
                ok = present and value in wanted
            elif operator == "StringNotEquals":
                ok = not present or value not in wanted
            elif operator in ("StringLike", "ArnLike"):
                ok = present and any(_like(w, value) for w in wanted)
            elif operator == "Null":  # "true": the key must be absent
                ok = (not present) == (wanted == ["true"])
            else:
                pytest.fail(f"condition operator the evaluator can't judge: {operator}")
            if not ok:
                return False
    return True


def _matches(statement: dict, action: str, resource: str, context: dict[str, str]) -> bool:
    actions = [a.lower() for a in _list(statement["Action"])]
    if not any(_like(a, action.lower()) for a in actions):
        return False
    if not any(_like(resolve(r), resource) for r in _list(statement["Resource"])):
        return False
    return _condition_holds(statement.get("Condition", {}), context)


def decide(document: dict, action: str, resource: str, context: dict | None = None) -> str:
    """ "Deny" (explicit), "Allow", or "NoMatch" (implicitly denied)."""
    context = context or {}
    found = [s for s in _list(document["Statement"]) if _matches(s, action, resource, context)]
    if any(s["Effect"] == "Deny" for s in found):
        return "Deny"
    return "Allow" if found else "NoMatch"


def allows(document: dict, action: str, resource: str, context: dict | None = None) -> bool:
    return decide(document, action, resource, context) == "Allow"


def decide_all(documents: list[dict], action: str, resource: str, context=None) -> str:
    """One principal's policies together (explicit Deny in any wins, then any Allow)."""
    return decide(
        {"Statement": [s for d in documents for s in _list(d["Statement"])]},
        action,
        resource,
        context,
    )


def allows_within(
    documents: list[dict], boundary: dict | None, action: str, resource: str, context=None
) -> bool:
    """IAM's rule for a role with a permissions boundary: its own policies and the boundary
    must both allow, and neither may deny."""
    if decide_all(documents, action, resource, context) != "Allow":
        return False
    return boundary is None or decide(boundary, action, resource, context) == "Allow"
