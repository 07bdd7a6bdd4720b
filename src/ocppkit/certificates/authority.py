"""A certificate authority that signs charge point CSRs (the CSMS's side of SignCertificate).

The whitepaper says a CSMS SHOULD forward CSRs to the CPO's CA rather than sign them itself; this
class is that CA for development and tests (``CertificateAuthority.create``) or a CA whose
certificate and key the operator provides (``CertificateAuthority.load``). Issued certificates:
the CSR's subject and key, serial from ``x509.random_serial_number``, SHA-256, ``clientAuth``
extended key usage, ``validity`` long (default 365 days); the answer is the leaf followed by the
CA certificate (what CertificateSigned carries).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ocppkit.certificates.chain import ChainError, load_certificates
from ocppkit.certificates.keys import (
    KeyType,
    PrivateKey,
    dump_private_key,
    load_private_key,
    new_private_key,
)

__all__ = ["CertificateAuthority", "load_csr"]

_CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA certificate and its private key."""

    certificate: x509.Certificate
    key: PrivateKey
    validity: timedelta = timedelta(days=365)

    @classmethod
    def create(
        cls,
        name: str = "ocppkit development CA",
        organization: str = "ocppkit",
        *,
        kind: KeyType = "EC",
        lifetime: timedelta = timedelta(days=3650),
        now: datetime | None = None,
    ) -> CertificateAuthority:
        """A new self-signed root CA (for development and tests)."""
        key = new_private_key(kind)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        start = (now or datetime.now(UTC)) - timedelta(minutes=5)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + lifetime)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_CA_USAGE, critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @classmethod
    def load(
        cls, certificate_pem: str, key_pem: str, passphrase: bytes | None = None
    ) -> CertificateAuthority:
        """A CA from its certificate and (possibly encrypted) key in PEM."""
        return cls(load_certificates(certificate_pem)[0], load_private_key(key_pem, passphrase))

    @property
    def certificate_pem(self) -> str:
        """The CA certificate (to install on charge points as their root)."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def key_pem(self, passphrase: bytes | None = None) -> str:
        """The CA key in PEM (encrypted with ``passphrase``)."""
        return dump_private_key(self.key, passphrase)

    def sign(self, csr_pem: str, *, now: datetime | None = None) -> str:
        """A certificate chain (PEM: the new certificate, then this CA's) for the CSR
        (``ChainError`` when ``load_csr`` refuses it)."""
        csr = load_csr(csr_pem)
        start = (now or datetime.now(UTC)) - timedelta(minutes=5)
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.certificate.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + self.validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        leaf = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        return leaf + self.certificate_pem


def load_csr(csr_pem: str) -> x509.CertificateSigningRequest:
    """The certificate request in ``csr_pem`` if a CA can sign it: PEM, its signature verifies,
    its subject has a common name (``ChainError`` saying which is not so)."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ChainError(f"not a PEM certificate request: {exc}") from None
    if not csr.is_signature_valid:
        raise ChainError("the certificate request's signature does not verify")
    if not csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        raise ChainError("the certificate request has no common name")
    return csr
