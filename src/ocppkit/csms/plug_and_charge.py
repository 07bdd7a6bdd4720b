"""ISO 15118 Plug & Charge on the CSMS: ``PncHooks`` answer a station's Plug & Charge requests,
whether a 1.6 station tunnels them in DataTransfer (``ocppkit.iso15118.tunnel``) or a 2.0.1 / 2.1
station sends them as messages of their own; typed commands go back through ``pnc_call`` (1.6)
or the station's own methods (2.x).

The hooks (the CSMS's defaults; subclass to reach a mobility operator or an OCSP responder), each
given the station's identity and the request, answering in the request's version (the tunnel
carries 2.0.1):

- ``authorize`` (the tunnel's Authorize): the token's status from the store (as a plain
  Authorize; an unknown eMAID is Invalid) with ``contract_status``'s verdict. A 2.x station's
  own Authorize goes to the CSMS's Authorize handler (as every Authorize does; not stored in the
  event log); when it carries a certificate or its hash data, ``contract_status`` judges it;
- ``contract_status``: judges a contract certificate / OCSP data (default: not judged);
- ``get_15118_ev_certificate``: Failed unless overridden (the contract certificate comes from the
  mobility operator's back end);
- ``get_certificate_status``: Failed unless overridden (an OCSP look-up);
- ``sign_certificate`` and ``certificate_chain``: a V2G CSR (the tunnel's SignCertificate, a 2.x
  SignCertificate of type V2GCertificate or V2G20Certificate) is Accepted when ``authority`` can
  sign it, and the chain ``certificate_chain`` returns (default: signed by ``authority``) goes
  back as CertificateSigned once the answer is out (for 2.x stations through
  ``ocppkit.csms.certificates``, which signs their ChargingStationCertificate CSRs itself).

Every tunnelled message and a 2.x station's Get15118EVCertificate, GetCertificateStatus and V2G
SignCertificate are kept in the event log as ``PnC.<action>``. Through the tunnel, a
malformed message is answered ``Rejected`` (with the reason in ``data``), an unknown messageId
``UnknownMessageId``. ``pnc_call(station, request)`` sends any CSMS -> station message to a 1.6
station (InstallCertificate, DeleteCertificate, GetInstalledCertificateIds, CertificateSigned,
TriggerMessage) and returns the typed 2.0.1 response.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

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
from ocppkit.messages import v16, v21, v201
from ocppkit.messages._base import OcppRequest, OcppStruct
from ocppkit.protocol.errors import OcppError
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router, respond

if TYPE_CHECKING:
    from ocppkit.certificates import CertificateAuthority
    from ocppkit.csms.station import Station16

__all__ = ["PncHooks", "install_plug_and_charge", "install_plug_and_charge_v2x", "pnc_call"]

log = logging.getLogger("ocppkit.csms")
R = TypeVar("R")

AuthorizeRequest: TypeAlias = v201.AuthorizeRequest | v21.AuthorizeRequest
AuthorizeResponse: TypeAlias = v201.AuthorizeResponse | v21.AuthorizeResponse
EVCertificateRequest: TypeAlias = (
    v201.Get15118EVCertificateRequest | v21.Get15118EVCertificateRequest
)
EVCertificateResponse: TypeAlias = (
    v201.Get15118EVCertificateResponse | v21.Get15118EVCertificateResponse
)
CertificateStatusRequest: TypeAlias = (
    v201.GetCertificateStatusRequest | v21.GetCertificateStatusRequest
)
CertificateStatusResponse: TypeAlias = (
    v201.GetCertificateStatusResponse | v21.GetCertificateStatusResponse
)
SignCertificateRequest: TypeAlias = v201.SignCertificateRequest | v21.SignCertificateRequest
SignCertificateResponse: TypeAlias = v201.SignCertificateResponse | v21.SignCertificateResponse


def _pkg(request: OcppStruct) -> ModuleType:
    """The message package of a 2.x request: v21 or v201."""
    return v21 if type(request).__module__.startswith(v21.__name__) else v201


class PncHooks:
    """The CSMS's answers to Plug & Charge requests (override what your back end provides).

    Each hook gets the station's identity and the request, a 2.0.1 or a 2.1 one (the 1.6 tunnel
    carries 2.0.1), and answers with the response of the request's version."""

    ctx: CsmsContext
    """Set by ``Csms``: the store and token rules."""

    def __init__(self, authority: CertificateAuthority | None = None) -> None:
        """``authority`` signs V2G CSRs (None: the ``Csms``'s ``certificate_authority``)."""
        self.authority = authority

    async def authorize(self, station: str, req: AuthorizeRequest) -> AuthorizeResponse:
        """The tunnel's Authorize (a 2.x station's only on a router without an Authorize
        handler): the token's status from the store, as a plain Authorize gets it, and the
        contract judged by ``contract_status``."""
        pkg = _pkg(req)
        info = await id_token_info(self.ctx, pkg, req.id_token)
        status = await self.contract_status(station, req)
        answer: AuthorizeResponse = pkg.AuthorizeResponse(
            id_token_info=info, certificate_status=status
        )
        return answer

    async def contract_status(
        self, station: str, req: AuthorizeRequest
    ) -> v201.AuthorizeCertificateStatusEnumType | None:
        """Judge the contract certificate / its OCSP data (None: not judged, the default)."""
        return None

    async def get_15118_ev_certificate(
        self, station: str, req: EVCertificateRequest
    ) -> EVCertificateResponse:
        """The EV's contract certificate from the mobility operator (default: Failed)."""
        answer: EVCertificateResponse = _pkg(req).Get15118EVCertificateResponse(
            status="Failed", exi_response=""
        )
        return answer

    async def get_certificate_status(
        self, station: str, req: CertificateStatusRequest
    ) -> CertificateStatusResponse:
        """An OCSP look-up (default: Failed)."""
        answer: CertificateStatusResponse = _pkg(req).GetCertificateStatusResponse(status="Failed")
        return answer

    async def sign_certificate(
        self, station: str, req: SignCertificateRequest
    ) -> SignCertificateResponse:
        """Accepted when ``authority`` can sign the CSR (``certificate_chain`` follows the
        answer). To sign elsewhere, override this and ``certificate_chain``."""
        ok = self.authority is not None and _csr_error(req.csr) is None
        answer: SignCertificateResponse = _pkg(req).SignCertificateResponse(
            status="Accepted" if ok else "Rejected"
        )
        return answer

    async def certificate_chain(self, station: str, req: SignCertificateRequest) -> str | None:
        """The PEM chain for a CSR ``sign_certificate`` accepted, sent as CertificateSigned
        (default: signed by ``authority``; None: nothing is sent)."""
        return None if self.authority is None else self.authority.sign(req.csr)


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
        if not is_pnc(req) or req.message_id != "SignCertificate":
            return
        if resp.status != "Accepted" or resp.data is None:
            return
        if unwrap_response(resp, v201.SignCertificateResponse).status != "Accepted":
            return
        inner = unwrap(req, TO_CSMS)
        assert isinstance(inner, v201.SignCertificateRequest)
        chain = await hooks.certificate_chain(conn.identity, inner)
        if chain is None:
            return
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


def install_plug_and_charge_v2x(router: Router, hooks: PncHooks) -> None:
    """A 2.0.1 or 2.1 station's Plug & Charge messages: Get15118EVCertificate and
    GetCertificateStatus stored in the event log (kind ``PnC.<action>``, as through the 1.6
    tunnel) and answered by the hooks; an Authorize carrying a contract certificate (or its
    hash data) is answered by the handler registered before, with ``hooks.contract_status``'s
    verdict. (V2G SignCertificates reach the hooks through
    ``ocppkit.csms.certificates.install_certificate_signing``.)"""
    pkg: Any = v21 if router.version is OcppVersion.V21 else v201
    authorize_before = router.route("Authorize")

    async def authorize(req: Any, conn: OcppConnection) -> Any:
        if authorize_before is None:
            return await hooks.authorize(conn.identity, req)
        answer = await respond(authorize_before, req, conn)
        if req.certificate is None and req.iso15118_certificate_hash_data is None:
            return answer
        verdict = await hooks.contract_status(conn.identity, req)
        return msgspec.structs.replace(answer, certificate_status=verdict)

    def native(action: str) -> Any:
        async def handler(req: Any, conn: OcppConnection) -> Any:
            await hooks.ctx.record_event(conn.identity, f"PnC.{action}", req)
            return await _answer(hooks, conn.identity, req)

        return handler

    router.add(pkg.AuthorizeRequest, authorize)
    router.add(pkg.Get15118EVCertificateRequest, native("Get15118EVCertificate"))
    router.add(pkg.GetCertificateStatusRequest, native("GetCertificateStatus"))


async def _answer(hooks: PncHooks, station: str, inner: OcppRequest[Any]) -> OcppStruct:
    """The hook's answer to one Plug & Charge request."""
    if isinstance(inner, v201.AuthorizeRequest | v21.AuthorizeRequest):
        return await hooks.authorize(station, inner)
    if isinstance(inner, v201.Get15118EVCertificateRequest | v21.Get15118EVCertificateRequest):
        return await hooks.get_15118_ev_certificate(station, inner)
    if isinstance(inner, v201.GetCertificateStatusRequest | v21.GetCertificateStatusRequest):
        return await hooks.get_certificate_status(station, inner)
    assert isinstance(inner, v201.SignCertificateRequest | v21.SignCertificateRequest)
    return await hooks.sign_certificate(station, inner)


async def pnc_call(
    station: Station16, request: OcppRequest[R], *, timeout: float | None = None
) -> R:
    """Send a 2.0.1 message to a 1.6 station through the tunnel; its typed 2.0.1 answer
    (``TunnelError`` when the station does not take it; ``timeout`` as ``station.call``'s)."""
    answer = await station.call(wrap(request), timeout=timeout)
    result: Any = unwrap_response(answer, response_type(request))
    return result  # type: ignore[no-any-return]
