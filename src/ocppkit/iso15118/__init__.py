"""ISO 15118 Plug & Charge with OCPP 1.6 (the OCA application note): the 2.0.1 messages carried in
DataTransfer. ``tunnel`` wraps and unwraps them; the charge point's side is
``ocppkit.chargepoint.v16.plug_and_charge``, the CSMS's ``ocppkit.csms.plug_and_charge``."""

from ocppkit.iso15118.tunnel import (
    TO_CSMS,
    TO_STATION,
    VENDOR_ID,
    TunnelError,
    is_pnc,
    unwrap,
    unwrap_response,
    wrap,
    wrap_response,
)

__all__ = [
    "TO_CSMS",
    "TO_STATION",
    "VENDOR_ID",
    "TunnelError",
    "is_pnc",
    "unwrap",
    "unwrap_response",
    "wrap",
    "wrap_response",
]
