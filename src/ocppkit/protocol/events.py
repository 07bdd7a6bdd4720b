"""What an ``OcppSession`` reports after it was fed data or time.

Every CALL we send ends in exactly one ``CallCompleted`` or ``CallFailed`` (unless cancelled).
Everything the session rejected, dropped or accepted leniently is reported as ``ProtocolIssue``,
so logs and metrics see it; the session has already sent whatever reply the spec prescribes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from ocppkit.messages._base import OcppRequest, OcppResponse
from ocppkit.protocol.errors import CallError, OcppError

__all__ = [
    "CallCompleted",
    "CallFailed",
    "CallReceived",
    "CallResultErrorReceived",
    "Event",
    "IssueKind",
    "ProtocolIssue",
    "SendReceived",
]


@dataclass(frozen=True, slots=True)
class CallReceived:
    """The peer sent a valid CALL: answer it with ``send_result`` or ``send_error``."""

    unique_id: str
    action: str
    request: OcppRequest[Any]


@dataclass(frozen=True, slots=True)
class SendReceived:
    """The peer sent a 2.1 SEND: it must not be answered."""

    unique_id: str
    action: str
    request: OcppRequest[Any]


@dataclass(frozen=True, slots=True)
class CallCompleted:
    """Our CALL was answered with a valid CALLRESULT."""

    unique_id: str
    action: str
    request: OcppRequest[Any]
    response: OcppResponse


@dataclass(frozen=True, slots=True)
class CallFailed:
    """Our CALL failed: ``error`` is a ``CallError`` (the peer's CALLERROR), a
    ``PayloadValidationError`` (its CALLRESULT broke the schema), a ``CallTimeoutError`` or a
    ``ConnectionClosedError``."""

    unique_id: str
    action: str
    request: OcppRequest[Any]
    error: OcppError


@dataclass(frozen=True, slots=True)
class CallResultErrorReceived:
    """2.1: the peer could not process a CALLRESULT we sent (``unique_id`` is its message id)."""

    unique_id: str
    error: CallError


IssueKind: TypeAlias = Literal[
    "invalid_frame",  # not a valid OCPP-J frame
    "unsupported_message_type",  # message type number unknown to this version
    "invalid_payload",  # a CALL or SEND payload broke its schema (answered with CALLERROR)
    "unknown_action",  # action not in this version (answered NotImplemented)
    "unsupported_action",  # action known but not handled here (answered NotSupported)
    "duplicate_call_id",  # a CALL reused the id of one still being processed
    "unmatched_reply",  # CALLRESULT/CALLERROR for no call we are waiting for: dropped
    "late_reply",  # reply to a call that already timed out: dropped
    "lenient",  # schema violations accepted under lenient validation
]


@dataclass(frozen=True, slots=True)
class ProtocolIssue:
    """Something the peer sent that was rejected, dropped or leniently accepted.

    ``replied`` says whether the session queued an error reply for it.
    """

    kind: IssueKind
    description: str
    unique_id: str | None = None
    action: str | None = None
    replied: bool = False


Event: TypeAlias = (
    CallReceived
    | SendReceived
    | CallCompleted
    | CallFailed
    | CallResultErrorReceived
    | ProtocolIssue
)
