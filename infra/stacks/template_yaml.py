"""CloudFormation YAML with the short intrinsic tags (`!Ref`, `!Sub`, `!GetAtt A.B`), written
by libyaml's C emitter: the pure-Python dumper took most of `invoke synth`'s time."""

from __future__ import annotations

from typing import Any

import yaml

# `Fn::X` -> `!X`; Ref and Condition have no `Fn::` prefix.
INTRINSICS = {
    "Ref": "!Ref",
    "Condition": "!Condition",
    **{
        f"Fn::{name}": f"!{name}"
        for name in (
            "And",
            "Base64",
            "Cidr",
            "Equals",
            "FindInMap",
            "GetAZs",
            "GetAtt",
            "If",
            "ImportValue",
            "Join",
            "Not",
            "Or",
            "Select",
            "Split",
            "Sub",
        )
    },
}


class _Tagged:
    __slots__ = ("tag", "value")

    def __init__(self, tag: str, value: Any):
        self.tag = tag
        self.value = value


class _Dumper(yaml.CSafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # never &anchors: a reviewer reads each value where it is used


def _represent_tagged(dumper: yaml.CSafeDumper, data: _Tagged) -> yaml.Node:
    if isinstance(data.value, dict):
        return dumper.represent_mapping(data.tag, data.value)
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value)
    text = str(data.value)
    return dumper.represent_scalar(data.tag, text, style="'" if not text else None)


_Dumper.add_representer(_Tagged, _represent_tagged)


def _short(node: Any) -> Any:
    """Replace intrinsic function mappings by tagged nodes, all the way down."""
    if isinstance(node, dict):
        if len(node) == 1:
            ((key, value),) = node.items()
            tag = INTRINSICS.get(key)
            # `Condition` is only a function inside Fn::And/Or/Not; as a resource attribute
            # or a plain property its value is a string name, which stays a mapping key.
            if tag and key != "Condition":
                if key == "Fn::GetAtt" and _is_name_pair(value):
                    return _Tagged(tag, f"{value[0]}.{value[1]}")
                return _Tagged(tag, _short(value))
        return {key: _short(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_short(item) for item in node]
    return node


def _is_name_pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)


def dump(template: dict[str, Any]) -> str:
    return yaml.dump(
        _short(template),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
        indent=2,
    )


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Reads a template with the short intrinsic tags kept as plain values."""


class _TextLoader(yaml.BaseLoader):
    """The same, with every scalar left as text (as CloudFormation reports values)."""


def _untagged(loader: yaml.BaseLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_Loader.add_multi_constructor("!", _untagged)
_TextLoader.add_multi_constructor("!", _untagged)


def load(body: str, *, text: bool = False) -> dict[str, Any]:
    """A template as data, `!Ref`-style tags read as their plain values: enough to read its
    Parameters, resource types and policies. `text` keeps every scalar a string."""
    return yaml.load(body, Loader=_TextLoader if text else _Loader) or {}
