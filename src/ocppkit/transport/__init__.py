"""The seam between the OCPP runtime and a websocket library.

A ``Transport`` is one open websocket connection carrying OCPP-J text messages. Adapters:
``ocppkit.transport.websockets`` (the default, on the ``websockets`` library) and
``ocppkit.transport.memory`` (an in-process pair for tests, no sockets).
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Transport", "TransportClosed"]


class TransportClosed(Exception):
    """The websocket is closed; ``code`` and ``reason`` are the close frame's, when known."""

    def __init__(self, code: int | None = None, reason: str = "") -> None:
        super().__init__(f"closed ({code}) {reason}".strip())
        self.code = code
        self.reason = reason


class Transport(Protocol):
    """One open websocket connection, as the OCPP runtime needs it."""

    @property
    def subprotocol(self) -> str | None:
        """The negotiated ``Sec-WebSocket-Protocol`` (``ocpp1.6`` …)."""
        ...

    async def send(self, data: bytes) -> None:
        """Send one text message (``data`` is UTF-8 JSON). Raises ``TransportClosed``."""
        ...

    async def recv(self) -> bytes | str:
        """Wait for the next message. Raises ``TransportClosed`` when the connection ends."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (idempotent)."""
        ...
