"""Certificate chains: parse PEM, check a chain up to a trusted root, match a chain to a key.

``verify_chain`` builds the path from the leaf through the chain's own certificates to one of the
trusted roots: every link is checked by signature (``verify_directly_issued_by``) and by validity
period at ``now``; CA certificates must say so (basicConstraints CA). Revocation is not checked:
the whitepaper recommends short-lived certificates instead of CRL/OCSP on the charge point.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from ocppkit.certificates.keys import PrivateKey, load_private_key

__all__ = [
    "ChainError",
    "check_issued",
    "is_self_signed",
    "issuer_of",
    "load_certificates",
    "matches_key",
    "verify_chain",
]


class ChainError(ValueError):
    """A certificate or chain is not acceptable; the message says why."""


def load_certificates(pem: str) -> list[x509.Certificate]:
    """Every certificate in ``pem``, in order (``ChainError`` when there is none or one is
    malformed)."""
    try:
        certs = x509.load_pem_x509_certificates(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ChainError(f"not a PEM certificate: {exc}") from None
    if not certs:
        raise ChainError("no certificate in the PEM text")
    return certs


def is_self_signed(cert: x509.Certificate) -> bool:
    """Issued by itself (a root)."""
    return _issued_by(cert, cert)


def issuer_of(
    cert: x509.Certificate, candidates: Sequence[x509.Certificate]
) -> x509.Certificate | None:
    """The one of ``candidates`` that directly issued ``cert`` (name and signature), or None."""
    return next((issuer for issuer in candidates if _issued_by(cert, issuer)), None)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _check_time(cert: x509.Certificate, now: datetime, what: str) -> None:
    if now < cert.not_valid_before_utc:
        raise ChainError(f"{what} is not valid before {cert.not_valid_before_utc.isoformat()}")
    if now >= cert.not_valid_after_utc:
        raise ChainError(f"{what} expired at {cert.not_valid_after_utc.isoformat()}")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def verify_chain(
    chain: Sequence[x509.Certificate],
    roots: Sequence[x509.Certificate],
    now: datetime,
) -> x509.Certificate:
    """Check ``chain`` (leaf first, then its sub-CAs) up to one of ``roots``; returns the root
    (``ChainError`` with the reason otherwise)."""
    if not chain:
        raise ChainError("the chain is empty")
    if not roots:
        raise ChainError("no trusted root certificate is installed")
    for i, cert in enumerate(chain):
        _check_time(cert, now, "the certificate" if i == 0 else f"chain certificate {i}")
    current, rest = chain[0], list(chain[1:])
    for _ in range(len(chain) + 1):
        root = issuer_of(current, roots)
        if root is not None:
            _check_time(root, now, "the root certificate")
            if not _is_ca(root):
                raise ChainError("the root certificate is not a CA")
            return root
        issuer = issuer_of(current, rest)
        if issuer is None:
            break
        if not _is_ca(issuer):
            raise ChainError("a chain certificate that issues another is not a CA")
        rest.remove(issuer)
        current = issuer
    raise ChainError("the chain does not lead to an installed root certificate")


def matches_key(cert: x509.Certificate, key: PrivateKey) -> bool:
    """Is ``cert`` the certificate of ``key``'s public key?"""
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)


def check_issued(
    chain_pem: str,
    roots: Sequence[x509.Certificate],
    pending_key_pem: str | None,
    passphrase: bytes | None,
    now: datetime,
    *,
    what: str = "certificate",
) -> tuple[list[x509.Certificate], PrivateKey]:
    """A chain signed for our pending key pair (CertificateSigned): it leads to one of
    ``roots``, is valid ``now`` and is the certificate of the pending key; returns the chain and
    that key (``ChainError`` — or ``ValueError`` for a key the passphrase does not open)."""
    chain = load_certificates(chain_pem)
    verify_chain(chain, roots, now)
    if pending_key_pem is None:
        raise ChainError(f"no {what} request is pending")
    key = load_private_key(pending_key_pem, passphrase)
    if not matches_key(chain[0], key):
        raise ChainError("the certificate is not for the requested key")
    return chain, key
