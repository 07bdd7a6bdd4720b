"""The TLS options of the client commands (``ocppkit call``, ``ocppkit cp``)."""

from __future__ import annotations

import ssl

import click

from ocppkit.runtime.security import client_ssl_context

__all__ = ["client_tls"]


def client_tls(
    tls: bool, cacert: str | None, cert: str | None, key: str | None
) -> ssl.SSLContext | None:
    """The client's TLS context for a wss:// URL (None for ws://); ``click.UsageError`` for
    TLS files without wss://, a key without a certificate, or files that do not load."""
    if not tls:
        if cacert or cert or key:
            raise click.UsageError("--cacert, --cert and --key need a wss:// URL")
        return None
    if key and not cert:
        raise click.UsageError("--key needs --cert")
    try:
        return client_ssl_context(cacert, certfile=cert, keyfile=key)
    except (ssl.SSLError, OSError) as exc:
        raise click.UsageError(f"cannot load the TLS files: {exc}") from None
