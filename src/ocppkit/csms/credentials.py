"""Station passwords (HTTP Basic, security profiles 1 and 2): scrypt hashes and the auth hook.

Hashes are ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` (stdlib ``hashlib.scrypt``); the
password is compared as the bytes the station sent (1.6 AuthorizationKeys may be raw bytes).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from ocppkit.runtime.server import AuthHook, Handshake, Rejection
from ocppkit.store import Store

__all__ = ["hash_password", "store_auth", "verify_password"]

_N, _R, _P = 2**14, 8, 1


def hash_password(password: bytes | str) -> str:
    """A salted scrypt hash of ``password`` for the store."""
    secret = password.encode() if isinstance(password, str) else password
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret, salt=salt, n=_N, r=_R, p=_P)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: bytes, stored: str) -> bool:
    """True when ``password`` matches the ``stored`` hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password, salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate, bytes.fromhex(digest))


def store_auth(store: Store) -> AuthHook:
    """An auth hook checking Basic passwords against the store: unknown station -> 404 (as
    OCPP-J advises), no or wrong password -> 401."""

    async def auth(handshake: Handshake) -> bool:
        stored = await store.get_password(handshake.identity)
        if stored is None:
            raise Rejection(404, "unknown charge point")
        if handshake.password is None:
            raise Rejection(401, "password required")
        return verify_password(handshake.password, stored)

    return auth
