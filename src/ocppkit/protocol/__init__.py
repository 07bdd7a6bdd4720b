"""The sans-I/O OCPP-J core: frames, payload validation, error codes and the RPC session.

Nothing here imports asyncio or a websocket library, and nothing reads the clock: the caller
passes bytes in, takes events and bytes out, and passes the time.
"""

from __future__ import annotations

from ocppkit.protocol.codec import Issue, Mode, decode_call, decode_payload, encode_payload
from ocppkit.protocol.errors import (
    CallError,
    CallTimeoutError,
    ConnectionClosedError,
    ErrorCode,
    FormatViolationError,
    GenericError,
    InternalError,
    LocalProtocolError,
    MessageTypeNotSupportedError,
    NotImplementedCallError,
    NotSupportedError,
    OccurrenceConstraintViolationError,
    OcppError,
    PayloadValidationError,
    PropertyConstraintViolationError,
    ProtocolError,
    RpcFrameworkError,
    SecurityError,
    TypeConstraintViolationError,
)
from ocppkit.protocol.events import (
    CallCompleted,
    CallFailed,
    CallReceived,
    CallResultErrorReceived,
    Event,
    ProtocolIssue,
    SendReceived,
)
from ocppkit.protocol.frames import FrameError, parse_frame
from ocppkit.protocol.session import DEFAULT_CALL_TIMEOUT, OcppSession, ValidationPolicy
from ocppkit.protocol.versions import OcppVersion

__all__ = [
    "DEFAULT_CALL_TIMEOUT",
    "CallCompleted",
    "CallError",
    "CallFailed",
    "CallReceived",
    "CallResultErrorReceived",
    "CallTimeoutError",
    "ConnectionClosedError",
    "ErrorCode",
    "Event",
    "FormatViolationError",
    "FrameError",
    "GenericError",
    "InternalError",
    "Issue",
    "LocalProtocolError",
    "MessageTypeNotSupportedError",
    "Mode",
    "NotImplementedCallError",
    "NotSupportedError",
    "OccurrenceConstraintViolationError",
    "OcppError",
    "OcppSession",
    "OcppVersion",
    "PayloadValidationError",
    "PropertyConstraintViolationError",
    "ProtocolError",
    "ProtocolIssue",
    "RpcFrameworkError",
    "SecurityError",
    "SendReceived",
    "TypeConstraintViolationError",
    "ValidationPolicy",
    "decode_call",
    "decode_payload",
    "encode_payload",
    "parse_frame",
]
