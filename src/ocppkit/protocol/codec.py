"""Payload encoding, decoding and validation, with the three validation modes.

- ``strict``: every schema constraint is enforced; a failure raises ``PayloadValidationError``
  carrying the OCPP error code and the field path. The hot path is one msgspec decode in C.
- ``lenient``: what a typed object can still hold is accepted and reported as ``Issue``s: unknown
  fields (dropped), enum values outside the schema (kept as strings), too-long strings, values out
  of range, lists of the wrong length, ``null`` for optional fields (taken as absent), timestamps
  without a timezone (taken as UTC), a malformed 2.x ``customData`` (dropped: it is only an
  extension point). Missing required fields and wrong JSON types still fail.
- ``off``: as lenient, without reporting; outgoing payloads are not checked at all.

Mapping of schema failures to codes (``shared/ocpp-reference/rpc.md`` §6): wrong JSON type ->
TypeConstraintViolation; missing required field, too few / too many items ->
OccurrenceConstraintViolation; enum, length, range, decimal places, date-time format ->
PropertyConstraintViolation; unknown field or a payload that is not an object -> FormatViolation.

Integral numbers written with a fraction (``300.0``) are accepted for integer fields, as JSON Schema
draft-06 (2.x) does; the 1.6 draft-04 schemas would refuse them. Date-times are parsed by msgspec,
which also accepts a space for ``T`` and offsets without a colon (``+0200``). Outgoing 2.x
date-times are written with at most 3 fraction digits (``millis``; rpc.md §10), truncated to the
millisecond; 1.6 sets no limit, so its date-times keep msgspec's 6 digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal, TypeAlias, TypeVar

import msgspec
import msgspec.inspect as mi

from ocppkit.messages import actions
from ocppkit.messages._base import CustomData, OcppStruct, dec_hook, decimal_places_ok
from ocppkit.messages._base import relaxed_decimals as _relaxed_decimals
from ocppkit.protocol.errors import ErrorCode, NotImplementedCallError, PayloadValidationError
from ocppkit.protocol.events import CallReceived
from ocppkit.protocol.frames import Call, FrameError, parse_frame
from ocppkit.protocol.versions import OcppVersion

__all__ = [
    "Issue",
    "Mode",
    "decode_call",
    "decode_payload",
    "encode_checked",
    "encode_payload",
    "payload_type_info",
]

Mode: TypeAlias = Literal["strict", "lenient", "off"]
"""Validation mode for one direction of one action."""

T = TypeVar("T", bound=OcppStruct)


@dataclass(frozen=True, slots=True)
class Issue:
    """A schema violation accepted in lenient mode: its code, field path and reason."""

    code: ErrorCode
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


_encoder = msgspec.json.Encoder()
_decoders: dict[type, msgspec.json.Decoder[Any]] = {}


def _decoder(tp: type[T]) -> msgspec.json.Decoder[T]:
    dec = _decoders.get(tp)
    if dec is None:
        dec = _decoders[tp] = msgspec.json.Decoder(tp, dec_hook=dec_hook)
    return dec


def encode_payload(payload: OcppStruct, *, millis: bool = False) -> bytes:
    """A payload object -> its JSON bytes (absent optional fields omitted).

    ``millis=True`` (OCPP 2.x, whose date-times have at most 3 fraction digits): every date-time
    with a sub-second part is written to the millisecond (truncated); msgspec writes 6 digits.
    """
    raw = _encoder.encode(payload)
    return _to_millis(raw, payload) if millis else raw


# the fraction of a date-time as msgspec writes it: always 6 digits
_SIX_DIGITS = re.compile(rb'\.\d{6}(?:Z|[+-]\d\d:\d\d)?"')


def _to_millis(raw: bytes, payload: OcppStruct) -> bytes:
    """``raw`` (``payload`` encoded) with its date-times to the millisecond. Exact: a string
    that only looks like a date-time keeps its text (it is re-encoded from the objects)."""
    if _SIX_DIGITS.search(raw) is None:  # the usual case: one scan, no copy
        return raw
    return _encoder.encode(_millis_tree(msgspec.to_builtins(payload, builtin_types=(datetime,))))


def _millis_tree(value: Any) -> Any:
    if type(value) is dict:
        return {key: _millis_tree(item) for key, item in value.items()}
    if type(value) is list:
        return [_millis_tree(item) for item in value]
    if isinstance(value, datetime):  # msgspec's own text, its fraction cut to 3 digits
        text = _encoder.encode(value)  # b'"2025-01-02T03:04:05.123456Z"': 6 digits or none
        dot = text.find(b".")
        if dot < 0:
            return msgspec.Raw(text)
        millis = text[dot : dot + 4] if text[dot + 1 : dot + 4] != b"000" else b""
        return msgspec.Raw(text[:dot] + millis + text[dot + 7 :])
    return value


def decode_payload(
    tp: type[T], raw: bytes | msgspec.Raw, mode: Mode = "strict", *, may_hold_null: bool = True
) -> tuple[T, list[Issue]]:
    """JSON bytes -> an instance of ``tp``, validated per ``mode``; returns the issues accepted.

    ``may_hold_null=False`` (the caller saw no ``null`` in the whole frame) skips the null scan.

    Raises ``PayloadValidationError`` for what ``mode`` does not accept.
    """
    try:
        obj = _decoder(tp).decode(raw)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if mode != "strict":
            return _relaxed(tp, raw, report=mode == "lenient")
        if message.startswith("Expected `int`, got `float`"):
            # JSON Schema (draft-06) counts 300.0 as an integer: accept integral floats as ints
            obj, issues = _relaxed(tp, raw, report=True)
            if not issues:
                return obj, []
        raise _from_msgspec(message) from None
    except (msgspec.DecodeError, UnicodeError) as exc:
        raise PayloadValidationError(
            ErrorCode.FORMAT_VIOLATION, "", f"invalid JSON: {exc}"
        ) from None
    # msgspec takes ``null`` as "absent" for optional fields; the schemas never allow it.
    if may_hold_null and mode != "off" and b"null" in (raw if type(raw) is bytes else bytes(raw)):
        issues = _walk_issues(tp, raw)
        if issues and mode == "strict":
            raise PayloadValidationError(issues[0].code, issues[0].path, issues[0].reason)
        return obj, issues
    return obj, []


def decode_call(data: bytes | str, version: OcppVersion, mode: Mode = "strict") -> CallReceived:
    """Parse and validate one CALL frame: ``decode_call(b'[2,"1","Heartbeat",{}]', V16).request``.

    Raises ``FrameError`` (not a valid frame, or not a CALL), ``NotImplementedCallError`` (action
    unknown to ``version``) or ``PayloadValidationError``.
    """
    frame = parse_frame(data, version)
    if not isinstance(frame, Call):
        raise FrameError(ErrorCode.PROTOCOL_ERROR, "not a CALL frame", frame.unique_id)
    spec = actions(version).get(frame.action)
    if spec is None or spec.send_only:
        raise NotImplementedCallError(f"unknown action {frame.action!r} in OCPP {version}")
    request, _ = decode_payload(spec.request, frame.payload, mode)
    return CallReceived(frame.unique_id, frame.action, request)


def encode_checked(
    payload: OcppStruct, mode: Mode, *, millis: bool = False
) -> tuple[bytes, list[Issue]]:
    """Encode an outgoing payload and check the bytes per ``mode``: strict raises
    ``PayloadValidationError``, lenient returns the issues, off does not check. ``millis``: as
    for ``encode_payload`` (OCPP 2.x)."""
    raw = encode_payload(payload, millis=millis)
    if mode == "off":
        return raw, []
    _, issues = decode_payload(type(payload), raw, mode)
    return raw, issues


# -- strict: msgspec's message -> (code, path, reason) ----------------------------------------

_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_FIELD = re.compile(r"(?:field|for) `(?P<name>[^`]+)`")
_RULES: list[tuple[re.Pattern[str], ErrorCode]] = [
    (re.compile(r"^Object missing required field"), ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
    (re.compile(r"^Object contains unknown field"), ErrorCode.FORMAT_VIOLATION),
    (re.compile(r"^Expected `array` of length"), ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION),
    (re.compile(r"^Expected `\w+` of length"), ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    (re.compile(r"^Expected `\w+` [<>]=?"), ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    (re.compile(r"^Invalid enum value"), ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    (re.compile(r"^Invalid RFC3339"), ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    (re.compile(r"^Expected `datetime` with a timezone"), ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    (re.compile(r"^Invalid value for"), ErrorCode.PROPERTY_CONSTRAINT_VIOLATION),
    (re.compile(r"^Expected `[^`]+`"), ErrorCode.TYPE_CONSTRAINT_VIOLATION),
]


def _from_msgspec(message: str) -> PayloadValidationError:
    m = _AT.match(message)
    assert m is not None  # the pattern matches any string
    msg, path = m["msg"], (m["path"] or "").removeprefix(".")
    code = next((c for rx, c in _RULES if rx.search(msg)), ErrorCode.GENERIC_ERROR)
    named = _FIELD.search(msg)
    if named and not msg.startswith("Expected `array`"):
        path = f"{path}.{named['name']}" if path else named["name"]
    if (
        code is ErrorCode.TYPE_CONSTRAINT_VIOLATION
        and not path
        and msg.startswith("Expected `object`")
    ):
        code = ErrorCode.FORMAT_VIOLATION  # the payload itself is not a JSON object
    msg = re.sub(r"^Invalid value for `[^`]+`: ", "", msg)
    msg = re.sub(r" for field `[^`]+`$", "", msg)
    return PayloadValidationError(code, path, msg)


# -- lenient: a relaxed walk over the msgspec type tree ----------------------------------------

_Fatal = PayloadValidationError


def _relaxed(tp: type[T], raw: bytes | msgspec.Raw, *, report: bool) -> tuple[T, list[Issue]]:
    try:
        data = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeError) as exc:
        raise PayloadValidationError(
            ErrorCode.FORMAT_VIOLATION, "", f"invalid JSON: {exc}"
        ) from None
    issues: list[Issue] = []
    info = payload_type_info(tp)
    if not isinstance(data, dict):
        raise _Fatal(ErrorCode.FORMAT_VIOLATION, "", f"Expected `object`, got `{_json_type(data)}`")
    with _relaxed_decimals():
        obj = _build(data, info, "", issues)
    return obj, issues if report else []


@cache
def payload_type_info(tp: type[OcppStruct]) -> mi.Type:
    """msgspec's type tree of a payload class (built once per class)."""
    return mi.type_info(tp)


def _walk_issues(tp: type[OcppStruct], raw: bytes | msgspec.Raw) -> list[Issue]:
    """Every issue in a payload that msgspec accepted (used to find ``null`` values)."""
    return _relaxed(tp, raw, report=True)[1]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "bool",
        int: "int",
        float: "float",
        str: "str",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _build(value: Any, t: mi.Type, path: str, issues: list[Issue]) -> Any:
    handler = _HANDLERS.get(type(t))
    if handler is None:  # pragma: no cover - the generator emits no other types
        raise _Fatal(ErrorCode.GENERIC_ERROR, path, f"unsupported type {t!r}")
    return handler(value, t, path, issues)


def _type_error(expected: str, value: Any, path: str) -> _Fatal:
    return _Fatal(
        ErrorCode.TYPE_CONSTRAINT_VIOLATION,
        path,
        f"Expected `{expected}`, got `{_json_type(value)}`",
    )


def _struct(value: Any, t: mi.StructType, path: str, issues: list[Issue]) -> Any:
    if not isinstance(value, dict):
        raise _type_error("object", value, path)
    known = {f.encode_name: f for f in t.fields}
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        f = known.get(key)
        if f is None:
            if t.forbid_unknown_fields:
                issues.append(
                    Issue(
                        ErrorCode.FORMAT_VIOLATION,
                        _join(path, key),
                        f"Object contains unknown field `{key}`",
                    )
                )
            continue
        fpath = _join(path, key)
        if item is None and not _accepts_null(f.type):
            if f.required:
                raise _type_error(_describe(f.type), None, fpath)
            reason = f"Expected `{_describe(f.type)}`, got `null`"
            issues.append(Issue(ErrorCode.TYPE_CONSTRAINT_VIOLATION, fpath, reason))
            continue
        kwargs[f.name] = _build(item, f.type, fpath, issues)
    for f in t.fields:
        if f.required and f.name not in kwargs:
            raise _Fatal(
                ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
                _join(path, f.encode_name),
                f"Object missing required field `{f.encode_name}`",
            )
    obj = t.cls(**kwargs)
    for name, places in getattr(t.cls, "__ocpp_decimals__", {}).items():
        number = kwargs.get(name)
        if number is not None and not decimal_places_ok(number, places):
            wire = next(f.encode_name for f in t.fields if f.name == name)
            issues.append(
                Issue(
                    ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                    _join(path, wire),
                    f"{number!r} has more than {places} decimal place(s)",
                )
            )
    return obj


def _accepts_null(t: mi.Type) -> bool:
    """True where the schema allows JSON null: only untyped values (2.x DataTransfer ``data``)."""
    if isinstance(t, mi.UnionType):
        return any(isinstance(x, mi.AnyType) for x in t.types)
    return isinstance(t, mi.AnyType)


def _describe(t: mi.Type) -> str:
    if isinstance(t, mi.UnionType):
        return " | ".join(_describe(x) for x in t.types if not isinstance(x, mi.NoneType))
    names = {
        mi.StrType: "str",
        mi.IntType: "int",
        mi.FloatType: "float",
        mi.BoolType: "bool",
        mi.ListType: "array",
        mi.StructType: "object",
        mi.LiteralType: "str",
        mi.DateTimeType: "datetime",
        mi.CustomType: "object",
    }
    return names.get(type(t), "value")


def _union(value: Any, t: mi.UnionType, path: str, issues: list[Issue]) -> Any:
    inner = [x for x in t.types if not isinstance(x, mi.NoneType)]
    return _build(value, inner[0], path, issues)


def _check_range(
    value: float, t: mi.IntType | mi.FloatType, path: str, issues: list[Issue]
) -> None:
    name = "int" if isinstance(t, mi.IntType) else "float"
    if t.ge is not None and value < t.ge:
        issues.append(
            Issue(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, path, f"Expected `{name}` >= {t.ge}")
        )
    if t.le is not None and value > t.le:
        issues.append(
            Issue(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, path, f"Expected `{name}` <= {t.le}")
        )


def _int(value: Any, t: mi.IntType, path: str, issues: list[Issue]) -> Any:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 300.0 is an integer in JSON Schema (draft-06)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error("int", value, path)
    _check_range(value, t, path, issues)
    return value


def _float(value: Any, t: mi.FloatType, path: str, issues: list[Issue]) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error("float", value, path)
    _check_range(value, t, path, issues)
    return float(value)


def _bool(value: Any, t: mi.BoolType, path: str, issues: list[Issue]) -> Any:
    if not isinstance(value, bool):
        raise _type_error("bool", value, path)
    return value


def _str(value: Any, t: mi.StrType, path: str, issues: list[Issue]) -> Any:
    if not isinstance(value, str):
        raise _type_error("str", value, path)
    if t.max_length is not None and len(value) > t.max_length:
        issues.append(
            Issue(
                ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                path,
                f"Expected `str` of length <= {t.max_length}",
            )
        )
    return value


def _literal(value: Any, t: mi.LiteralType, path: str, issues: list[Issue]) -> Any:
    if not isinstance(value, str):
        raise _type_error("str", value, path)
    if value not in t.values:
        issues.append(
            Issue(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, path, f"Invalid enum value {value!r}")
        )
    return value


def _list(value: Any, t: mi.ListType, path: str, issues: list[Issue]) -> Any:
    if not isinstance(value, list):
        raise _type_error("array", value, path)
    n = len(value)
    if (t.min_length is not None and n < t.min_length) or (
        t.max_length is not None and n > t.max_length
    ):
        bounds = (
            f">= {t.min_length}"
            if t.min_length is not None and n < t.min_length
            else f"<= {t.max_length}"
        )
        issues.append(
            Issue(
                ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
                path,
                f"Expected `array` of length {bounds}",
            )
        )
    return [_build(item, t.item_type, f"{path}[{i}]", issues) for i, item in enumerate(value)]


def _datetime(value: Any, t: mi.DateTimeType, path: str, issues: list[Issue]) -> Any:
    if not isinstance(value, str):
        raise _type_error("str", value, path)
    try:
        parsed = msgspec.convert(value, datetime)
    except msgspec.ValidationError:
        try:  # ISO 8601 forms real chargers send: "+0000", a space instead of "T" …
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _Fatal(
                ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, path, "Invalid RFC3339 encoded datetime"
            ) from None
        issues.append(
            Issue(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, path, "Invalid RFC3339 encoded datetime")
        )
    if parsed.tzinfo is None and t.tz:
        issues.append(
            Issue(
                ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                path,
                "datetime without timezone, taken as UTC",
            )
        )
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _custom(value: Any, t: mi.CustomType, path: str, issues: list[Issue]) -> Any:
    try:
        return dec_hook(t.cls, value)
    except (TypeError, ValueError) as exc:
        if t.cls is CustomData:
            issues.append(
                Issue(ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, path, f"{exc}; customData dropped")
            )
            return None
        raise  # pragma: no cover


def _any(value: Any, t: mi.AnyType, path: str, issues: list[Issue]) -> Any:
    return value


_HANDLERS: dict[type, Callable[[Any, Any, str, list[Issue]], Any]] = {
    mi.StructType: _struct,
    mi.UnionType: _union,
    mi.IntType: _int,
    mi.FloatType: _float,
    mi.BoolType: _bool,
    mi.StrType: _str,
    mi.LiteralType: _literal,
    mi.ListType: _list,
    mi.DateTimeType: _datetime,
    mi.CustomType: _custom,
    mi.AnyType: _any,
}
