"""Properties of the frame layer and the session, over generated inputs (hypothesis).

- Whatever arrives (random bytes, any JSON, arrays that look like frames), ``parse_frame`` raises
  nothing but ``FrameError`` and ``OcppSession.receive_data`` raises nothing at all: it reports
  the problem or replies with a well-formed CALLERROR.
- Valid frames survive parse -> serialize -> parse unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ocppkit.messages import actions as actions_of
from ocppkit.protocol import (
    CallCompleted,
    CallFailed,
    CallReceived,
    CallResultErrorReceived,
    OcppSession,
    OcppVersion,
    ProtocolIssue,
    SendReceived,
)
from ocppkit.protocol.errors import ErrorCode, wire_code
from ocppkit.protocol.frames import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    Frame,
    FrameError,
    Send,
    parse_frame,
    serialize_call,
    serialize_error,
    serialize_result,
)

FAST = settings(max_examples=200, deadline=None, derandomize=True, database=None)

versions = st.sampled_from(list(OcppVersion))
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
objects = st.dictionaries(st.text(max_size=10), json_values, max_size=5)
message_ids = st.sampled_from(["id-1", "-1", ""]) | st.text(max_size=40)
actions = st.sampled_from(["Heartbeat", "BootNotification", "NotifyPeriodicEventStream"]) | st.text(
    max_size=30
)
frame_like = st.tuples(
    st.integers(min_value=2, max_value=6),
    st.lists(message_ids | actions | objects | json_values, max_size=6),
).map(lambda t: [t[0], *t[1]])
shaped = st.tuples(
    st.integers(min_value=2, max_value=6),
    message_ids,
    actions | json_values,
    objects | json_values,
    json_values,
).flatmap(lambda t: st.integers(1, 5).map(lambda n: list(t)[:n]))
anything = json_values | frame_like | shaped


def _texts(value: Any) -> st.SearchStrategy[bytes | str]:
    text = json.dumps(value)
    return st.sampled_from([text, text.encode(), json.dumps(value, indent=1).encode()])


messages = anything.flatmap(_texts) | st.binary(max_size=60) | st.text(max_size=60)

CODES = {wire_code(code, version) for code in ErrorCode for version in OcppVersion}


@FAST
@given(version=versions, data=messages)
@example(version=OcppVersion.V16, data=b"")
@example(version=OcppVersion.V201, data=b'[2, "a", "Heartbeat"]')
@example(version=OcppVersion.V21, data=b'[6, "x", 7, {}]')
@example(version=OcppVersion.V21, data='[5, "x", "c", "d", []]')
def test_parse_frame_raises_only_frame_error(version: OcppVersion, data: bytes | str) -> None:
    outcome = _parse(data, version)
    if isinstance(outcome, FrameError):
        assert outcome.code in (
            ErrorCode.RPC_FRAMEWORK_ERROR,
            ErrorCode.FORMAT_VIOLATION,
            ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,
        )
        assert outcome.reason
        assert outcome.unique_id is None or isinstance(outcome.unique_id, str)
        return
    assert isinstance(outcome, Call | CallResult | CallError | CallResultError | Send)
    assert isinstance(outcome.unique_id, str)
    assert len(outcome.unique_id) <= 36
    if version is not OcppVersion.V21:
        assert not isinstance(outcome, CallResultError | Send)


def _parse(data: bytes | str, version: OcppVersion) -> Frame | FrameError:
    """The frame, or the ``FrameError`` raised (anything else propagates and fails the test)."""
    try:
        return parse_frame(data, version)
    except FrameError as exc:
        return exc


def _session(version: OcppVersion, pending: bool) -> OcppSession:
    """A fresh session; with ``pending``, our Heartbeat ``id-1`` awaits its reply."""
    ids = iter(["id-1", "id-2"])
    session = OcppSession(version, id_factory=lambda: next(ids))
    if pending:
        session.send_call(actions_of(version)["Heartbeat"].request(), now=0.0)
        assert session.data_to_send()
    return session


@FAST
@given(version=versions, data=messages, pending=st.booleans())
@example(version=OcppVersion.V201, data=b'[3, "id-1", {"currentTime": 5}]', pending=True)
@example(version=OcppVersion.V21, data=b'[3, "id-1", []]', pending=True)
@example(version=OcppVersion.V16, data=b'[4, "id-1"]', pending=True)
def test_session_never_raises_and_always_reacts(
    version: OcppVersion, data: bytes | str, pending: bool
) -> None:
    session = _session(version, pending)
    session.receive_data(data, now=1.0)
    events = session.events_received()
    out = session.data_to_send()
    assert events or out
    assert len(out) <= 1  # one message in, at most one reply out
    registry = actions_of(version)
    for event in events:
        if isinstance(event, CallReceived | SendReceived):
            spec = registry[event.action]
            assert isinstance(event.request, spec.request)
            assert spec.send_only is isinstance(event, SendReceived)
        elif isinstance(event, CallCompleted | CallFailed):
            assert pending
            assert event.unique_id == "id-1"
        elif isinstance(event, ProtocolIssue):
            assert event.description
            assert not event.replied or out
        else:
            assert isinstance(event, CallResultErrorReceived)
            assert version is OcppVersion.V21
    for frame in out:
        reply = json.loads(frame)
        assert isinstance(reply, list)
        assert len(reply) == 5
        assert reply[0] in (4, 5)
        assert isinstance(reply[1], str)
        assert reply[2] in CODES
        assert isinstance(reply[3], str)
        assert isinstance(reply[4], dict)
        if version.is_2x:
            assert len(reply[3]) <= 255


# -- valid frames round-trip ---------------------------------------------------------------------

printable = st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from(['"', "\\", "é", "😀"])
valid_ids = st.text(alphabet=printable, min_size=1, max_size=36)


@FAST
@given(version=versions, uid=valid_ids, action=st.text(), payload=objects, send=st.booleans())
@example(version=OcppVersion.V16, uid='"\\', action='"a\\"', payload={"\\": '"'}, send=False)
@example(
    version=OcppVersion.V21, uid="x" * 36, action="NotifyPeriodicEventStream", payload={}, send=True
)
def test_call_round_trips(
    version: OcppVersion, uid: str, action: str, payload: dict[str, Any], send: bool
) -> None:
    send = send and version is OcppVersion.V21
    wire = serialize_call(uid, action, msgspec.json.encode(payload), send=send)
    frame = parse_frame(wire, version)
    assert type(frame) is (Send if send else Call)
    assert isinstance(frame, Call | Send)
    assert (frame.unique_id, frame.action) == (uid, action)
    assert msgspec.json.decode(frame.payload) == payload
    assert serialize_call(frame.unique_id, frame.action, bytes(frame.payload), send=send) == wire
    pretty = json.dumps([6 if send else 2, uid, action, payload], indent=2, ensure_ascii=False)
    again = parse_frame(pretty, version)
    assert isinstance(again, Call | Send)
    assert (again.unique_id, type(again)) == (uid, type(frame))
    assert msgspec.json.decode(again.payload) == payload


@FAST
@given(version=versions, uid=valid_ids, payload=objects)
def test_call_result_round_trips(version: OcppVersion, uid: str, payload: dict[str, Any]) -> None:
    wire = serialize_result(uid, msgspec.json.encode(payload))
    frame = parse_frame(wire, version)
    assert isinstance(frame, CallResult)
    assert frame.unique_id == uid
    assert msgspec.json.decode(frame.payload) == payload
    assert serialize_result(frame.unique_id, bytes(frame.payload)) == wire


@FAST
@given(
    version=versions,
    uid=valid_ids,
    code=st.sampled_from(sorted(CODES)) | st.text(max_size=30),
    description=st.text(max_size=80),
    details=objects,
    result_error=st.booleans(),
)
def test_call_error_round_trips(
    version: OcppVersion,
    uid: str,
    code: str,
    description: str,
    details: dict[str, Any],
    result_error: bool,
) -> None:
    result_error = result_error and version is OcppVersion.V21
    wire = serialize_error(uid, code, description, details, result_error=result_error)
    frame = parse_frame(wire, version)
    assert type(frame) is (CallResultError if result_error else CallError)
    assert isinstance(frame, CallError | CallResultError)
    fields = (frame.unique_id, frame.error_code, frame.error_description, frame.error_details)
    assert fields == (uid, code, description, details)
    again = serialize_error(*fields, result_error=result_error)
    assert parse_frame(again, version) == frame


# -- known failures (library bugs, see the report) -----------------------------------------------

INVALID_UTF8 = [
    b'[2,"\xff","Heartbeat",{}]',
    b'[2,"a","\xc3",{}]',
    b'[4,"a","GenericError","\xff",{}]',
    b'[9,"\xff"]',
    b'["\xff"]',
]


@pytest.mark.parametrize("data", INVALID_UTF8)
def test_invalid_utf8_in_a_string_is_a_frame_error(data: bytes) -> None:
    with pytest.raises(FrameError):
        parse_frame(data, OcppVersion.V201)


@pytest.mark.parametrize(
    "data", [*INVALID_UTF8, b'[2,"a","DataTransfer",{"vendorId":"\xff"}]'], ids=str
)
def test_session_survives_invalid_utf8(data: bytes) -> None:
    session = OcppSession(OcppVersion.V201)
    session.receive_data(data)
    assert session.events_received()
