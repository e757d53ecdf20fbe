"""Read one params file into plain data: UTF-8 text, YAML, every key given once.

YAML itself lets a key appear twice in a mapping and keeps the last value: a second `app:`
block would silently replace the first one whole. Here it is refused, naming both lines.
Every problem is one `BadInput` line naming the file and where in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from infra.core.errors import BadInput

_MERGE_TAG = "tag:yaml.org,2002:merge"  # `<<: *defaults` may be overridden by a key: fine


def read(path: Path, where: str) -> Any:
    """The file's YAML document as Python data (None when empty)."""
    text = _utf8(path.read_bytes(), where)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_repeated_keys(node, where, (), set())
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise BadInput(f"{where}: not valid YAML: {_yaml_problem(exc)}") from None
    finally:
        loader.dispose()


def _utf8(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        raise BadInput(
            f"{where}: not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line}, column "
            f"{column}; save the file as UTF-8"
        ) from None


def _refuse_repeated_keys(
    node: yaml.Node, where: str, path: tuple[str, ...], seen_nodes: set[int]
) -> None:
    if id(node) in seen_nodes:  # an alias to a node already checked (or a cycle)
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_repeated_keys(item, where, (*path, str(index)), seen_nodes)
    if not isinstance(node, yaml.MappingNode):
        return
    first_line: dict[str, int] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
            _refuse_repeated_keys(value_node, where, path, seen_nodes)
            continue
        key, line = key_node.value, key_node.start_mark.line + 1
        if key in first_line:
            raise BadInput(
                f"{where}: key {'.'.join((*path, key))!r} is given twice (lines "
                f"{first_line[key]} and {line}); YAML would keep only the second. Merge them "
                "into one."
            )
        first_line[key] = line
        _refuse_repeated_keys(value_node, where, (*path, key), seen_nodes)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: what the parser expected, and where."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"{problem}{where}; fix the YAML syntax there"
