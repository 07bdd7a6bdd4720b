"""Deterministic payloads driven by the OCA JSON schemas, and the schemas as a validation oracle.

- ``minimal(schema)``: required properties only, ``minItems`` items, shortest valid strings.
- ``full(schema)``: every property, 1..2 items per array, strings of exactly ``maxLength``.
- ``constraints(schema)``: every constrained location of ``full(schema)`` (path + keyword), so a
  test can break exactly one rule at one place and know the code and path to expect.
- ``oracle(schema)``: a ``jsonschema`` validator for the file's draft, with ``date-time`` checked
  (RFC 3339) and ``multipleOf`` checked on decimal digits.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypeAlias

import jsonschema
from jsonschema import Draft4Validator, Draft6Validator, FormatChecker

from ocppkit.messages import OcppStruct, actions, schema_dir
from ocppkit.protocol import OcppVersion

__all__ = [
    "CUSTOM_DATA",
    "DATE_TIME",
    "UNTYPED_DATA",
    "Constraint",
    "Json",
    "JsonPath",
    "Keyword",
    "Kind",
    "Schema",
    "Side",
    "all_sides",
    "constraints",
    "delete_at",
    "full",
    "get_at",
    "load_schema",
    "minimal",
    "oracle",
    "path_str",
    "resolve",
    "schema_at",
    "shallow",
    "schema_name",
    "set_at",
]

Json: TypeAlias = Any
"""A JSON value as ``json.loads`` returns it."""
Schema: TypeAlias = dict[str, Any]
"""A (sub)schema node."""
JsonPath: TypeAlias = tuple[str | int, ...]
"""Location in a payload: property names and array indices."""
Keyword: TypeAlias = Literal[
    "type",
    "null",
    "required",
    "additionalProperties",
    "enum",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "format",
    "multipleOf",
]
"""What a location constrains. ``null`` marks an optional typed property (null is never valid)."""
Kind: TypeAlias = Literal["request", "response"]
"""Which side of an action a schema describes."""

DATE_TIME = "2025-03-04T05:06:07Z"
DATE_TIME_FULL = "2025-03-04T05:06:07.250+02:00"
URI = "https://example.com/firmware.bin"
CUSTOM_DATA: dict[str, Json] = {"vendorId": "com.example", "x": 1}
UNTYPED_DATA: dict[str, Json] = {"key": "value", "n": 1, "list": [1, "two", True]}


# -- loading -----------------------------------------------------------------------------------


def schema_name(version: OcppVersion, action: str, kind: Kind) -> str:
    """The schema file stem of one side of an action.

    1.6 requests and the 2.1 SEND-only ``NotifyPeriodicEventStream`` have no suffix.
    """
    if kind == "response":
        return f"{action}Response"
    if (
        version is OcppVersion.V16
        or not schema_dir(version).joinpath(f"{action}Request.json").is_file()
    ):
        return action
    return f"{action}Request"


def load_schema(version: OcppVersion, name: str) -> Schema:
    """One shipped schema file, by stem."""
    text = schema_dir(version).joinpath(f"{name}.json").read_text(encoding="utf-8-sig")
    schema: Schema = json.loads(text)
    return schema


def resolve(root: Schema, node: Schema) -> Schema:
    """``node`` with a ``#/definitions/...`` reference followed."""
    while "$ref" in node:
        ref: str = node["$ref"]
        prefix = "#/definitions/"
        assert ref.startswith(prefix), ref
        node = root["definitions"][ref[len(prefix) :]]
    return node


def schema_at(root: Schema, path: JsonPath) -> Schema:
    """The resolved schema of the value at ``path`` (through ``properties`` and ``items``)."""
    node = resolve(root, root)
    for part in path:
        node = resolve(root, node["items"] if isinstance(part, int) else node["properties"][part])
    return node


def shallow(node: Schema) -> Schema:
    """``node`` without the schemas of its properties and items: only its own keywords apply."""
    out = {k: v for k, v in node.items() if k not in ("properties", "items", "definitions")}
    if "properties" in node:
        out["properties"] = {key: {} for key in node["properties"]}
    return out


def _is_custom_data(node: Schema, name: str | int | None) -> bool:
    return name == "customData" or str(node.get("$ref", "")).endswith("/CustomDataType")


def _is_untyped(node: Schema) -> bool:
    return "type" not in node and "$ref" not in node


@dataclass(frozen=True)
class Side:
    """One schema: the request or the response of one action of one version."""

    version: OcppVersion
    action: str
    kind: Kind

    @property
    def id(self) -> str:
        """``v201-BootNotification-request``."""
        return f"{self.version.package}-{self.action}-{self.kind}"

    @property
    def tp(self) -> type[OcppStruct]:
        """The payload class."""
        spec = actions(self.version)[self.action]
        tp = spec.request if self.kind == "request" else spec.response
        assert tp is not None
        return tp

    @property
    def schema(self) -> Schema:
        """The schema (a fresh copy each time)."""
        return load_schema(self.version, schema_name(self.version, self.action, self.kind))


def all_sides() -> list[Side]:
    """Every request and response schema of every version, in registry order."""
    sides = []
    for version in OcppVersion:
        for action, spec in actions(version).items():
            sides.append(Side(version, action, "request"))
            if spec.response is not None:
                sides.append(Side(version, action, "response"))
    return sides


# -- the oracle --------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$"
)


def _is_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    m = _RFC3339.match(instance)
    if m is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if m[9] is not None and (int(m[9]) > 23 or int(m[10]) > 59):
        return False
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


_FORMATS = FormatChecker(formats=())
_FORMATS.checks("date-time")(_is_date_time)


def _exact_multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any) -> Iterator[Any]:
    # jsonschema divides in binary floating point (12.3 / 0.1 != 123); the schemas mean decimals.
    if not validator.is_type(instance, "number"):
        return
    if Decimal(repr(instance)) % Decimal(repr(divisor)) != 0:
        yield jsonschema.ValidationError(f"{instance!r} is not a multiple of {divisor}")


_V4 = jsonschema.validators.extend(Draft4Validator, {"multipleOf": _exact_multiple_of})
_V6 = jsonschema.validators.extend(Draft6Validator, {"multipleOf": _exact_multiple_of})


def oracle(schema: Schema) -> Any:
    """A validator for ``schema`` per its ``$schema`` draft (draft-04 or draft-06)."""
    draft = str(schema.get("$schema", ""))
    cls = _V4 if "draft-04" in draft else _V6
    assert "draft-04" in draft or "draft-06" in draft, draft
    return cls(schema, format_checker=_FORMATS)


# -- generation --------------------------------------------------------------------------------


def minimal(schema: Schema) -> Json:
    """The smallest valid payload: required properties only, shortest values."""
    return _Gen(schema, full=False).value(schema, None)


def full(schema: Schema, *, items: int = 2) -> Json:
    """A valid payload with every property present and every string at its ``maxLength``;
    arrays hold ``items`` items (within ``minItems``/``maxItems``)."""
    return _Gen(schema, full=True, items=items).value(schema, None)


def _ascii(n: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return (alphabet * (n // len(alphabet) + 1))[:n]


def _clamp(value: float, node: Schema) -> float:
    lo, hi = node.get("minimum"), node.get("maximum")
    if hi is not None and value > hi:
        value = hi if lo is not None else hi - value
    if lo is not None and value < lo:
        value = lo
    return value


@dataclass(frozen=True)
class _Gen:
    root: Schema
    full: bool
    items: int = 2

    def value(self, node: Schema, name: str | int | None) -> Json:
        if _is_custom_data(node, name):
            return dict(CUSTOM_DATA)
        if _is_untyped(node):
            return copy.deepcopy(UNTYPED_DATA)
        node = resolve(self.root, node)
        kind = node["type"]
        if "enum" in node:
            return node["enum"][-1 if self.full else 0]
        if kind == "object":
            required = set(node.get("required", ()))
            return {
                key: self.value(sub, key)
                for key, sub in node.get("properties", {}).items()
                if self.full or key in required
            }
        if kind == "array":
            low = node.get("minItems", 0)
            count = (
                max(low, min(node.get("maxItems", self.items), self.items)) if self.full else low
            )
            return [self.value(node["items"], 0) for _ in range(count)]
        if kind == "string":
            if node.get("format") == "date-time":
                return DATE_TIME_FULL if self.full else DATE_TIME
            if node.get("format") == "uri":
                return URI
            return _ascii(node["maxLength"] if self.full and "maxLength" in node else 0)
        if kind == "integer":
            return int(_clamp(7 if self.full else 0, node))
        if kind == "number":
            if not self.full:
                return int(_clamp(0, node))  # a JSON integer in a number field
            return _clamp(12.3 if "multipleOf" in node else 6.25, node)
        if kind == "boolean":
            return self.full
        raise AssertionError(f"unexpected schema node {node!r}")


# -- constrained locations ---------------------------------------------------------------------


@dataclass(frozen=True)
class Constraint:
    """One rule at one place of ``full(schema)``: break it to get one known error."""

    path: JsonPath
    """Where: the value (for ``additionalProperties``: the object; ``required``: the property)."""
    keyword: Keyword
    node: Schema
    """The resolved schema of the value at ``path``."""


def constraints(schema: Schema) -> list[Constraint]:
    """Every constrained location of ``full(schema)``; array items are visited at index 0."""
    out: list[Constraint] = []
    _walk(schema, schema, (), None, out, required=True)
    return out


def _walk(
    root: Schema,
    node: Schema,
    path: JsonPath,
    name: str | int | None,
    out: list[Constraint],
    *,
    required: bool,
) -> None:
    if _is_untyped(node):
        return  # any JSON, including null
    custom = _is_custom_data(node, name)
    node = resolve(root, node)
    out.append(Constraint(path, "type", node))
    if path and isinstance(name, str):
        out.append(Constraint(path, "required" if required else "null", node))
    if custom:
        vendor = node["properties"]["vendorId"]
        out.append(Constraint((*path, "vendorId"), "required", vendor))
        return
    for keyword in (
        "enum",
        "maxLength",
        "minimum",
        "maximum",
        "minItems",
        "maxItems",
        "multipleOf",
    ):
        if keyword in node:
            out.append(Constraint(path, keyword, node))
    if node.get("format") == "date-time":
        out.append(Constraint(path, "format", node))
    if node["type"] == "array":
        _walk(root, node["items"], (*path, 0), 0, out, required=True)
    elif node["type"] == "object":
        if node.get("additionalProperties") is False:
            out.append(Constraint(path, "additionalProperties", node))
        needed = set(node.get("required", ()))
        for key, sub in node.get("properties", {}).items():
            _walk(root, sub, (*path, key), key, out, required=key in needed)


# -- paths -------------------------------------------------------------------------------------


def path_str(path: JsonPath) -> str:
    """``("meterValue", 0, "sampledValue")`` -> ``meterValue[0].sampledValue`` (ocppkit's form)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def get_at(payload: Json, path: JsonPath) -> Json:
    """The value at ``path``."""
    for part in path:
        payload = payload[part]
    return payload


def _copy_path(payload: Json, path: JsonPath) -> tuple[Json, Json]:
    """A copy of ``payload`` whose containers along ``path[:-1]`` are new (the rest is shared),
    and the (new) container that holds ``path[-1]``."""
    out = copy.copy(payload)
    node = out
    for part in path[:-1]:
        node[part] = copy.copy(node[part])
        node = node[part]
    return out, node


def set_at(payload: Json, path: JsonPath, value: Json) -> Json:
    """``payload`` with the value at ``path`` replaced (``path == ()``: ``value``); the input is
    left as it was (only the containers along the path are copied)."""
    if not path:
        return value
    out, parent = _copy_path(payload, path)
    parent[path[-1]] = value
    return out


def delete_at(payload: Json, path: JsonPath) -> Json:
    """``payload`` without the property at ``path``; the input is left as it was."""
    out, parent = _copy_path(payload, path)
    del parent[path[-1]]
    return out
