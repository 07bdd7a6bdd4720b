"""Signed firmware (1.6 WP / 2.x L01): the signing certificate and the file's signature.

The signing certificate must be issued directly by an installed ManufacturerRootCertificate (no
intermediate certificates) and valid now; the signature (base64) is over the whole file with
SHA-256: RSA-PSS for RSA keys (any salt length), ECDSA for EC keys (the whitepaper's "ECSchnorr"
is not in ``cryptography``; ECDSA is what firmware signing tools produce).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ocppkit.certificates.chain import ChainError, load_certificates, verify_chain

__all__ = ["FirmwareCheckError", "verify_firmware", "verify_signing_certificate"]


class FirmwareCheckError(ValueError):
    """Firmware refused: ``kind`` is ``InvalidCertificate`` or ``InvalidSignature``."""

    def __init__(
        self, kind: Literal["InvalidCertificate", "InvalidSignature"], message: str
    ) -> None:
        super().__init__(message)
        self.kind = kind


def verify_signing_certificate(
    signing_pem: str, roots: Sequence[x509.Certificate], now: datetime
) -> x509.Certificate:
    """The signing certificate, checked against the manufacturer roots."""
    try:
        certs = load_certificates(signing_pem)
        if len(certs) != 1:
            raise ChainError("the signing certificate must come alone (no intermediates)")
        verify_chain(certs, roots, now)
    except ChainError as exc:
        raise FirmwareCheckError("InvalidCertificate", str(exc)) from None
    return certs[0]


def verify_firmware(
    data: bytes,
    signature_b64: str,
    signing_pem: str,
    roots: Sequence[x509.Certificate],
    now: datetime,
) -> None:
    """Raise ``FirmwareCheckError`` unless ``data`` carries a valid signature by a valid
    signing certificate."""
    cert = verify_signing_certificate(signing_pem, roots, now)
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        raise FirmwareCheckError("InvalidSignature", "the signature is not base64") from None
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            key.verify(signature, data, pss, hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            raise FirmwareCheckError("InvalidCertificate", "the signing key is neither RSA nor EC")
    except InvalidSignature:
        raise FirmwareCheckError(
            "InvalidSignature", "the firmware signature does not verify"
        ) from None
