"""OCPP-J frames: parse a websocket text message into a frame, serialize frames to bytes.

::

    CALL             [2, messageId, action, payload]
    CALLRESULT       [3, messageId, payload]
    CALLERROR        [4, messageId, errorCode, errorDescription, errorDetails]
    CALLRESULTERROR  [5, messageId, errorCode, errorDescription, errorDetails]   (2.1)
    SEND             [6, messageId, action, payload]                            (2.1)

Payloads stay raw JSON bytes here; ``session`` decodes them once the action is known. Parsing is
one msgspec decode of a tagged union; only a frame that fails it takes the slow path that works out
what was wrong and which message id (if any) to answer.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeAlias

import msgspec

from ocppkit.protocol.errors import ErrorCode, OcppError
from ocppkit.protocol.versions import OcppVersion

__all__ = [
    "MAX_MESSAGE_ID_LENGTH",
    "Call",
    "CallError",
    "CallResult",
    "CallResultError",
    "Frame",
    "FrameError",
    "MessageType",
    "Send",
    "parse_frame",
    "serialize_call",
    "serialize_error",
    "serialize_result",
]

MAX_MESSAGE_ID_LENGTH = 36


class MessageType:
    """The message type numbers of OCPP-J."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    CALLRESULTERROR = 5
    SEND = 6

    NAMES: ClassVar[dict[int, str]] = {
        2: "CALL",
        3: "CALLRESULT",
        4: "CALLERROR",
        5: "CALLRESULTERROR",
        6: "SEND",
    }


class Call(msgspec.Struct, array_like=True, tag=MessageType.CALL, frozen=True):
    """``[2, unique_id, action, payload]``."""

    unique_id: str
    action: str
    payload: msgspec.Raw


class CallResult(msgspec.Struct, array_like=True, tag=MessageType.CALLRESULT, frozen=True):
    """``[3, unique_id, payload]``."""

    unique_id: str
    payload: msgspec.Raw


class CallError(msgspec.Struct, array_like=True, tag=MessageType.CALLERROR, frozen=True):
    """``[4, unique_id, error_code, error_description, error_details]``.

    Description and details are optional on input (some chargers omit them).
    """

    unique_id: str
    error_code: str
    error_description: str = ""
    error_details: dict[str, Any] = msgspec.field(default_factory=dict)


class CallResultError(
    msgspec.Struct, array_like=True, tag=MessageType.CALLRESULTERROR, frozen=True
):
    """2.1: ``[5, unique_id, error_code, error_description, error_details]``."""

    unique_id: str
    error_code: str
    error_description: str = ""
    error_details: dict[str, Any] = msgspec.field(default_factory=dict)


class Send(msgspec.Struct, array_like=True, tag=MessageType.SEND, frozen=True):
    """2.1: ``[6, unique_id, action, payload]`` — never answered."""

    unique_id: str
    action: str
    payload: msgspec.Raw


Frame: TypeAlias = Call | CallResult | CallError | CallResultError | Send

_DECODERS: dict[OcppVersion, msgspec.json.Decoder[Any]] = {
    OcppVersion.V16: msgspec.json.Decoder(Call | CallResult | CallError),
    OcppVersion.V201: msgspec.json.Decoder(Call | CallResult | CallError),
    OcppVersion.V21: msgspec.json.Decoder(Call | CallResult | CallError | CallResultError | Send),
}
_KNOWN_TYPES = {
    OcppVersion.V16: frozenset({2, 3, 4}),
    OcppVersion.V201: frozenset({2, 3, 4}),
    OcppVersion.V21: frozenset({2, 3, 4, 5, 6}),
}


class FrameError(OcppError):
    """A message that is not a valid frame for the connection's version.

    ``unique_id`` is the message id when it could be read (else None); ``message_type`` the type
    number when it could be read; ``code`` the error code to answer a CALL with.
    """

    def __init__(
        self,
        code: ErrorCode,
        reason: str,
        unique_id: str | None = None,
        message_type: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.unique_id = unique_id
        self.message_type = message_type


def parse_frame(data: bytes | str, version: OcppVersion) -> Frame:
    """Parse one websocket message. Raises ``FrameError`` when it is not a valid frame."""
    try:
        frame: Frame = _DECODERS[version].decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeError):
        raise _diagnose(data, version) from None
    if len(frame.unique_id) > MAX_MESSAGE_ID_LENGTH:
        raise FrameError(
            _frame_code(version),
            f"message id longer than {MAX_MESSAGE_ID_LENGTH} characters",
            None,  # too long to echo in a valid reply: answered like an unreadable id
            _type_of(frame),
        )
    return frame


def _type_of(frame: Frame) -> int:
    tag = frame.__struct_config__.tag
    assert isinstance(tag, int)
    return tag


def _frame_code(version: OcppVersion) -> ErrorCode:
    # 2.x: RpcFrameworkError; 1.6 has no such code: FormationViolation (see errors.wire_code)
    return ErrorCode.RPC_FRAMEWORK_ERROR if version.is_2x else ErrorCode.FORMAT_VIOLATION


def _diagnose(data: bytes | str, version: OcppVersion) -> FrameError:
    code = _frame_code(version)
    try:
        value = msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeError) as exc:
        return FrameError(code, f"not valid JSON: {exc}")
    if not isinstance(value, list) or not value:
        return FrameError(code, "a frame must be a non-empty JSON array")
    kind = value[0]
    uid = value[1] if len(value) > 1 and isinstance(value[1], str) else None
    if uid is not None and len(uid) > MAX_MESSAGE_ID_LENGTH:
        uid = None
    if isinstance(kind, bool) or not isinstance(kind, int):
        return FrameError(code, "message type must be an integer", uid)
    if kind not in _KNOWN_TYPES[version]:
        return FrameError(
            ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED,
            f"message type {kind} is not supported in OCPP {version}",
            uid,
            kind,
        )
    if len(value) < 2 or not isinstance(value[1], str):
        return FrameError(code, "message id must be a string", None, kind)
    shape = {
        MessageType.CALL: "[2, id, action, {payload}]",
        MessageType.CALLRESULT: "[3, id, {payload}]",
        MessageType.CALLERROR: "[4, id, errorCode, errorDescription, {errorDetails}]",
        MessageType.CALLRESULTERROR: "[5, id, errorCode, errorDescription, {errorDetails}]",
        MessageType.SEND: "[6, id, action, {payload}]",
    }[kind]
    return FrameError(code, f"malformed {MessageType.NAMES[kind]}: expected {shape}", uid, kind)


_enc = msgspec.json.encode


def serialize_call(unique_id: str, action: str, payload: bytes, *, send: bool = False) -> bytes:
    """``[2, id, action, payload]`` (or SEND ``[6, …]``) with an already-encoded payload."""
    return b"[%d,%s,%s,%s]" % (6 if send else 2, _enc(unique_id), _enc(action), payload)


def serialize_result(unique_id: str, payload: bytes) -> bytes:
    """``[3, id, payload]`` with an already-encoded payload."""
    return b"[3,%s,%s]" % (_enc(unique_id), payload)


def serialize_error(
    unique_id: str,
    code: str,
    description: str,
    details: dict[str, Any] | None = None,
    *,
    result_error: bool = False,
) -> bytes:
    """``[4, id, code, description, details]`` (``[5, …]`` for a 2.1 CALLRESULTERROR)."""
    return _enc([5 if result_error else 4, unique_id, code, description, details or {}])
