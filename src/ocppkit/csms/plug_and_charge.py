"""ISO 15118 Plug & Charge on a 1.6 CSMS: the tunnelled 2.0.1 messages decoded and routed to
hooks, and typed commands back to the station (``ocppkit.iso15118.tunnel``). A 2.0.1 station's
own Get15118EVCertificate and GetCertificateStatus go to the same hooks, and its Authorize with
a contract certificate gets ``contract_status``'s verdict (``install_plug_and_charge_v201``).

A 1.6 DataTransfer with the Plug & Charge vendorId is unwrapped and answered by ``PncHooks``
(the CSMS's defaults; subclass to reach a mobility operator or an OCSP responder):

- Authorize: the token's status from the store (as 1.6 Authorize; an unknown eMAID is Invalid);
  ``contract_status`` may judge a contract certificate / OCSP data (default: not judged);
- Get15118EVCertificate: Failed unless overridden (the contract certificate comes from the
  mobility operator's back end);
- GetCertificateStatus: Failed unless overridden (an OCSP look-up);
- SignCertificate(V2GCertificate): signed by the CSMS's certificate authority, answered
  Accepted, then the chain goes back as CertificateSigned(V2GCertificate) through the tunnel;
  Rejected without an authority or for a bad CSR.

A malformed tunnelled message is answered ``Rejected`` (with the reason in ``data``), an unknown
messageId ``UnknownMessageId``. ``pnc_call(station, request)`` sends any CSMS -> station message
(InstallCertificate, DeleteCertificate, GetInstalledCertificateIds, CertificateSigned,
TriggerMessage) and returns the typed 2.0.1 response.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from ocppkit.csms.certificates import _csr_error
from ocppkit.csms.context import CsmsContext
from ocppkit.csms.handlers_v2x import id_token_info
from ocppkit.iso15118 import (
    TO_CSMS,
    TunnelError,
    is_pnc,
    unwrap,
    unwrap_response,
    wrap,
    wrap_response,
)
from ocppkit.iso15118.tunnel import response_type
from ocppkit.messages import v16, v201
from ocppkit.messages._base import OcppRequest, OcppStruct
from ocppkit.protocol.errors import OcppError
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router, respond

if TYPE_CHECKING:
    from ocppkit.certificates import CertificateAuthority
    from ocppkit.csms.station import Station16

__all__ = ["PncHooks", "install_plug_and_charge", "install_plug_and_charge_v201", "pnc_call"]

log = logging.getLogger("ocppkit.csms")
R = TypeVar("R")


class PncHooks:
    """The CSMS's answers to Plug & Charge requests (override what your back end provides)."""

    ctx: CsmsContext
    """Set by ``Csms``: the store and token rules."""

    def __init__(self, authority: CertificateAuthority | None = None) -> None:
        """``authority`` signs V2G CSRs (None: the ``Csms``'s ``certificate_authority``)."""
        self.authority = authority

    async def authorize(self, station: str, req: v201.AuthorizeRequest) -> v201.AuthorizeResponse:
        """The token's status from the store (as a 2.0.1 station's own Authorize gets it); the
        contract judged by ``contract_status``."""
        info = await id_token_info(self.ctx, v201, req.id_token)
        return v201.AuthorizeResponse(
            id_token_info=info, certificate_status=await self.contract_status(station, req)
        )

    async def contract_status(
        self, station: str, req: v201.AuthorizeRequest
    ) -> v201.AuthorizeCertificateStatusEnumType | None:
        """Judge the contract certificate / its OCSP data (None: not judged, the default)."""
        return None

    async def get_15118_ev_certificate(
        self, station: str, req: v201.Get15118EVCertificateRequest
    ) -> v201.Get15118EVCertificateResponse:
        """The EV's contract certificate from the mobility operator (default: Failed)."""
        return v201.Get15118EVCertificateResponse(status="Failed", exi_response="")

    async def get_certificate_status(
        self, station: str, req: v201.GetCertificateStatusRequest
    ) -> v201.GetCertificateStatusResponse:
        """An OCSP look-up (default: Failed)."""
        return v201.GetCertificateStatusResponse(status="Failed")

    async def sign_certificate(
        self, station: str, req: v201.SignCertificateRequest
    ) -> v201.SignCertificateResponse:
        """Accepted when the authority can sign the CSR (the chain follows the answer)."""
        if self.authority is None or _csr_error(req.csr) is not None:
            return v201.SignCertificateResponse(status="Rejected")
        return v201.SignCertificateResponse(status="Accepted")


def install_plug_and_charge(router: Router, hooks: PncHooks) -> None:
    """Answer Plug & Charge DataTransfers on a 1.6 router; other vendorIds go to the handler
    registered before (the CSMS's default)."""
    before = router.route("DataTransfer")

    async def data_transfer(
        req: v16.DataTransferRequest, conn: OcppConnection
    ) -> v16.DataTransferResponse:
        if not is_pnc(req):
            if before is None:
                return v16.DataTransferResponse(status="UnknownVendorId")
            return await respond(before, req, conn)  # type: ignore[no-any-return]
        if (req.message_id or "") not in TO_CSMS:
            return v16.DataTransferResponse(status="UnknownMessageId")
        try:
            inner = unwrap(req, TO_CSMS)
        except TunnelError as exc:
            log.info("%s: Plug & Charge message refused: %s", conn.identity, exc)
            return v16.DataTransferResponse(status="Rejected", data=str(exc)[:512])
        await hooks.ctx.record_event(conn.identity, f"PnC.{req.message_id}", inner)
        return wrap_response(await _answer(hooks, conn.identity, inner))

    async def send_signed(req: v16.DataTransferRequest, resp: Any, conn: OcppConnection) -> None:
        if not is_pnc(req) or req.message_id != "SignCertificate" or hooks.authority is None:
            return
        if resp.status != "Accepted" or resp.data is None:
            return
        if unwrap_response(resp, v201.SignCertificateResponse).status != "Accepted":
            return
        inner = unwrap(req, TO_CSMS)
        assert isinstance(inner, v201.SignCertificateRequest)
        chain = hooks.authority.sign(inner.csr)
        signed = v201.CertificateSignedRequest(
            certificate_chain=chain, certificate_type=inner.certificate_type or "V2GCertificate"
        )
        try:
            answer = unwrap_response(await conn.call(wrap(signed)), v201.CertificateSignedResponse)
        except (OcppError, TunnelError) as exc:
            log.warning("%s: CertificateSigned (V2G) not delivered: %s", conn.identity, exc)
            return
        log.info("%s: CertificateSigned (V2G) %s", conn.identity, answer.status)

    router.add(v16.DataTransferRequest, data_transfer)
    router.after(v16.DataTransferRequest)(send_signed)


def install_plug_and_charge_v201(router: Router, hooks: PncHooks) -> None:
    """2.0.1 stations send Get15118EVCertificate and GetCertificateStatus as messages of their
    own: stored in the event log (kind ``PnC.<action>``, as through the 1.6 tunnel) and
    answered by the same hooks. An Authorize carrying a contract certificate (or its hash data)
    is answered by the handler registered before, with ``hooks.contract_status``'s verdict."""
    before = router.route("Authorize")

    async def authorize(req: v201.AuthorizeRequest, conn: OcppConnection) -> Any:
        if before is None:
            return await hooks.authorize(conn.identity, req)
        answer = await respond(before, req, conn)
        if req.certificate is None and req.iso15118_certificate_hash_data is None:
            return answer
        verdict = await hooks.contract_status(conn.identity, req)
        return msgspec.structs.replace(answer, certificate_status=verdict)

    router.add(v201.AuthorizeRequest, authorize)

    def native(action: str) -> Any:
        async def handler(req: Any, conn: OcppConnection) -> Any:
            await hooks.ctx.record_event(conn.identity, f"PnC.{action}", req)
            return await _answer(hooks, conn.identity, req)

        return handler

    router.add(v201.Get15118EVCertificateRequest, native("Get15118EVCertificate"))
    router.add(v201.GetCertificateStatusRequest, native("GetCertificateStatus"))


async def _answer(hooks: PncHooks, station: str, inner: OcppRequest[Any]) -> OcppStruct:
    """The hook's answer to one unwrapped request."""
    if isinstance(inner, v201.AuthorizeRequest):
        return await hooks.authorize(station, inner)
    if isinstance(inner, v201.Get15118EVCertificateRequest):
        return await hooks.get_15118_ev_certificate(station, inner)
    if isinstance(inner, v201.GetCertificateStatusRequest):
        return await hooks.get_certificate_status(station, inner)
    assert isinstance(inner, v201.SignCertificateRequest)  # TO_CSMS has these four
    return await hooks.sign_certificate(station, inner)


async def pnc_call(station: Station16, request: OcppRequest[R]) -> R:
    """Send a 2.0.1 message to a 1.6 station through the tunnel; its typed 2.0.1 answer
    (``TunnelError`` when the station does not take it)."""
    answer = await station.call(wrap(request))
    result: Any = unwrap_response(answer, response_type(request))
    return result  # type: ignore[no-any-return]
