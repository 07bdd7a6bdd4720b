"""Every error ocppkit's protocol layer raises or reports, and the OCPP error code spellings.

The tree::

    OcppError
    ├── CallError                         a CALLERROR: .code, .description, .details
    │   ├── NotImplementedCallError       NotImplemented: action unknown to the receiver
    │   ├── NotSupportedError             NotSupported: action known, not supported
    │   ├── InternalError
    │   ├── ProtocolError
    │   ├── SecurityError
    │   ├── FormatViolationError          (1.6 spelling on the wire: FormationViolation)
    │   ├── PropertyConstraintViolationError
    │   ├── OccurrenceConstraintViolationError   (1.6: OccurenceConstraintViolation)
    │   ├── TypeConstraintViolationError
    │   ├── GenericError
    │   ├── MessageTypeNotSupportedError  (2.x only)
    │   └── RpcFrameworkError             (2.x only)
    ├── PayloadValidationError            a payload broke its schema: .code, .path, .reason
    ├── CallTimeoutError                  no reply before the call's deadline
    ├── ConnectionClosedError             the connection ended while the call was pending
    │   └── NotConnectedError             no open connection to that peer at all
    └── LocalProtocolError                the API was misused (reply to an unknown id …)

Remote failures carry the code to answer with (``PayloadValidationError.code``); the spelling of
that code on the wire depends on the version and lives only here (``wire_code``/``parse_code``).
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

from ocppkit.protocol.versions import OcppVersion

__all__ = [
    "CallError",
    "CallTimeoutError",
    "ConnectionClosedError",
    "ErrorCode",
    "FormatViolationError",
    "GenericError",
    "InternalError",
    "LocalProtocolError",
    "MessageTypeNotSupportedError",
    "NotConnectedError",
    "NotImplementedCallError",
    "NotSupportedError",
    "OccurrenceConstraintViolationError",
    "OcppError",
    "PayloadValidationError",
    "PropertyConstraintViolationError",
    "ProtocolError",
    "RpcFrameworkError",
    "SecurityError",
    "TypeConstraintViolationError",
    "parse_code",
    "wire_code",
]


class ErrorCode(enum.StrEnum):
    """OCPP RPC error codes, by their 2.x spelling (see ``wire_code`` for 1.6)."""

    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMAT_VIOLATION = "FormatViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"


# The 1.6 spellings (OCPP-J 1.6 §4.2.3; the errata keep the typos).
_V16_SPELLING = {
    ErrorCode.FORMAT_VIOLATION: "FormationViolation",
    ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION: "OccurenceConstraintViolation",
}
# 1.6 has no MessageTypeNotSupported / RpcFrameworkError: the closest 1.6 code is sent instead.
_V16_FALLBACK = {
    ErrorCode.RPC_FRAMEWORK_ERROR: "FormationViolation",
    ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED: "GenericError",
}
# Every spelling seen on any version, accepted on input whatever the connection's version.
_ALIASES = {code.value: code for code in ErrorCode} | {
    "FormationViolation": ErrorCode.FORMAT_VIOLATION,
    "OccurenceConstraintViolation": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
}


def wire_code(code: ErrorCode, version: OcppVersion) -> str:
    """The spelling of ``code`` to send on a ``version`` connection."""
    if version is OcppVersion.V16:
        return _V16_SPELLING.get(code) or _V16_FALLBACK.get(code) or code.value
    return code.value


def parse_code(text: str) -> ErrorCode | None:
    """An error code as received (any version's spelling) -> ``ErrorCode``; None if unknown."""
    return _ALIASES.get(text)


class OcppError(Exception):
    """Base of every exception ocppkit's protocol layer raises."""


class CallError(OcppError):
    """A CALLERROR: received in reply to our CALL, or raised by a handler to send one.

    ``wire_code`` keeps the code exactly as received (an unknown code arrives as ``GenericError``
    with the original text in ``wire_code``).
    """

    code: ClassVar[ErrorCode] = ErrorCode.GENERIC_ERROR

    def __init__(
        self,
        description: str = "",
        details: dict[str, Any] | None = None,
        *,
        wire_code: str | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.details: dict[str, Any] = details if details is not None else {}
        self.wire_code = wire_code or self.code.value

    def __str__(self) -> str:
        return f"{self.wire_code}: {self.description}" if self.description else self.wire_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r}, {self.details!r})"

    @staticmethod
    def from_code(
        code: str, description: str = "", details: dict[str, Any] | None = None
    ) -> CallError:
        """Build the right subclass for a code as received (any spelling)."""
        known = parse_code(code)
        cls = _BY_CODE[known] if known else GenericError
        return cls(description, details, wire_code=code)


class NotImplementedCallError(CallError):
    """NotImplemented: the receiver does not know the action."""

    code = ErrorCode.NOT_IMPLEMENTED


class NotSupportedError(CallError):
    """NotSupported: the action is known but the receiver does not support it."""

    code = ErrorCode.NOT_SUPPORTED


class InternalError(CallError):
    """InternalError: the receiver failed while processing the CALL."""

    code = ErrorCode.INTERNAL_ERROR


class ProtocolError(CallError):
    """ProtocolError: the payload is incomplete / does not conform to the PDU structure."""

    code = ErrorCode.PROTOCOL_ERROR


class SecurityError(CallError):
    """SecurityError: refused for security reasons (e.g. the station is not Accepted yet)."""

    code = ErrorCode.SECURITY_ERROR


class FormatViolationError(CallError):
    """FormatViolation (1.6: FormationViolation): the payload is syntactically wrong."""

    code = ErrorCode.FORMAT_VIOLATION


class PropertyConstraintViolationError(CallError):
    """PropertyConstraintViolation: a field holds a value it may not (enum, length, range)."""

    code = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION


class OccurrenceConstraintViolationError(CallError):
    """OccurrenceConstraintViolation (1.6: Occurence…): a required field missing, too many items."""

    code = ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION


class TypeConstraintViolationError(CallError):
    """TypeConstraintViolation: a field has the wrong JSON type."""

    code = ErrorCode.TYPE_CONSTRAINT_VIOLATION


class GenericError(CallError):
    """GenericError: any other error (and any code ocppkit does not know)."""

    code = ErrorCode.GENERIC_ERROR


class MessageTypeNotSupportedError(CallError):
    """MessageTypeNotSupported (2.x): a message type number the receiver does not support."""

    code = ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED


class RpcFrameworkError(CallError):
    """RpcFrameworkError (2.x): not a valid RPC frame (e.g. unreadable message id)."""

    code = ErrorCode.RPC_FRAMEWORK_ERROR


_BY_CODE: dict[ErrorCode, type[CallError]] = {
    cls.code: cls
    for cls in (
        NotImplementedCallError,
        NotSupportedError,
        InternalError,
        ProtocolError,
        SecurityError,
        FormatViolationError,
        PropertyConstraintViolationError,
        OccurrenceConstraintViolationError,
        TypeConstraintViolationError,
        GenericError,
        MessageTypeNotSupportedError,
        RpcFrameworkError,
    )
}


class PayloadValidationError(OcppError):
    """A payload broke its schema. ``code`` is the CALLERROR code to answer with.

    ``path`` names the field (``meterValue[0].sampledValue[2].measurand``; empty for the whole
    payload), ``reason`` says what is wrong with it.
    """

    def __init__(self, code: ErrorCode, path: str, reason: str) -> None:
        self.code = code
        self.path = path
        self.reason = reason
        super().__init__(self.description)

    @property
    def description(self) -> str:
        """``path: reason`` — the text put in the CALLERROR's errorDescription."""
        return f"{self.path}: {self.reason}" if self.path else self.reason

    def to_call_error(self) -> CallError:
        """The CallError to send for this failure."""
        return _BY_CODE[self.code](self.description)


class CallTimeoutError(OcppError):
    """No CALLRESULT or CALLERROR arrived before the call's deadline."""


class ConnectionClosedError(OcppError):
    """The connection closed while the call was queued or awaiting its reply."""


class NotConnectedError(ConnectionClosedError):
    """No open connection to that peer (a charge point not connected to the server, a client
    whose connection is down)."""


class LocalProtocolError(OcppError):
    """ocppkit's API was used in a way the protocol does not allow (our bug, not the peer's)."""
