"""The CSMS's side of certificate renewal (1.6 Security Whitepaper A02/A03; 2.x A02/A03):
SignCertificate answered, the CSR signed by a certificate authority, CertificateSigned sent.

``install_certificate_signing(router, version, authority)`` registers the SignCertificate
handler of one version: Rejected without an authority or for a CSR the authority cannot sign
(``load_csr``: not PEM, a signature that does not verify, no common name); else Accepted, and
after the answer went out the authority signs it and the chain goes back to the same station as
CertificateSigned (2.x: with the request's ``certificateType``; 2.1: its ``requestId``). The
whitepaper says a CSMS SHOULD forward the CSR to the CPO's CA: pass that CA
(``CertificateAuthority.load``) or, for development, ``CertificateAuthority.create()``.

With ``v2g`` (the CSMS's ``PncHooks``), a 2.x CSR of a V2G certificate (``certificateType``
V2GCertificate or V2G20Certificate: the EVSE's ISO 15118 certificate, another PKI) is kept in the
event log as ``PnC.SignCertificate``, answered by ``v2g.sign_certificate`` and its chain comes
from ``v2g.certificate_chain`` (None: nothing is sent).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from ocppkit.csms.context import CsmsContext
from ocppkit.messages import v16, v21, v201
from ocppkit.protocol.errors import OcppError
from ocppkit.protocol.versions import OcppVersion
from ocppkit.runtime.connection import OcppConnection
from ocppkit.runtime.router import Router

if TYPE_CHECKING:  # cryptography is the security extra
    from ocppkit.certificates import CertificateAuthority

__all__ = ["V2G_CERTIFICATE_TYPES", "V2GSigner", "install_certificate_signing"]

log = logging.getLogger("ocppkit.csms")

V2G_CERTIFICATE_TYPES = frozenset({"V2GCertificate", "V2G20Certificate"})
"""The 2.x SignCertificate types that go to the ``V2GSigner`` (ISO 15118 certificates)."""


class V2GSigner(Protocol):
    """Who answers V2G CSRs and gives their chains (``PncHooks``)."""

    ctx: CsmsContext

    async def sign_certificate(self, station: str, req: Any) -> Any:
        """The SignCertificate answer to a V2G CSR."""
        ...

    async def certificate_chain(self, station: str, req: Any) -> str | None:
        """The PEM chain of an accepted V2G CSR (None: nothing is sent)."""
        ...


def _csr_error(csr: str) -> str | None:
    """Why ``csr`` cannot be signed (None: it can)."""
    from ocppkit.certificates import ChainError, load_csr

    try:
        load_csr(csr)
    except ChainError as exc:
        return str(exc)
    return None


def install_certificate_signing(
    router: Router,
    version: OcppVersion,
    authority: CertificateAuthority | None,
    v2g: V2GSigner | None = None,
) -> None:
    """Answer SignCertificate on ``router`` (see the module docstring)."""
    module: Any = {OcppVersion.V16: v16, OcppVersion.V201: v201, OcppVersion.V21: v21}[version]
    v2g_signer = None if version is OcppVersion.V16 else v2g

    async def sign_certificate(req: Any, conn: OcppConnection) -> Any:
        if v2g_signer is not None and req.certificate_type in V2G_CERTIFICATE_TYPES:
            await v2g_signer.ctx.record_event(conn.identity, "PnC.SignCertificate", req)
            return await v2g_signer.sign_certificate(conn.identity, req)
        error = (
            "no certificate authority is configured" if authority is None else _csr_error(req.csr)
        )
        if error is not None:
            log.info("%s: SignCertificate rejected: %s", conn.identity, error)
            return module.SignCertificateResponse(status="Rejected")
        return module.SignCertificateResponse(status="Accepted")

    async def send_signed(req: Any, resp: Any, conn: OcppConnection) -> None:
        if resp.status != "Accepted":
            return
        kind = ""
        if v2g_signer is not None and req.certificate_type in V2G_CERTIFICATE_TYPES:
            chain = await v2g_signer.certificate_chain(conn.identity, req)
            kind = " (V2G)"
        else:
            chain = None if authority is None else authority.sign(req.csr)
        if chain is None:
            return
        extra: dict[str, Any] = {}
        if version is not OcppVersion.V16:
            extra["certificate_type"] = req.certificate_type
        if version is OcppVersion.V21:
            extra["request_id"] = req.request_id
        try:
            answer = await conn.call(
                module.CertificateSignedRequest(certificate_chain=chain, **extra)
            )
        except OcppError as exc:
            log.warning("%s: CertificateSigned%s not delivered: %s", conn.identity, kind, exc)
            return
        log.info("%s: CertificateSigned%s %s", conn.identity, kind, answer.status)

    router.add(module.SignCertificateRequest, sign_certificate)
    router.after(module.SignCertificateRequest)(send_signed)
