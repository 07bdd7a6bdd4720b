"""The OCPP-J RPC session: one connection's protocol state, with no I/O and no clock.

Feed it what arrives (``receive_data``) and the time (``tick``); take what it reports
(``events_received``) and what it wants sent (``data_to_send``)::

    session = OcppSession(OcppVersion.V16)
    session.send_call(HeartbeatRequest(), now=0.0)
    transport.write_all(session.data_to_send())
    session.receive_data(b'[3,"…",{"currentTime":"…"}]', now=0.4)
    for event in session.events_received(): ...

Rules it owns (``shared/ocpp-reference/rpc.md``):

- at most one CALL of ours awaits a reply; later ones wait in a FIFO and go out as the previous
  one is answered or times out. 2.1 SEND bypasses the queue; incoming CALLs never wait for it;
- each CALL's deadline is ``now + timeout`` from when it was submitted (queue time included);
- a reply is matched to a call by message id only; one with an unknown, cancelled or timed-out
  id is dropped and reported, never matched to another call;
- an incoming CALL is answered with the CALLERROR the spec prescribes when its frame, action or
  payload is bad; a bad frame never ends the session;
- CALLRESULT payloads are decoded as the response of the action of the call they answer.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ocppkit.messages import actions
from ocppkit.messages._base import ActionSpec, OcppRequest, OcppResponse, OcppStruct
from ocppkit.protocol.codec import Issue, Mode, decode_payload, encode_checked
from ocppkit.protocol.errors import (
    CallError,
    CallTimeoutError,
    ConnectionClosedError,
    ErrorCode,
    LocalProtocolError,
    OcppError,
    PayloadValidationError,
    wire_code,
)
from ocppkit.protocol.events import (
    CallCompleted,
    CallFailed,
    CallReceived,
    CallResultErrorReceived,
    Event,
    IssueKind,
    ProtocolIssue,
    SendReceived,
)
from ocppkit.protocol.frames import (
    MAX_MESSAGE_ID_LENGTH,
    Call,
    CallResult,
    CallResultError,
    FrameError,
    MessageType,
    Send,
    parse_frame,
    serialize_call,
    serialize_error,
    serialize_result,
)
from ocppkit.protocol.frames import CallError as CallErrorFrame
from ocppkit.protocol.versions import OcppVersion

__all__ = ["DEFAULT_CALL_TIMEOUT", "OcppSession", "ValidationPolicy"]

DEFAULT_CALL_TIMEOUT = 30.0
"""Seconds a CALL may wait for its reply, queue time included, unless told otherwise."""

_MAX_DESCRIPTION_2X = 255  # errorDescription is string[255] in 2.x


@dataclass(frozen=True)
class ValidationPolicy:
    """Validation mode per direction, with per-action overrides.

    ``ValidationPolicy(incoming="lenient")`` accepts non-compliant payloads from the peer while
    checking our own strictly; ``per_action={"MeterValues": ("off", "strict")}`` overrides one
    action as ``(incoming, outgoing)``.
    """

    incoming: Mode = "strict"
    outgoing: Mode = "strict"
    per_action: Mapping[str, tuple[Mode, Mode]] = field(default_factory=dict)

    def mode(self, action: str, *, outgoing: bool) -> Mode:
        """The mode for ``action`` in one direction."""
        override = self.per_action.get(action)
        if override is not None:
            return override[1] if outgoing else override[0]
        return self.outgoing if outgoing else self.incoming


@dataclass(slots=True)
class _OutgoingCall:
    unique_id: str
    spec: ActionSpec
    request: OcppRequest[Any]
    frame: bytes
    deadline: float
    cancelled: bool = False


@cache
def _by_request_type(version: OcppVersion) -> dict[type, ActionSpec]:
    return {spec.request: spec for spec in actions(version).values()}


def _new_id() -> str:
    return str(uuid.uuid4())


class OcppSession:
    """Protocol state of one OCPP-J connection (either side). Not thread-safe; no I/O."""

    def __init__(
        self,
        version: OcppVersion,
        *,
        supported_actions: Collection[str] | None = None,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        validation: ValidationPolicy | None = None,
        id_factory: Callable[[], str] = _new_id,
        remember_timed_out: int = 256,
    ) -> None:
        """``supported_actions``: the actions we answer (others get NotSupported); None = all."""
        self.version = version
        self._millis = version.is_2x  # 2.x date-times: at most 3 fraction digits (rpc.md §10)
        self.call_timeout = call_timeout
        self.validation = validation or ValidationPolicy()
        self._actions = actions(version)
        self._supported = None if supported_actions is None else frozenset(supported_actions)
        unknown = (self._supported or frozenset()) - self._actions.keys()
        if unknown:
            raise LocalProtocolError(f"not OCPP {version} actions: {sorted(unknown)}")
        self._id_factory = id_factory
        self._events: list[Event] = []
        self._outbox: list[bytes] = []
        self._in_flight: _OutgoingCall | None = None
        self._queue: deque[_OutgoingCall] = deque()
        self._incoming: dict[str, ActionSpec] = {}  # CALLs received and not yet answered
        self._timed_out: OrderedDict[str, None] = OrderedDict()
        self._remember_timed_out = remember_timed_out
        self._closed = False

    # -- what the caller drains ----------------------------------------------------------
    def events_received(self) -> list[Event]:
        """Events since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    @property
    def has_data_to_send(self) -> bool:
        """True when ``data_to_send()`` would return frames."""
        return bool(self._outbox)

    def data_to_send(self) -> list[bytes]:
        """Frames to write to the websocket (as text messages), in order."""
        out, self._outbox = self._outbox, []
        return out

    @property
    def in_flight(self) -> str | None:
        """Message id of our CALL awaiting its reply, if any."""
        return self._in_flight.unique_id if self._in_flight else None

    @property
    def queued(self) -> int:
        """How many of our CALLs wait behind the one in flight."""
        return len(self._queue)

    @property
    def awaiting_reply(self) -> Collection[str]:
        """Message ids of the peer's CALLs we have not answered yet."""
        return self._incoming.keys()

    def next_deadline(self) -> float | None:
        """The earliest time ``tick`` has something to do, or None."""
        deadlines = [c.deadline for c in self._queue]
        if self._in_flight:
            deadlines.append(self._in_flight.deadline)
        return min(deadlines) if deadlines else None

    # -- outgoing --------------------------------------------------------------------------
    def send_call(
        self,
        request: OcppRequest[Any],
        now: float,
        *,
        timeout: float | None = None,
        unique_id: str | None = None,
    ) -> str:
        """Queue a CALL; returns its message id.

        Raises ``PayloadValidationError`` (strict outgoing validation) or ``LocalProtocolError``
        (request of another version, SEND-only action, id already pending)."""
        self._check_open()
        spec = self._spec_for(request)
        if spec.send_only:
            raise LocalProtocolError(f"{spec.action} is a SEND-type message: use send()")
        uid = unique_id if unique_id is not None else self._id_factory()
        self._check_new_id(uid)
        payload = self._encode(spec.action, request)
        call = _OutgoingCall(
            uid,
            spec,
            request,
            serialize_call(uid, spec.action, payload),
            now + (self.call_timeout if timeout is None else timeout),
        )
        if self._in_flight is None:
            self._in_flight = call
            self._outbox.append(call.frame)
        else:
            self._queue.append(call)
        return uid

    def send(self, request: OcppRequest[None], *, unique_id: str | None = None) -> str:
        """Send a 2.1 SEND-type message now (never queued, never answered); returns its id."""
        self._check_open()
        spec = self._spec_for(request)
        if not spec.send_only:
            raise LocalProtocolError(f"{spec.action} is not a SEND-type message: use send_call()")
        uid = unique_id if unique_id is not None else self._id_factory()
        self._outbox.append(
            serialize_call(uid, spec.action, self._encode(spec.action, request), send=True)
        )
        return uid

    def send_result(self, unique_id: str, response: OcppResponse) -> None:
        """Answer the peer's CALL ``unique_id`` with a CALLRESULT."""
        spec = self._incoming.get(unique_id)
        if spec is None:
            raise LocalProtocolError(f"no CALL {unique_id!r} awaits a reply")
        if type(response) is not spec.response:
            expected = spec.response.__name__ if spec.response else "nothing"
            raise LocalProtocolError(
                f"{spec.action} must be answered with {expected}, not {type(response).__name__}"
            )
        payload = self._encode(spec.action, response)
        del self._incoming[unique_id]
        if not self._closed:
            self._outbox.append(serialize_result(unique_id, payload))

    def send_error(self, unique_id: str, error: CallError) -> None:
        """Answer the peer's CALL ``unique_id`` with a CALLERROR."""
        if self._incoming.pop(unique_id, None) is None:
            raise LocalProtocolError(f"no CALL {unique_id!r} awaits a reply")
        if not self._closed:
            self._outbox.append(
                self._error_frame(unique_id, error.code, error.description, error.details)
            )

    def cancel_call(self, unique_id: str) -> bool:
        """Give up on one of our CALLs: a queued one is never sent; for the one in flight the reply
        is dropped when it comes (the slot stays taken until then or its deadline, as the
        one-outstanding-CALL rule requires). No event is reported for it. False if unknown."""
        if self._in_flight and self._in_flight.unique_id == unique_id:
            self._in_flight.cancelled = True
            return True
        for call in self._queue:
            if call.unique_id == unique_id:
                self._queue.remove(call)
                return True
        return False

    # -- time and loss -----------------------------------------------------------------------
    def tick(self, now: float) -> None:
        """Fail the calls whose deadline has passed, and send the next queued one."""
        if self._in_flight is None and not self._queue:
            return
        if self._in_flight and self._in_flight.deadline <= now:
            call, self._in_flight = self._in_flight, None
            self._remember(call.unique_id)
            self._fail(call, CallTimeoutError(f"{call.spec.action} got no reply in time"))
        expired = [c for c in self._queue if c.deadline <= now]
        for call in expired:
            self._queue.remove(call)
            self._fail(
                call, CallTimeoutError(f"{call.spec.action} timed out before it could be sent")
            )
        self._send_next()

    def connection_lost(self) -> None:
        """The connection is gone: every pending CALL of ours fails, nothing more is sent."""
        self._closed = True
        pending = ([self._in_flight] if self._in_flight else []) + list(self._queue)
        self._in_flight, self._queue = None, deque()
        for call in pending:
            self._fail(
                call,
                ConnectionClosedError(f"connection closed before {call.spec.action} was answered"),
            )
        self._incoming.clear()
        self._outbox.clear()

    # -- incoming ----------------------------------------------------------------------------
    def receive_data(self, data: bytes | str, now: float | None = None) -> None:
        """Process one websocket message. With ``now``, expired calls are failed first, so a reply
        that arrives after its deadline is treated as late."""
        if self._closed:
            return
        if now is not None:
            self.tick(now)
        try:
            frame = parse_frame(data, self.version)
        except FrameError as exc:
            self._on_bad_frame(exc)
            return
        # one scan of the whole frame instead of a copy and scan of each payload
        may_hold_null = (b"null" in data) if isinstance(data, bytes) else ("null" in data)
        if type(frame) is Call:
            self._on_call(frame, may_hold_null)
        elif type(frame) is CallResult:
            self._on_result(frame, may_hold_null)
        elif type(frame) is CallErrorFrame:
            self._on_error(frame)
        elif type(frame) is Send:
            self._on_send(frame, may_hold_null)
        elif type(frame) is CallResultError:
            error = CallError.from_code(
                frame.error_code, frame.error_description, frame.error_details
            )
            self._events.append(CallResultErrorReceived(frame.unique_id, error))

    def _on_bad_frame(self, exc: FrameError) -> None:
        unknown_type = exc.code is ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED
        kind: IssueKind = "unsupported_message_type" if unknown_type else "invalid_frame"
        # Answer only what may be a CALL (never a reply); 1.6 cannot answer without an id and
        # defines no reply to unknown message types.
        may_be_call = exc.message_type in (None, MessageType.CALL) or unknown_type
        uid = exc.unique_id
        reply = may_be_call and (self.version.is_2x or (uid is not None and not unknown_type))
        if reply:
            self._outbox.append(
                self._error_frame(uid if uid is not None else "-1", exc.code, exc.reason)
            )
        is_reply = exc.message_type in (MessageType.CALLRESULT, MessageType.CALLERROR)
        if is_reply and self._in_flight is not None and self._in_flight.unique_id == uid:
            call = self._take_pending(uid)
            assert call is not None
            self._fail(call, PayloadValidationError(ErrorCode.FORMAT_VIOLATION, "", exc.reason))
            return
        self._issue(kind, exc.reason, uid, replied=reply)

    def _on_call(self, frame: Call, may_hold_null: bool) -> None:
        uid, action = frame.unique_id, frame.action
        if uid in self._incoming:
            code = ErrorCode.RPC_FRAMEWORK_ERROR if self.version.is_2x else ErrorCode.GENERIC_ERROR
            reason = f"a CALL with id {uid!r} is already being processed"
            self._outbox.append(self._error_frame(uid, code, reason))
            self._issue("duplicate_call_id", reason, uid, action, replied=True)
            return
        spec = self._actions.get(action)
        if spec is None or spec.send_only:
            reason = f"unknown action {action!r} in OCPP {self.version}"
            self._reply_error(uid, action, ErrorCode.NOT_IMPLEMENTED, reason, "unknown_action")
            return
        if self._supported is not None and action not in self._supported:
            reason = f"{action} is not supported here"
            self._reply_error(uid, action, ErrorCode.NOT_SUPPORTED, reason, "unsupported_action")
            return
        mode = self.validation.mode(action, outgoing=False)
        try:
            request, issues = decode_payload(
                spec.request, frame.payload, mode, may_hold_null=may_hold_null
            )
        except PayloadValidationError as exc:
            self._reply_error(uid, action, exc.code, exc.description, "invalid_payload")
            return
        self._lenient(issues, uid, action)
        self._incoming[uid] = spec
        self._events.append(CallReceived(uid, action, request))

    def _on_send(self, frame: Send, may_hold_null: bool) -> None:
        spec = self._actions.get(frame.action)
        if spec is None or not spec.send_only:
            self._issue(
                "unknown_action", f"{frame.action!r} is not a SEND-type action", frame.unique_id
            )
            return
        try:
            mode = self.validation.mode(frame.action, outgoing=False)
            request, issues = decode_payload(
                spec.request, frame.payload, mode, may_hold_null=may_hold_null
            )
        except PayloadValidationError as exc:  # SEND is never answered: log and drop
            self._issue("invalid_payload", exc.description, frame.unique_id, frame.action)
            return
        self._lenient(issues, frame.unique_id, frame.action)
        self._events.append(SendReceived(frame.unique_id, frame.action, request))

    def _on_result(self, frame: CallResult, may_hold_null: bool) -> None:
        call = self._take_pending(frame.unique_id)
        if call is None:
            return
        assert call.spec.response is not None  # SEND-only actions never become pending
        try:
            mode = self.validation.mode(call.spec.action, outgoing=False)
            response, issues = decode_payload(
                call.spec.response, frame.payload, mode, may_hold_null=may_hold_null
            )
        except PayloadValidationError as exc:
            if self.version is OcppVersion.V21:
                self._outbox.append(
                    self._error_frame(frame.unique_id, exc.code, exc.description, result_error=True)
                )
            self._fail(call, exc)
            return
        self._lenient(issues, call.unique_id, call.spec.action)
        if not call.cancelled:
            self._events.append(
                CallCompleted(call.unique_id, call.spec.action, call.request, response)
            )

    def _on_error(self, frame: CallErrorFrame) -> None:
        call = self._take_pending(frame.unique_id)
        if call is not None:
            self._fail(
                call,
                CallError.from_code(frame.error_code, frame.error_description, frame.error_details),
            )

    # -- helpers ------------------------------------------------------------------------------
    def _take_pending(self, uid: str) -> _OutgoingCall | None:
        """The in-flight call ``uid`` answers (and the next one sent), or None after reporting."""
        call = self._in_flight
        if call is None or call.unique_id != uid:
            if uid in self._timed_out:
                self._issue("late_reply", f"reply to {uid!r} came after its deadline", uid)
            else:
                self._issue("unmatched_reply", f"no call of ours has id {uid!r}", uid)
            return None
        self._in_flight = None
        self._send_next()
        return call

    def _send_next(self) -> None:
        if self._in_flight is None and self._queue and not self._closed:
            self._in_flight = self._queue.popleft()
            self._outbox.append(self._in_flight.frame)

    def _fail(self, call: _OutgoingCall, error: OcppError) -> None:
        if not call.cancelled:
            self._events.append(CallFailed(call.unique_id, call.spec.action, call.request, error))

    def _remember(self, uid: str) -> None:
        self._timed_out[uid] = None
        while len(self._timed_out) > self._remember_timed_out:
            self._timed_out.popitem(last=False)

    def _spec_for(self, request: OcppRequest[Any]) -> ActionSpec:
        spec = _by_request_type(self.version).get(type(request))
        if spec is None:
            raise LocalProtocolError(
                f"{type(request).__qualname__} is not an OCPP {self.version} request"
            )
        return spec

    def _check_new_id(self, uid: str) -> None:
        if not uid or len(uid) > MAX_MESSAGE_ID_LENGTH:
            raise LocalProtocolError(f"message id must be 1 to {MAX_MESSAGE_ID_LENGTH} characters")
        if (self._in_flight and self._in_flight.unique_id == uid) or any(
            c.unique_id == uid for c in self._queue
        ):
            raise LocalProtocolError(f"message id {uid!r} is already pending")

    def _check_open(self) -> None:
        if self._closed:
            raise ConnectionClosedError("the connection is closed")

    def _encode(self, action: str, payload: OcppStruct) -> bytes:
        mode = self.validation.mode(action, outgoing=True)
        raw, issues = encode_checked(payload, mode, millis=self._millis)
        if issues:  # lenient outgoing: sent anyway, reported
            self._issue("lenient", "; ".join(map(str, issues)) + " (outgoing)", None, action)
        return raw

    def _lenient(self, issues: list[Issue], uid: str, action: str) -> None:
        if issues:
            self._issue("lenient", "; ".join(map(str, issues)), uid, action)

    def _reply_error(
        self, uid: str, action: str, code: ErrorCode, reason: str, kind: IssueKind
    ) -> None:
        self._outbox.append(self._error_frame(uid, code, reason))
        self._issue(kind, reason, uid, action, replied=True)

    def _error_frame(
        self,
        uid: str,
        code: ErrorCode,
        description: str,
        details: Mapping[str, object] | None = None,
        *,
        result_error: bool = False,
    ) -> bytes:
        if self.version.is_2x and len(description) > _MAX_DESCRIPTION_2X:
            description = description[: _MAX_DESCRIPTION_2X - 1] + "…"
        return serialize_error(
            uid,
            wire_code(code, self.version),
            description,
            dict(details or {}),
            result_error=result_error,
        )

    def _issue(
        self,
        kind: IssueKind,
        description: str,
        uid: str | None = None,
        action: str | None = None,
        *,
        replied: bool = False,
    ) -> None:
        self._events.append(ProtocolIssue(kind, description, uid, action, replied))
