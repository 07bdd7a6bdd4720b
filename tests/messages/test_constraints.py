"""Every schema constraint, broken one at a time, is rejected with the right code and exact path.

The schemas are the oracle: each violating payload is first shown to be invalid by ``jsonschema``
(with the failing keyword at the same place), then ``decode_payload(..., "strict")`` must raise
``PayloadValidationError`` with the code of the documented mapping and the exact field path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
import pytest

from ocppkit.messages import OcppStruct, actions, v16, v21, v201
from ocppkit.protocol import OcppVersion
from ocppkit.protocol.codec import Issue, Mode, decode_payload, encode_payload
from ocppkit.protocol.errors import ErrorCode, PayloadValidationError
from tests.messages.schema_payloads import (
    DATE_TIME,
    Constraint,
    Json,
    JsonPath,
    Keyword,
    Schema,
    Side,
    all_sides,
    constraints,
    delete_at,
    full,
    get_at,
    load_schema,
    minimal,
    oracle,
    path_str,
    resolve,
    schema_at,
    set_at,
    shallow,
)

TYPE = ErrorCode.TYPE_CONSTRAINT_VIOLATION
OCCURRENCE = ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION
PROPERTY = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
FORMAT = ErrorCode.FORMAT_VIOLATION

CODE: dict[Keyword, ErrorCode] = {
    "type": TYPE,
    "null": TYPE,
    "required": OCCURRENCE,
    "minItems": OCCURRENCE,
    "maxItems": OCCURRENCE,
    "enum": PROPERTY,
    "maxLength": PROPERTY,
    "minimum": PROPERTY,
    "maximum": PROPERTY,
    "multipleOf": PROPERTY,
    "format": PROPERTY,
    "additionalProperties": FORMAT,
}
"""The documented mapping of failing schema keywords to OCPP error codes."""

UNKNOWN = "unknownExtraField"
SIDES = all_sides()


@dataclass(frozen=True)
class Violation:
    """``payload`` breaks ``keyword`` at ``at``; ocppkit must answer ``code`` at ``path``."""

    label: str
    keyword: Keyword
    payload: Json
    at: JsonPath
    code: ErrorCode
    path: str
    lenient: bool
    """Whether lenient mode accepts it (and reports one ``Issue``)."""


WRONG_TYPE: dict[str, list[Json]] = {
    "string": [42],
    "integer": ["7", 1.5],
    "number": ["6.25", True],
    "boolean": ["true", 1],
    "object": [[], "x"],
    "array": [{}, "x"],
}
"""Values of another JSON type, per schema ``type``."""


def _number(node: Schema, bound: float, direction: int) -> float:
    """Just past ``bound``; an integer for integer fields (the schemas write ``"minimum": 0.0``)."""
    if node["type"] == "integer":
        return int(bound) + direction
    return bound + direction * 0.5


def violations(c: Constraint, payload: Json) -> Iterator[Violation]:
    """The payloads that break ``c`` (and nothing else) in ``payload``."""
    at, node, kw = c.path, c.node, c.keyword
    where = path_str(at)

    def v(label: str, bad: Json, *, lenient: bool, path: str = where) -> Violation:
        code = FORMAT if kw == "type" and not at else CODE[kw]
        return Violation(f"{kw}:{label}", kw, bad, at, code, path, lenient)

    if kw == "type":
        for wrong in WRONG_TYPE[node["type"]]:
            yield v(json.dumps(wrong), set_at(payload, at, wrong), lenient=False)
    elif kw == "null":
        yield v("null", set_at(payload, at, None), lenient=True)
    elif kw == "required":
        yield v("missing", delete_at(payload, at), lenient=False)
    elif kw == "additionalProperties":
        bad = set_at(payload, (*at, UNKNOWN), 1)
        yield v("unknown", bad, lenient=True, path=path_str((*at, UNKNOWN)))
    elif kw == "enum":
        yield v("not-listed", set_at(payload, at, "NotAnEnumValue"), lenient=True)
    elif kw == "maxLength":
        too_long = "x" * (node["maxLength"] + 1)
        yield v("too-long", set_at(payload, at, too_long), lenient=True)
    elif kw == "minimum":
        yield v("below", set_at(payload, at, _number(node, node["minimum"], -1)), lenient=True)
    elif kw == "maximum":
        yield v("above", set_at(payload, at, _number(node, node["maximum"], +1)), lenient=True)
    elif kw == "minItems":
        items = get_at(payload, at)
        yield v("too-few", set_at(payload, at, items[: node["minItems"] - 1]), lenient=True)
    elif kw == "maxItems":
        items = get_at(payload, at)
        yield v("too-many", set_at(payload, at, [items[0]] * (node["maxItems"] + 1)), lenient=True)
    elif kw == "multipleOf":
        yield v("two-decimals", set_at(payload, at, 12.34), lenient=True)
    elif kw == "format":
        yield v("garbage", set_at(payload, at, "not a date-time"), lenient=False)
        yield v("bad-month", set_at(payload, at, "2025-13-04T05:06:07Z"), lenient=False)
        yield v("no-timezone", set_at(payload, at, DATE_TIME.removesuffix("Z")), lenient=True)
    else:  # pragma: no cover
        raise AssertionError(kw)


def _scope(v: Violation) -> JsonPath:
    """Where the broken rule applies: the object for ``required``, else the value itself."""
    return v.at[:-1] if v.keyword == "required" else v.at


_ORACLE_KEYWORD: dict[Keyword, str] = {"null": "type"}


def oracle_problem(validator: Any, root: Schema, v: Violation) -> str | None:
    """None when jsonschema rejects ``v.payload`` for ``v.keyword`` at the expected place.

    ``v.payload`` differs from a valid payload at one place only, so checking the keywords of
    that one schema node (``shallow``) decides whether the whole payload is valid, quickly.
    """
    scope = _scope(v)
    node = validator.evolve(schema=shallow(schema_at(root, scope)))
    found = [
        (e.validator, path_str((*scope, *e.absolute_path)))
        for e in node.iter_errors(get_at(v.payload, scope))
    ]
    wanted = (_ORACLE_KEYWORD.get(v.keyword, v.keyword), path_str(scope))
    return None if wanted in found else f"jsonschema reported {found}, expected {wanted}"


def raw(payload: Json) -> bytes:
    return json.dumps(payload).encode()


def strict_problem(tp: type[OcppStruct], v: Violation) -> str | None:
    """None when strict decoding raises exactly the expected code and path."""
    try:
        decode_payload(tp, raw(v.payload), "strict")
    except PayloadValidationError as exc:
        if (exc.code, exc.path) == (v.code, v.path):
            return None
        return f"got {exc.code} at {exc.path!r} ({exc.reason}), expected {v.code} at {v.path!r}"
    return f"accepted, expected {v.code} at {v.path!r}"


def _report(side: Side, problems: list[str]) -> str:
    head = f"{len(problems)} violation(s) of {side.id} not handled as expected:\n"
    return head + "\n".join(problems[:25])


# -- every constrained location of every schema --------------------------------------------


def sweep(side: Side, *, optional_type: bool) -> tuple[int, list[str]]:
    """Break every rule of ``side`` once; returns how many payloads were checked and the problems.

    ``optional_type`` selects only (True) or all but (False) the wrong-type values given to
    optional fields.
    """
    schema = side.schema
    validator = oracle(schema)
    payload = full(schema, items=1)
    assert validator.is_valid(payload)
    found = constraints(schema)
    optional = {c.path for c in found if c.keyword == "null"}
    problems: list[str] = []
    checked = 0
    for c in found:
        if (c.keyword == "type" and c.path in optional) is not optional_type:
            continue
        for v in violations(c, payload):
            checked += 1
            for problem in (oracle_problem(validator, schema, v), strict_problem(side.tp, v)):
                if problem is not None:
                    problems.append(f"{v.label} at {path_str(v.at) or '<payload>'}: {problem}")
    return checked, problems


@pytest.mark.parametrize("side", SIDES, ids=[s.id for s in SIDES])
def test_every_constraint_is_enforced_with_code_and_path(side: Side) -> None:
    checked, problems = sweep(side, optional_type=False)
    assert checked > 0
    assert not problems, _report(side, problems)


@pytest.mark.parametrize("version", list(OcppVersion), ids=[v.package for v in OcppVersion])
def test_wrong_type_for_an_optional_field_is_a_type_violation(version: OcppVersion) -> None:
    total, problems = 0, []
    for side in SIDES:
        if side.version is version:
            checked, found = sweep(side, optional_type=True)
            total += checked
            problems += [f"{side.id}: {p}" for p in found]
    assert total > 0
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:25])


def test_wrong_type_for_an_optional_field_is_rejected_at_its_path() -> None:
    """What of the check above holds today: rejected, at the right path (the code is wrong)."""
    payload = {"idTagInfo": {"status": "Accepted", "parentIdTag": 42}}
    with pytest.raises(PayloadValidationError) as info:
        decode_payload(v16.AuthorizeResponse, raw(payload), "strict")
    assert info.value.path == "idTagInfo.parentIdTag"


EXPECTED_KEYWORDS: dict[OcppVersion, set[Keyword]] = {
    # 1.6 has no numeric ranges and no maxItems; only the smart charging limits are decimals
    OcppVersion.V16: set(CODE) - {"minimum", "maximum", "maxItems"},
    OcppVersion.V201: set(CODE) - {"multipleOf"},
    OcppVersion.V21: set(CODE) - {"multipleOf"},
}


@pytest.mark.parametrize("version", list(OcppVersion), ids=[v.package for v in OcppVersion])
def test_every_keyword_kind_is_exercised(version: OcppVersion) -> None:
    seen: set[Keyword] = set()
    for side in SIDES:
        if side.version is version:
            seen.update(c.keyword for c in constraints(side.schema))
    assert seen == EXPECTED_KEYWORDS[version]


# -- hand-picked examples ----------------------------------------------------------------------


def meter_values_16(measurands: list[str], meter_values: int = 1) -> Json:
    sampled = [{"value": str(i), "measurand": m} for i, m in enumerate(measurands)]
    one = {"timestamp": DATE_TIME, "sampledValue": sampled}
    return {"connectorId": 1, "transactionId": 7, "meterValue": [one] * meter_values}


def expect_strict(tp: type[OcppStruct], payload: Json, code: ErrorCode, path: str) -> None:
    with pytest.raises(PayloadValidationError) as info:
        decode_payload(tp, raw(payload), "strict")
    assert (info.value.code, info.value.path) == (code, path), info.value.reason


def test_path_names_the_third_sampled_value() -> None:
    payload = meter_values_16(["Voltage", "Current.Import", "Bogus"])
    assert not oracle(load_schema(OcppVersion.V16, "MeterValues")).is_valid(payload)
    expect_strict(
        v16.MeterValuesRequest, payload, PROPERTY, "meterValue[0].sampledValue[2].measurand"
    )


def test_path_indices_count_in_outer_arrays_too() -> None:
    payload = meter_values_16(["Voltage", "Current.Import", "SoC"], meter_values=2)
    payload["meterValue"][1] = {
        "timestamp": DATE_TIME,
        "sampledValue": [{"value": "1"}, {"value": "2"}, {"value": "3", "phase": "L4"}],
    }
    expect_strict(v16.MeterValuesRequest, payload, PROPERTY, "meterValue[1].sampledValue[2].phase")


def test_valid_meter_values_with_three_sampled_values_decode() -> None:
    payload = meter_values_16(["Voltage", "Current.Import", "SoC"])
    obj, issues = decode_payload(v16.MeterValuesRequest, raw(payload), "strict")
    assert issues == []
    assert [s.measurand for s in obj.meter_value[0].sampled_value] == [
        "Voltage",
        "Current.Import",
        "SoC",
    ]


WIRE_NAMES = ["limit_L2", "dischargeLimit_L3", "fixedPF", "taxRuleID", "priceScheduleID"]


def _first_location(name: str) -> tuple[Side, Constraint]:
    """The first 2.1 property called ``name``: its ``required`` or ``null`` constraint."""
    for side in SIDES:
        if side.version is OcppVersion.V21:
            for c in constraints(side.schema):
                if c.keyword in ("required", "null") and c.path[-1:] == (name,):
                    return side, c
    raise AssertionError(f"{name} is in no 2.1 schema")


@pytest.mark.parametrize("name", WIRE_NAMES)
def test_path_uses_the_exact_wire_name(name: str) -> None:
    side, c = _first_location(name)
    payload = full(side.schema)
    if c.keyword == "null":  # optional: an explicit null
        bad, code = set_at(payload, c.path, None), TYPE
    else:  # required: left out
        bad, code = delete_at(payload, c.path), OCCURRENCE
    assert not oracle(side.schema).is_valid(bad)
    with pytest.raises(PayloadValidationError) as info:
        decode_payload(side.tp, raw(bad), "strict")
    assert (info.value.code, info.value.path) == (code, path_str(c.path))
    assert info.value.path.endswith(name)
    assert name in info.value.description


def test_update_dynamic_schedule_limit_l2_path() -> None:
    payload: dict[str, Any] = {"chargingProfileId": 1, "scheduleUpdate": {"limit_L2": None}}
    expect_strict(v21.UpdateDynamicScheduleRequest, payload, TYPE, "scheduleUpdate.limit_L2")
    payload["scheduleUpdate"] = {"limit_L2": 2.5, "limit_l2": 1.0}
    expect_strict(v21.UpdateDynamicScheduleRequest, payload, FORMAT, "scheduleUpdate.limit_l2")
    payload["scheduleUpdate"] = {"limit_L2": 2.5}
    obj, _ = decode_payload(v21.UpdateDynamicScheduleRequest, raw(payload), "strict")
    assert obj.schedule_update.limit_l2 == 2.5
    assert json.loads(encode_payload(obj)) == payload


# 1.6 smart charging limits: multipleOf 0.1 (one decimal place), checked on the decimal digits.
DECIMAL_LIMITS = [
    ("SetChargingProfile", "request", "csChargingProfiles.chargingSchedule"),
    ("RemoteStartTransaction", "request", "chargingProfile.chargingSchedule"),
    ("GetCompositeSchedule", "response", "chargingSchedule"),
]


@pytest.mark.parametrize(("action", "kind", "schedule"), DECIMAL_LIMITS)
@pytest.mark.parametrize("field", ["chargingSchedulePeriod[0].limit", "minChargingRate"])
@pytest.mark.parametrize(
    ("value", "ok"), [(12.3, True), (12.0, True), (12, True), (0.1, True), (12.34, False)]
)
def test_16_limits_allow_one_decimal_place(
    action: str,
    kind: Literal["request", "response"],
    schedule: str,
    field: str,
    value: float,
    ok: bool,
) -> None:
    side = Side(OcppVersion.V16, action, kind)
    payload = full(side.schema)
    location = next(
        c.path for c in constraints(side.schema) if path_str(c.path) == f"{schedule}.{field}"
    )
    bad = set_at(payload, location, value)
    assert oracle(side.schema).is_valid(bad) is ok
    if ok:
        obj, issues = decode_payload(side.tp, raw(bad), "strict")
        assert issues == []
        assert f'"{location[-1]}":{float(value)!r}'.encode() in encode_payload(obj)
    else:
        expect_strict(side.tp, bad, PROPERTY, f"{schedule}.{field}")


@pytest.mark.parametrize("version", list(OcppVersion), ids=[v.package for v in OcppVersion])
@pytest.mark.parametrize("body", [b"[]", b'[{"a": 1}]', b'"x"', b"1", b"null", b"true"])
def test_payload_that_is_not_an_object_is_a_format_violation(
    version: OcppVersion, body: bytes
) -> None:
    tp = actions(version)["BootNotification"].request
    with pytest.raises(PayloadValidationError) as info:
        decode_payload(tp, body, "strict")
    assert (info.value.code, info.value.path) == (FORMAT, "")
    with pytest.raises(PayloadValidationError) as info:
        decode_payload(tp, body, "lenient")
    assert (info.value.code, info.value.path) == (FORMAT, "")


@pytest.mark.parametrize("mode", ["strict", "lenient", "off"])
@pytest.mark.parametrize("body", [b"", b"{", b'{"a":}', b"\xff"])
def test_invalid_json_is_a_format_violation(mode: Mode, body: bytes) -> None:
    with pytest.raises(PayloadValidationError) as info:
        decode_payload(v201.HeartbeatRequest, body, mode)
    assert info.value.code is FORMAT


@pytest.mark.parametrize("version", [OcppVersion.V201, OcppVersion.V21], ids=["v201", "v21"])
def test_untyped_data_transfer_data_takes_any_json_including_null(version: OcppVersion) -> None:
    spec = actions(version)["DataTransfer"]
    for data in [None, {"a": None, "b": [1, None]}, [1, "x"], "text", 3.5, True]:
        for tp in (spec.request, spec.response):
            assert tp is not None
            payload = {"vendorId" if tp is spec.request else "status": "Accepted", "data": data}
            assert oracle(load_schema(version, tp.__name__)).is_valid(payload)
            obj, issues = decode_payload(tp, raw(payload), "strict")
            assert issues == []
            assert getattr(obj, "data") == data  # noqa: B009 - the field is not on OcppStruct


@pytest.mark.parametrize("version", [OcppVersion.V201, OcppVersion.V21], ids=["v201", "v21"])
def test_custom_data_is_kept_whole_and_needs_vendor_id(version: OcppVersion) -> None:
    tp = actions(version)["Heartbeat"].request
    custom = {"vendorId": "com.example", "nested": {"list": [1, 2]}, "flag": False}
    obj, _ = decode_payload(tp, raw({"customData": custom}), "strict")
    assert json.loads(encode_payload(obj)) == {"customData": custom}
    expect_strict(tp, {"customData": {"x": 1}}, OCCURRENCE, "customData.vendorId")
    expect_strict(tp, {"customData": {"vendorId": 7}}, TYPE, "customData.vendorId")
    expect_strict(tp, {"customData": {"vendorId": "v" * 256}}, PROPERTY, "customData.vendorId")


@pytest.mark.parametrize("version", list(OcppVersion), ids=[v.package for v in OcppVersion])
def test_null_for_a_required_field_is_a_type_violation(version: OcppVersion) -> None:
    side = Side(version, "BootNotification", "response")
    payload = set_at(minimal(side.schema), ("interval",), None)
    expect_strict(side.tp, payload, TYPE, "interval")
    with pytest.raises(PayloadValidationError) as info:
        decode_payload(side.tp, raw(payload), "lenient")
    assert (info.value.code, info.value.path) == (TYPE, "interval")


# -- lenient and off --------------------------------------------------------------------------

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
LENIENT_SIDES = [
    Side(V16, "MeterValues", "request"),
    Side(V16, "SetChargingProfile", "request"),
    Side(V16, "RemoteStartTransaction", "request"),
    Side(V16, "GetCompositeSchedule", "response"),
    Side(V16, "BootNotification", "request"),
    Side(V16, "GetConfiguration", "response"),
    Side(V16, "StopTransaction", "request"),
    Side(V201, "BootNotification", "response"),
    Side(V201, "GetReport", "request"),
    Side(V201, "NotifyEVChargingNeeds", "request"),
    Side(V201, "MeterValues", "request"),
    Side(V201, "SetVariables", "request"),
    Side(V21, "BatterySwap", "request"),
    Side(V21, "TransactionEvent", "response"),
    Side(V21, "GetCertificateChainStatus", "response"),
    Side(V21, "StatusNotification", "request"),
    Side(V21, "UpdateDynamicSchedule", "request"),
    Side(V21, "NotifyPeriodicEventStream", "request"),
]
"""Small but varied schemas: together they hold every keyword kind (the lenient walk is slow)."""


def _lenient_problem(side: Side, v: Violation, mode: Mode) -> str | None:
    try:
        _, issues = decode_payload(side.tp, raw(v.payload), mode)
    except PayloadValidationError as exc:
        if v.lenient:
            return f"{mode} rejected it: {exc.code} at {exc.path!r} ({exc.reason})"
        if (exc.code, exc.path) != (v.code, v.path):
            return f"{mode} raised {exc.code} at {exc.path!r}, expected {v.code} at {v.path!r}"
        return None
    if not v.lenient:
        return f"{mode} accepted it, expected {v.code} at {v.path!r}"
    got = [(str(i.code), i.path) for i in issues]
    expected = [(str(v.code), v.path)] if mode == "lenient" else []
    return None if got == expected else f"{mode} reported {got}, expected {expected}"


def lenient_sweep(side: Side, mode: Mode, *, null: bool) -> tuple[set[tuple[str, bool]], list[str]]:
    """Break every rule of ``side`` (only (null=True) or all but (False) explicit nulls) and
    decode in ``mode``; returns the kinds of violations tried and the problems."""
    payload = full(side.schema, items=1)
    problems = []
    kinds: set[tuple[str, bool]] = set()
    for c in constraints(side.schema):
        if "customData" in c.path or (c.keyword == "null") is not null:
            continue  # lenient drops a broken customData (not a wrong type / missing field error)
        for v in violations(c, payload):
            kinds.add((v.keyword, v.lenient))
            problem = _lenient_problem(side, v, mode)
            if problem is not None:
                problems.append(f"{v.label} at {path_str(v.at) or '<payload>'}: {problem}")
    return kinds, problems


@pytest.mark.parametrize("mode", ["lenient", "off"])
@pytest.mark.parametrize("side", LENIENT_SIDES, ids=[s.id for s in LENIENT_SIDES])
def test_lenient_and_off_accept_what_a_typed_object_can_hold(side: Side, mode: Mode) -> None:
    kinds, problems = lenient_sweep(side, mode, null=False)
    assert ("type", False) in kinds
    assert not problems, _report(side, problems)


def test_lenient_sweep_covers_every_keyword_kind() -> None:
    kinds: set[tuple[str, bool]] = set()
    for side in LENIENT_SIDES:
        payload = full(side.schema, items=1)
        for c in constraints(side.schema):
            kinds |= {(v.keyword, v.lenient) for v in violations(c, payload)}
    accepted = {k for k, lenient in kinds if lenient}
    rejected = {k for k, lenient in kinds if not lenient}
    assert accepted == set(CODE) - {"type", "required"}
    assert rejected == {"type", "required", "format"}


@pytest.mark.parametrize("side", LENIENT_SIDES, ids=[s.id for s in LENIENT_SIDES])
def test_off_accepts_null_for_optional_fields_silently(side: Side) -> None:
    kinds, problems = lenient_sweep(side, "off", null=True)
    assert kinds <= {("null", True)}
    assert not problems, _report(side, problems)


@pytest.mark.parametrize("version", list(OcppVersion), ids=[v.package for v in OcppVersion])
def test_lenient_reports_null_for_optional_fields(version: OcppVersion) -> None:
    problems = []
    for side in LENIENT_SIDES:
        if side.version is version:
            problems += lenient_sweep(side, "lenient", null=True)[1]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:25])


BOOT_16 = {"chargePointVendor": "Vendor", "chargePointModel": "Model"}


LONG_VENDOR = "V" * 21


@pytest.mark.parametrize(
    ("change", "code", "path", "attr", "value"),
    [
        ({"unknown": 1}, FORMAT, "unknown", "charge_point_vendor", "Vendor"),
        ({"chargePointVendor": LONG_VENDOR}, PROPERTY, "chargePointVendor", "charge_point_vendor",
         LONG_VENDOR),
        ({"iccid": "1" * 21}, PROPERTY, "iccid", "iccid", "1" * 21),
    ],
    ids=["unknown-field", "too-long", "too-long-optional"],
)  # fmt: skip
def test_lenient_16_boot_notification(
    change: dict[str, Json], code: ErrorCode, path: str, attr: str, value: str
) -> None:
    body = raw({**BOOT_16, **change})
    obj, issues = decode_payload(v16.BootNotificationRequest, body, "lenient")
    assert [(i.code, i.path) for i in issues] == [(code, path)]
    assert str(issues[0]).startswith(f"{path}: ")
    assert getattr(obj, attr) == value
    obj_off, none = decode_payload(v16.BootNotificationRequest, body, "off")
    assert none == []
    assert obj_off == obj
    with pytest.raises(PayloadValidationError) as info:
        decode_payload(v16.BootNotificationRequest, body, "strict")
    assert (info.value.code, info.value.path) == (code, path)


def test_lenient_reports_null_next_to_another_issue() -> None:
    body = raw({**BOOT_16, "iccid": None, "unknown": 1})
    obj, issues = decode_payload(v16.BootNotificationRequest, body, "lenient")
    assert sorted((i.code, i.path) for i in issues) == [(FORMAT, "unknown"), (TYPE, "iccid")]
    assert obj.iccid is None


def test_lenient_keeps_an_unknown_enum_value_as_a_string() -> None:
    payload = {"reason": "Teleported", "chargingStation": {"model": "m", "vendorName": "v"}}
    obj, issues = decode_payload(v201.BootNotificationRequest, raw(payload), "lenient")
    assert json.loads(encode_payload(obj))["reason"] == "Teleported"
    assert issues == [Issue(PROPERTY, "reason", issues[0].reason)]


def test_lenient_takes_a_naive_datetime_as_utc() -> None:
    payload = {"currentTime": "2025-03-04T05:06:07", "interval": 300, "status": "Accepted"}
    obj, issues = decode_payload(v201.BootNotificationResponse, raw(payload), "lenient")
    assert obj.current_time == datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert [(i.code, i.path) for i in issues] == [(PROPERTY, "currentTime")]


@pytest.mark.parametrize("mode", ["lenient", "off"])
def test_lenient_still_rejects_missing_required_and_wrong_type(mode: Mode) -> None:
    tp = v21.BootNotificationRequest
    good = {"reason": "PowerUp", "chargingStation": {"model": "m", "vendorName": "v"}}
    missing = delete_at(good, ("chargingStation", "model"))
    expect_mode(tp, missing, mode, OCCURRENCE, "chargingStation.model")
    wrong = set_at(good, ("chargingStation", "model"), 5)
    expect_mode(tp, wrong, mode, TYPE, "chargingStation.model")


def expect_mode(
    tp: type[OcppStruct], payload: Json, mode: Mode, code: ErrorCode, path: str
) -> None:
    with pytest.raises(PayloadValidationError) as info:
        decode_payload(tp, raw(payload), mode)
    assert (info.value.code, info.value.path) == (code, path)


# -- encoding ----------------------------------------------------------------------------------


def test_encoding_omits_absent_optional_fields() -> None:
    obj = v16.BootNotificationRequest(charge_point_vendor="V", charge_point_model="M")
    assert encode_payload(obj) == b'{"chargePointVendor":"V","chargePointModel":"M"}'
    assert encode_payload(v201.HeartbeatRequest()) == b"{}"
    status = v201.StatusInfoType(reason_code="Busy")
    assert json.loads(
        encode_payload(v201.ResetResponse(status="Rejected", status_info=status))
    ) == {
        "status": "Rejected",
        "statusInfo": {"reasonCode": "Busy"},
    }


@pytest.mark.parametrize("side", SIDES[::7], ids=[s.id for s in SIDES[::7]])
def test_minimal_payload_never_encodes_null(side: Side) -> None:
    obj, _ = decode_payload(side.tp, raw(minimal(side.schema)), "strict")
    encoded = encode_payload(obj)
    assert b"null" not in encoded
    assert json.loads(encoded).keys() == minimal(side.schema).keys()


@pytest.mark.parametrize("value", [6.25, 12.3, 0.1, 0.001, 1234567.8, -0.5, 3.0])
def test_numbers_encode_exactly_in_a_2x_number_field(value: float) -> None:
    period = v201.ChargingSchedulePeriodType(start_period=0, limit=value)
    encoded = encode_payload(period)
    assert json.loads(encoded)["limit"] == value
    assert f'"limit":{value!r}'.encode() in encoded
    assert msgspec.json.decode(encoded, type=v201.ChargingSchedulePeriodType) == period


@pytest.mark.parametrize("value", [12.3, 0.1, 7.0, 99999.9])
def test_numbers_encode_exactly_in_a_16_decimal_field(value: float) -> None:
    period = v16.ChargingSchedulePeriod(start_period=0, limit=value)
    assert f'"limit":{value!r}'.encode() in encode_payload(period)


def test_integer_in_a_number_field_reencodes_as_float() -> None:
    period, _ = decode_payload(v201.ChargingSchedulePeriodType, b'{"startPeriod":0,"limit":5}')
    assert encode_payload(period) == b'{"startPeriod":0,"limit":5.0}'


# -- Python names and wire names ---------------------------------------------------------------


def _reachable(version: OcppVersion) -> dict[type, Schema]:
    """Every struct class reachable from ``ACTIONS``, with its (resolved) schema node."""
    found: dict[type, Schema] = {}

    def visit(t: msgspec.inspect.Type, root: Schema, node: Schema) -> None:
        if isinstance(t, msgspec.inspect.UnionType):
            for inner in t.types:
                visit(inner, root, node)
        elif isinstance(t, msgspec.inspect.ListType):
            visit(t.item_type, root, resolve(root, node)["items"])
        elif isinstance(t, msgspec.inspect.StructType):
            node = resolve(root, node)
            previous = found.setdefault(t.cls, node)
            assert set(previous.get("properties", {})) == set(node.get("properties", {}))
            for f in t.fields:
                visit(f.type, root, node["properties"].get(f.encode_name, {}))

    for side in SIDES:
        if side.version is version:
            root = side.schema
            visit(msgspec.inspect.type_info(side.tp), root, root)
    return found


SNAKE = r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$"


@pytest.mark.parametrize("version", list(OcppVersion), ids=[v.package for v in OcppVersion])
def test_encode_names_are_exactly_the_schema_property_names(version: OcppVersion) -> None:
    classes = _reachable(version)
    assert len(classes) > len(actions(version))
    for cls, node in classes.items():
        fields = msgspec.structs.fields(cls)
        assert {f.encode_name for f in fields} == set(node.get("properties", {})), cls.__name__
        for f in fields:
            assert re.match(SNAKE, f.name), (cls.__name__, f.name)
        assert len({f.name for f in fields}) == len(fields)


@pytest.mark.parametrize(
    ("cls_name", "wire", "attr"),
    [
        ("ChargingSchedulePeriodType", "limit_L2", "limit_l2"),
        ("ChargingSchedulePeriodType", "setpointReactive_L3", "setpoint_reactive_l3"),
        ("FixedPFGetType", "fixedPF", "fixed_pf"),
        ("TaxRuleType", "taxRuleID", "tax_rule_id"),
        ("AbsolutePriceScheduleType", "priceScheduleID", "price_schedule_id"),
    ],
)
def test_21_awkward_wire_names_map_to_snake_case_and_back(
    cls_name: str, wire: str, attr: str
) -> None:
    cls = getattr(v21, cls_name)
    by_wire = {f.encode_name: f.name for f in msgspec.structs.fields(cls)}
    assert by_wire[wire] == attr


def test_21_awkward_wire_names_are_written_back_exactly() -> None:
    period = v21.ChargingSchedulePeriodType(start_period=0, limit_l2=1.5, setpoint_reactive_l3=2.5)
    assert json.loads(encode_payload(period)) == {
        "startPeriod": 0,
        "limit_L2": 1.5,
        "setpointReactive_L3": 2.5,
    }
    back, _ = decode_payload(v21.ChargingSchedulePeriodType, encode_payload(period))
    assert back == period
