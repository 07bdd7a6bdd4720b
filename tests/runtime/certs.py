"""Test certificates made with ``cryptography``: a CA, a server certificate, client certificates.

::

    pki = Pki.create(tmp_path)              # CA + server certificate for localhost / 127.0.0.1
    cert, key = pki.client("CP1")           # client certificate, CN=CP1, signed by the CA
    cert, key = pki.untrusted_client("CP1") # the same CN, signed by another CA nobody trusts

Every file is PEM; keys are unencrypted EC P-256 (fast to generate, accepted by TLS 1.2 and 1.3).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertificateAuthority", "Pki"]

_VALIDITY = timedelta(days=2)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ocppkit tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _write_cert(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@dataclass(frozen=True)
class CertificateAuthority:
    """A self-signed CA that issues leaf certificates into ``directory``."""

    name: str
    directory: Path
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    cert_path: Path

    @classmethod
    def create(cls, directory: Path, name: str = "ocppkit test CA") -> CertificateAuthority:
        """A new CA; its certificate is written to ``directory/<slug>-ca.pem``."""
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        slug = name.lower().replace(" ", "-")
        return cls(name, directory, key, cert, _write_cert(cert, directory / f"{slug}-ca.pem"))

    def issue(
        self,
        common_name: str,
        *,
        server: bool,
        dns_names: tuple[str, ...] = (),
        ip_addresses: tuple[str, ...] = (),
    ) -> tuple[Path, Path]:
        """A leaf certificate signed by this CA: ``(cert.pem, key.pem)`` paths."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        slug = f"{self.cert_path.stem}-{common_name}".replace(" ", "-")
        return (
            _write_cert(cert, self.directory / f"{slug}.pem"),
            _write_key(key, self.directory / f"{slug}.key"),
        )


@dataclass(frozen=True)
class Pki:
    """The trusted CA, a server certificate it signed, and a second, untrusted CA."""

    ca: CertificateAuthority
    untrusted_ca: CertificateAuthority
    server_cert: Path
    server_key: Path

    @property
    def ca_file(self) -> str:
        """The trusted CA certificate (PEM path), for ``cafile=``."""
        return str(self.ca.cert_path)

    @classmethod
    def create(cls, directory: Path) -> Pki:
        """Both CAs and a server certificate for ``localhost`` and ``127.0.0.1`` (SAN)."""
        ca = CertificateAuthority.create(directory, "ocppkit test CA")
        untrusted = CertificateAuthority.create(directory, "untrusted CA")
        cert, key = ca.issue(
            "localhost", server=True, dns_names=("localhost",), ip_addresses=("127.0.0.1",)
        )
        return cls(ca, untrusted, cert, key)

    def client(self, common_name: str) -> tuple[str, str]:
        """A client certificate with CN ``common_name`` signed by the trusted CA."""
        cert, key = self.ca.issue(common_name, server=False)
        return str(cert), str(key)

    def untrusted_client(self, common_name: str) -> tuple[str, str]:
        """A client certificate with CN ``common_name`` signed by the untrusted CA."""
        cert, key = self.untrusted_ca.issue(common_name, server=False)
        return str(cert), str(key)
