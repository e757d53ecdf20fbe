"""A targeted edit of one params file: set one key of one top-level section, keeping every
other line (comments, order, quoting) as it was. The result is read back and validated
before it is written, so a failed edit leaves the file untouched."""

from __future__ import annotations

import json
import re
from pathlib import Path

from infra.core.errors import BadInput
from infra.settings import params

_TOP_KEY = re.compile(r"^(?P<key>[A-Za-z_][\w-]*):(?P<rest>.*)$")


def set_value(env: str, section: str, key: str, value: str) -> Path:
    """`<section>.<key>: value` in params/<env>.yaml (added if absent); returns the path."""
    path = params.PARAMS_DIR / f"{env}.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    entry = f"{key}: {json.dumps(value)}"  # a JSON string is a valid YAML scalar, quoted
    start = _section_line(lines, section, path)
    if start is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines += [f"{section}:\n", f"  {entry}\n"]
    else:
        end = start + 1
        while end < len(lines) and (not lines[end].strip() or lines[end][0] in " #\t"):
            end += 1
        body = [i for i in range(start + 1, end) if lines[i].strip() and lines[i][0] == " "]
        indent = _indent(lines[body[0]]) if body else "  "
        found = next(
            (i for i in body if lines[i].startswith(f"{indent}{key}:")),
            None,
        )
        if found is not None:
            lines[found] = f"{indent}{entry}\n"
        else:
            lines.insert((body[-1] + 1) if body else start + 1, f"{indent}{entry}\n")
    text = "".join(lines)
    candidate = path.with_name(f".{path.name}.edit")
    candidate.write_text(text, encoding="utf-8")
    try:
        settings = params.load_file(candidate, env)
    finally:
        candidate.unlink()
    if getattr(getattr(settings, section), key) != value:
        raise BadInput(f"{path.name}: could not set {section}.{key}; set it by hand to {value}.")
    path.write_text(text, encoding="utf-8")
    params.load.cache_clear()
    return path


def _section_line(lines: list[str], section: str, path: Path) -> int | None:
    for number, line in enumerate(lines):
        match = _TOP_KEY.match(line)
        if match and match["key"] == section:
            rest = match["rest"].split("#", 1)[0].strip()
            if rest:  # `database: {...}` on one line: not a block this edit can extend
                raise BadInput(
                    f"params/{path.name} line {number + 1}: {section} is written on one line; "
                    f"write it as a block ({section}:, then one key per line) and run again."
                )
            return number
    return None


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" "))]
