"""Certificates on the 1.6 charge point (Security Whitepaper A02/A03, M03–M05): the roots it
trusts, its own TLS client certificate, and their renewal.

- InstallCertificate (CentralSystemRootCertificate / ManufacturerRootCertificate): a valid,
  self-signed CA certificate (one, in PEM) is stored (namespace ``"certificates"``, keyed by its
  SHA-256 hash data); invalid -> Rejected; more than ``CertificateStoreMaxLength`` -> Rejected;
  the same
  certificate again -> Accepted (nothing changes); the store failing -> Failed.
- DeleteCertificate: by hash data (compared in the request's hash algorithm) -> Accepted;
  NotFound; Failed for the charge point's own certificate and for the last
  CentralSystemRootCertificate while SecurityProfile >= 2 (the next TLS connection could not be
  checked any more).
- GetInstalledCertificateIds(type) -> the hash data of each, or NotFound.
- SecurityProfile may be raised to 2 or 3 only with a CentralSystemRootCertificate installed,
  to 3 only with a charge point certificate (A05; the stack's ``add_check``).
- Expiry: checked at start and daily; an installed root that expires within ``RENEW_BEFORE`` is
  logged as a warning.
- Renewal (ExtendedTriggerMessage(SignChargePointCertificate), or by itself when its certificate
  expires within ``RENEW_BEFORE``; checked at start and daily): a new key pair (``key_type``), a
  CSR with ``CN`` = the charge point's identity and ``O`` = ``CpoName``, sent as SignCertificate.
  The new private key is kept (encrypted with the stack's passphrase) until CertificateSigned.
- CertificateSigned: longer than ``CertificateSignedMaxChainSize`` -> Rejected; the chain must
  lead to an installed CentralSystemRootCertificate, be valid now and match the pending key,
  else Rejected with an InvalidChargePointCertificate security event. Accepted: the new
  certificate and key replace the old ones (which are kept as ``previous``); on SecurityProfile 3
  the stack reconnects (``StackContext.reconnect``) to use it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

from ocppkit.chargepoint.runtime import Handle
from ocppkit.chargepoint.v16.context import StackContext
from ocppkit.messages import v16
from ocppkit.protocol.errors import NotConnectedError, OcppError
from ocppkit.runtime.router import Router

if TYPE_CHECKING:
    from cryptography import x509

    from ocppkit.certificates import HashData, KeyType
    from ocppkit.certificates.hashdata import HashAlgorithm

__all__ = ["RENEW_BEFORE", "Certificates"]

log = logging.getLogger("ocppkit.chargepoint")

_NS = "certificates"
_OWN = "cp_certificate"
RENEW_BEFORE = timedelta(days=30)
"""The charge point asks for a new certificate when its own expires within this (A03)."""
_DAY = 86_400.0
_CSMS_ROOT: Final = "CentralSystemRootCertificate"


def _pem(cert: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _certificate(pem: str) -> x509.Certificate:
    """The first certificate of a stored PEM text (imports cryptography on first use: a
    charge point without certificates never pays for it)."""
    from ocppkit.certificates import load_certificates

    return load_certificates(pem)[0]


def _key(data: HashData) -> str:
    return f"{data.issuer_name_hash}:{data.issuer_key_hash}:{data.serial_number}"


def _wire(data: HashData) -> v16.CertificateHashDataType:
    return v16.CertificateHashDataType(
        hash_algorithm=data.hash_algorithm,
        issuer_name_hash=data.issuer_name_hash,
        issuer_key_hash=data.issuer_key_hash,
        serial_number=data.serial_number,
    )


class Certificates:
    """Installed roots and the charge point's own certificate."""

    def __init__(
        self,
        ctx: StackContext,
        router: Router,
        *,
        common_name: Callable[[], str | None],
        passphrase: bytes | None,
        key_type: KeyType,
        raise_event: Callable[[str, str | None], Awaitable[None]],
    ) -> None:
        self.ctx = ctx
        self.common_name = common_name
        self.passphrase = passphrase
        self.key_type = key_type
        self.raise_event = raise_event
        self.installed: dict[str, dict[str, str]] = {}  # key -> {"type", "pem"}
        self.own: dict[str, str] = {}  # "key", "chain", "previousKey", "previousChain", "pending"
        self._timer: Handle | None = None
        router.add(v16.InstallCertificateRequest, self.install)
        router.add(v16.DeleteCertificateRequest, self.delete)
        router.add(v16.GetInstalledCertificateIdsRequest, self.installed_ids)
        router.add(v16.CertificateSignedRequest, self.certificate_signed)
        ctx.config.add_check("SecurityProfile", self._profile_check)

    def _profile_check(self, value: str) -> str | None:
        """Security Whitepaper A05 preconditions of a profile switch."""
        profile = int(value)
        if profile >= 2 and not self.roots(_CSMS_ROOT):
            return f"security profile {profile} needs an installed CentralSystemRootCertificate"
        if profile == 3 and self.certificate() is None:
            return "security profile 3 needs a charge point certificate"
        return None

    async def load(self) -> None:
        """Restore the store; renew an expiring certificate; check again every day."""
        self.installed = await self.ctx.store.load(_NS)
        self.own = await self.ctx.store.load(_OWN)
        self._daily()

    def cancel_timers(self) -> None:
        """Stop the daily expiry check."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _daily(self) -> None:
        if self.ctx.closing:
            return
        now = self.ctx.clock.now()
        for item in self.installed.values():
            root = _certificate(item["pem"])
            if root.not_valid_after_utc - now < RENEW_BEFORE:
                log.warning(
                    "the installed %s %s expires at %s",
                    item["type"], root.subject.rfc4514_string(), root.not_valid_after_utc,
                )  # fmt: skip
        own = self.certificate()
        if own is not None and own.not_valid_after_utc - now < RENEW_BEFORE:
            log.warning("the charge point certificate expires at %s", own.not_valid_after_utc)
            self.renew_in_background()
        self._timer = self.ctx.scheduler.call_later(_DAY, self._daily)

    # -- what the stack and the adapter use ----------------------------------------------------
    def roots(self, kind: str) -> list[x509.Certificate]:
        """The installed roots of ``kind``."""
        return [_certificate(i["pem"]) for i in self.installed.values() if i["type"] == kind]

    def roots_pem(self) -> str:
        """The CentralSystemRootCertificates in one PEM text ('' when none)."""
        return "".join(i["pem"] for i in self.installed.values() if i["type"] == _CSMS_ROOT)

    def certificate(self) -> x509.Certificate | None:
        """The charge point's own certificate (None before the first CertificateSigned)."""
        chain = self.own.get("chain")
        return _certificate(chain) if chain else None

    def client_credentials(self) -> tuple[str, str] | None:
        """(certificate chain PEM, private key PEM unencrypted) for TLS, or None."""
        if "chain" not in self.own:
            return None
        from ocppkit.certificates import dump_private_key, load_private_key

        key = load_private_key(self.own["key"], self.passphrase)
        return self.own["chain"], dump_private_key(key, None)

    # -- InstallCertificate / DeleteCertificate / GetInstalledCertificateIds ----------------------
    async def install(
        self, req: v16.InstallCertificateRequest, conn: Any
    ) -> v16.InstallCertificateResponse:
        """Store a root certificate."""
        status = await self.install_pem(req.certificate_type, req.certificate)
        return v16.InstallCertificateResponse(status=status)

    async def install_pem(self, kind: str, pem: str) -> Literal["Accepted", "Rejected", "Failed"]:
        """Store the root certificate ``pem`` as ``kind`` (1.6 names, or the 2.0.1 ones Plug &
        Charge uses: V2GRootCertificate, MORootCertificate …)."""
        from ocppkit.certificates import ChainError, hash_data, load_certificates, verify_chain

        try:
            certs = load_certificates(pem)
            if len(certs) != 1:
                raise ChainError("one certificate at a time")
            verify_chain(certs, certs, self.ctx.clock.now())  # valid now, a CA
        except ChainError as exc:
            log.info("InstallCertificate rejected: %s", exc)
            return "Rejected"
        key = _key(hash_data(certs[0]))
        if key in self.installed:
            return "Accepted"
        limit = self.ctx.config.get_int("CertificateStoreMaxLength")
        if limit is not None and len(self.installed) >= limit:
            log.info("InstallCertificate rejected: %d certificates installed already", limit)
            return "Rejected"
        item = {"type": kind, "pem": _pem(certs[0])}
        try:
            await self.ctx.store.put(_NS, key, item)
        except Exception:
            log.exception("InstallCertificate: the certificate could not be stored")
            return "Failed"
        self.installed[key] = item
        return "Accepted"

    def _find(self, target: HashData) -> tuple[str | None, bool]:
        """(the installed certificate's key, whether it is our own certificate)."""
        from ocppkit.certificates import hash_data

        for key, item in self.installed.items():
            cert = _certificate(item["pem"])
            if hash_data(cert, None, target.hash_algorithm).same_as(target):
                return key, False
        own = "chain" in self.own and self.chain_hash_data(self.own["chain"], target.hash_algorithm)
        return None, bool(own and own.same_as(target))

    def chain_hash_data(self, chain_pem: str, algorithm: HashAlgorithm = "SHA256") -> HashData:
        """The hash data of a chain's leaf (one of our own certificates): issued by the chain's
        next certificate, or by the installed root that signed it when the chain is the leaf
        alone (as GetInstalledCertificateIds lists it and DeleteCertificate names it)."""
        from ocppkit.certificates import hash_data, issuer_of, load_certificates

        chain = load_certificates(chain_pem)
        if len(chain) > 1:
            issuer: x509.Certificate | None = chain[1]
        else:
            installed = [_certificate(item["pem"]) for item in self.installed.values()]
            issuer = issuer_of(chain[0], installed)
        return hash_data(chain[0], issuer, algorithm)

    async def delete(
        self, req: v16.DeleteCertificateRequest, conn: Any
    ) -> v16.DeleteCertificateResponse:
        """Remove an installed root by its hash data."""
        from ocppkit.certificates import HashData

        wanted = HashData.from_fields(req.certificate_hash_data)
        return v16.DeleteCertificateResponse(status=await self.delete_hash(wanted))

    async def delete_hash(self, wanted: HashData) -> Literal["Accepted", "Failed", "NotFound"]:
        """Remove the installed root with hash data ``wanted`` (see the module docstring)."""
        key, own = self._find(wanted)
        if own:
            return "Failed"
        if key is None:
            return "NotFound"
        item = self.installed[key]
        csms_roots = [i for i in self.installed.values() if i["type"] == _CSMS_ROOT]
        profile = self.ctx.config.get_int("SecurityProfile") or 0
        if item["type"] == _CSMS_ROOT and len(csms_roots) == 1 and profile >= 2:
            log.info(
                "DeleteCertificate: the last CSMS root is needed by security profile %d", profile
            )
            return "Failed"
        await self.ctx.store.delete(_NS, key)
        del self.installed[key]
        return "Accepted"

    def installed_ids(
        self, req: v16.GetInstalledCertificateIdsRequest, conn: Any
    ) -> v16.GetInstalledCertificateIdsResponse:
        """The hash data of the installed roots of the asked type."""
        from ocppkit.certificates import hash_data

        found = [_wire(hash_data(cert)) for cert in self.roots(req.certificate_type)]
        if not found:
            return v16.GetInstalledCertificateIdsResponse(status="NotFound")
        return v16.GetInstalledCertificateIdsResponse(
            status="Accepted", certificate_hash_data=found
        )

    # -- renewal ---------------------------------------------------------------------------------
    def renew_in_background(self) -> None:
        """``renew`` without waiting (ExtendedTriggerMessage(SignChargePointCertificate))."""
        self.ctx.scheduler.spawn(self._renew(), "ocppkit certificate renewal")

    async def _renew(self) -> None:
        await self.renew()

    async def new_request(self, namespace: str, key_type: KeyType) -> tuple[str, str] | None:
        """A new key pair kept (encrypted) as ``"pending"`` in ``namespace`` and its CSR
        (CN = the identity, O = CpoName): ``(csr, pending key PEM)``; None without an identity."""
        name = self.common_name()
        if name is None:
            log.warning("no identity to put in a certificate request")
            return None
        if self.passphrase is None:
            log.warning("no key passphrase: the charge point's private key is stored unencrypted")
        from ocppkit.certificates import dump_private_key, make_csr, new_private_key

        key = new_private_key(key_type)
        csr = make_csr(key, name, self.ctx.config.get("CpoName") or None)
        pending = dump_private_key(key, self.passphrase)
        await self.ctx.store.put(namespace, "pending", pending)
        return csr, pending

    async def renew(self) -> bool:
        """Make a key pair and ask the CSMS to sign it (SignCertificate); True when Accepted."""
        made = await self.new_request(_OWN, self.key_type)
        if made is None:
            return False
        csr, self.own["pending"] = made
        try:
            response: v16.SignCertificateResponse = await self.ctx.call(
                v16.SignCertificateRequest(csr=csr)
            )
        except (NotConnectedError, OcppError) as exc:
            log.info("SignCertificate not delivered: %s", exc)
            return False
        log.info("SignCertificate: %s", response.status)
        return response.status == "Accepted"

    async def certificate_signed(
        self, req: v16.CertificateSignedRequest, conn: Any
    ) -> v16.CertificateSignedResponse:
        """Check and install the new certificate (see the module docstring)."""
        from ocppkit.certificates import ChainError, check_issued

        limit = self.ctx.config.get_int("CertificateSignedMaxChainSize")
        pending = self.own.get("pending")
        try:
            if limit is not None and len(req.certificate_chain) > limit:
                raise ChainError(f"the chain is longer than {limit} characters")
            chain, _ = check_issued(
                req.certificate_chain, self.roots(_CSMS_ROOT), pending, self.passphrase,
                self.ctx.clock.now(),
            )  # fmt: skip
        except ValueError as exc:  # ChainError, or a key the passphrase does not open
            await self.raise_event("InvalidChargePointCertificate", str(exc)[:255])
            return v16.CertificateSignedResponse(status="Rejected")
        assert pending is not None  # check_issued refused a chain without a pending request
        own = {"key": pending, "chain": "".join(_pem(c) for c in chain)}
        if "chain" in self.own:
            own |= {"previousKey": self.own["key"], "previousChain": self.own["chain"]}
        await self.ctx.store.put_many(_OWN, own, replace=True)
        self.own = own
        self.ctx.callbacks.certificate_installed(own["chain"])
        if (self.ctx.config.get_int("SecurityProfile") or 0) == 3:
            self.ctx.reconnect_soon("new client certificate")
        return v16.CertificateSignedResponse(status="Accepted")
