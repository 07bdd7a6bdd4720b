"""The DataTransfer tunnel of Plug & Charge over OCPP 1.6 (OCA application note "Using ISO 15118
Plug & Charge with OCPP 1.6"; the shape EVerest/libocpp implements).

A 2.0.1 message travels as ``DataTransfer(vendorId="org.openchargealliance.iso15118pnc",
messageId=<2.0.1 action>, data=<the 2.0.1 request payload as a JSON string>)``; the answer is
``DataTransfer.conf(status="Accepted", data=<the 2.0.1 response payload as a JSON string>)``.
Payloads are validated against the 2.0.1 schemas both ways (``TunnelError`` names the field); a
messageId outside the application note's list is refused.
"""

from __future__ import annotations

from typing import Any, TypeVar

from ocppkit.messages import actions, v16
from ocppkit.messages._base import OcppRequest, OcppStruct
from ocppkit.protocol.codec import decode_payload, encode_checked
from ocppkit.protocol.errors import PayloadValidationError
from ocppkit.protocol.versions import OcppVersion

__all__ = [
    "TO_CSMS",
    "TO_STATION",
    "VENDOR_ID",
    "TunnelError",
    "is_pnc",
    "response_type",
    "unwrap",
    "unwrap_response",
    "wrap",
    "wrap_response",
]

VENDOR_ID = "org.openchargealliance.iso15118pnc"
TO_CSMS = frozenset(
    {"Authorize", "Get15118EVCertificate", "GetCertificateStatus", "SignCertificate"}
)
"""The 2.0.1 actions a charge point sends through the tunnel."""
TO_STATION = frozenset(
    {
        "CertificateSigned",
        "DeleteCertificate",
        "GetInstalledCertificateIds",
        "InstallCertificate",
        "TriggerMessage",
    }
)
"""The 2.0.1 actions a CSMS sends through the tunnel."""
R = TypeVar("R", bound=OcppStruct)


class TunnelError(ValueError):
    """A tunnelled message that cannot be used: unknown messageId, missing or invalid data."""


def is_pnc(request: v16.DataTransferRequest) -> bool:
    """Is this DataTransfer a Plug & Charge message?"""
    return request.vendor_id == VENDOR_ID


def _action(payload: OcppStruct) -> str:
    return type(payload).__name__.removesuffix("Request").removesuffix("Response")


def response_type(request: OcppRequest[Any]) -> type[OcppStruct]:
    """The 2.0.1 response class of a tunnelled request."""
    spec = actions(OcppVersion.V201)[_action(request)]
    assert spec.response is not None  # the tunnelled actions are CALLs
    return spec.response


def wrap(request: OcppRequest[Any]) -> v16.DataTransferRequest:
    """A 2.0.1 request as the DataTransfer that carries it (checked against its schema)."""
    action = _action(request)
    if action not in TO_CSMS | TO_STATION:
        raise TunnelError(f"{action} is not a Plug & Charge message")
    data, _ = encode_checked(request, "strict", millis=True)
    return v16.DataTransferRequest(vendor_id=VENDOR_ID, message_id=action, data=data.decode())


def unwrap(request: v16.DataTransferRequest, allowed: frozenset[str]) -> OcppRequest[Any]:
    """The 2.0.1 request a Plug & Charge DataTransfer carries (``allowed``: the actions this side
    takes, ``TO_CSMS`` or ``TO_STATION``)."""
    action = request.message_id or ""
    if action not in allowed:
        raise TunnelError(f"messageId {action!r} is not a Plug & Charge message for this side")
    spec = actions(OcppVersion.V201)[action]
    if request.data is None:
        raise TunnelError(f"{action}: no data")
    try:
        payload, _ = decode_payload(spec.request, request.data.encode())
    except PayloadValidationError as exc:
        raise TunnelError(f"{action}: {exc}") from None
    return payload


def wrap_response(response: OcppStruct) -> v16.DataTransferResponse:
    """A 2.0.1 response as the DataTransfer answer that carries it."""
    data, _ = encode_checked(response, "strict", millis=True)
    return v16.DataTransferResponse(status="Accepted", data=data.decode())


def unwrap_response(response: v16.DataTransferResponse, expected: type[R]) -> R:
    """The 2.0.1 response in a DataTransfer answer (``TunnelError`` when the peer did not
    accept the message or sent no valid payload)."""
    if response.status != "Accepted":
        raise TunnelError(f"the peer answered {response.status}")
    if response.data is None:
        raise TunnelError("the answer has no data")
    try:
        payload, _ = decode_payload(expected, response.data.encode())
    except PayloadValidationError as exc:
        raise TunnelError(f"{expected.__name__}: {exc}") from None
    return payload
