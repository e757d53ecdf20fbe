"""A targeted edit of a params file: set `section.key` to a value, keeping every other line,
comment and blank line as it was (`invoke upgrade` writes its versions and `invoke restore`
its snapshot this way, so the reviewer's diff is the change and nothing else).

Line-level on purpose, for the layout params files have (top-level sections, two-space block
mappings): a YAML round trip with PyYAML would drop the comments, and ruamel.yaml would be a
new dependency for three keys. Whatever the edit produces is read back and must give the new
value with everything else unchanged; otherwise the file is left alone and the error says
what to write by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from infra.core.errors import BadInput, OperationFailed
from infra.settings import params

_SECTION = re.compile(r"^(?P<name>[A-Za-z_][\w-]*):\s*(#.*)?$")


def scalar(value: str) -> str:
    """A string as YAML, always quoted: 1.35 unquoted would be read as a number."""
    return "'" + value.replace("'", "''") + "'"


def render(key: str, value: Any, indent: str) -> list[str]:
    """The lines of `key: value` at this indent (a mapping as a block under the key)."""
    if isinstance(value, Mapping):
        if not value:
            return [f"{indent}{key}: {{}}"]
        inner = indent + "  "
        return [f"{indent}{key}:"] + [f"{inner}{k}: {scalar(str(v))}" for k, v in value.items()]
    return [f"{indent}{key}: {scalar(str(value))}"]


def set_value(text: str, dotted: str, value: Any) -> str:
    """`text` with `section.key` set to `value` (added when absent, the section too)."""
    section, key = dotted.split(".")
    lines = text.splitlines()
    _refuse_one_line(lines, section)
    start = next((i for i, line in enumerate(lines) if _is_section(line, section)), None)
    if start is None:
        tail = [""] if lines and lines[-1].strip() else []
        return "\n".join([*lines, *tail, f"{section}:", *render(key, value, "  ")]) + "\n"
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#"):
        end += 1
    body = range(start + 1, end)
    children = [i for i in body if lines[i].strip() and not lines[i].lstrip().startswith("#")]
    indent = re.match(r"\s*", lines[children[0]])[0] if children else "  "
    own = re.compile(rf"^{re.escape(indent)}{re.escape(key)}:(\s|$)")
    at = next((i for i in children if own.match(lines[i])), None)
    if at is None:
        last = children[-1] if children else start
        lines[last + 1 : last + 1] = render(key, value, indent)
        return "\n".join(lines) + "\n"
    stop = at + 1  # the key's own block: its more-indented lines after it
    while stop < end and (
        not lines[stop].strip() or len(lines[stop]) - len(lines[stop].lstrip()) > len(indent)
    ):
        stop += 1
    while stop - 1 > at and not lines[stop - 1].strip():
        stop -= 1  # blank lines after the block stay
    comment = _comment(lines[at]) if not isinstance(value, Mapping) else ""
    new = render(key, value, indent)
    new[0] += comment
    lines[at:stop] = new
    return "\n".join(lines) + "\n"


class OneLineSection(BadInput):
    """`database: {...}`: a flow mapping this edit can't extend line by line."""


def _refuse_one_line(lines: list[str], section: str) -> None:
    for number, line in enumerate(lines, 1):
        if line.startswith(f"{section}:") and not _is_section(line, section):
            value = line[len(section) + 1 :].split("#", 1)[0].strip()
            if value:
                raise OneLineSection(
                    f"line {number}: {section} is written on one line; write it as a block "
                    f"({section}:, then one key per line) and run again."
                )


def _is_section(line: str, name: str) -> bool:
    found = _SECTION.match(line)
    return bool(found and found["name"] == name)


def _comment(line: str) -> str:
    """A trailing `  # ...` of a one-line `key: value`, kept as it was."""
    found = re.match(r".*?(\s+#[^'\"]*)$", line)
    return found[1] if found else ""


def edit(path: Path, changes: Mapping[str, Any]) -> bool:
    """Apply the changes to the file; True when its text changed. Every other value must
    read back unchanged, else nothing is written (OperationFailed says what to set)."""
    before = path.read_text()
    after = edited(path, before, changes)
    if after == before:
        return False
    path.write_text(after)
    return True


def apply(env: str, changes: Mapping[str, Any]) -> bool:
    """`edit` params/<env>.yaml, the result first validated by the params rules on a copy:
    a value they refuse is never written (BadInput says why). True when the file changed."""
    path = params.PARAMS_DIR / f"{env}.yaml"
    before = path.read_text()
    after = edited(path, before, changes)
    if after == before:
        return False
    candidate = path.with_name(f".{path.name}.edit")
    candidate.write_text(after)
    try:
        params.load_file(candidate, env)
    except BadInput as exc:
        raise BadInput(exc.message.replace(candidate.name, path.name)) from None
    finally:
        candidate.unlink()
    path.write_text(after)
    params.forget()
    return True


def edited(path: Path, before: str, changes: Mapping[str, Any]) -> str:
    """The text with the changes, read back: every other value unchanged."""
    after = before
    try:
        for dotted, value in changes.items():
            after = set_value(after, dotted, value)
    except OneLineSection as exc:
        raise BadInput(f"params/{path.name} {exc.message}") from None
    expected = yaml.safe_load(before) or {}
    for dotted, value in changes.items():
        section, key = dotted.split(".")
        if not isinstance(expected.get(section), dict):
            expected[section] = {}
        expected[section][key] = dict(value) if isinstance(value, Mapping) else value
    if (yaml.safe_load(after) or {}) != expected:
        wanted = ", ".join(f"{dotted}: {value!r}" for dotted, value in changes.items())
        raise OperationFailed(
            f"could not edit {path.name} line by line (its layout is unusual); set {wanted} "
            "in it by hand and run the command again."
        )
    return after
