"""ISO 15118 Plug & Charge on the 1.6 charge point: the 2.0.1 messages in DataTransfer
(``ocppkit.iso15118.tunnel``), typed, for the charger's ISO 15118 stack.

To the CSMS (methods, each retried on a timeout up to ``attempts`` times; ``TunnelError`` when
the CSMS does not take the message):

- ``authorize(id_token, certificate=…, hash_data=…)``: contract authorization (eMAID, contract
  certificate or its OCSP data) -> 2.0.1 AuthorizeResponse;
- ``get_15118_ev_certificate(schema, action, exi)``: the EV's certificate installation / update
  (EXI passed through);
- ``get_certificate_status(ocsp)``: an OCSP look-up by the CSMS;
- ``renew_v2g_certificate()``: a new SECC key pair and SignCertificate(V2GCertificate) (also on
  TriggerMessage(SignV2GCertificate) from the CSMS).

From the CSMS (DataTransfer answered Accepted with the 2.0.1 response; a malformed one is
Rejected, an unknown messageId UnknownMessageId):

- InstallCertificate: V2GRootCertificate, MORootCertificate (and the CSMS/manufacturer roots)
  into the stack's certificate store (``certificates``);
- DeleteCertificate / GetInstalledCertificateIds: over that store; GetInstalledCertificateIds
  also lists the V2G certificate chain (``V2GCertificateChain``: the hash data of its leaf, whose
  issuer is the chain's next certificate or, for a leaf sent alone, the installed root that
  signed it), which DeleteCertificate refuses (Failed), as it does the charge point's own
  certificate;
- CertificateSigned(V2GCertificate): checked against the installed V2GRootCertificates and the
  pending SECC key, then kept (namespace ``"v2g_certificate"``, key encrypted) and handed to
  ``ChargerCallbacks.v2g_certificate_installed`` for the ISO 15118 stack; otherwise Rejected with
  an InvalidChargePointCertificate security event;
- TriggerMessage(SignV2GCertificate): Accepted, then the renewal above.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ocppkit.chargepoint.v16.certificates import Certificates
from ocppkit.chargepoint.v16.context import StackContext
from ocppkit.iso15118 import TO_STATION, TunnelError, unwrap, unwrap_response, wrap, wrap_response
from ocppkit.messages import v16, v201
from ocppkit.messages._base import OcppRequest, OcppStruct
from ocppkit.protocol.errors import CallTimeoutError

if TYPE_CHECKING:
    from ocppkit.certificates import HashData

__all__ = ["PlugAndCharge"]

log = logging.getLogger("ocppkit.chargepoint")

_NS = "v2g_certificate"
R = TypeVar("R", bound=OcppStruct)


class PlugAndCharge:
    """Plug & Charge messages of one charge point."""

    def __init__(
        self,
        ctx: StackContext,
        certificates: Certificates,
        *,
        raise_event: Callable[[str, str | None], Awaitable[None]],
        attempts: int = 3,
    ) -> None:
        self.ctx = ctx
        self.certificates = certificates
        self.raise_event = raise_event
        self.attempts = attempts
        self.v2g: dict[str, str] = {}  # "pending", "key", "chain"
        self._loaded = False
        self._handlers: dict[str, Callable[[Any], Awaitable[OcppStruct]]] = {
            "InstallCertificate": self._install,
            "DeleteCertificate": self._delete,
            "GetInstalledCertificateIds": self._installed_ids,
            "CertificateSigned": self._certificate_signed,
            "TriggerMessage": self._trigger,
        }

    async def load(self) -> None:
        """Restore the V2G certificate and a pending key (once; the stack makes this block on
        first use, so the methods that need the state load it)."""
        if not self._loaded:
            self.v2g = await self.ctx.store.load(_NS)
            self._loaded = True

    # -- to the CSMS -----------------------------------------------------------------------------
    async def _call(self, request: OcppRequest[Any], expected: type[R]) -> R:
        for attempt in range(1, self.attempts + 1):
            try:
                answer: v16.DataTransferResponse = await self.ctx.call(wrap(request))
            except CallTimeoutError:
                if attempt == self.attempts:
                    raise
                log.info(
                    "%s timed out; attempt %d of %d",
                    type(request).__name__,
                    attempt + 1,
                    self.attempts,
                )
                continue
            return unwrap_response(answer, expected)
        raise AssertionError("unreachable")

    async def authorize(
        self,
        id_token: v201.IdTokenType,
        *,
        certificate: str | None = None,
        hash_data: list[v201.OCSPRequestDataType] | None = None,
    ) -> v201.AuthorizeResponse:
        """Authorize a contract (ISO 15118 PnC) with the CSMS."""
        request = v201.AuthorizeRequest(
            id_token=id_token, certificate=certificate, iso15118_certificate_hash_data=hash_data
        )
        return await self._call(request, v201.AuthorizeResponse)

    async def get_15118_ev_certificate(
        self, schema_version: str, action: v201.CertificateActionEnumType, exi_request: str
    ) -> v201.Get15118EVCertificateResponse:
        """Forward the EV's certificate installation / update request (EXI, base64)."""
        request = v201.Get15118EVCertificateRequest(
            iso15118_schema_version=schema_version, action=action, exi_request=exi_request
        )
        return await self._call(request, v201.Get15118EVCertificateResponse)

    async def get_certificate_status(
        self, ocsp: v201.OCSPRequestDataType
    ) -> v201.GetCertificateStatusResponse:
        """Ask the CSMS for the OCSP status of a certificate."""
        request = v201.GetCertificateStatusRequest(ocsp_request_data=ocsp)
        return await self._call(request, v201.GetCertificateStatusResponse)

    async def renew_v2g_certificate(self) -> bool:
        """A new SECC key pair, its CSR sent as SignCertificate(V2GCertificate); True when the
        CSMS accepted it (the certificate comes later as CertificateSigned)."""
        await self.load()
        made = await self.certificates.new_request(_NS, "EC")  # ISO 15118-2: secp256r1
        if made is None:
            return False
        csr, self.v2g["pending"] = made
        request = v201.SignCertificateRequest(csr=csr, certificate_type="V2GCertificate")
        try:
            answer = await self._call(request, v201.SignCertificateResponse)
        except (TunnelError, CallTimeoutError) as exc:
            log.info("SignCertificate(V2GCertificate) not accepted: %s", exc)
            return False
        return answer.status == "Accepted"

    # -- from the CSMS ---------------------------------------------------------------------------
    async def handle(self, request: v16.DataTransferRequest) -> v16.DataTransferResponse:
        """Answer a Plug & Charge DataTransfer from the CSMS."""
        await self.load()
        if (request.message_id or "") not in TO_STATION:
            return v16.DataTransferResponse(status="UnknownMessageId")
        try:
            inner = unwrap(request, TO_STATION)
        except TunnelError as exc:
            log.info("Plug & Charge message refused: %s", exc)
            return v16.DataTransferResponse(status="Rejected", data=str(exc)[:512])
        response = await self._handlers[request.message_id or ""](inner)
        return wrap_response(response)

    async def _install(self, req: v201.InstallCertificateRequest) -> OcppStruct:
        status = await self.certificates.install_pem(req.certificate_type, req.certificate)
        return v201.InstallCertificateResponse(status=status)

    async def _delete(self, req: v201.DeleteCertificateRequest) -> OcppStruct:
        from ocppkit.certificates import HashData

        wanted = HashData.from_fields(req.certificate_hash_data)
        if "chain" in self.v2g:  # our own V2G certificate stays, as the charge point's does
            ours = self.certificates.chain_hash_data(self.v2g["chain"], wanted.hash_algorithm)
            if ours.same_as(wanted):
                return v201.DeleteCertificateResponse(status="Failed")
        return v201.DeleteCertificateResponse(status=await self.certificates.delete_hash(wanted))

    async def _installed_ids(self, req: v201.GetInstalledCertificateIdsRequest) -> OcppStruct:
        from ocppkit.certificates import hash_data, load_certificates

        wanted = set(req.certificate_type or ())
        found: list[v201.CertificateHashDataChainType] = []
        for item in self.certificates.installed.values():
            if not wanted or item["type"] in wanted:
                cert = load_certificates(item["pem"])[0]
                found.append(_chain_entry(item["type"], hash_data(cert)))
        if "chain" in self.v2g and (not wanted or "V2GCertificateChain" in wanted):
            ours = self.certificates.chain_hash_data(self.v2g["chain"])
            found.append(_chain_entry("V2GCertificateChain", ours))
        if not found:
            return v201.GetInstalledCertificateIdsResponse(status="NotFound")
        return v201.GetInstalledCertificateIdsResponse(
            status="Accepted", certificate_hash_data_chain=found
        )

    async def _certificate_signed(self, req: v201.CertificateSignedRequest) -> OcppStruct:
        if req.certificate_type not in (None, "V2GCertificate"):
            return v201.CertificateSignedResponse(status="Rejected")
        from ocppkit.certificates import check_issued, dump_private_key

        pending = self.v2g.get("pending")
        try:
            _, key = check_issued(
                req.certificate_chain, self.certificates.roots("V2GRootCertificate"), pending,
                self.certificates.passphrase, self.ctx.clock.now(), what="V2G certificate",
            )  # fmt: skip
        except ValueError as exc:  # ChainError, or a key the passphrase does not open
            await self.raise_event("InvalidChargePointCertificate", f"V2G: {exc}"[:255])
            return v201.CertificateSignedResponse(status="Rejected")
        assert pending is not None  # check_issued refused a chain without a pending request
        stored = {"key": pending, "chain": req.certificate_chain}
        await self.ctx.store.put_many(_NS, stored, replace=True)
        self.v2g = stored
        self.ctx.callbacks.v2g_certificate_installed(
            req.certificate_chain, dump_private_key(key, None)
        )
        return v201.CertificateSignedResponse(status="Accepted")

    async def _trigger(self, req: v201.TriggerMessageRequest) -> OcppStruct:
        if req.requested_message != "SignV2GCertificate":
            return v201.TriggerMessageResponse(status="NotImplemented")
        self.ctx.after_answer(self._renew, "ocppkit V2G certificate renewal")
        return v201.TriggerMessageResponse(status="Accepted")

    async def _renew(self) -> None:
        await self.renew_v2g_certificate()


def _chain_entry(kind: Any, data: HashData) -> v201.CertificateHashDataChainType:
    return v201.CertificateHashDataChainType(
        certificate_type=kind,
        certificate_hash_data=v201.CertificateHashDataType(
            hash_algorithm=data.hash_algorithm,
            issuer_name_hash=data.issuer_name_hash,
            issuer_key_hash=data.issuer_key_hash,
            serial_number=data.serial_number,
        ),
    )
