"""Handshake checks: charge point identity, HTTP Basic credentials, security profiles, TLS contexts.

Security profiles (OCPP 1.6 Security Whitepaper / 2.x Part 2 A00):

==  =======================================  ===============================================
0   no authentication (not for production)
1   HTTP Basic over ``ws://``                username = identity, password checked by the hook
2   HTTP Basic over TLS >= 1.2               as 1, over ``wss://``
3   mutual TLS >= 1.2                        client certificate required, its CN = identity
==  =======================================  ===============================================
"""

from __future__ import annotations

import base64
import binascii
import re
import ssl
from urllib.parse import unquote

from ocppkit.protocol.versions import OcppVersion

__all__ = [
    "MAX_IDENTITY_LENGTH",
    "client_ssl_context",
    "identity_from_path",
    "parse_basic_auth",
    "server_ssl_context",
]

MAX_IDENTITY_LENGTH = 48
"""2.x ``identifierString`` length; applied to 1.6 too (its text sets no limit)."""

# 2.x identifierString: letters, digits and * - _ = : + | @ . — without ':' (it breaks Basic auth).
_IDENTIFIER_2X = re.compile(r"[A-Za-z0-9*\-_=+|@.]+")


def identity_from_path(path: str, version: OcppVersion | None = None) -> str:
    """The charge point identity: the last path segment, percent-decoded and validated.

    Raises ``ValueError`` with the reason when it is empty, longer than 48 characters, contains a
    colon or a control character, or (2.x) characters outside ``identifierString``.
    """
    raw = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    identity = unquote(raw, errors="strict")
    if not identity:
        raise ValueError("no charge point identity in the URL path")
    if len(identity) > MAX_IDENTITY_LENGTH:
        raise ValueError(f"identity longer than {MAX_IDENTITY_LENGTH} characters")
    if ":" in identity:
        raise ValueError("identity must not contain ':'")
    if not identity.isprintable():
        raise ValueError("identity contains control characters")
    if version is not None and version.is_2x and not _IDENTIFIER_2X.fullmatch(identity):
        raise ValueError("identity has characters outside the OCPP 2.x identifierString set")
    return identity


def parse_basic_auth(header: str | None) -> tuple[str, bytes] | None:
    """``Authorization: Basic …`` -> (username, password bytes); None if absent or malformed.

    The password stays bytes: 1.6 AuthorizationKeys are 20 raw bytes (sent hex-encoded by some
    chargers, raw by others); the auth hook decides how to compare.
    """
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    return user.decode("utf-8", "replace"), password


def server_ssl_context(
    certfile: str,
    keyfile: str | None = None,
    *,
    cafile: str | None = None,
    require_client_cert: bool = False,
) -> ssl.SSLContext:
    """A TLS >= 1.2 server context; ``require_client_cert`` (profile 3) checks ``cafile``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    if cafile:
        ctx.load_verify_locations(cafile)
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_ssl_context(
    cafile: str | None = None, *, certfile: str | None = None, keyfile: str | None = None
) -> ssl.SSLContext:
    """A TLS >= 1.2 client context trusting ``cafile`` (system roots if None), with an optional
    client certificate (profile 3)."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    return ctx


def certificate_common_name(cert: dict[str, object] | None) -> str | None:
    """The subject CN of a certificate as ``SSLSocket.getpeercert()`` returns it."""
    if not cert:
        return None
    subject = cert.get("subject", ())
    assert isinstance(subject, tuple)
    for rdn in subject:
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
