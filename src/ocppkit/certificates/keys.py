"""Key pairs (RSA or EC), their PEM form encrypted with a passphrase, and CSRs.

Keys follow the whitepaper's minimum strength (A00.FR.501: RSA >= 2048 bit, EC >= 224 bit): RSA
2048 or EC P-256. A CSR carries ``CN`` (the charge point's identity or serial number) and ``O``
(``CpoName`` / ``OrganizationName``) and is signed with SHA-256.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

__all__ = [
    "KeyType",
    "PrivateKey",
    "dump_private_key",
    "load_private_key",
    "make_csr",
    "new_private_key",
]

KeyType: TypeAlias = Literal["EC", "RSA"]
PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def new_private_key(kind: KeyType = "EC") -> PrivateKey:
    """A new key pair: EC P-256 or RSA 2048."""
    if kind == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def dump_private_key(key: PrivateKey, passphrase: bytes | None) -> str:
    """The key as PKCS#8 PEM, encrypted with ``passphrase`` (None: not encrypted)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    return pem.decode("ascii")


def load_private_key(pem: str, passphrase: bytes | None) -> PrivateKey:
    """A key back from ``dump_private_key`` (``ValueError``: wrong passphrase or not a key)."""
    key = serialization.load_pem_private_key(pem.encode("ascii"), passphrase or None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"unsupported key type {type(key).__name__}")
    return key


def make_csr(key: PrivateKey, common_name: str, organization: str | None = None) -> str:
    """A PKCS#10 request (PEM) for ``key`` with subject ``CN=common_name, O=organization``."""
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(attributes))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")
