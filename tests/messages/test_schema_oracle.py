"""The official schemas are the oracle for every message class of every version.

For each action's request and response, a minimal and a full payload generated from the schema
must be schema-valid, decode strictly without issues, re-encode to schema-valid JSON with exactly
the same keys (nothing dropped, nothing null), and decode again to an equal object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import pytest

from ocppkit.messages import actions, v201
from ocppkit.protocol import OcppVersion
from ocppkit.protocol.codec import decode_payload, encode_payload
from tests.messages.schema_payloads import (
    CUSTOM_DATA,
    UNTYPED_DATA,
    Json,
    Kind,
    Side,
    all_sides,
    full,
    minimal,
    oracle,
)

Shape = Literal["minimal", "full"]


@dataclass(frozen=True)
class Case:
    side: Side
    shape: Shape

    @property
    def id(self) -> str:
        return f"{self.side.id}-{self.shape}"

    def payload(self) -> Json:
        schema = self.side.schema
        return minimal(schema) if self.shape == "minimal" else full(schema)


def payload_of(version: OcppVersion, action: str, kind: Kind, shape: Shape) -> Json:
    return Case(Side(version, action, kind), shape).payload()


CASES = [Case(side, shape) for side in all_sides() for shape in ("minimal", "full")]


def same_json(sent: Json, back: Json, path: str = "$") -> list[str]:
    """Differences between a payload and its re-encoding, allowing only the documented ones:
    date-times in msgspec's spelling of the same instant, integers in number fields as floats."""
    if isinstance(sent, dict):
        if not isinstance(back, dict):
            return [f"{path}: object became {back!r}"]
        problems = []
        if set(sent) != set(back):
            problems.append(f"{path}: keys {sorted(sent)} became {sorted(back)}")
        for key in set(sent) & set(back):
            problems += same_json(sent[key], back[key], f"{path}.{key}")
        return problems
    if isinstance(sent, list):
        if not isinstance(back, list) or len(back) != len(sent):
            return [f"{path}: array became {back!r}"]
        return [p for i, (a, b) in enumerate(zip(sent, back, strict=True)) for p in
                same_json(a, b, f"{path}[{i}]")]  # fmt: skip
    if back is None:
        return [f"{path}: {sent!r} became null"]
    if type(sent) is not type(back) and not (type(sent) is int and type(back) is float):
        return [f"{path}: {sent!r} became {back!r}"]
    if sent != back and not _same_instant(sent, back):
        return [f"{path}: {sent!r} became {back!r}"]
    return []


def _same_instant(a: Json, b: Json) -> bool:
    try:
        return isinstance(a, str) and isinstance(b, str) and _dt(a) == _dt(b)
    except ValueError:
        return False


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_generated_payload_round_trips_through_the_typed_classes(case: Case) -> None:
    validator = oracle(case.side.schema)
    payload = case.payload()
    assert list(validator.iter_errors(payload)) == []  # the generator makes valid payloads

    obj, issues = decode_payload(case.side.tp, json.dumps(payload).encode(), "strict")
    assert type(obj) is case.side.tp
    assert issues == []

    encoded = encode_payload(obj)
    back = json.loads(encoded)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(back)]
    assert errors == [], encoded
    assert same_json(payload, back) == []

    again, issues = decode_payload(case.side.tp, encoded, "strict")
    assert issues == []
    assert again == obj
    assert encode_payload(again) == encoded


def test_cases_cover_every_action_of_every_version() -> None:
    expected = sum(
        2 * (1 if spec.response is None else 2)
        for version in OcppVersion
        for spec in actions(version).values()
    )
    assert len(CASES) == expected == 2 * (39 * 2 + 64 * 2 + 90 * 2 + 1)


def test_full_payloads_carry_custom_data_and_untyped_data() -> None:
    boot = payload_of(OcppVersion.V201, "BootNotification", "request", "full")
    assert boot["customData"] == CUSTOM_DATA
    assert boot["chargingStation"]["customData"] == CUSTOM_DATA
    transfer = payload_of(OcppVersion.V21, "DataTransfer", "request", "full")
    assert transfer["data"] == UNTYPED_DATA
    assert "data" not in payload_of(OcppVersion.V21, "DataTransfer", "request", "minimal")


def test_full_payloads_use_max_length_ranges_decimals_and_enums() -> None:
    boot16 = payload_of(OcppVersion.V16, "BootNotification", "request", "full")
    assert len(boot16["chargePointVendor"]) == 20
    assert len(boot16["firmwareVersion"]) == 50
    profile = payload_of(OcppVersion.V16, "SetChargingProfile", "request", "full")
    schedule = profile["csChargingProfiles"]["chargingSchedule"]
    assert schedule["chargingSchedulePeriod"][0]["limit"] == 12.3
    assert schedule["chargingRateUnit"] == "W"  # the last enum value
    minimal16 = payload_of(OcppVersion.V16, "SetChargingProfile", "request", "minimal")
    assert minimal16["csChargingProfiles"]["chargingSchedule"]["chargingRateUnit"] == "A"
    assert "recurrencyKind" not in minimal16["csChargingProfiles"]
    meter = payload_of(OcppVersion.V21, "MeterValues", "request", "full")
    assert len(meter["meterValue"]) == 2


def test_same_json_catches_what_it_should() -> None:
    assert (
        same_json({"a": 5, "t": "2025-03-04T05:06:07Z"}, {"a": 5.0, "t": "2025-03-04T05:06:07Z"})
        == []
    )
    assert same_json({"t": "2025-03-04T07:06:07+02:00"}, {"t": "2025-03-04T05:06:07.000000Z"}) == []
    assert same_json({"a": 1}, {}) != []
    assert same_json({"a": 1}, {"a": None}) != []
    assert same_json({"a": "x"}, {"a": "y"}) != []
    assert same_json({"a": [1]}, {"a": [1, 1]}) != []
    assert same_json({"a": 1.5}, {"a": 1}) != []


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.side.version.is_2x and c.shape == "full"],
    ids=lambda c: c.id,
)
def test_2x_date_times_are_written_to_the_millisecond(case: Case) -> None:
    """``millis=True`` changes the date-times (.250+02:00 in full payloads) and nothing else."""
    obj, _ = decode_payload(case.side.tp, json.dumps(case.payload()).encode(), "strict")
    plain, millis = encode_payload(obj), encode_payload(obj, millis=True)
    assert millis == plain.replace(b".250000+02:00", b".250+02:00")
    assert list(oracle(case.side.schema).iter_errors(json.loads(millis))) == []


def test_millis_keeps_text_that_only_looks_like_a_date_time() -> None:
    looks_like = "2025-03-04T05:06:07.123456Z"
    request = v201.DataTransferRequest(vendor_id="ACME", data={"at": looks_like})
    encoded = json.loads(encode_payload(request, millis=True))
    assert encoded == {"vendorId": "ACME", "data": {"at": looks_like}}
    when = datetime(2025, 3, 4, 5, 6, 7, 999, tzinfo=UTC)  # under a millisecond: no fraction
    assert json.loads(encode_payload(v201.HeartbeatResponse(current_time=when), millis=True)) == {
        "currentTime": "2025-03-04T05:06:07Z"
    }
