"""OcppSession: the RPC rules, driven with bytes in, events and bytes out, and a fake clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ocppkit.messages import v16, v21, v201
from ocppkit.protocol import (
    CallCompleted,
    CallError,
    CallFailed,
    CallReceived,
    CallResultErrorReceived,
    CallTimeoutError,
    ConnectionClosedError,
    ErrorCode,
    GenericError,
    LocalProtocolError,
    NotSupportedError,
    OccurrenceConstraintViolationError,
    OcppSession,
    OcppVersion,
    PayloadValidationError,
    ProtocolIssue,
    SecurityError,
    SendReceived,
    ValidationPolicy,
)
from ocppkit.protocol.events import Event

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def frames(session: OcppSession) -> list[Any]:
    return [json.loads(f) for f in session.data_to_send()]


def only(events: list[Event], kind: type[Any]) -> Any:
    matching = [e for e in events if isinstance(e, kind)]
    assert len(matching) == 1, events
    return matching[0]


def ids(start: int = 1) -> Any:
    counter = iter(range(start, 10_000))
    return lambda: f"id-{next(counter)}"


def heartbeat_result(uid: str) -> bytes:
    return json.dumps([3, uid, {"currentTime": "2025-01-02T03:04:05Z"}]).encode()


# -- our CALLs ---------------------------------------------------------------------------------


def test_call_result_is_decoded_as_the_response_of_the_calls_action() -> None:
    s = OcppSession(OcppVersion.V16, id_factory=ids())
    uid = s.send_call(v16.HeartbeatRequest(), now=0)
    assert frames(s) == [[2, "id-1", "Heartbeat", {}]]
    s.receive_data(heartbeat_result(uid))
    done = only(s.events_received(), CallCompleted)
    assert done.action == "Heartbeat"
    assert done.response == v16.HeartbeatResponse(current_time=NOW)
    assert s.in_flight is None


def test_one_call_in_flight_the_rest_wait_in_order() -> None:
    s = OcppSession(OcppVersion.V16, id_factory=ids())
    first = s.send_call(v16.HeartbeatRequest(), now=0)
    s.send_call(v16.AuthorizeRequest(id_tag="A"), now=0)
    s.send_call(v16.AuthorizeRequest(id_tag="B"), now=0)
    assert [f[1] for f in frames(s)] == [first]
    assert s.queued == 2
    s.receive_data(heartbeat_result(first))
    assert frames(s) == [[2, "id-2", "Authorize", {"idTag": "A"}]]
    s.receive_data(b'[3,"id-2",{"idTagInfo":{"status":"Accepted"}}]')
    assert frames(s) == [[2, "id-3", "Authorize", {"idTag": "B"}]]


def test_incoming_calls_are_not_blocked_by_our_pending_call() -> None:
    s = OcppSession(OcppVersion.V16, id_factory=ids())
    s.send_call(v16.HeartbeatRequest(), now=0)
    s.data_to_send()
    s.receive_data(b'[2,"cs-1","ClearCache",{}]')
    received = only(s.events_received(), CallReceived)
    assert received.request == v16.ClearCacheRequest()
    s.send_result("cs-1", v16.ClearCacheResponse(status="Accepted"))
    assert frames(s) == [[3, "cs-1", {"status": "Accepted"}]]
    assert s.in_flight == "id-1"


def test_send_bypasses_the_call_queue() -> None:
    s = OcppSession(OcppVersion.V21, id_factory=ids())
    s.send_call(v21.HeartbeatRequest(), now=0)
    s.send_call(v21.HeartbeatRequest(), now=0)
    s.data_to_send()
    stream = v21.NotifyPeriodicEventStreamRequest(
        id=1, pending=0, basetime=NOW, data=[v21.StreamDataElementType(t=0.5, v="12")]
    )
    s.send(stream)
    assert frames(s) == [
        [
            6,
            "id-3",
            "NotifyPeriodicEventStream",
            {
                "id": 1,
                "pending": 0,
                "basetime": "2025-01-02T03:04:05Z",
                "data": [{"t": 0.5, "v": "12"}],
            },
        ]
    ]


def test_send_and_call_are_not_interchangeable() -> None:
    s = OcppSession(OcppVersion.V21)
    with pytest.raises(LocalProtocolError, match="SEND-type"):
        s.send_call(
            v21.NotifyPeriodicEventStreamRequest(id=1, pending=0, basetime=NOW, data=[]), now=0
        )
    with pytest.raises(LocalProtocolError, match="not a SEND-type"):
        s.send(v21.HeartbeatRequest())  # type: ignore[arg-type]


def test_timeout_fails_the_call_sends_the_next_and_drops_the_late_reply() -> None:
    s = OcppSession(OcppVersion.V16, id_factory=ids(), call_timeout=10)
    first = s.send_call(v16.HeartbeatRequest(), now=100)
    s.send_call(v16.HeartbeatRequest(), now=105, timeout=60)
    s.data_to_send()
    assert s.next_deadline() == 110
    s.tick(109.9)
    assert s.events_received() == []
    s.tick(110)
    failed = only(s.events_received(), CallFailed)
    assert failed.unique_id == first
    assert isinstance(failed.error, CallTimeoutError)
    assert frames(s) == [[2, "id-2", "Heartbeat", {}]]
    s.receive_data(heartbeat_result(first))
    issue = only(s.events_received(), ProtocolIssue)
    assert issue.kind == "late_reply"
    assert s.in_flight == "id-2"  # the late reply was not matched to the other call


def test_deadline_counts_from_submission_including_queue_time() -> None:
    s = OcppSession(OcppVersion.V16, id_factory=ids())
    s.send_call(v16.HeartbeatRequest(), now=0, timeout=100)
    s.send_call(v16.HeartbeatRequest(), now=0, timeout=5)
    s.data_to_send()
    assert s.next_deadline() == 5
    s.tick(5)
    failed = only(s.events_received(), CallFailed)
    assert (failed.unique_id, type(failed.error)) == ("id-2", CallTimeoutError)
    assert "before it could be sent" in str(failed.error)
    assert s.data_to_send() == []  # never sent


def test_receive_with_now_expires_first_so_a_reply_after_the_deadline_is_late() -> None:
    s = OcppSession(OcppVersion.V16, id_factory=ids(), call_timeout=10)
    uid = s.send_call(v16.HeartbeatRequest(), now=0)
    s.receive_data(heartbeat_result(uid), now=10)
    kinds = [type(e).__name__ for e in s.events_received()]
    assert kinds == ["CallFailed", "ProtocolIssue"]


def test_reply_with_unknown_id_is_dropped_and_the_pending_call_stays() -> None:
    s = OcppSession(OcppVersion.V201, id_factory=ids())
    s.send_call(v201.HeartbeatRequest(), now=0)
    s.receive_data(b'[3,"someone-else",{"currentTime":"2025-01-02T03:04:05Z"}]')
    s.receive_data(b'[4,"other","GenericError","",{}]')
    assert [e.kind for e in s.events_received() if isinstance(e, ProtocolIssue)] == [
        "unmatched_reply",
        "unmatched_reply",
    ]
    assert s.in_flight == "id-1"
    s.receive_data(heartbeat_result("id-1"))
    assert isinstance(only(s.events_received(), CallCompleted), CallCompleted)


@pytest.mark.parametrize(
    ("wire", "cls"),
    [
        ("OccurenceConstraintViolation", OccurrenceConstraintViolationError),
        ("OccurrenceConstraintViolation", OccurrenceConstraintViolationError),
        ("NotSupported", NotSupportedError),
        ("SecurityError", SecurityError),
        ("VendorSpecificOops", GenericError),
    ],
)
def test_call_error_fails_the_call_with_the_class_of_its_code(
    wire: str, cls: type[Exception]
) -> None:
    s = OcppSession(OcppVersion.V16, id_factory=ids())
    s.send_call(v16.HeartbeatRequest(), now=0)
    s.receive_data(json.dumps([4, "id-1", wire, "why", {"k": 1}]).encode())
    error = only(s.events_received(), CallFailed).error
    assert type(error) is cls
    assert isinstance(error, CallError)
    assert (error.wire_code, error.description, error.details) == (wire, "why", {"k": 1})


def test_call_error_without_description_or_details_is_accepted() -> None:
    s = OcppSession(OcppVersion.V16, id_factory=ids())
    s.send_call(v16.HeartbeatRequest(), now=0)
    s.receive_data(b'[4,"id-1","InternalError"]')
    error = only(s.events_received(), CallFailed).error
    assert (error.description, error.details) == ("", {})


@pytest.mark.parametrize("version", list(OcppVersion))
def test_invalid_call_result_fails_the_call_and_21_answers_callresulterror(
    version: OcppVersion,
) -> None:
    pkg = {OcppVersion.V16: v16, OcppVersion.V201: v201, OcppVersion.V21: v21}[version]
    s = OcppSession(version, id_factory=ids())
    s.send_call(pkg.HeartbeatRequest(), now=0)
    s.data_to_send()
    s.receive_data(b'[3,"id-1",{"currentTime":42}]')
    error = only(s.events_received(), CallFailed).error
    assert isinstance(error, PayloadValidationError)
    assert (error.code, error.path) == (ErrorCode.TYPE_CONSTRAINT_VIOLATION, "currentTime")
    expected = (
        [[5, "id-1", "TypeConstraintViolation", "currentTime: Expected `datetime`, got `int`", {}]]
        if version is OcppVersion.V21
        else []
    )
    assert frames(s) == expected


def test_call_result_error_from_the_peer_is_reported() -> None:
    s = OcppSession(OcppVersion.V21)
    s.receive_data(b'[5,"x","FormatViolation","bad result",{}]')
    event = only(s.events_received(), CallResultErrorReceived)
    assert event.unique_id == "x"
    assert event.error.code is ErrorCode.FORMAT_VIOLATION


def test_cancelled_calls_are_never_sent_or_reported() -> None:
    s = OcppSession(OcppVersion.V16, id_factory=ids())
    s.send_call(v16.HeartbeatRequest(), now=0)
    s.send_call(v16.HeartbeatRequest(), now=0)
    s.data_to_send()
    assert s.cancel_call("id-2")
    assert s.cancel_call("id-1")  # in flight: its slot stays until the reply comes
    assert not s.cancel_call("nope")
    s.send_call(v16.HeartbeatRequest(), now=0)
    assert s.data_to_send() == []
    s.receive_data(heartbeat_result("id-1"))
    assert s.events_received() == []
    assert frames(s) == [[2, "id-3", "Heartbeat", {}]]


def test_connection_lost_fails_everything_pending_and_closes_the_session() -> None:
    s = OcppSession(OcppVersion.V16, id_factory=ids())
    s.send_call(v16.HeartbeatRequest(), now=0)
    s.send_call(v16.HeartbeatRequest(), now=0)
    s.receive_data(b'[2,"cs","ClearCache",{}]')
    s.events_received()
    s.connection_lost()
    failures = [e for e in s.events_received() if isinstance(e, CallFailed)]
    assert [f.unique_id for f in failures] == ["id-1", "id-2"]
    assert all(isinstance(f.error, ConnectionClosedError) for f in failures)
    assert s.data_to_send() == []
    with pytest.raises(ConnectionClosedError):
        s.send_call(v16.HeartbeatRequest(), now=0)
    s.receive_data(b'[2,"cs2","ClearCache",{}]')
    assert s.events_received() == []


def test_message_ids_are_unique_uuids_by_default() -> None:
    s = OcppSession(OcppVersion.V16, call_timeout=1e9)
    uids = {s.send_call(v16.HeartbeatRequest(), now=0) for _ in range(500)}
    assert len(uids) == 500
    assert all(len(u) == 36 for u in uids)


def test_message_id_rules_for_our_calls() -> None:
    s = OcppSession(OcppVersion.V16)
    with pytest.raises(LocalProtocolError, match="1 to 36"):
        s.send_call(v16.HeartbeatRequest(), now=0, unique_id="x" * 37)
    s.send_call(v16.HeartbeatRequest(), now=0, unique_id="retry-1")
    with pytest.raises(LocalProtocolError, match="already pending"):
        s.send_call(v16.HeartbeatRequest(), now=0, unique_id="retry-1")


def test_a_request_of_another_version_is_refused() -> None:
    s = OcppSession(OcppVersion.V201)
    with pytest.raises(LocalProtocolError, match=r"not an OCPP 2\.0\.1 request"):
        s.send_call(v16.HeartbeatRequest(), now=0)


# -- outgoing validation ---------------------------------------------------------------------


def test_strict_outgoing_validation_refuses_and_queues_nothing() -> None:
    s = OcppSession(OcppVersion.V16)
    with pytest.raises(PayloadValidationError) as info:
        s.send_call(v16.AuthorizeRequest(id_tag="x" * 21), now=0)
    assert (info.value.code, info.value.path) == (ErrorCode.PROPERTY_CONSTRAINT_VIOLATION, "idTag")
    assert s.data_to_send() == []
    assert s.in_flight is None


def test_lenient_outgoing_sends_and_reports_off_sends_silently() -> None:
    lenient = OcppSession(OcppVersion.V16, validation=ValidationPolicy(outgoing="lenient"))
    lenient.send_call(v16.AuthorizeRequest(id_tag="x" * 21), now=0)
    assert len(lenient.data_to_send()) == 1
    assert only(lenient.events_received(), ProtocolIssue).kind == "lenient"
    off = OcppSession(OcppVersion.V16, validation=ValidationPolicy(outgoing="off"))
    off.send_call(v16.AuthorizeRequest(id_tag="x" * 21), now=0)
    assert len(off.data_to_send()) == 1
    assert off.events_received() == []


def test_answers_are_checked_against_the_call_they_answer() -> None:
    s = OcppSession(OcppVersion.V16)
    s.receive_data(b'[2,"a","ClearCache",{}]')
    with pytest.raises(LocalProtocolError, match="ClearCacheResponse"):
        s.send_result("a", v16.ResetResponse(status="Accepted"))
    with pytest.raises(LocalProtocolError, match="no CALL"):
        s.send_result("b", v16.ClearCacheResponse(status="Accepted"))
    s.send_error("a", SecurityError("not yet accepted"))
    assert frames(s) == [[4, "a", "SecurityError", "not yet accepted", {}]]
    with pytest.raises(LocalProtocolError):
        s.send_error("a", SecurityError())


# -- incoming CALLs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "frame", "reply"),
    [
        (
            OcppVersion.V16,
            '[2,"1","Foo",{}]',
            [4, "1", "NotImplemented", "unknown action 'Foo' in OCPP 1.6", {}],
        ),
        (
            OcppVersion.V16,
            '[2,"1","Reset",{}]',
            [4, "1", "NotSupported", "Reset is not supported here", {}],
        ),
        (
            OcppVersion.V16,
            '[2,"1","Heartbeat",{"x":1}]',
            [4, "1", "FormationViolation", "x: Object contains unknown field `x`", {}],
        ),
        (
            OcppVersion.V201,
            '[2,"1","Heartbeat",{"x":1}]',
            [4, "1", "FormatViolation", "x: Object contains unknown field `x`", {}],
        ),
        (
            OcppVersion.V16,
            '[2,"1","Authorize",{}]',
            [
                4,
                "1",
                "OccurenceConstraintViolation",
                "idTag: Object missing required field `idTag`",
                {},
            ],
        ),
        (
            OcppVersion.V21,
            '[2,"1","Authorize",{}]',
            [
                4,
                "1",
                "OccurrenceConstraintViolation",
                "idToken: Object missing required field `idToken`",
                {},
            ],
        ),
        (
            OcppVersion.V16,
            '[2,"1","Heartbeat",[]]',
            [4, "1", "FormationViolation", "Expected `object`, got `array`", {}],
        ),
        (OcppVersion.V21, '[2,"1","NotifyPeriodicEventStream",{}]', None),  # SEND-only as CALL
    ],
)
def test_bad_incoming_calls_get_the_prescribed_error(
    version: OcppVersion, frame: str, reply: Any
) -> None:
    supported = {"Heartbeat", "Authorize"}
    s = OcppSession(version, supported_actions=supported)
    s.receive_data(frame.encode())
    sent = frames(s)
    if reply is None:
        assert sent[0][:3] == [4, "1", "NotImplemented"]
    else:
        assert sent == [reply]
    issue = only(s.events_received(), ProtocolIssue)
    assert issue.replied
    assert s.awaiting_reply == set()


def test_meter_values_error_names_the_full_field_path() -> None:
    s = OcppSession(OcppVersion.V16)
    sampled = [{"value": "1"}, {"value": "2"}, {"value": "3", "measurand": "Energy.Bogus"}]
    payload = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "2025-01-02T03:04:05Z", "sampledValue": sampled}],
    }
    s.receive_data(json.dumps([2, "m", "MeterValues", payload]).encode())
    [reply] = frames(s)
    assert reply[2] == "PropertyConstraintViolation"
    assert reply[3].startswith("meterValue[0].sampledValue[2].measurand: Invalid enum value")


def test_duplicate_call_id_while_processing_is_refused_then_reusable() -> None:
    s = OcppSession(OcppVersion.V201)
    s.receive_data(b'[2,"dup","ClearCache",{}]')
    s.receive_data(b'[2,"dup","ClearCache",{}]')
    assert frames(s)[0][:3] == [4, "dup", "RpcFrameworkError"]
    assert [e.kind for e in s.events_received() if isinstance(e, ProtocolIssue)] == [
        "duplicate_call_id"
    ]
    s.send_result("dup", v201.ClearCacheResponse(status="Accepted"))
    s.data_to_send()
    s.receive_data(b'[2,"dup","ClearCache",{}]')  # answered: the id may be used again
    assert isinstance(only(s.events_received(), CallReceived), CallReceived)


@pytest.mark.parametrize(
    ("version", "data", "reply"),
    [
        (OcppVersion.V16, b"not json", []),
        (OcppVersion.V201, b"not json", [[4, "-1", "RpcFrameworkError"]]),
        (OcppVersion.V21, b'{"a":1}', [[4, "-1", "RpcFrameworkError"]]),
        (OcppVersion.V201, b'[2,"abc",17,{}]', [[4, "abc", "RpcFrameworkError"]]),
        (OcppVersion.V16, b'[2,"abc",17,{}]', [[4, "abc", "FormationViolation"]]),
        (OcppVersion.V201, b'["2","abc","Heartbeat",{}]', [[4, "abc", "RpcFrameworkError"]]),
        (OcppVersion.V16, b'[9,"abc"]', []),
        (OcppVersion.V201, b'[9,"abc"]', [[4, "abc", "MessageTypeNotSupported"]]),
        (
            OcppVersion.V201,
            b'[6,"abc","NotifyPeriodicEventStream",{}]',
            [[4, "abc", "MessageTypeNotSupported"]],
        ),
        (OcppVersion.V21, b'[9,"abc"]', [[4, "abc", "MessageTypeNotSupported"]]),
        (
            OcppVersion.V201,
            b'[2,"' + b"x" * 37 + b'","Heartbeat",{}]',
            [[4, "-1", "RpcFrameworkError"]],
        ),
        (OcppVersion.V201, b'[3,"abc"]', []),  # a malformed reply is never answered
    ],
)
def test_bad_frames_get_the_versions_answer_and_the_session_goes_on(
    version: OcppVersion, data: bytes, reply: list[list[Any]]
) -> None:
    s = OcppSession(version)
    s.receive_data(data)
    assert [f[:3] for f in frames(s)] == reply
    assert isinstance(only(s.events_received(), ProtocolIssue), ProtocolIssue)
    s.receive_data(b'[2,"ok","Heartbeat",{}]')
    assert only(s.events_received(), CallReceived).unique_id == "ok"


def test_malformed_reply_to_our_call_fails_that_call() -> None:
    s = OcppSession(OcppVersion.V201, id_factory=ids())
    s.send_call(v201.HeartbeatRequest(), now=0)
    s.receive_data(b'[3,"id-1"]')
    error = only(s.events_received(), CallFailed).error
    assert isinstance(error, PayloadValidationError)
    assert error.code is ErrorCode.FORMAT_VIOLATION


def test_error_descriptions_are_cut_to_255_characters_in_2x() -> None:
    s = OcppSession(OcppVersion.V201)
    s.receive_data(b'[2,"a","ClearCache",{}]')
    s.send_error("a", GenericError("e" * 400))
    [reply] = frames(s)
    assert len(reply[3]) == 255


def test_lenient_incoming_per_action() -> None:
    policy = ValidationPolicy(per_action={"MeterValues": ("lenient", "strict")})
    s = OcppSession(OcppVersion.V16, validation=policy)
    bad = {
        "connectorId": 1,
        "meterValue": [
            {"timestamp": "2025-01-02T03:04:05", "sampledValue": [{"value": "1", "unit": "kW·h"}]}
        ],
    }
    s.receive_data(json.dumps([2, "m", "MeterValues", bad]).encode())
    events = s.events_received()
    request = only(events, CallReceived).request
    assert request.meter_value[0].sampled_value[0].unit == "kW·h"
    assert request.meter_value[0].timestamp == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    issue = only(events, ProtocolIssue)
    assert issue.kind == "lenient"
    assert "meterValue[0].sampledValue[0].unit" in issue.description
    s.receive_data(b'[2,"a","Authorize",{"idTag":"' + b"x" * 21 + b'"}]')
    assert frames(s)[0][2] == "PropertyConstraintViolation"


def test_incoming_send_is_never_answered() -> None:
    s = OcppSession(OcppVersion.V21)
    good = {"id": 1, "pending": 0, "basetime": "2025-01-02T03:04:05Z", "data": [{"t": 1, "v": "2"}]}
    s.receive_data(json.dumps([6, "s1", "NotifyPeriodicEventStream", good]).encode())
    s.receive_data(json.dumps([6, "s2", "NotifyPeriodicEventStream", {"id": "x"}]).encode())
    s.receive_data(json.dumps([6, "s3", "Heartbeat", {}]).encode())
    events = s.events_received()
    assert only(events, SendReceived).request.data[0].t == 1.0
    assert [e.kind for e in events if isinstance(e, ProtocolIssue)] == [
        "invalid_payload",
        "unknown_action",
    ]
    assert s.data_to_send() == []


def test_supported_actions_must_exist_in_the_version() -> None:
    with pytest.raises(LocalProtocolError, match="TransactionEvent"):
        OcppSession(OcppVersion.V16, supported_actions={"TransactionEvent"})


def test_two_sessions_talk_to_each_other() -> None:
    cp = OcppSession(OcppVersion.V201)
    csms = OcppSession(OcppVersion.V201)
    boot = v201.BootNotificationRequest(
        reason="PowerUp", charging_station=v201.ChargingStationType(model="M1", vendor_name="ACME")
    )
    uid = cp.send_call(boot, now=0)
    for data in cp.data_to_send():
        csms.receive_data(data)
    call = only(csms.events_received(), CallReceived)
    assert call.request == boot
    csms.send_result(
        call.unique_id,
        v201.BootNotificationResponse(current_time=NOW, interval=300, status="Accepted"),
    )
    for data in csms.data_to_send():
        cp.receive_data(data)
    done = only(cp.events_received(), CallCompleted)
    assert (done.unique_id, done.response.status, done.response.interval) == (uid, "Accepted", 300)


@pytest.mark.parametrize(
    ("version", "written"),
    [
        (OcppVersion.V16, "2025-01-02T03:04:05.123456Z"),  # 1.6 sets no limit: as msgspec writes
        (OcppVersion.V201, "2025-01-02T03:04:05.123Z"),
        (OcppVersion.V21, "2025-01-02T03:04:05.123Z"),
    ],
)
def test_2x_date_times_go_out_with_at_most_3_fraction_digits(
    version: OcppVersion, written: str
) -> None:
    messages = {OcppVersion.V16: v16, OcppVersion.V201: v201, OcppVersion.V21: v21}[version]
    session = OcppSession(version, id_factory=ids())
    session.receive_data(b'[2,"h1","Heartbeat",{}]')
    call = only(session.events_received(), CallReceived)
    when = NOW.replace(microsecond=123456)
    session.send_result(call.unique_id, messages.HeartbeatResponse(current_time=when))
    assert frames(session) == [[3, "h1", {"currentTime": written}]]
