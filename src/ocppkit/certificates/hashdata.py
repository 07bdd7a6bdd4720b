"""``CertificateHashData``: how OCPP names an installed certificate (as OCSP does, RFC 6960).

``issuerNameHash`` is the hash of the DER-encoded issuer name, ``issuerKeyHash`` the hash of the
issuer's public key (the value of the subjectPublicKey BIT STRING, without tag, length and the
unused-bits byte), ``serialNumber`` the serial in hexadecimal without leading zeros. Hex digits
are written in lower case and compared without regard to case (implementations differ).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import serialization

__all__ = ["HashAlgorithm", "HashData", "hash_data"]

HashAlgorithm: TypeAlias = Literal["SHA256", "SHA384", "SHA512"]


@dataclass(frozen=True, slots=True)
class HashData:
    """The identifying hashes of one certificate."""

    hash_algorithm: HashAlgorithm
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str

    @classmethod
    def from_fields(cls, data: Any) -> HashData:
        """From any version's ``CertificateHashDataType`` (the same four fields)."""
        return cls(
            data.hash_algorithm, data.issuer_name_hash, data.issuer_key_hash, data.serial_number
        )

    def same_as(self, other: HashData) -> bool:
        """The same certificate (hex compared without regard to case or leading zeros)."""
        return (
            self.hash_algorithm == other.hash_algorithm
            and self.issuer_name_hash.lower() == other.issuer_name_hash.lower()
            and self.issuer_key_hash.lower() == other.issuer_key_hash.lower()
            and self.serial_number.lower().lstrip("0") == other.serial_number.lower().lstrip("0")
        )


def _der_length(data: bytes, at: int) -> tuple[int, int]:
    """(length, offset of the value) of the DER element whose length starts at ``at``."""
    first = data[at]
    if first < 0x80:
        return first, at + 1
    count = first & 0x7F
    return int.from_bytes(data[at + 1 : at + 1 + count], "big"), at + 1 + count


def public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's bits of ``cert`` (RFC 6960's issuerKeyHash input)."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _, at = _der_length(spki, 1)  # into SubjectPublicKeyInfo ::= SEQUENCE
    length, value = _der_length(spki, at + 1)  # AlgorithmIdentifier ::= SEQUENCE, skipped
    at = value + length
    assert spki[at] == 0x03, "subjectPublicKey is a BIT STRING"
    length, value = _der_length(spki, at + 1)
    return spki[value + 1 : value + length]  # after the unused-bits byte


def hash_data(
    cert: x509.Certificate,
    issuer: x509.Certificate | None = None,
    algorithm: HashAlgorithm = "SHA256",
) -> HashData:
    """The hash data of ``cert``, issued by ``issuer`` (None: ``cert`` is self-signed)."""
    digest = getattr(hashlib, algorithm.lower())
    issuer_name = cert.issuer.public_bytes()
    return HashData(
        hash_algorithm=algorithm,
        issuer_name_hash=digest(issuer_name).hexdigest(),
        issuer_key_hash=digest(public_key_bits(issuer or cert)).hexdigest(),
        serial_number=format(cert.serial_number, "x"),
    )
