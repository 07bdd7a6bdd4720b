"""Certificates for OCPP security (the 1.6 Security Whitepaper, 2.0.1/2.1 blocks A, M, L):
key pairs and CSRs, ``CertificateHashData``, chain checks, a certificate authority for the CSMS,
and signed-firmware checks.

Plain functions over PEM text on top of ``cryptography`` (the ``security`` extra:
``pip install ocppkit[security]``); nothing here does I/O.
"""

from ocppkit.certificates.authority import CertificateAuthority, load_csr
from ocppkit.certificates.chain import (
    ChainError,
    check_issued,
    is_self_signed,
    issuer_of,
    load_certificates,
    matches_key,
    verify_chain,
)
from ocppkit.certificates.firmware import FirmwareCheckError, verify_firmware
from ocppkit.certificates.hashdata import HashData, hash_data
from ocppkit.certificates.keys import (
    KeyType,
    dump_private_key,
    load_private_key,
    make_csr,
    new_private_key,
)

__all__ = [
    "CertificateAuthority",
    "ChainError",
    "FirmwareCheckError",
    "HashData",
    "KeyType",
    "check_issued",
    "dump_private_key",
    "hash_data",
    "is_self_signed",
    "issuer_of",
    "load_certificates",
    "load_csr",
    "load_private_key",
    "make_csr",
    "matches_key",
    "new_private_key",
    "verify_chain",
    "verify_firmware",
]
